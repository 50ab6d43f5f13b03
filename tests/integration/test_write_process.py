"""The phones' pushes are written by a process of the server's own (write_process.py).

What a phone and the office count on, whatever process writes: an acknowledged push is
on disk, a writer that dies takes nothing acknowledged with it and is replaced at once,
no writer outlives its server, and the township's references and the server's stamps
never repeat when the office writes beside it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time

import httpx
import pytest

from sync.server.central import CentralStore

from .conftest import PASSWORD, PROTO, auth_headers, case_fields, household_fields, phone
from .test_hostile_phone import PUSH, mk

pytestmark = pytest.mark.integration
WAIT_S = 60   # an upper bound for state to be reached on a busy machine, never a timing assertion


def writers(srv) -> list[int]:
    """The server's child processes that are its write process."""
    kids = []
    for task in os.listdir(f"/proc/{srv.proc.pid}/task"):   # each thread lists those it started
        try:
            with open(f"/proc/{srv.proc.pid}/task/{task}/children") as f:
                kids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    out = []
    for pid in kids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"sync.server.write_process" in f.read():
                    out.append(pid)
        except OSError:
            pass
    return out


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"   # ended, not yet reaped
    except OSError:
        return True


def metric(srv, name: str) -> float:
    """A figure of the server's /metrics (the machine itself may scrape it)."""
    from .test_metrics import scrape
    return scrape(srv.url)[(name, ())]


def wait_for(what, why: str):
    end = time.monotonic() + WAIT_S
    while True:
        got = what()
        if got:
            return got
        assert time.monotonic() < end, why
        time.sleep(0.05)


def test_the_phones_writes_are_made_by_one_process_that_ends_with_the_server(fresh_server):
    r = httpx.post(fresh_server.url + PUSH, headers=auth_headers(fresh_server, "worker1"),
                   json={"changes": [mk("worker1", "household", "h-wp-1", household_fields("g1", 1))]}, timeout=60)
    assert r.status_code == 200, r.text
    [child] = wait_for(lambda: writers(fresh_server), "no write process")
    assert fresh_server.sql("SELECT count(*) FROM households WHERE id='h-wp-1'") == [(1,)]
    fresh_server.stop()    # SIGTERM: the server closes it
    assert wait_for(lambda: gone(child), "the write process outlived its stopped server")

    fresh_server.start()
    [child] = wait_for(lambda: writers(fresh_server), "no write process after a restart")
    fresh_server.kill_server_only()    # SIGKILL: no shutdown code runs, the child must still end
    assert wait_for(lambda: gone(child), "the write process outlived its killed server")


