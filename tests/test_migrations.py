"""Upgrades: numbered migrations, from stores written by the code before they existed
(tests/fixtures/store-v1.db, phone-v1.db, saved on 2026-11-27 by the code of commit
2bf0ba7: see tests/fixtures/make_fixtures.py) and from a store left at each later
migration; a store newer than the code is refused with words naming both versions.

Every test works on a copy of the saved files, with the real classes."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sync import migrations
from sync.device import DeviceReplica
from sync.migrations import Migration, StoreTooNew
from sync.replica import TABLES
from sync.server import migrations as server_migrations
from sync.server.central import CentralStore

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
CENTRAL_N = len(server_migrations.CENTRAL)
PHONE_N = len(migrations.PHONE)


def copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copy(FIXTURES / name, dst)
    return dst


def snapshot(path: Path) -> dict:
    """Every row of every table, as stored: table -> (columns, sorted rows)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                            " AND name NOT LIKE 'sqlite_%'")]
        out = {}
        for n in names:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({n})")]
            out[n] = (cols, sorted(map(repr, conn.execute(f"SELECT * FROM {n}"))))
        return out
    finally:
        conn.close()


def kept(before: dict, path: Path) -> None:
    """Every row of `before` is in the store at `path`, in the columns it had (a migration
    may add columns, never lose a value)."""
    conn = sqlite3.connect(path)
    try:
        for table, (cols, rows) in before.items():
            now = sorted(map(repr, conn.execute(f"SELECT {', '.join(cols)} FROM {table}")))
            assert set(rows) <= set(now), table
    finally:
        conn.close()


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def open_at(cls, path: Path, steps, target: int) -> None:
    """Leave a store at migration `target`, as the code of that version would have: the
    class's own schema code runs with only the first `target` steps."""
    obj = cls.__new__(cls)
    from sync.replica import open_db
    obj.path, obj.db = str(path), open_db(str(path))
    obj.conn = obj.db.conn
    migrations.upgrade(obj, steps[:target], kind="test")
    obj.conn.close()


# --- the store written by the code as it was ----------------------------------------------

def test_the_saved_store_is_one_the_old_code_wrote():
    """The fixture has no version recorded and the tables of that time (so the test below
    really upgrades something)."""
    assert (FIXTURES / "store-v1.db").stat().st_size < 1_000_000
    assert (FIXTURES / "phone-v1.db").stat().st_size < 1_000_000
    assert user_version(FIXTURES / "store-v1.db") == 0
    assert user_version(FIXTURES / "phone-v1.db") == 0
    tables = snapshot(FIXTURES / "store-v1.db")
    assert "changes" in tables and "erasures" not in tables and len(tables["households"][1]) == 7


def test_township_store_from_before_migrations_is_upgraded_with_nothing_lost(tmp_path):
    db = copy(tmp_path, "store-v1.db")
    before = snapshot(db)
    st = CentralStore(str(db))
    assert st.conn.execute("PRAGMA user_version").fetchone()[0] == CENTRAL_N
    # every row of every table that was there is there, as it was
    kept(before, db)
    assert snapshot(db)["erasures"][1] == []
    # and the store works: a household read back, a new write, a pull as the phone's user
    assert st.get("household", "hh-g1-001")["head_name"] == "王建国"
    assert st.get("household", "hh-g1-004")["head_name"] == "赵德福"  # pushed by the phone
    st.server_write("household", "hh-g2-009", {"grid_id": "g2", "head_name": "新住户", "address": "高山村9组"})
    assert st.count("household") == 8
    acct = st.account("worker1")
    from sync.access import Principal
    page = st.pull(Principal("worker1", acct["role"], frozenset(acct["grids"]), "d-fixture"), None)
    assert len(page["bodies"]) > 5 and not page["reset"]
    st.close()
    # opening again changes nothing: the version stays, no migration repeats
    st = CentralStore(str(db))
    assert st.conn.execute("PRAGMA user_version").fetchone()[0] == CENTRAL_N
    assert st.count("household") == 8


