"""The sync guarantees, checked against the real `gridbook serve` process on loopback."""

from __future__ import annotations

import contextlib

import gzip
import json
import os
import threading
import time

import httpx
import pytest

from sync import changes
from sync.errors import AuthRequired, Unreachable

from .conftest import (PASSWORD, PROTO, auth_headers, case_fields, cli, household_fields,
                       now_iso, phone)

pytestmark = pytest.mark.integration


def make_pending(replica, author: str, grid: str, n: int) -> list[str]:
    """n pending changes of several kinds on a phone (creates, edits, timeline events)."""
    ids = []
    with replica.transaction():   # one commit for speed; each write is still its own change
        households, cases = [], []
        while len(ids) < n:
            k = len(ids) % 4
            if k == 0 or not households:
                ch = replica.create("household", household_fields(grid, len(ids)), author)
                households.append(ch["record"])
            elif k == 1:
                ch = replica.create("case", case_fields(grid, author), author)
                cases.append(ch["record"])
            elif k == 2:
                ch = replica.create("case_event", {"case_id": cases[-1], "kind": "note",
                                                   "at": now_iso(), "by": author, "text": "已电话联系。"},
                                    author)
            else:
                ch = replica.update("household", households[-1], {"note": f"走访{len(ids)}"}, author)
            ids.append(ch["id"])
    return ids


def assert_exactly_once(srv, device: str, made: list[str]) -> None:
    stored = [r[0] for r in srv.sql("SELECT change_id FROM changes WHERE device=?", (device,))]
    assert len(stored) == len(made)
    assert set(stored) == set(made)
    # ...and numbered once in the log (one origin row each): the office pulls it once.
    rows, distinct = srv.sql(
        "SELECT count(*), count(DISTINCT l.change_id) FROM log l JOIN changes c"
        " ON c.change_id=l.change_id WHERE c.device=? AND l.origin=1", (device,))[0]
    assert rows == distinct == len(made)


def pull_all(srv, headers: dict, limit: int = 5000) -> list[dict]:
    out, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = httpx.get(srv.url + "/api/v1/sync/pull", headers=headers, params=params, timeout=30)
        assert r.status_code == 200, r.text
        data = r.json()
        out += data["changes"]
        cursor = data["cursor"]
        if not data["more"]:
            return out


def push_raw(srv, headers: dict, batch: list[dict]) -> httpx.Response:
    return httpx.post(srv.url + "/api/v1/sync/push", headers=headers, json={"changes": batch},
                      timeout=30)


# --- a. a server killed in the middle of a push ----------------------------------------

def test_server_killed_after_first_batch_client_retries_each_change_stored_once(fresh_server, tmp_path):
    waits: list[float] = []
    replica, client = phone(tmp_path / "phone", fresh_server, "worker1", batch=200, retries=12,
                            sleep=lambda s: (waits.append(s), time.sleep(s)))
    made = make_pending(replica, "worker1", "g1", 3000)
    assert replica.pending_count() == 3000

    restarts: list[threading.Thread] = []
    failures: list[BaseException] = []

    def restart_in_background():
        try:
            fresh_server.start()
        except BaseException as e:  # surfaced by the assertion below
            failures.append(e)

    def progress(p):
        if p["phase"] == "push" and not restarts:
            fresh_server.kill()          # SIGKILL between the first and second batch
            t = threading.Thread(target=restart_in_background)
            restarts.append(t)
            t.start()

    try:
        report = client.sync(progress)
    except Unreachable:
        # The retries ran out before the server was back: the person taps sync again.
        restarts[0].join()
        report = client.sync()
    restarts[0].join()
    assert not failures, failures
    assert fresh_server.starts == 2
    assert waits, "the client never found the server down: the kill missed the push"

    assert replica.pending_count() == 0
    assert replica.outbox_ids() == set()
    assert replica.quarantined() == []
    assert_exactly_once(fresh_server, replica.device_id, made)
    households = fresh_server.sql("SELECT count(*), count(note) FROM households WHERE grid_id='g1'")[0]
    assert households == (750, 750)


class _AnswerLostAfterCommit(httpx.HTTPTransport):
    """A real transport whose connection 'drops' after the server has answered the
    n-th push: the server committed the batch, the phone never hears so."""

    def __init__(self, nth: int, on_drop):
        super().__init__()
        self.nth, self.on_drop, self.pushes = nth, on_drop, 0

    def handle_request(self, request):
        response = super().handle_request(request)
        if request.url.path.endswith("/sync/push"):
            self.pushes += 1
            if self.pushes == self.nth:
                response.read()
                response.close()
                self.on_drop()
                raise httpx.ReadError("connection reset before the answer arrived", request=request)
        return response


