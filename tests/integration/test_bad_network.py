"""A phone between the township server and whatever else may answer on the way: a Wi-Fi
sign-in page, a proxy's error page, a body garbled in transit, a clock header from
nowhere. Nothing of it may strand a change or stop later syncs with the real server.

The stranger is a real HTTP server on loopback answering what a captive portal or a
broken proxy answers; the phone is the real replica and client, signed in at the real
server (`gridbook serve`), which then syncs it as if the network had come right.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sync.client import SyncClient
from sync.errors import BadAnswer

from .conftest import household_fields, phone

pytestmark = pytest.mark.integration

PORTAL = b"<html><body>\xe8\xaf\xb7\xe7\x99\xbb\xe5\xbd\x95 Wi-Fi</body></html>"


class Stranger:
    """Answers every request with (status, body, headers) chosen by the test."""

    def __init__(self):
        self.answer = (200, PORTAL, {"Content-Type": "text/html; charset=utf-8"})
        self.asked = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.asked += 1
                status, body, headers = outer.answer
                self.send_response(status)
                for k, v in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_POST = _any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def page(self, status: int = 200, headers: dict | None = None, **data):
        self.answer = (status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stranger():
    s = Stranger()
    yield s
    s.close()


@pytest.fixture
def worker(server, tmp_path):
    """A grid worker's phone, signed in at the real server, with six households unsent."""
    replica, client = phone(tmp_path / "phone", server, "worker1")
    client.pull()
    for n in range(6):
        replica.create("household", household_fields("g1", 900 + n), "worker1")
    return replica, client


def through(stranger: Stranger, replica) -> SyncClient:
    return SyncClient(replica, stranger.url, retries=0, backoff_s=0.01)


@pytest.mark.parametrize("status,body,ctype", [
    (200, PORTAL, "text/html"),                         # a captive portal's page
    (403, b"<h1>Forbidden by proxy</h1>", "text/html"),  # a proxy's refusal
    (413, b"Request Entity Too Large", "text/plain"),    # a proxy's own limit
    (200, b'{"changes_accepted": tru', "application/json"),  # cut on the way
    (200, b"{}", "application/json"),
    (400, b'{"error": "bad_request"}', "application/json"),  # not the township server's words
])
def test_an_answer_that_is_not_the_servers_strands_no_change(worker, stranger, status, body, ctype):
    replica, client = worker
    stranger.answer = (status, body, {"Content-Type": ctype})
    with pytest.raises(BadAnswer) as e:
        through(stranger, replica).push()
    assert "not the township server's" in e.value.message and f"HTTP {status}" in e.value.message
    assert replica.pending_count() == 6 and replica.quarantined() == [], "a change was held for a stranger's answer"
    assert stranger.asked == 1   # not split down to each change
    report = client.sync()       # the network came right
    assert report.pushed == 6 and report.quarantined == 0 and replica.pending_count() == 0


def test_a_sign_in_answered_by_a_portal_says_so_and_keeps_the_phone_signed_in(worker, stranger):
    replica, client = worker
    token = replica.meta("token")
    with pytest.raises(BadAnswer):
        through(stranger, replica).login("worker1", "whatever")
    stranger.page(token="t", account="not an account")
    with pytest.raises(BadAnswer):
        through(stranger, replica).login("worker1", "whatever")
    assert replica.meta("token") == token
    assert client.sync().pushed == 6


@pytest.mark.parametrize("page", [
    {"changes": [], "exits": [], "refs": {}, "reset": False, "cursor": None, "more": False},
    {"changes": [], "exits": [], "refs": {}, "reset": False, "cursor": "../../etc", "more": False},
    {"changes": {}, "cursor": "5.ab", "more": False},
    {"changes": [], "cursor": "5.ab"},
    {"changes": [42], "cursor": "5.ab", "more": False},
    {"changes": [{"entity": "household", "id": "x"}], "cursor": "5.ab", "more": False},
    {"changes": [], "cursor": "5.ab", "more": False, "exits": "case-1"},
    {"changes": [], "cursor": "5.ab", "more": False, "refs": ["a"]},
])
def test_a_garbled_pull_page_is_refused_whole_and_later_pulls_still_work(worker, stranger, page):
    replica, client = worker
    client.sync()
    cursor, held = replica.cursor, replica.count("household")
    stranger.page(**page)
    with pytest.raises(BadAnswer):
        through(stranger, replica).pull()
    assert replica.cursor == cursor and replica.count("household") == held
    assert client.pull().errors == []    # the real server's next page is taken as ever


def test_a_page_that_never_moves_on_is_refused_rather_than_asked_for_ever(worker, stranger):
    replica, client = worker
    client.sync()
    stranger.page(changes=[], exits=[], refs={}, reset=False, cursor=replica.cursor, more=True)
    with pytest.raises(BadAnswer) as e:
        through(stranger, replica).pull()
    assert "same page" in e.value.message and stranger.asked <= 3


def test_changes_of_a_kind_this_app_does_not_know_are_left_out_and_said(worker, stranger, server):
    replica, client = worker
    client.sync()
    from .conftest import auth_headers  # a real change of the real server, and one of a newer kind
    import httpx
    pulled = httpx.get(server.url + "/api/v1/sync/pull", params={"limit": 1},
                       headers=auth_headers(server, "worker1", "dev-other"), timeout=60).json()
    [real] = pulled["changes"]
    newer = dict(real, id="c-newer-1", entity="parcel", record="parcel-1")
    stranger.page(changes=[newer, real], exits=[], refs={}, reset=False, cursor="1.00", more=False)
    report = through(stranger, replica).pull()
    assert report.errors and "does not know" in report.errors[0] and "update the app" in report.errors[0]
    assert replica.cursor == "1.00"


def test_a_clock_header_from_nowhere_does_not_move_the_phones_clock(worker, stranger):
    replica, client = worker
    client.sync()
    before = replica.clock.physical()
    stranger.page(headers={"X-Gridbook-Server-Time": "99999999999999"}, changes=[], exits=[], refs={},
                  reset=False, cursor=replica.cursor, more=False)
    through(stranger, replica).pull()
    assert abs(replica.clock.physical() - before) < 60_000
    replica.create("household", household_fields("g1", 990), "worker1")
    report = client.sync()
    assert report.pushed == 1 and report.quarantined == 0


def test_an_answer_dribbled_a_byte_at_a_time_is_cut_off_as_a_whole(worker):
    """httpx's timeout is for each read: an answer that keeps coming, slowly enough, was
    never cut off and held the sync for as long as it went on."""
    import socket
    import time
    from sync.errors import Unreachable
    replica, client = worker
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def dribble():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while not stop.is_set():   # a byte every 0.2 s: no read ever waits a whole second
            try:
                conn.sendall(b" ")
            except OSError:
                break
            time.sleep(0.2)
        conn.close()
    threading.Thread(target=dribble, daemon=True).start()
    slow = SyncClient(replica, f"http://127.0.0.1:{listener.getsockname()[1]}", retries=0, timeout_s=1,
                      deadline_s=3)
    try:
        with pytest.raises(Unreachable) as e:
            slow.pull()
        assert not isinstance(e.value, BadAnswer) and "ReadTimeout" in e.value.message
    finally:
        stop.set()
        listener.close()
    assert client.sync().pushed == 6    # nothing of it was kept; the real server syncs as ever
