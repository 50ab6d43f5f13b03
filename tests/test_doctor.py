"""`gridbook doctor` on a healthy store (backed up by the real Litestream binary) and on
damaged ones: corrupt pages, files others may read, a WAL that is never checkpointed, a
backup that is behind or missing. Each problem is named, with what to do in Chinese and
English, and the exit code says something is wrong."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time

import pytest

from sync.server import backup, doctor
from sync.server.central import CentralStore
from sync.server.cli import main


def make_store(folder) -> str:
    folder.mkdir(mode=0o700)
    db = str(folder / "township.db")
    st = CentralStore(db)
    st.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇")
    st.audit("admin", "setting", "far_m=300")
    st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    st.close()
    return db


def replicate_once(db: str, url: str) -> None:
    target = backup.parse_target(url)
    cfg = backup.write_config(db, target)
    r = subprocess.run([backup.litestream_binary(), "replicate", "-config", cfg, "-once"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def run_doctor(capsys, db: str, *extra) -> tuple[int, dict, str]:
    code = main(["doctor", "--db", db, "--json", *extra])
    report = json.loads(capsys.readouterr().out)
    code2 = main(["doctor", "--db", db, *extra])
    text = capsys.readouterr().out
    assert code == code2
    return code, {c["check"]: c for c in report["checks"]}, text


@pytest.fixture
def healthy(tmp_path):
    db = make_store(tmp_path / "store")
    url = str(tmp_path / "backup")
    replicate_once(db, url)
    return db, url


def test_a_healthy_store_passes_every_check(healthy, capsys):
    db, url = healthy
    code, checks, text = run_doctor(capsys, db, "--backup", url)
    assert code == 0, text
    assert all(c["ok"] for c in checks.values()), checks
    assert set(checks) == {"store", "integrity", "wal", "disk", "permissions", "backup", "erasures"}
    assert "all checks passed / 检查全部通过" in text


def test_corrupt_pages_are_found(healthy, capsys):
    db, url = healthy
    size = os.path.getsize(db)
    with open(db, "r+b") as f:           # scribble over pages past the header page
        f.seek(8192 * 2)
        f.write(os.urandom(min(8192 * 3, size - 8192 * 2)))
    code, checks, text = run_doctor(capsys, db, "--backup", url)
    assert code == 1
    assert not checks["integrity"]["ok"]
    assert "gridbook restore" in checks["integrity"]["en"] and "恢复" in checks["integrity"]["zh"]
    assert "BAD integrity" in text and "处理：" in text and "What to do:" in text


def test_files_others_may_read_are_named(healthy, capsys):
    db, url = healthy
    os.chmod(db, 0o644)
    os.chmod(os.path.dirname(db), 0o755)
    blobs = backup.blobs_folder(db)
    os.makedirs(os.path.join(blobs, "ab"), mode=0o700)
    photo = os.path.join(blobs, "ab", "ab" + "0" * 62)
    with open(photo, "wb") as f:
        f.write(b"jpeg")
    os.chmod(photo, 0o644)
    code, checks, _ = run_doctor(capsys, db, "--backup", url)
    assert code == 1
    bad = checks["permissions"]
    assert not bad["ok"]
    assert "township.db is 0644 (want 0600)" in bad["detail"]
    assert "is 0755 (want 0700)" in bad["detail"]
    assert photo + " is 0644 (want 0600)" in bad["detail"]
    assert "chmod 700" in bad["zh"] and "UMask=0077" in bad["en"]
    assert checks["integrity"]["ok"]


def test_a_wal_never_checkpointed_is_found(healthy, capsys):
    db, url = healthy
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_autocheckpoint=0")   # as if Litestream had stopped checkpointing
        conn.execute("CREATE TABLE ballast (b BLOB)")
        with conn:
            for _ in range(70):
                conn.execute("INSERT INTO ballast VALUES (?)", (os.urandom(1024 * 1024),))
        code, checks, text = run_doctor(capsys, db, "--backup", url)
    finally:
        conn.close()
    assert code == 1
    assert not checks["wal"]["ok"] and "checkpoints are not happening" in checks["wal"]["detail"]
    assert "Litestream" in checks["wal"]["en"] and "预写日志过大" in checks["wal"]["zh"]


def test_a_missing_backup_and_a_lagging_one(healthy, capsys, tmp_path):
    db, url = healthy
    code, checks, _ = run_doctor(capsys, db)
    assert code == 1 and not checks["backup"]["ok"]
    assert "no backup configured" in checks["backup"]["detail"]
    assert "--backup" in checks["backup"]["zh"]

    empty = str(tmp_path / "empty-backup")
    code, checks, _ = run_doctor(capsys, db, "--backup", empty)
    assert code == 1 and "holds nothing yet" in checks["backup"]["detail"]

    # The store changes after the replica last copied it: two minutes on, it is behind.
    st = CentralStore(db, now=lambda: int(time.time() * 1000) + 30_000)  # half a minute later
    st.audit("admin", "setting", "far_m=500")
    st.close()
    target = backup.parse_target(url)
    assert backup.lag_seconds(db, target) > 0
    lag = backup.lag_seconds(db, target, now=time.time() + 120)
    assert lag > doctor.LAG_WARN_S


def test_a_missing_store(tmp_path, capsys):
    code, checks, text = run_doctor(capsys, str(tmp_path / "nowhere.db"))
    assert code == 1 and not checks["store"]["ok"]
    assert "gridbook restore" in checks["store"]["en"]


def test_a_damaged_store_at_a_path_holding_a_hash_sign_is_found_damaged(tmp_path):
    """The check opened "file:/srv/gridbook#2/township.db?mode=ro" unquoted: SQLite read
    "#2/…" as a fragment, opened (and made) /srv/gridbook, found it sound, and the damaged
    store was served as healthy."""
    db = make_store(tmp_path / "gridbook#2")
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = c.execute("PRAGMA page_size").fetchone()[0]
        root = c.execute("SELECT rootpage FROM sqlite_master WHERE name='accounts'").fetchone()[0]
    with open(db, "r+b") as f:   # the accounts table's page, written over
        f.seek(size * (root - 1))
        f.write(b"\xff" * size)
    before = sorted(os.listdir(tmp_path))
    try:
        said = doctor.sqlite_check(db)
    except sqlite3.DatabaseError as e:   # too damaged to read at all: said so too
        said = [str(e)]
    assert said != ["ok"] and not doctor.check_integrity(db).ok
    assert sorted(os.listdir(tmp_path)) == before   # no stray file beside it


def test_a_store_sqlite_cannot_open_is_not_called_damaged_when_the_file_is_not_the_trouble(tmp_path):
    """A read-only remount after disk errors, a full disk, a long write: doctor said "the
    store is damaged: restore it", every command "not a readable township store"."""
    import sqlite3

    from sync.server.doctor import check_integrity, not_the_files_fault
    db = str(tmp_path / "t.db")
    assert "busy" in not_the_files_fault(db, sqlite3.OperationalError("database is locked"))
    assert "is full" in not_the_files_fault(db, sqlite3.OperationalError("database or disk is full"))
    assert "could not open" in not_the_files_fault(db, sqlite3.OperationalError("unable to open database file"))
    assert not_the_files_fault(db, sqlite3.DatabaseError("file is not a database")) is None
    assert not_the_files_fault(db, sqlite3.DatabaseError("database disk image is malformed")) is None
    (tmp_path / "t.db").write_bytes(b"not a store at all" * 100)      # a damaged file is still called so
    found = check_integrity(db)
    assert not found.ok and "restore" in found.en