def test_answer_lost_after_commit_and_server_killed_retry_pushes_duplicates_not_copies(
        fresh_server, tmp_path):
    restarts: list[threading.Thread] = []

    def drop():
        fresh_server.kill()
        t = threading.Thread(target=fresh_server.start)
        restarts.append(t)
        t.start()

    http = httpx.Client(transport=_AnswerLostAfterCommit(2, drop), timeout=30)
    replica, client = phone(tmp_path / "phone", fresh_server, "worker1", batch=200, retries=12,
                            http=http)
    made = make_pending(replica, "worker1", "g1", 1000)
    try:
        report = client.push()
    except Unreachable:
        restarts[0].join()
        report = client.push()
    restarts[0].join()
    assert fresh_server.starts == 2
    # The second batch reached the store before the kill; resent, it is recognized.
    assert (report.pushed, report.duplicates, report.quarantined) == (800, 200, 0)
    assert replica.pending_count() == 0
    assert_exactly_once(fresh_server, replica.device_id, made)


# --- b. one bad record blocks nothing --------------------------------------------------

def test_one_invalid_change_in_a_batch_of_100_is_quarantined_and_99_applied(server, tmp_path):
    replica, client = phone(tmp_path / "phone", server, "worker1", batch=200)
    statuses = []
    client.http.event_hooks["response"].append(
        lambda r: statuses.append(r.status_code) if r.request.url.path.endswith("/push") else None)
    before = server.change_count()
    good = []
    for i in range(100):
        if i == 50:
            # DeviceReplica validates every write, so the app itself cannot queue lat=91.
            # It happens when an older app (different rules) queued it, or a
            # hand-edited/corrupted data file: we model that by writing the outbox row
            # directly, exactly as DeviceReplica would, and then let the real
            # SyncClient push the real outbox. That keeps the phone-side quarantine
            # path real instead of asserting on a hand-made HTTP exchange.
            with replica.transaction():
                bad = changes.make("case", changes.new_id("r"), case_fields("g1", "worker1", lat=91.0),
                                   replica.clock.tick(), replica.device_id, "worker1")
                replica.conn.execute(
                    "INSERT INTO outbox (change_id, entity, record, body) VALUES (?,?,?,?)",
                    (bad["id"], "case", bad["record"], json.dumps(bad, ensure_ascii=False)))
                replica._save_clock()
        else:
            good.append(replica.create("case", case_fields("g1", "worker1", title=f"案件{i}"),
                                       "worker1")["id"])
    assert replica.pending_count() == 100

    report = client.push()

    assert statuses == [422]          # one request, answered per change
    assert (report.pushed, report.quarantined) == (99, 1)
    assert replica.pending_count() == 0
    [q] = replica.quarantined()
    assert q["change_id"] == bad["id"]
    assert "lat" in q["reason"] and "90" in q["reason"], q["reason"]
    assert [e["field"] for e in q["errors"]] == ["lat"]
    assert server.change_count() == before + 99
    # and each new case got its township reference from the server
    assert len({r[0] for r in server.sql("SELECT ref FROM cases WHERE ref IS NOT NULL")}) >= 99
    stored = {r[0] for r in server.sql(
        "SELECT change_id FROM changes WHERE device=?", (replica.device_id,))}
    assert stored == set(good)
    assert server.sql("SELECT count(*) FROM cases WHERE id=?", (bad["record"],))[0][0] == 0

    # The quarantined change stays visible and does not hold up later work.
    later = replica.create("household", household_fields("g1", 7), "worker1")
    report = client.sync()
    assert (report.pushed, report.quarantined) == (1, 0)
    assert len(replica.quarantined()) == 1
    assert server.sql("SELECT count(*) FROM changes WHERE change_id=?", (later["id"],))[0][0] == 1


# --- c. a grid worker stays inside their grids -----------------------------------------

def test_grid_worker_can_neither_push_nor_pull_another_grids_records(server, tmp_path):
    office, office_client = phone(tmp_path / "office", server, "office1")
    theirs = office.create("case", case_fields("g2", "office1", title="高山村的案件"), "office1")
    their_hh = office.create("household", household_fields("g2", 99), "office1")
    assert office_client.sync().pushed == 2

    w = auth_headers(server, "worker1")
    before = server.fingerprint()

    def change(entity, record, fields, **kw):
        return changes.make(entity, record, fields, kw.get("hlc") or _stamp(), "dev-worker1", "worker1")

    # A new case in someone else's grid.
    r = push_raw(server, w, [change("case", changes.new_id("r"), case_fields("g2", "worker1"))])
    assert r.status_code == 403, r.text
    [res] = r.json()["results"]
    assert res["status"] == "rejected" and res["code"] == "forbidden"
    assert "worker1" in res["reason"] and "outside" in res["reason"], res["reason"]
    # Editing the other grid's case, and pulling it into one's own grid.
    for fields in ({"status": "accepted"}, {"grid_id": "g1"}):
        r = push_raw(server, w, [change("case", theirs["record"], fields)])
        assert r.status_code == 403, r.text
        assert r.json()["results"][0]["code"] == "forbidden"
    assert server.fingerprint() == before
    assert server.sql("SELECT status, grid_id FROM cases WHERE id=?", (theirs["record"],)) == [
        ("reported", "g2")]

    # In a mixed batch the own-grid change still goes through; the answer is 403.
    mine = change("household", changes.new_id("r"), household_fields("g1", 5))
    r = push_raw(server, w, [mine, change("household", changes.new_id("r"), household_fields("g2", 6))])
    assert r.status_code == 403
    assert [x["status"] for x in r.json()["results"]] == ["applied", "rejected"]
    assert r.json()["counts"] == {"applied": 1, "duplicate": 0, "rejected": 1}

    # Pull: the worker's phone never receives g2's records; the office's does.
    worker, worker_client = phone(tmp_path / "worker", server, "worker1")
    worker_client.sync()
    assert worker.get("case", theirs["record"]) is None
    assert worker.get("household", their_hh["record"]) is None
    assert worker.get("household", mine["record"]) is not None
    assert worker.get("grid", "g2") is not None      # the public directory is for all
    pulled = pull_all(server, w)
    assert not [c for c in pulled if c["fields"].get("grid_id") == "g2"]
    assert {theirs["id"], their_hh["id"]}.isdisjoint(c["id"] for c in pulled)
    office_pulled = {c["id"] for c in pull_all(server, auth_headers(server, "office1"))}
    assert {theirs["id"], their_hh["id"], mine["id"]} <= office_pulled


