"""The server's group commit and its concurrent readers, against the real server process.

Pushes from many phones at once are committed together (sync/server/writer.py) and
pulls read on their own connections (readers.py). What a phone must be able to count
on stays: a push answered is on disk (the phone drops it from its outbox), nothing is
stored twice, and every phone ends up holding what the store holds of its grids.
"""

from __future__ import annotations

import threading
import time

import pytest

from sync.errors import SyncError

from .conftest import cli, household_fields, phone

pytestmark = pytest.mark.integration

PHONES = 8
RECORDS = 40     # households per phone in the kill test


def _store_rows(srv, table: str, grid: str) -> list[tuple]:
    return srv.sql(f"SELECT * FROM {table} WHERE grid_id=? ORDER BY id", (grid,))


def test_every_acknowledged_change_survives_a_sigkill_during_concurrent_pushes(fresh_server, tmp_path):
    phones = []
    for i in range(PHONES):
        replica, client = phone(tmp_path / f"p{i}", fresh_server, "worker1", batch=3, retries=0)
        for n in range(RECORDS):
            replica.create("household", household_fields("g1", i * 1000 + n), "worker1")
        phones.append((replica, client))
    made = {r[0] for replica, _ in phones for r in replica.conn.execute("SELECT change_id FROM seen")}
    acked = [0]
    guard = threading.Lock()
    killed = threading.Event()

    def push_until_killed(client):
        def progress(_):
            with guard:
                acked[0] += 1
        while not killed.is_set():
            try:
                client.push(progress=progress)
                return
            except SyncError:  # the server is gone: what was answered is acknowledged
                return

    threads = [threading.Thread(target=push_until_killed, args=(c,)) for _, c in phones]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while True:                       # wait until a good part is answered, then pull the plug
        with guard:
            if acked[0] >= PHONES * RECORDS // 3 // 3:
                break
        assert time.monotonic() < deadline, "pushes did not get going"
        time.sleep(0.01)
    fresh_server.kill()
    killed.set()
    for t in threads:
        t.join(timeout=60)

    fresh_server.start()
    stored = {r[0] for r in fresh_server.sql("SELECT change_id FROM changes WHERE device<>'server'")}
    acknowledged = set()
    for replica, _ in phones:
        pending = replica.outbox_ids()
        acknowledged |= {r[0] for r in replica.conn.execute("SELECT change_id FROM seen")} - pending
    assert acknowledged, "the kill came before any answer"
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged changes lost"

    # The phones push the rest (again, for what was committed but never answered).
    for _, client in phones:
        client.retries = 3
        client.push()
    assert {r[0] for r in fresh_server.sql("SELECT change_id FROM changes WHERE device<>'server'")} == made
    doubled = fresh_server.sql("SELECT change_id FROM log WHERE origin=1 GROUP BY change_id HAVING count(*) > 1")
    assert doubled == []
    assert fresh_server.sql("SELECT count(*) FROM households WHERE grid_id='g1'")[0][0] == PHONES * RECORDS


def test_thirty_phones_pushing_and_pulling_at_once_converge_with_the_store(fresh_server, tmp_path):
    """Workers of two grids, several phones each, create and edit at once (the same
    field of the same household too); once everyone has synced, every phone holds
    exactly the store's rows of its grid, conflicts included, and nothing twice."""
    cli("user", "add", "worker3", "--db", str(fresh_server.db), "--role", "grid_worker",
        "--password", "field-pass-123", "--grid", "g2")
    people = [("worker1", "g1")] * 15 + [("worker2", "g2")] * 10 + [("worker3", "g2")] * 5
    phones = [phone(tmp_path / f"m{i}", fresh_server, user, batch=4, page=7) + (user, grid)
              for i, (user, grid) in enumerate(people)]
    # one household per grid everyone will edit
    shared = {}
    for replica, client, user, grid in phones:
        if grid not in shared:
            shared[grid] = replica.create("household", household_fields(grid, 999), user)["record"]
            client.sync()
    errors = []
    start = threading.Barrier(len(phones))

    def work(i, replica, client, user, grid):
        try:
            client.sync()
            start.wait(timeout=60)
            for round_ in range(2):
                replica.create("household", household_fields(grid, i * 10 + round_), user)
                replica.update("household", shared[grid], {"note": f"第{i}台手机第{round_}次"}, user)
                client.sync()
        except Exception as e:  # noqa: BLE001 - reported below, with the phone
            errors.append(f"phone {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=work, args=(i, *p)) for i, p in enumerate(phones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    for _, client, _, _ in phones:  # everyone syncs once more, after the last write
        client.sync()
    for replica, client, user, grid in phones:
        assert replica.pending_count() == 0 and replica.quarantined_count() == 0
        mine = replica.conn.execute("SELECT * FROM households ORDER BY id").fetchall()
        assert mine == _store_rows(fresh_server, "households", grid), f"{user} on {grid} differs"
    note_conflicts = {grid: fresh_server.sql("SELECT _conflicts FROM households WHERE id=?", (hid,))[0][0]
                      for grid, hid in shared.items()}
    assert all(n > 0 for n in note_conflicts.values()), note_conflicts  # concurrent edits kept visible
    assert fresh_server.sql("SELECT count(*) FROM households")[0][0] == 2 + 2 * len(phones)
    doubled = fresh_server.sql("SELECT change_id FROM log WHERE origin=1 GROUP BY change_id HAVING count(*) > 1")
    assert doubled == []


def test_a_push_that_fails_inside_a_group_leaves_the_others_committed(tmp_path):
    """Three writes wait while a fourth is being applied; they are then committed in one
    group, and the one that fails is undone alone (its savepoint), the others stay."""
    import sqlite3

    from sync.server.writer import GroupWriter

    conn = sqlite3.connect(tmp_path / "w.db", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    writer = GroupWriter(conn, threading.RLock())
    inside, gate, results = threading.Event(), threading.Event(), {}

    def job(n):
        def fn():
            if n == 0:
                inside.set()
                gate.wait(30)
            conn.execute("INSERT INTO t VALUES (?)", (n,))
            if n == 2:
                raise ValueError("refused by a bug")
            return n
        try:
            results[n] = writer.run(fn)
        except ValueError as e:
            results[n] = e
    first = threading.Thread(target=job, args=(0,))
    first.start()
    assert inside.wait(30)                           # job 0 is inside its group now...
    deadline = time.monotonic() + 30
    rest = [threading.Thread(target=job, args=(n,)) for n in (1, 2, 3)]
    for t in rest:
        t.start()
    while writer._queue.qsize() < 3:                 # ...while the three others queue up
        assert time.monotonic() < deadline
        time.sleep(0.005)
    gate.set()
    for t in [first, *rest]:
        t.join(30)
    assert results[0] == 0 and results[1] == 1 and results[3] == 3
    assert isinstance(results[2], ValueError)
    reader = sqlite3.connect(tmp_path / "w.db")
    assert [r[0] for r in reader.execute("SELECT n FROM t ORDER BY n")] == [0, 1, 3]
    assert (writer.groups, writer.jobs) == (2, 4)   # one commit for the three that waited
    writer.close()