def test_a_push_caught_by_a_dying_writer_is_told_to_come_again_and_the_next_one_lands(fresh_server):
    headers = auth_headers(fresh_server, "worker1")
    first = mk("worker1", "household", "h-wp-first", household_fields("g1", 2))
    assert httpx.post(fresh_server.url + PUSH, headers=headers, json={"changes": [first]}, timeout=60).status_code == 200
    [child] = wait_for(lambda: writers(fresh_server), "no write process")
    os.kill(child, signal.SIGSTOP)          # the writer holds the next push without answering
    caught = mk("worker1", "household", "h-wp-caught", household_fields("g1", 3))
    answer = {}
    t = threading.Thread(target=lambda: answer.setdefault("r", httpx.post(
        fresh_server.url + PUSH, headers=headers, json={"changes": [caught]}, timeout=WAIT_S)))
    t.start()
    wait_for(lambda: metric(fresh_server, "gridbook_writes_waiting") >= 1, "the push never reached the writer")
    os.kill(child, signal.SIGKILL)
    t.join(WAIT_S)
    r = answer["r"]
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "writer_restarting"
    assert int(r.headers["Retry-After"]) >= 1
    assert fresh_server.sql("SELECT count(*) FROM changes WHERE change_id=?", (caught["id"],)) == [(0,)]
    r = httpx.post(fresh_server.url + PUSH, headers=headers, json={"changes": [caught]}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [{"status": "applied"}]
    assert fresh_server.alive, "the server itself went down with its writer"
    [again] = wait_for(lambda: writers(fresh_server), "no new write process")
    assert again != child
    assert fresh_server.sql("SELECT id FROM households WHERE id IN ('h-wp-first','h-wp-caught') ORDER BY id") == \
        [("h-wp-caught",), ("h-wp-first",)]
    # a pull (its audit row goes through the writer too) works with the new one
    pulled = httpx.get(fresh_server.url + "/api/v1/sync/pull", headers=headers, timeout=60)
    assert pulled.status_code == 200, pulled.text
    assert metric(fresh_server, "gridbook_writer_starts_total") == 2
    assert metric(fresh_server, "gridbook_writes_waiting") == 0


def test_a_writer_killed_in_a_wave_loses_no_acknowledged_change_and_the_phones_finish(fresh_server, tmp_path):
    phones = []
    for i in range(6):
        replica, client = phone(tmp_path / f"p{i}", fresh_server, "worker1", batch=2, retries=0)
        for n in range(30):
            replica.create("household", household_fields("g1", i * 100 + n), "worker1")
        phones.append((replica, client))
    made = {r[0] for replica, _ in phones for r in replica.conn.execute("SELECT change_id FROM seen")}
    acked, guard, errors = [0], threading.Lock(), []

    def push(client):
        def progress(_):
            with guard:
                acked[0] += 1
        try:
            client.push(progress=progress)
        except Exception as e:  # noqa: BLE001 - the writer died under it: pushed again below
            errors.append(type(e).__name__)

    threads = [threading.Thread(target=push, args=(c,)) for _, c in phones]
    for t in threads:
        t.start()
    wait_for(lambda: acked[0] >= 10, "the pushes did not get going")
    for pid in writers(fresh_server):
        os.kill(pid, signal.SIGKILL)
    for t in threads:
        t.join(WAIT_S * 2)
    stored = {r[0] for r in fresh_server.sql("SELECT change_id FROM changes WHERE device<>'server'")}
    acknowledged = set()
    for replica, _ in phones:
        acknowledged |= {r[0] for r in replica.conn.execute("SELECT change_id FROM seen")} - replica.outbox_ids()
    assert acknowledged and acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged changes lost"
    assert fresh_server.alive
    for _, client in phones:       # the app's retries: what was cut off goes in now
        client.retries = 5
        client.push()
    assert {r[0] for r in fresh_server.sql("SELECT change_id FROM changes WHERE device<>'server'")} == made
    assert fresh_server.sql("SELECT count(*) FROM households WHERE grid_id='g1'")[0][0] >= 180


def test_references_and_stamps_never_repeat_with_the_office_writing_beside_the_phones(fresh_server, tmp_path):
    """Phones report matters (their references made in the write process) while the
    office writes matters through its own connection to the same file, as its screens do."""
    errors = []
    stamped_before = fresh_server.sql("SELECT count(*) FROM changes WHERE device='server'")[0][0]

    def phone_reports(i):
        try:
            replica, client = phone(tmp_path / f"r{i}", fresh_server, "worker1", batch=1)
            for n in range(8):
                replica.create("case", case_fields("g1", "worker1", title=f"手机{i}第{n}件"), "worker1")
                client.push()
        except Exception as e:  # noqa: BLE001 - reported with the phone
            errors.append(f"phone {i}: {type(e).__name__}: {e}")

    def office_writes():
        store = CentralStore(str(fresh_server.db))
        try:
            for n in range(16):
                store.server_write("case", f"c-office-{n}", case_fields("g1", "office1", title=f"办公室第{n}件"))
        except Exception as e:  # noqa: BLE001
            errors.append(f"office: {type(e).__name__}: {e}")
        finally:
            store.close()

    threads = [threading.Thread(target=phone_reports, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=office_writes))
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S * 2)
    assert errors == []
    refs = [r[0] for r in fresh_server.sql("SELECT ref FROM cases")]
    assert len(refs) == 3 * 8 + 16 and None not in refs
    assert len(set(refs)) == len(refs), "a township reference was given twice"
    stamps = [r[0] for r in fresh_server.sql("SELECT hlc FROM changes WHERE device='server'")]
    assert len(stamps) == stamped_before + 16      # the office's cases (references are not changes)
    assert len(set(stamps)) == len(stamps), "the server stamped two changes alike"