def _stamp(offset_ms: int = 0) -> str:
    from sync import clock
    return clock.encode(clock.wall_ms() + offset_ms, 0, "dev-worker1")


# --- d. a revoked device -----------------------------------------------------------------

def test_revoked_device_gets_401_and_the_client_raises_auth_required(server, tmp_path):
    lost, lost_client = phone(tmp_path / "lost", server, "lostphone")
    kept, kept_client = phone(tmp_path / "kept", server, "lostphone")
    lost_client.sync()
    typed = lost.create("household", household_fields("g1", 1), "lostphone")

    out = cli("user", "revoke", "lostphone", "--device", lost.device_id, "--db", str(server.db))
    assert "revoked 1 device token(s)" in out.stdout

    headers = {**PROTO, "X-Gridbook-Device": lost.device_id,
               "Authorization": f"Bearer {lost.meta('token')}"}
    r = httpx.get(server.url + "/api/v1/sync/pull", headers=headers, timeout=30)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized" and "sign in again" in r.json()["message"]
    with pytest.raises(AuthRequired) as e:
        lost_client.sync()
    assert e.value.status == 401
    assert lost.pending_count() == 1       # nothing typed is lost
    assert kept_client.sync().pending == 0  # the account's other phone still syncs

    # every live phone of the account (other tests on this shared server sign it in too)
    import sqlite3
    with contextlib.closing(sqlite3.connect(server.db)) as db:
        live = db.execute("SELECT count(*) FROM devices WHERE username='lostphone' AND revoked_ms IS NULL").fetchone()[0]
    assert live >= 1
    out = cli("user", "revoke", "lostphone", "--db", str(server.db))
    assert f"revoked {live} device token(s)" in out.stdout
    with pytest.raises(AuthRequired):
        kept_client.sync()

    # Signing in again issues a new token, and what was typed goes up then.
    lost_client.login("lostphone", PASSWORD)
    assert lost_client.sync().pushed == 1
    assert server.sql("SELECT count(*) FROM changes WHERE change_id=?", (typed["id"],))[0][0] == 1

    r = cli("user", "revoke", "nosuchuser", "--db", str(server.db), check=False)
    assert r.returncode != 0 and "no account named nosuchuser" in r.stderr


# --- e. sign-in failures say nothing about which part was wrong -----------------------

def test_wrong_password_and_unknown_user_get_identical_401(server, tmp_path):
    def login(username, password):
        return httpx.post(server.url + "/api/v1/auth/login", headers=PROTO, timeout=30,
                          json={"username": username, "password": password, "device_id": "dev-e"})

    wrong_pw = login("worker1", "not-the-password")
    unknown = login("nobody-here", PASSWORD)
    assert wrong_pw.status_code == unknown.status_code == 401
    assert wrong_pw.content == unknown.content
    assert wrong_pw.json()["message"] == "wrong username or password"
    assert login("worker1", PASSWORD).status_code == 200

    replica, client = phone(tmp_path / "p", server)
    with pytest.raises(AuthRequired):
        client.login("worker1", "not-the-password")
    assert not client.signed_in


# --- f. a case assigned to a leader arrives whole ----------------------------------------

