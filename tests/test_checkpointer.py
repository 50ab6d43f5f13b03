"""The central store's WAL is copied into the database by a thread of its own, not in the
commit of the writer's group; SQLite's own checkpoint stays as the net (checkpointer.py)."""

import os
import shutil
import sqlite3
import time

import pytest

from sync import changes, clock
from sync.access import Principal
from sync.server import checkpointer
from sync.server.central import CentralStore

PAGES = 4  # the threshold in pages for these tests (SQLite's default is 1,000)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.backup.checkpoint_pages", lambda: PAGES)
    st = CentralStore(str(tmp_path / "c.db"))
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    yield st
    st.close()


def _households(n: int) -> list[dict]:
    return [changes.make("household", changes.new_id("h"),
                         {"grid_id": "g1", "head_name": f"住户{i}", "address": f"白鹤村{i}组{i}号",
                          "note": "屋内整洁，老人精神尚可。" * 20},
                         clock.encode(clock.wall_ms(), i, "phone1"), "phone1", "w1")
            for i in range(n)]


def _wait_for(cond, what: str, limit_s: float = 60.0):
    end = time.monotonic() + limit_s
    while not cond():
        assert time.monotonic() < end, f"not within {limit_s} s: {what}"
        time.sleep(0.02)


def _ids_in_the_database_file_alone(path: str, tmp) -> set[str]:
    """The change ids that the database file holds without its WAL: what a checkpoint
    has copied into it."""
    alone = str(tmp / "alone.db")
    shutil.copyfile(path, alone)
    conn = sqlite3.connect(alone)
    try:
        return {r[0] for r in conn.execute("SELECT change_id FROM changes")}
    finally:
        conn.close()


def test_the_writers_commits_leave_the_checkpoint_to_its_own_thread(store, tmp_path):
    page = store.conn.execute("PRAGMA page_size").fetchone()[0]
    # SQLite's own checkpoint would wait for four times the threshold
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == PAGES * checkpointer.SAFETY_FACTOR
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL starts empty
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    batch = _households(6)
    res = store.push(w1, batch)  # through the group writer, as a phone's push
    assert [r["status"] for r in res.results] == ["applied"] * 6
    wal = os.path.getsize(store.path + "-wal")
    assert PAGES * page < wal < PAGES * checkpointer.SAFETY_FACTOR * page, \
        f"the push must take the WAL past our threshold and stay below SQLite's: {wal // page} pages"
    _wait_for(lambda: store.checkpointer.runs >= 1, "the checkpointer copied the WAL")
    held = _ids_in_the_database_file_alone(store.path, tmp_path)
    assert {ch["id"] for ch in batch} <= held
    # and the store reads as before, through the writer's and a reader's connection
    assert store.get("household", batch[0]["record"])["head_name"] == "住户0"


def test_writes_that_do_not_nudge_it_still_keep_the_wal_bounded(store):
    """The office's settings, accounts and verbs commit on the write connection without
    the group writer: SQLite's own checkpoint (the net) keeps their WAL from growing."""
    page = store.conn.execute("PRAGMA page_size").fetchone()[0]
    store.set_setting("far_m", 400)
    before = os.path.getsize(store.path + "-wal") // page
    for n in range(150):
        store.set_setting("far_m", 500 + n)
    assert store.settings()["far_m"] == 649
    after = os.path.getsize(store.path + "-wal") // page
    # 150 commits of two or more frames each: some 600 pages more without the net
    assert after <= before + PAGES * checkpointer.SAFETY_FACTOR, f"the WAL grew from {before} to {after} pages"


def test_under_litestream_neither_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.backup.checkpoint_pages", lambda: 0)
    st = CentralStore(str(tmp_path / "c.db"))
    try:
        assert st.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert st.checkpointer is None
        st.add_grid("g1", "一组", "白鹤村", "金山镇")
        assert st.get("grid", "g1")["name"] == "一组"
    finally:
        st.close()


def test_a_closed_store_leaves_no_checkpoint_thread(store):
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    store.push(w1, _households(6))
    _wait_for(lambda: store.checkpointer.runs >= 1, "the checkpointer ran")
    store.close()
    assert not store.checkpointer._thread.is_alive()
