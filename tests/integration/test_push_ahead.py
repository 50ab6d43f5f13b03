"""A phone sends a push batch while it makes the next one ready, and folds a batch's answer
while the next is on its way (sync/client.py, `push`): against the real server, never two
batches at once, every change sent once and in the order made, and after a refusal the
next batch is made again from the outbox, so a change held behind the refused one is not
sent.
"""

from __future__ import annotations

import gzip
import json
import threading

import httpx
import pytest

from sync import changes

from .conftest import case_fields, household_fields, phone

pytestmark = pytest.mark.integration
PUSH = "/api/v1/sync/push"


class Watch(httpx.HTTPTransport):
    """The phone's network as it is, watched: the pushes on their way at each moment and
    the changes each carried, in the order sent."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_at_once = 0
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        push = request.url.path == PUSH
        if push:
            ids = [c["id"] for c in json.loads(gzip.decompress(request.read()))["changes"]]
            with self.lock:
                self.in_flight += 1
                self.most_at_once = max(self.most_at_once, self.in_flight)
                self.sent += ids
        try:
            return super().handle_request(request)  # returns once the server answered
        finally:
            if push:
                with self.lock:
                    self.in_flight -= 1


def watched_phone(tmp_path, srv, **kw):
    watch = Watch()
    replica, client = phone(tmp_path, srv, "worker1", http=httpx.Client(transport=watch, timeout=60), **kw)
    statements: list[tuple[str, int]] = []  # what the phone's store ran, and the pushes on their way then
    replica.conn.set_trace_callback(lambda sql: statements.append((sql, watch.in_flight)))
    return replica, client, watch, statements


def test_batches_go_one_at_a_time_in_order_while_the_phone_works_beside_them(fresh_server, tmp_path):
    replica, client, watch, statements = watched_phone(tmp_path / "w1", fresh_server, batch=7)
    made = []
    for n in range(40):
        hid = replica.create("household", household_fields("g1", n), "worker1")["record"]
        made.append(replica.conn.execute("SELECT change_id FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()[0])
        if n % 3 == 0:  # an edit of it, often in the batch after its create's
            replica.update("household", hid, {"phone": f"1380000{n:04d}"}, "worker1")
            made.append(replica.conn.execute("SELECT change_id FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()[0])
    statements.clear()
    report = client.push()
    assert report.pushed == len(made) and report.quarantined == 0 and replica.pending_count() == 0
    assert watch.sent == made            # each change once, in the order it was made
    assert watch.most_at_once == 1       # a batch only after the one before was answered
    assert fresh_server.sql("SELECT count(*) FROM changes WHERE author='worker1'") == [(len(made),)]
    # the phone's own work went on beside the server's: the next batch read, and an
    # answer folded into the outbox, while a batch was on its way
    assert any("seq > (SELECT seq FROM outbox" in sql and busy for sql, busy in statements)
    assert any(sql.startswith("INSERT INTO pushed") and busy for sql, busy in statements)


def test_after_a_refused_change_the_next_batch_is_made_again_and_holds_its_later_edit(
        fresh_server, tmp_path, monkeypatch):
    replica, client, watch, _ = watched_phone(tmp_path / "w1", fresh_server, batch=2)
    first = replica.create("case", case_fields("g1", "worker1"), "worker1")["record"]
    monkeypatch.setattr(changes, "check_fields", lambda ch, existing: [])  # a tampered app
    tampered = replica.create("case", case_fields("g1", "worker1", title="长" * 150), "worker1")
    monkeypatch.undo()
    later = replica.update("case", tampered["record"], {"place": "白鹤村3组"}, "worker1")
    other = replica.create("household", household_fields("g1"), "worker1")["record"]
    report = client.push()
    # batch one [first, tampered]: the tampered one refused; batch two [later, other] was
    # made ready meanwhile, and is not sent: `later` waits behind the refused change
    assert later["id"] not in watch.sent
    assert report.quarantined == 2 and replica.pending_count() == 0
    held = {q["change_id"]: q["errors"][0]["rule"] for q in replica.quarantined()}
    assert held == {tampered["id"]: "too_long", later["id"]: "held"}
    assert fresh_server.sql("SELECT count(*) FROM cases WHERE id IN (?, ?)", (first, tampered["record"])) == [(1,)]
    assert fresh_server.sql("SELECT count(*) FROM households WHERE id=?", (other,)) == [(1,)]
    assert watch.most_at_once == 1