def test_case_assigned_to_leader_arrives_whole_with_earlier_timeline(server, tmp_path):
    worker, worker_client = phone(tmp_path / "worker", server, "worker2")
    case = worker.create("case", case_fields("g2", "worker2", title="山林界址", category="07",
                                             description="山林承包界址不清，两户各执一词。"), "worker2")
    cid = case["record"]
    early = [worker.create("case_event", {"case_id": cid, "kind": k, "at": now_iso(),
                                          "by": "worker2", "text": t}, "worker2")["record"]
             for k, t in (("note", "网格员上报。"), ("progress", "已约双方到村委会。"))]
    assert worker_client.sync().pushed == 3

    leader, leader_client = phone(tmp_path / "leader", server, "leader1")
    leader_client.sync()
    assert leader.get("case", cid) is None     # not theirs yet

    office, office_client = phone(tmp_path / "office", server, "office1")
    office_client.sync()
    office.update("case", cid, {"status": "accepted"}, "office1")
    office.update("case", cid, {"owner": "leader1", "status": "assigned", "deadline": "2026-12-31"},
                  "office1")
    assign = office.create("case_event", {"case_id": cid, "kind": "assign", "at": now_iso(),
                                          "by": "office1", "text": "交包案领导。"}, "office1")["record"]
    assert office_client.sync().pushed == 3

    leader_client.sync()
    got = leader.get("case", cid)
    assert got is not None
    assert got == office.get("case", cid)      # the same record the office holds
    assert (got["owner"], got["status"], got["category"]) == ("leader1", "assigned", "07")
    assert got["description"] == "山林承包界址不清，两户各执一词。"
    assert got["reported_by"] == "worker2"
    events = {r[0] for r in leader.conn.execute("SELECT id FROM case_events WHERE case_id=?", (cid,))}
    assert events == {*early, assign}

    # What the worker adds afterwards follows the case to the leader.
    later = worker.create("case_event", {"case_id": cid, "at": now_iso(), "by": "worker2",
                                         "kind": "progress", "text": "双方同意再谈。"}, "worker2")
    assert worker_client.sync().pushed == 1
    leader_client.sync()
    assert leader.get("case_event", later["record"]) is not None
    # ...and the leader sees no other cases.
    owners = {r[0] for r in leader.conn.execute("SELECT owner FROM cases")}
    assert owners == {"leader1"}


# --- g. `gridbook sync` from the command line --------------------------------------------

def test_gridbook_sync_command_pushes_and_pulls(server, tmp_path):
    from sync.device import DeviceReplica
    folder = tmp_path / "phone-data"
    replica = DeviceReplica.in_folder(str(folder))
    made = [replica.create("household", household_fields("g1", i), "worker1")["id"] for i in range(5)]
    device = replica.device_id
    replica.close()

    r = cli("sync", "--data", str(folder), "--server", server.url, "--user", "worker1",
            env={"GRIDBOOK_PASSWORD": PASSWORD})
    assert r.returncode == 0
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert (report["pushed"], report["quarantined"], report["pending"]) == (5, 0, 0)
    assert report["pulled"] >= 2 + 5   # at least both grids and the staff list
    assert {x[0] for x in server.sql("SELECT change_id FROM changes WHERE device=?", (device,))} == set(made)

    replica = DeviceReplica.in_folder(str(folder))
    assert replica.pending_count() == 0
    assert replica.get("grid", "g1")["name"] == "白鹤村第1网格"
    assert replica.get("staff", "staff-worker1")["role"] == "grid_worker"
    replica.create("household", household_fields("g1", 9), "worker1")
    replica.close()

    # Signed in now: the stored token is enough, and --password on the command line works.
    r = cli("sync", "--data", str(folder), "--server", server.url, "--quiet")
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert (report["pushed"], report["pending"]) == (1, 0)

    r = cli("sync", "--data", str(tmp_path / "other"), "--server", server.url, "--user", "worker1",
            "--password", "wrong-password", check=False)
    assert r.returncode == 2
    assert "wrong username or password" in r.stderr


# --- h. gzip both ways --------------------------------------------------------------------