def test_a_change_nested_a_thousand_deep_is_refused_and_the_next_push_lands(fresh_server):
    """JSON allows nesting that Python's pickling does not: a hostile phone's push must
    be answered like any refused change, and leave the writer working for everyone."""
    headers = {**auth_headers(fresh_server, "worker1"), "Content-Type": "application/json"}
    deep = mk("worker1", "household", "h-wp-deep", {**household_fields("g1", 4), "address": "@"})
    body = json.dumps({"changes": [deep]}).replace('"@"', "[" * 1000 + "]" * 1000)
    r = httpx.post(fresh_server.url + PUSH, headers=headers, content=body, timeout=WAIT_S)
    assert r.status_code == 422, r.text
    [res] = r.json()["results"]
    assert res["status"] == "rejected" and res["errors"][0]["field"] == "address"
    ok = mk("worker1", "household", "h-wp-after", household_fields("g1", 5))
    r = httpx.post(fresh_server.url + PUSH, headers=headers, json={"changes": [ok]}, timeout=WAIT_S)
    assert r.status_code == 200, r.text
    assert fresh_server.sql("SELECT id FROM households WHERE id LIKE 'h-wp-%'") == [("h-wp-after",)]


def test_a_sign_in_and_a_push_wait_for_another_process_holding_the_store_and_then_land(fresh_server):
    """Two processes write one file (the server and its write process; the office's
    screens and `gridbook` commands too): a write waits for the other's transaction,
    even a long one (a big group's commit and checkpoint on a slow disk), rather than
    failing with "database is locked"."""
    headers = auth_headers(fresh_server, "worker1")
    holder = sqlite3.connect(str(fresh_server.db), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")      # another writer, holding the lock for 7 s
    answers = {}

    def sign_in():
        answers["login"] = httpx.post(fresh_server.url + "/api/v1/auth/login", headers=PROTO, timeout=WAIT_S,
                                      json={"username": "worker2", "password": PASSWORD, "device_id": "dev-w2-busy"})

    def push():
        ch = mk("worker1", "household", "h-wp-busy", household_fields("g1", 6))
        answers["push"] = httpx.post(fresh_server.url + PUSH, headers=headers, json={"changes": [ch]}, timeout=WAIT_S)

    threads = [threading.Thread(target=sign_in), threading.Thread(target=push)]
    for t in threads:
        t.start()
    time.sleep(7)
    assert not answers, "answered while the store was held"
    holder.execute("COMMIT")
    holder.close()
    for t in threads:
        t.join(WAIT_S)
    assert answers["login"].status_code == 200, answers["login"].text
    assert answers["push"].status_code == 200, answers["push"].text
    assert fresh_server.sql("SELECT count(*) FROM households WHERE id='h-wp-busy'") == [(1,)]


def test_a_store_moved_away_under_its_server_is_never_replaced_by_a_new_empty_one(tmp_path):
    """The store is moved aside while its server runs (an administrator's slip): a write
    process started then finds no store and makes none; the work it is given is told to
    come again, never written into a new empty file at the store's place, and readers
    make no such file either. Once the store is back, the next write lands in it."""
    from sync.server.readers import ReadPool
    from sync.server.write_process import WriteProcess, WriterGone
    db, aside = tmp_path / "township.db", tmp_path / "township.db.aside"
    CentralStore(str(db)).close()
    db.rename(aside)
    writes = WriteProcess(str(db))
    try:
        for _ in range(2):   # each job starts a new write process, each refuses
            with pytest.raises(WriterGone):
                writes.audit("worker1", "pull", "changes=1", "dev-1", "127.0.0.1").result(timeout=WAIT_S)
        pool = ReadPool(str(db))
        with pytest.raises(sqlite3.OperationalError):
            pool.connection()
        pool.close()
        assert not db.exists(), "a new store was made where the store went missing"
        aside.rename(db)
        assert writes.audit("worker1", "pull", "changes=2", "dev-1", "127.0.0.1").result(timeout=WAIT_S) is None
    finally:
        writes.close()
    st = CentralStore(str(db))
    assert [r[0] for r in st.conn.execute("SELECT detail FROM audit WHERE action='pull'")] == ["changes=2"]
    st.close()


def test_the_health_check_says_when_the_store_is_gone_from_under_the_server(fresh_server):
    """What a monitor asks (GET and HEAD): a server whose store was moved away answers
    503 naming it, and 200 again once the store is back."""
    url = fresh_server.url + "/api/v1/health"
    assert httpx.get(url, timeout=60).status_code == 200
    aside = fresh_server.db.with_name(fresh_server.db.name + ".aside")
    fresh_server.db.rename(aside)
    try:
        r = httpx.get(url, timeout=60)
        assert r.status_code == 503 and r.json()["error"] == "store_missing", r.text
        assert "put it back" in r.json()["message"]
        assert httpx.head(url, timeout=60).status_code == 503
    finally:
        aside.rename(fresh_server.db)
    assert httpx.get(url, timeout=60).json()["status"] == "ok"
    assert httpx.head(url, timeout=60).status_code == 200


def test_the_health_check_says_when_every_write_process_dies_before_storing_anything(fresh_server):
    """A writer in a crash loop (here: each write process killed as it starts) leaves the
    server answering everything else; the phones get 503 "try again", and the monitor's
    health check says so (GET and HEAD) until a write process stays up and stores a push."""
    url, headers = fresh_server.url + "/api/v1/health", auth_headers(fresh_server, "worker1")
    change = mk("worker1", "household", "h-wp-loop", household_fields("g1", 4))
    dying, killed = threading.Event(), set()

    def killer():
        while not dying.is_set():
            for pid in writers(fresh_server):
                if pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.01)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        def failing():
            r = httpx.post(fresh_server.url + PUSH, headers=headers, json={"changes": [change]}, timeout=WAIT_S)
            # 200 only if a write process answered before it was killed: the loop goes on
            assert r.status_code == 200 or r.json()["error"] == "writer_restarting", r.text
            return httpx.get(url, timeout=60).status_code == 503
        wait_for(failing, "the health check never said the writer was failing")
        r = httpx.get(url, timeout=60)
        assert r.json()["error"] == "writer_failing" and "pushes are refused" in r.json()["message"], r.text
        assert httpx.head(url, timeout=60).status_code == 503
    finally:
        dying.set()
        t.join(WAIT_S)
    assert len(killed) >= 2
    r = httpx.post(fresh_server.url + PUSH, headers=headers, json={"changes": [change]}, timeout=WAIT_S)
    assert r.status_code == 200 and r.json()["results"][0]["status"] in ("applied", "duplicate"), r.text
    assert httpx.get(url, timeout=60).json()["status"] == "ok"
    assert httpx.head(url, timeout=60).status_code == 200
    assert fresh_server.sql("SELECT count(*) FROM households WHERE id='h-wp-loop'") == [(1,)]


def test_a_stop_is_not_held_for_ever_by_a_connection_that_never_answers(fresh_server):
    """A browser tab of the office left open on a laptop gone to sleep keeps its websocket
    without answering the server's close: the stop goes on after a grace period, the
    write process with it."""
    import socket
    sock = socket.create_connection(("127.0.0.1", fresh_server.port), timeout=30)
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    try:
        assert sock.recv(4096).startswith(b"HTTP/1.1 101"), "the websocket was not opened"
        r = httpx.post(fresh_server.url + PUSH, headers=auth_headers(fresh_server, "worker1"), timeout=60,
                       json={"changes": [mk("worker1", "household", "h-wp-stop", household_fields("g1", 5))]})
        assert r.status_code == 200, r.text
        [child] = wait_for(lambda: writers(fresh_server), "no write process")
        fresh_server.proc.send_signal(signal.SIGTERM)   # as systemctl stop; the socket stays silent
        try:
            fresh_server.proc.wait(timeout=WAIT_S)
        except Exception:
            raise AssertionError(f"the server was still stopping after {WAIT_S} s:\n{fresh_server.output()}")
        assert wait_for(lambda: gone(child), "the write process outlived its stopped server")
    finally:
        sock.close()