def test_a_store_from_before_the_petitioners_number_gives_its_open_matters_the_households_number(tmp_path):
    """李振华's matters from before the field: each open one filed for a household takes
    its number once, as a change his phone pulls (it holds no households); a finished one
    does not, and another grid's worker never receives it."""
    from sync.access import Principal
    from sync.server import petitioner_phones
    db = copy(tmp_path, "store-v1.db")
    st = CentralStore(str(db))
    assert st.get("case", "case-0002")["petitioner_phone"] is None    # the column came with the schema
    assert petitioner_phones.fill(st) == 2                            # as `gridbook serve` starts
    assert st.get("case", "case-0002")["petitioner_phone"] == "13800000002"    # in_progress, leader1's
    assert st.get("case", "case-0003")["petitioner_phone"] == "13900000004"    # reported, grid g2's
    assert st.get("case", "case-0001")["petitioner_phone"] is None              # closed: not spread
    count = st.conn.execute("SELECT count(*) FROM changes").fetchone()[0]

    def pulled(user: str) -> str:
        acct = st.account(user)
        page = st.pull(Principal(user, acct["role"], frozenset(acct["grids"]), "d-new"), None)
        return repr(page)
    assert "13800000002" in pulled("leader1") and "13800000002" not in pulled("worker2")
    st.close()
    st = CentralStore(str(db))   # served again: nothing written again
    assert petitioner_phones.fill(st) == 0
    assert st.conn.execute("SELECT count(*) FROM changes").fetchone()[0] == count
    st.close()


def test_a_matter_an_older_app_pulled_without_the_petitioners_number_is_pulled_again(tmp_path):
    """An app that did not know the field kept the matter without the number (a leader's
    phone, the server already serving it); updated, the phone takes the matter's changes
    again at its next pull, and the matter's page has the number to call."""
    from sync import changes, clock
    path = str(tmp_path / "phone.db")
    ph = DeviceReplica(path, device_id="d-old")
    case = {"grid_id": "g1", "kind": "dispute", "channel": "visit", "category": "02", "description": "邻里纠纷",
            "status": "assigned", "owner": "lizhen", "reported_by": "office",
            "reported_at": "2026-03-01T09:00:00+08:00", "petitioner_phone": "13812345678"}
    made = changes.make("case", "c1", case, clock.encode(1_790_000_000_000, 0, "server"), "server", "office", None)
    without = {k: v for k, v in case.items() if k != "petitioner_phone"}   # a matter with no number
    other = changes.make("case", "c2", without, clock.encode(1_790_000_000_001, 0, "server"), "server", "office", None)
    ph.apply_pulled([made, other], "7.abcdef01")
    # as the older app stored it: no such column, so no value; the merge state names the write
    ph.conn.execute("UPDATE cases SET petitioner_phone=NULL WHERE id='c1'")
    ph.conn.execute("PRAGMA user_version=3")
    ph.close()
    ph = DeviceReplica(path)
    assert ph.conn.execute("PRAGMA user_version").fetchone()[0] == PHONE_N
    assert ph.cursor is None                                       # the next pull passes from the start
    assert ph.apply_pulled([made, other], "7.abcdef01") == 1       # the matter's change folded again, c2's not
    assert ph.get("case", "c1")["petitioner_phone"] == "13812345678"
    ph.close()
    ph = DeviceReplica(path)                                       # and only once
    assert ph.cursor == "7.abcdef01"
    ph.close()


def test_phone_replica_from_before_migrations_is_upgraded_with_nothing_lost(tmp_path):
    db = copy(tmp_path, "phone-v1.db")
    before = snapshot(db)
    ph = DeviceReplica(str(db))
    assert ph.conn.execute("PRAGMA user_version").fetchone()[0] == PHONE_N
    kept(before, db)
    # the phone keeps its identity, its sign-in and where its pull stopped
    assert ph.device_id == "d-fixture" and ph.meta("token") and ph.cursor
    assert ph.count("household") == 4
    ph.create("household", {"grid_id": "g1", "head_name": "孙建军", "address": "白鹤村7组3号"}, author="worker1")
    assert ph.pending_count() == 1


# --- a store left at each migration --------------------------------------------------------