def test_gzip_push_is_accepted_and_large_pull_is_gzipped(server):
    w = auth_headers(server, "worker1")
    batch = [changes.make("household", changes.new_id("r"), household_fields("g1", i), _stamp(),
                          "dev-worker1", "worker1") for i in range(300)]
    raw = json.dumps({"changes": batch}).encode()
    r = httpx.post(server.url + "/api/v1/sync/push", content=gzip.compress(raw), timeout=30,
                   headers={**w, "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == {"applied": 300, "duplicate": 0, "rejected": 0}
    # the answer of 300 results travels gzipped too (the phone's link may be 50 kbit/s)
    assert r.headers["content-encoding"] == "gzip" and r.num_bytes_downloaded * 3 < len(r.content)
    ids = [c["id"] for c in batch]
    marks = ",".join("?" * len(ids))
    assert server.sql(f"SELECT count(*) FROM changes WHERE change_id IN ({marks})", ids)[0][0] == 300

    with httpx.Client(timeout=30) as http:
        zipped = http.get(server.url + "/api/v1/sync/pull", params={"limit": 5000},
                          headers={**w, "Accept-Encoding": "gzip"})
        plain = http.get(server.url + "/api/v1/sync/pull", params={"limit": 5000},
                         headers={**w, "Accept-Encoding": "identity"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    for answer in (r, zipped, plain):  # what every answer carries, the sync routes' too
        assert abs(int(answer.headers["x-gridbook-server-time"]) - time.time() * 1000) < 600_000
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in plain.headers
    assert set(ids) <= {c["id"] for c in zipped.json()["changes"]}
    assert zipped.json()["changes"] == plain.json()["changes"]
    # On the wire the gzipped answer is several times smaller than the JSON it carries.
    assert zipped.num_bytes_downloaded * 3 < len(zipped.content)
    assert plain.num_bytes_downloaded == len(plain.content)


# --- the published contract ----------------------------------------------------------------

def test_openapi_describes_the_sync_endpoints(server):
    r = httpx.get(server.url + "/openapi.json", timeout=30)
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/api/v1/auth/login", "/api/v1/sync/push", "/api/v1/sync/pull", "/api/v1/health"} <= set(paths)
    assert {"403", "413", "422"} <= set(paths["/api/v1/sync/push"]["post"]["responses"])
    health = httpx.get(server.url + "/api/v1/health", timeout=30).json()
    assert health["status"] == "ok" and health["protocol"] == changes.PROTOCOL_VERSION


def test_a_monitor_asking_with_head_finds_the_server_up(server):
    r = httpx.head(server.url + "/api/v1/health", timeout=30)
    assert r.status_code == 200 and r.content == b""
    assert httpx.head(server.url + "/api/v1/no-such-thing", timeout=30).status_code == 404


def _login(srv, name: str, password: str, device: str, address: str, token: str | None = None) -> httpx.Response:
    return httpx.post(f"{srv.url}/api/v1/auth/login", timeout=30,
                      headers={**PROTO, "X-Forwarded-For": address,
                               **({"Authorization": f"Bearer {token}"} if token else {})},
                      json={"username": name, "password": password, "device_id": device})


def test_a_stranger_guessing_slows_down_but_never_locks_out_the_owner(proxied_server):
    srv = proxied_server
    owner = _login(srv, "worker2", PASSWORD, "owner-phone", "10.0.0.2")   # the owner's phone
    assert owner.status_code == 200
    got = [_login(srv, "worker2", f"guess-{i}", "dev-x", "203.0.113.9").status_code for i in range(8)]
    assert got[:5] == [401] * 5 and 429 in got[5:]        # the stranger is slowed after five tries
    r = _login(srv, "worker2", PASSWORD, "dev-x", "203.0.113.9")
    assert r.status_code == 429 and r.json()["retry_after_s"] >= 1 and "try again" in r.json()["message"]
    wait = r.json()["retry_after_s"]     # said as it is ("1 minutes" for a wait of seconds)
    assert (f"in {wait} seconds" if wait < 60 else f"in {-(-wait // 60)} minutes") in r.json()["message"]
    # the phone's sign-in screen says the same wait in Chinese
    from fieldapp import i18n
    from sync.client import SyncClient
    from sync.device import DeviceReplica
    from sync.errors import Refused
    phone = SyncClient(DeviceReplica(str(srv.db.parent / "guesser.db")), srv.url, retries=1,
                       http=httpx.Client(headers={"X-Forwarded-For": "203.0.113.9"}))
    with pytest.raises(Refused) as refused:
        phone.login("worker2", "guess-y")
    assert refused.value.status == 429 and refused.value.retry_after_s >= 1
    said = i18n.wait_words(refused.value.retry_after_s)
    assert said.startswith("登录失败次数过多，请") and ("秒后再试" in said or "分钟后再试" in said)
    # A guesser naming the owner's device id (it is in every change the grid's phones
    # pull) is no owner: the slow-down stands.
    assert _login(srv, "worker2", "guess-x", "owner-phone", "203.0.113.10").status_code == 429
    # The owner's own phone, proved by the sign-in it holds, from wherever it is now,
    # still gets in at once.
    assert _login(srv, "worker2", PASSWORD, "owner-phone", "10.0.0.77", owner.json()["token"]).status_code == 200
    rows = srv.sql("SELECT action, address FROM audit WHERE username='worker2' ORDER BY rowid")
    assert rows.count(("login_failed", "203.0.113.9")) == 5 and ("login", "10.0.0.77") in rows
    assert ("login_slowed", "203.0.113.9") in rows


def test_a_sprayer_trying_many_accounts_from_one_address_is_slowed(proxied_server):
    srv = proxied_server
    names = ["worker1", "worker2", "leader1", "office1", "lostphone", "nobody"]
    got = [_login(srv, n, f"spring-{i}", "dev-s", "198.51.100.7").status_code for i in range(2) for n in names]
    assert got[:10] == [401] * 10 and set(got[10:]) == {429}   # ten free, then each waits
    # ...whatever name it tries next, while the same password from another place goes through
    assert _login(srv, "worker1", PASSWORD, "dev-s", "198.51.100.7").status_code == 429
    assert _login(srv, "worker1", PASSWORD, "dev-w", "10.1.1.1").status_code == 200


def test_real_and_unknown_names_get_the_same_answers(proxied_server):
    srv = proxied_server
    real = [(r.status_code, r.json()["error"]) for r in
            (_login(srv, "worker1", f"no-{i}", "d", "192.0.2.1") for i in range(7))]
    ghost = [(r.status_code, r.json()["error"]) for r in
             (_login(srv, "nobody-here", f"no-{i}", "d", "192.0.2.2") for i in range(7))]
    assert real == ghost and real[0] == (401, "bad_credentials") and real[-1][0] == 429


# --- one phone, two people ------------------------------------------------------------------

def test_another_person_signing_in_on_a_phone_finds_nothing_of_the_last_ones(server, tmp_path):
    """A phone handed from one grid worker to another kept the first one's households,
    searchable and due on the second one's 今日, and never updated again."""
    from sync.attachments import Attachments
    from sync.errors import AuthRequired, OthersWork
    from sync.workspace import DeviceWorkspace
    office, office_client = phone(tmp_path / "office", server, "office1")
    g1 = office.create("household", {**household_fields("g1", 41), "head_name": "白鹤村的户主"}, "office1")["record"]
    g2 = office.create("household", {**household_fields("g2", 42), "head_name": "高山村的户主"}, "office1")["record"]
    office_client.sync()

    replica, client = phone(tmp_path / "handed", server, "worker1")
    client.sync()
    assert replica.get("household", g1) is not None
    store = Attachments.for_replica(replica)
    fetched = os.path.join(store.blob_dir, "ab", "ab" + "0" * 62)   # a colleague's photo opened earlier
    os.makedirs(os.path.dirname(fetched), exist_ok=True)
    open(fetched, "wb").write(b"jpeg")
    mine = DeviceWorkspace(replica, client.account()).add_household(household_fields("g1", 43))

    # worker1's new household is not sent yet: nobody else signs in, and nothing changes
    with pytest.raises(OthersWork) as e:
        client.login("worker2", PASSWORD)
    assert e.value.count == 1 and e.value.username == "worker1"
    assert client.account()["username"] == "worker1" and replica.get("household", g1) is not None
    client.sync()
    assert server.sql("SELECT count(*) FROM households WHERE id=?", (mine,)) == [(1,)]

    with pytest.raises(AuthRequired):          # a wrong password takes nothing away either
        client.login("worker2", "not-the-password")
    assert replica.get("household", g1) is not None and os.path.exists(fetched)

    client.login("worker2", PASSWORD)
    assert replica.get("household", g1) is None and replica.get("household", mine) is None
    assert not os.path.exists(fetched)
    client.sync()
    ws = DeviceWorkspace(replica, client.account())
    listed = ws.search_households("", limit=500)
    assert g2 in [h["id"] for h in listed] and {h["grid_id"] for h in listed} == {"g2"}
    assert replica.get("household", g1) is None

    client.login("worker2", PASSWORD)           # the same person again keeps what they have
    assert replica.get("household", g2) is not None


def test_what_the_first_sync_after_a_sign_in_brings_is_not_listed_as_updated_and_what_comes_after_is(
        server, tmp_path):
    """Right after a leader's first sign-in on a phone, the first sync brought all their
    matters and 今日 listed every one under 有更新, as if the office had changed them all."""
    from fieldapp.worklist import today
    from sync.workspace import DeviceWorkspace
    office, office_client = phone(tmp_path / "office", server, "office1")
    office_client.sync()

    def give(title: str) -> str:   # the office takes a matter in and gives it to leader1
        cid = office.create("case", case_fields("g1", "office1", title=title), "office1")["record"]
        office.update("case", cid, {"status": "accepted"}, "office1")
        office.update("case", cid, {"owner": "leader1", "status": "assigned", "deadline": "2026-12-31"}, "office1")
        return cid

    a, b, c = give("村道占用"), give("土地流转"), give("噪音扰民")
    office.update("case", a, {"risk": "orange"}, "office1")   # changed before the leader ever looked
    worker, worker_client = phone(tmp_path / "worker", server, "worker1")
    mine = worker.create("case", case_fields("g1", "worker1", title="宅前排水沟"), "worker1")["record"]
    worker_client.sync()
    office_client.sync()
    office.update("case", mine, {"status": "accepted"}, "office1")
    office_client.sync()

    replica, client = phone(tmp_path / "handed", server, "leader1")

    def updated() -> set[str]:
        client.sync()
        return {x["id"] for x in today(DeviceWorkspace(replica, client.account())).changed}

    assert updated() == set() and replica.get("case", a)["risk"] == "orange"   # the starting point

    office.update("case", b, {"deadline": "2027-01-15"}, "office1")
    d = give("山林界址")   # a new matter after the first sync: news
    office_client.sync()
    assert updated() == {b, d}
    DeviceWorkspace(replica, client.account()).mark_seen(b)   # opened: it leaves the list
    assert updated() == {d}

    client.logout()   # signed out and in again: what they had read is theirs, and kept
    office.update("case", c, {"deadline": "2027-02-01"}, "office1")
    office_client.sync()
    client.login("leader1", PASSWORD)
    assert updated() == {c, d}

    client.logout()   # handed to a grid worker: nothing of the leader's read state comes along
    client.login("worker1", PASSWORD)
    assert updated() == set() and replica.get("case", mine)["status"] == "accepted"
    seen = {k[len("seen:"):] for (k,) in replica.conn.execute("SELECT key FROM meta WHERE key LIKE 'seen:%'")}
    assert mine in seen and seen.isdisjoint({a, b, c, d})   # the worker's starting point, none of the leader's
    office.update("case", mine, {"status": "in_progress"}, "office1")
    office_client.sync()
    assert updated() == {mine}

    client.login("leader1", PASSWORD)   # back to the leader: this phone starts afresh for them
    assert updated() == set() and replica.get("case", d) is not None

    again, again_client = phone(tmp_path / "reinstalled", server, "leader1")   # a new or reinstalled phone
    again_client.sync()
    assert today(DeviceWorkspace(again, again_client.account())).changed == []
    assert again.get("case", c) is not None


def test_an_edit_made_while_the_phones_date_was_ahead_lands_stamped_by_the_townships_time(server, tmp_path):
    """An edit typed while the phone's date was three hours ahead was refused (clock_ahead)
    and waited for the time to pass its stamp, every later edit of its record held behind
    it. Now the answer's time stamps it again: it lands in the same sync, and the phone
    and the server hold the record alike (the same value, the same stamp)."""
    from sync import clock, merge
    from sync.client import SyncClient
    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    ahead = 3 * 3600 * 1000
    replica, client = phone(tmp_path / "p", server, "worker1")
    ws = DeviceWorkspace(replica, client.account())
    h1, h2 = ws.add_household(household_fields("g1", 71)), ws.add_household(household_fields("g1", 72))
    client.sync()
    path = replica.path
    replica.close()
    # the phone restarts (its boot clock starts again) with its date three hours ahead
    replica = DeviceReplica(path, now=lambda: clock.wall_ms() + ahead, boot=lambda: 5_000)
    client = SyncClient(replica, server.url, backoff_s=0.05)
    ws = DeviceWorkspace(replica, client.account())
    ws.edit_household(h1, {"note": "日期错时写的"})
    ws.edit_household(h1, {"phone": "13857901234"})
    ws.edit_household(h2, {"note": "也是日期错时写的"})
    report = client.sync()
    assert replica.quarantined() == [] and report.quarantined == 0 and replica.pending_count() == 0
    assert server.sql("SELECT note, phone FROM households WHERE id=?", (h1,)) == [("日期错时写的", "13857901234")]
    assert server.sql("SELECT note FROM households WHERE id=?", (h2,)) == [("也是日期错时写的",)]
    now = clock.wall_ms()
    for hid in (h1, h2):
        row, versions = replica._load("household", [hid])[hid]
        [(kept,)] = server.sql("SELECT _versions FROM households WHERE id=?", (hid,))
        assert merge.loads(kept)["note"] == versions["note"]            # the same stamp on both
        assert abs(clock.physical_ms(versions["note"][0]) - now) < 10 * 60_000
    mine = replica._load("household", [h1])[h1][1]
    assert mine["note"][0] < mine["phone"][0]                         # the record's own order kept
    ws.edit_household(h1, {"note": "之后写的"})                          # and the next edit lands too
    client.sync()
    assert server.sql("SELECT note FROM households WHERE id=?", (h1,)) == [("之后写的",)]


def _visit_at(hid: str) -> dict:
    return {"household_id": hid, "seen": "时钟快一年时记录", "lat": 29.07, "lon": 119.64, "accuracy_m": 9,
            "location_source": "gps"}


@pytest.mark.parametrize("put_right_first", [False, True], ids=["still-ahead", "put-right-before-sync"])
def test_a_visit_recorded_with_the_date_a_year_ahead_lands_dated_by_the_townships_time(server, tmp_path,
                                                                                       put_right_first):
    """A phone restarted offline with its date a year ahead: the visit it records was
    refused at every sync for a year, its household's next visit reckoned a year on.
    Now it lands at the first sync, dated when it happened (the date still as far off:
    the offset the server's answer shows) or, the date put right before the sync, when
    it synced (the time it happened cannot be known; never before the last sync)."""
    import datetime as dt
    from sync import clock
    from sync.client import SyncClient
    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    year = 365 * 86400 * 1000
    replica, client = phone(tmp_path / "p", server, "worker1")
    ws = DeviceWorkspace(replica, client.account())
    hid = ws.add_household(household_fields("g1", 73))
    client.sync()
    synced = clock.wall_ms()
    path = replica.path
    replica.close()
    replica = DeviceReplica(path, now=lambda: clock.wall_ms() + year, boot=lambda: 5_000)
    ws = DeviceWorkspace(replica, SyncClient(replica, server.url).account())
    vid = ws.record_visit(_visit_at(hid))
    recorded = clock.wall_ms()
    assert replica.get("visit", vid)["visited_at"].startswith(str(dt.date.today().year + 1))
    if put_right_first:
        replica.close()
        replica = DeviceReplica(path, now=clock.wall_ms, boot=lambda: 6_000)
    client = SyncClient(replica, server.url, backoff_s=0.05)
    client.sync()
    assert replica.quarantined() == [] and replica.pending_count() == 0
    [(at,)] = server.sql("SELECT visited_at FROM visits WHERE id=?", (vid,))
    landed = dt.datetime.fromisoformat(at).timestamp() * 1000
    if put_right_first:
        assert recorded - 2000 <= landed <= clock.wall_ms() + 1000
    else:
        assert synced - 2000 <= landed <= recorded + 1000     # to the second, as the app writes it
    assert at.endswith("+08:00") and replica.get("visit", vid)["visited_at"] == at
    [(due,)] = server.sql("SELECT next_visit_due FROM households WHERE id=?", (hid,))
    assert replica.get("household", hid)["next_visit_due"] == due     # reckoned from the visit's day
    assert dt.date.fromisoformat(due) <= dt.date.fromtimestamp(landed / 1000) + dt.timedelta(days=367)


def test_an_edit_made_after_a_restart_with_the_date_behind_wins_over_an_earlier_one_and_lands_dated_right(
        server, tmp_path):
    """Phone A synced, then restarted with its date four days behind, offline. Phone B
    edits a household's note and syncs; later A edits the same note and records a visit,
    then syncs. A's edit was stamped at its last sync (its clock never runs back), so it
    lost to B's earlier one and stood as a conflict, and its visit was stored at A's last
    sync. The sync now asks the server's time before it pushes what was written since the
    restart, and dates it by the boot clock: A's later edit wins, its visit is dated when
    it was made."""
    import datetime as dt
    from sync import clock
    from sync.client import SyncClient
    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    a, a_client = phone(tmp_path / "a", server, "worker1")
    ws = DeviceWorkspace(a, a_client.account())
    hid = ws.add_household(household_fields("g1", 74))
    a_client.sync()
    path = a.path
    a.close()
    t = {"skew": -4 * 86_400_000, "boot0": clock.wall_ms()}
    a = DeviceReplica(path, now=lambda: clock.wall_ms() + t["skew"], boot=lambda: clock.wall_ms() - t["boot0"],
                      boot_id=lambda: "a-second-boot")          # a boot the anchor was not read in
    ws = DeviceWorkspace(a, SyncClient(a, server.url).account())
    b, b_client = phone(tmp_path / "b", server, "worker1")
    b_client.sync()
    b.update("household", hid, {"note": "B先写的"}, "worker1")
    b_client.sync()
    while clock.wall_ms() < t["boot0"] + 1500:                  # A's edit comes later in fact
        pass
    ws.edit_household(hid, {"note": "A后写的"})
    before = clock.wall_ms()
    vid = ws.record_visit(_visit_at(hid))
    a_client = SyncClient(a, server.url, backoff_s=0.05)
    a_client.sync()
    assert a.pending_count() == 0 and a.quarantined() == []
    assert server.sql("SELECT note, _conflicts FROM households WHERE id=?", (hid,))[0][0] == "A后写的"
    [(at,)] = server.sql("SELECT visited_at FROM visits WHERE id=?", (vid,))
    assert before - 2000 <= dt.datetime.fromisoformat(at).timestamp() * 1000 <= clock.wall_ms() + 1000
    b_client.sync()
    assert b.get("household", hid)["note"] == "A后写的"
    assert [c["value"] for c in b.conflicts("household", hid) if c["field"] == "note"] == ["B先写的"]


def test_a_disabled_account_with_its_right_password_is_told_so_and_not_slowed(fresh_server, tmp_path):
    """It was told "wrong username or password": the person tried again and again, was
    slowed down, and never learnt to ask the office."""
    from sync.errors import AuthRequired, Refused
    srv = fresh_server
    cli("user", "disable", "worker2", "--db", str(srv.db))
    replica, client = phone(tmp_path / "p", srv)
    for _ in range(6):   # more than the throttle lets a guesser try
        with pytest.raises(Refused) as e:
            client.login("worker2", PASSWORD)
        assert e.value.status == 403 and "disabled" in e.value.message
    with pytest.raises(AuthRequired):   # a wrong password learns nothing of the account
        client.login("worker2", "not-the-password")
    actions = [r[0] for r in srv.sql("SELECT action FROM audit WHERE username='worker2' ORDER BY rowid")]
    assert actions.count("login_disabled") == 6 and actions[-1] == "login_failed"
    cli("user", "enable", "worker2", "--db", str(srv.db))
    client.login("worker2", PASSWORD)
    assert replica.meta("token")