@pytest.mark.parametrize("k", range(1, CENTRAL_N + 1))
def test_township_store_at_each_migration_opens_with_its_data(tmp_path, k):
    db = copy(tmp_path, "store-v1.db")
    open_at(CentralStore, db, server_migrations.CENTRAL, k)
    assert user_version(db) == k
    before = snapshot(db)
    st = CentralStore(str(db))
    assert st.conn.execute("PRAGMA user_version").fetchone()[0] == CENTRAL_N
    kept(before, db)
    assert st.log_count() == len(before["changes"][1])
    assert {r[0] for r in st.conn.execute("SELECT id FROM cases")} == {"case-0001", "case-0002", "case-0003"}


@pytest.mark.parametrize("k", range(1, PHONE_N + 1))
def test_phone_replica_at_each_migration_opens_with_its_data(tmp_path, k):
    db = copy(tmp_path, "phone-v1.db")
    open_at(DeviceReplica, db, migrations.PHONE, k)
    assert user_version(db) == k
    before = snapshot(db)
    ph = DeviceReplica(str(db))
    assert ph.conn.execute("PRAGMA user_version").fetchone()[0] == PHONE_N
    kept(before, db)
    assert [r[0] for r in ph.table_rows("household")] == ["hh-g1-001", "hh-g1-002", "hh-g1-003", "hh-g1-004"]


@pytest.mark.parametrize("k", range(1, CENTRAL_N + 1))
def test_new_store_made_at_each_migration_takes_data_after_upgrade(tmp_path, k):
    db = tmp_path / "new.db"
    open_at(CentralStore, db, server_migrations.CENTRAL, k)
    st = CentralStore(str(db))
    st.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇")
    st.server_write("household", "h1", {"grid_id": "g1", "head_name": "王建国", "address": "白鹤村1组1号"})
    assert st.get("household", "h1")["address"] == "白鹤村1组1号"
    assert st.conn.execute("PRAGMA user_version").fetchone()[0] == CENTRAL_N


# --- refusals ------------------------------------------------------------------------------

def test_a_store_newer_than_the_code_is_refused_untouched(tmp_path):
    db = copy(tmp_path, "store-v1.db")
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={CENTRAL_N + 1}")
    conn.close()
    with pytest.raises(StoreTooNew) as e:
        CentralStore(str(db))
    assert f"schema version {CENTRAL_N + 1}" in str(e.value) and f"up to {CENTRAL_N}" in str(e.value)
    assert "erasures" not in snapshot(db) and user_version(db) == CENTRAL_N + 1  # nothing was changed

    # what the person at the console reads: both versions, what to do, a non-zero exit
    r = subprocess.run([sys.executable, "-m", "township", "user", "list", "--db", str(db)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert f"schema version {CENTRAL_N + 1}" in r.stderr and f"up to {CENTRAL_N}" in r.stderr, r.stderr
    assert "newer Gridbook" in r.stderr and "Traceback" not in r.stderr


def test_a_phone_replica_newer_than_the_app_is_refused(tmp_path):
    db = copy(tmp_path, "phone-v1.db")
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={PHONE_N + 3}")
    conn.close()
    with pytest.raises(StoreTooNew) as e:
        DeviceReplica(str(db))
    assert e.value.have == PHONE_N + 3 and e.value.know == PHONE_N
    assert "erased" not in snapshot(db)


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path):
    """All the steps run in one transaction: one that fails undoes the others."""
    db = copy(tmp_path, "phone-v1.db")
    ph = DeviceReplica(str(db))
    ph.close()
    before = snapshot(db)

    def adds_then_fails(replica):
        replica.conn.execute("CREATE TABLE half_done (x)")
        replica.conn.execute("UPDATE households SET head_name='overwritten'")
        raise RuntimeError("disk full, say")

    class Newer(DeviceReplica):
        MIGRATIONS = (*migrations.PHONE, Migration(PHONE_N + 1, "breaks", adds_then_fails))

    with pytest.raises(RuntimeError):
        Newer(str(db))
    assert snapshot(db) == before and user_version(db) == PHONE_N
    assert before[TABLES["household"]][1]  # there was something to lose


def test_migrations_are_numbered_without_gaps():
    for steps in (migrations.PHONE, server_migrations.CENTRAL):
        assert [m.number for m in steps] == list(range(1, len(steps) + 1))
        assert steps[0].apply is migrations.baseline
