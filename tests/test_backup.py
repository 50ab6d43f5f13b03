"""The backup's pieces with the real Litestream binary: where a URL points, the
configuration Litestream is given, the attachment copy, the refusals that protect a
store, and `gridbook restore` to the latest state and to a point in time (a new
generation each time, the store private)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import tempfile
import sys
import time

import pytest

from sync.server import backup
from sync.server.central import CentralStore
from sync.server.cli import main


def test_where_a_backup_url_points():
    t = backup.parse_target("/srv/gridbook-backup")
    assert (t.kind, t.folder, t.store_url) == ("file", "/srv/gridbook-backup", "file:///srv/gridbook-backup/store")
    assert t.blobs_folder == "/srv/gridbook-backup/blobs"
    assert backup.parse_target("file:///srv/b").folder == "/srv/b"
    s3 = backup.parse_target("s3://bucket/township/jinshan", endpoint="http://minio:9000")
    assert s3.replica_config() == {"type": "s3", "bucket": "bucket", "path": "township/jinshan/store",
                                   "sync-interval": "1s", "endpoint": "http://minio:9000",
                                   "region": "us-east-1", "force-path-style": True}
    assert s3.blobs_folder is None
    for bad, words in (("ftp://host/x", "ftp:// is not supported"), ("file://nas/x", "not a host"),
                       ("s3:///x", "names its bucket"), ("  ", "give a folder")):
        with pytest.raises(backup.BackupError, match=words):
            backup.parse_target(bad)


def test_a_time_without_a_zone_is_the_townships():
    assert backup.parse_timestamp("2026-11-27T09:00:00") == "2026-11-27T01:00:00Z"
    assert backup.parse_timestamp("2026-11-27T09:00:00+00:00") == "2026-11-27T09:00:00Z"
    with pytest.raises(backup.BackupError, match="timestamp: 'yesterday' is not an ISO time"):
        backup.parse_timestamp("yesterday")


def test_litestream_takes_the_configuration_and_it_is_private(tmp_path):
    db = str(tmp_path / "t.db")
    cfg = backup.write_config(db, backup.parse_target(str(tmp_path / "b")))
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    r = subprocess.run([backup.litestream_binary(), "databases", "-config", cfg],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"{db}  file" in r.stdout


def test_attachments_are_copied_once_whole_and_private(tmp_path):
    src, dst = tmp_path / "township.db.blobs", tmp_path / "backup" / "blobs"
    (src / "ab").mkdir(parents=True)
    (src / "partial").mkdir()
    (src / "ab" / ("ab" + "1" * 62)).write_bytes(b"photo")
    (src / "partial" / ("cd" + "2" * 62)).write_bytes(b"half a pho")   # an upload under way
    (src / "ab" / ".hidden").write_bytes(b"x")
    assert backup.copy_new_files(str(src), str(dst)) == 1
    copied = dst / "ab" / ("ab" + "1" * 62)
    assert copied.read_bytes() == b"photo"
    assert stat.S_IMODE(os.stat(copied).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dst / "ab").st_mode) == 0o700
    assert not (dst / "partial").exists() and not (dst / "ab" / ".hidden").exists()
    assert backup.copy_new_files(str(src), str(dst)) == 0
    assert sorted(p.name for p in dst.rglob("*") if p.is_file()) == ["ab" + "1" * 62]
    # an erasure takes it out of the backup folder, with the office's thumbnail of it
    (dst / "thumbs").mkdir()
    thumb = dst / "thumbs" / ("ab" + "1" * 62 + ".jpg")
    thumb.write_bytes(b"small")
    assert backup.delete_blobs(str(tmp_path / "backup"), ["ab" + "1" * 62, "not-a-hash"]) == 1
    assert not copied.exists() and not thumb.exists()


def _store(db: str, grid: str) -> None:
    st = CentralStore(db)
    st.add_grid(grid, f"{grid} 网格", "白鹤村", "金山镇")
    st.close()


def _replicate_once(db: str, url: str) -> None:
    cfg = backup.write_config(db, backup.parse_target(url))
    r = subprocess.run([backup.litestream_binary(), "replicate", "-config", cfg, "-once"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def _next_second(after: float) -> None:
    """Litestream stamps its files to the second: wait until the clock is past `after`."""
    while time.time() < after + 1.05:
        time.sleep(0.05)


def test_reading_the_backup_leaves_no_file_behind_and_sweeps_a_killed_readers(tmp_path, monkeypatch):
    """Each look at the replica (health, doctor, restore) writes a configuration naming
    it: a process killed during the look left one in the machine's temporary folder,
    and they piled up. They are now beside the store, and an old one is swept."""
    folder = tmp_path / "server"
    folder.mkdir(mode=0o700)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    db, url = str(folder / "township.db"), str(tmp_path / "backup")
    _store(db, "g1")
    _replicate_once(db, url)
    left = folder / f"{backup.READING_CONFIG}killed.yml"
    left.write_text("dbs: []\n")
    recent = folder / f"{backup.READING_CONFIG}reading-now.yml"
    recent.write_text("dbs: []\n")
    os.utime(left, (time.time() - 7200, time.time() - 7200))
    assert backup.replica_newest(db, backup.parse_target(url)) is not None
    assert not left.exists()                 # a killed reader's, two hours old
    assert recent.exists()                   # one another process may be reading with
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".gridbook")) == [recent.name]
    assert list(scratch.iterdir()) == []


def test_restore_latest_and_to_a_point_in_time(tmp_path, capsys):
    folder = tmp_path / "store"
    folder.mkdir(mode=0o700)
    db, url = str(folder / "township.db"), str(tmp_path / "backup")
    _store(db, "g1")
    _replicate_once(db, url)
    first = backup.replica_newest(db, backup.parse_target(url))
    _next_second(first)
    between = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    _next_second(between.timestamp())
    _store(db, "g2")
    _replicate_once(db, url)
    gen_before = CentralStore(db).generation()["generation"]

    # A store is never overwritten unasked.
    assert main(["restore", "--from", url, "--db", db]) == 1
    assert "exists: stop the server and move it away, or pass --force" in capsys.readouterr().err

    assert main(["restore", "--from", url, "--db", db, "--force"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[0])
    assert out["moved_aside"] and os.path.exists(out["moved_aside"][0])
    st = CentralStore(db)
    assert {r[0] for r in st.conn.execute("SELECT id FROM grids")} == {"g1", "g2"}
    gen = st.generation()
    assert gen["generation"] == out["generation"] != gen_before
    assert gen["since"] == st.log_head()
    assert st.conn.execute("SELECT count(*) FROM audit WHERE action='generation'").fetchone()[0] == 1
    st.close()
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600

    too_early = tmp_path / "too-early" / "township.db"
    assert main(["restore", "--from", url, "--db", str(too_early), "--timestamp", "2020-01-01T09:00:00"]) == 1
    err = capsys.readouterr().err
    assert "the backup at" in err and "begins at" in err and "give a time after it" in err, err
    assert not too_early.parent.exists()                   # a refused restore leaves no folder behind

    earlier = str(tmp_path / "earlier" / "township.db")
    assert main(["restore", "--from", url, "--db", earlier, "--timestamp", between.isoformat()]) == 0
    capsys.readouterr()
    st = CentralStore(earlier)
    assert {r[0] for r in st.conn.execute("SELECT id FROM grids")} == {"g1"}
    st.close()


def test_a_store_backed_up_by_an_older_version_is_restored_saying_which_version_can_serve_it(tmp_path, capsys):
    """The way back from an upgrade is the old version's own restore: this one's brings the
    store to its schema (the old version then refuses it), and says so."""
    import sqlite3
    from sync.server.migrations import CENTRAL
    folder = tmp_path / "store"
    folder.mkdir(mode=0o700)
    db, url = str(folder / "township.db"), str(tmp_path / "backup")
    _store(db, "g1")
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={len(CENTRAL) - 1}")   # as the version before left it
    conn.commit()
    conn.close()
    _replicate_once(db, url)
    back = str(tmp_path / "back%41#1" / "township.db")   # letters a URI would read otherwise (helper BK)
    assert main(["restore", "--from", url, "--db", back]) == 0
    got = capsys.readouterr()
    out = json.loads(got.out.splitlines()[0])
    assert (out["schema_backed_up"], out["schema_now"]) == (len(CENTRAL) - 1, len(CENTRAL))
    assert f"backed up at schema version {len(CENTRAL) - 1}" in got.err
    assert "install that version and run ITS gridbook restore" in got.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back%41#1", "backup", "store"]   # no stray file
    # a store restored at this version's own schema says nothing of it
    current = tmp_path / "current"
    current.mkdir(mode=0o700)
    _store(str(current / "township.db"), "g1")
    _replicate_once(str(current / "township.db"), str(tmp_path / "backup2"))
    again = str(tmp_path / "again" / "township.db")
    assert main(["restore", "--from", str(tmp_path / "backup2"), "--db", again]) == 0
    assert "schema version" not in capsys.readouterr().err


def test_nothing_to_restore_and_no_silent_fresh_start(tmp_path, capsys):
    db, url = str(tmp_path / "t.db"), str(tmp_path / "backup")
    assert main(["restore", "--from", url, "--db", db]) == 1
    assert "no backup found at" in capsys.readouterr().err
    # A store that is missing while its backup holds one: serve refuses to start afresh.
    _store(db, "g1")
    _replicate_once(db, url)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    with pytest.raises(backup.BackupError, match="bring it back first with gridbook restore"):
        backup.exec_under_litestream(db, backup.parse_target(url), ["true"])
    assert not os.path.exists(db)


def test_a_store_still_open_in_a_running_process_is_not_restored_over(tmp_path, capsys):
    """`--force` while the server (or its write process, or Litestream) still holds the
    store: refused, naming what to do, and the store stays where it is; once that
    process has ended, the same command restores."""
    db, url = str(tmp_path / "township.db"), str(tmp_path / "backup")
    _store(db, "g1")
    _replicate_once(db, url)
    _store(db, "g2")   # a grid the backup lacks: the store in use is the newer one
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
         " c.execute('SELECT count(*) FROM grids').fetchone(); print('open', flush=True);"
         " sys.stdin.read()", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert backup.store_in_use(db)
        assert main(["restore", "--from", url, "--db", db, "--force"]) == 1
        err = capsys.readouterr().err
        assert "is open in a running process" in err and "stop the service first" in err
        assert not list(tmp_path.glob("township.db.replaced-*"))   # nothing moved aside
        st = CentralStore(db)
        assert {r[0] for r in st.conn.execute("SELECT id FROM grids")} == {"g1", "g2"}
        st.close()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not backup.store_in_use(db)
    assert main(["restore", "--from", url, "--db", db, "--force"]) == 0
    capsys.readouterr()
    st = CentralStore(db)
    assert {r[0] for r in st.conn.execute("SELECT id FROM grids")} == {"g1"}
    st.close()


def test_a_restore_from_before_an_erasure_erases_the_person_again(tmp_path, capsys):
    """Restored to a time before an erasure, the person was back, and neither the restore
    nor doctor said so: the journal beside the store is replayed by the restore itself."""
    folder = tmp_path / "store"
    folder.mkdir(mode=0o700)
    db, url = str(folder / "township.db"), str(tmp_path / "backup")
    st = CentralStore(db)
    st.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇")
    st.server_write("household", "h1", {"grid_id": "g1", "head_name": "慕容复", "address": "白鹤村1组1号"})
    st.close()
    _replicate_once(db, url)
    before = backup.replica_newest(db, backup.parse_target(url))
    _next_second(before)
    then = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    _next_second(then.timestamp())
    assert main(["erase", "household", "h1", "--request", "REQ-7", "--db", db]) == 0
    _replicate_once(db, url)
    capsys.readouterr()
    assert main(["restore", "--from", url, "--db", db, "--force", "--timestamp", then.isoformat()]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[0])
    assert out["erasures_replayed"] == 1 and out["erasure_journal"].endswith("township.db.erasures.jsonl")
    st = CentralStore(db)
    assert st.get("household", "h1")["head_name"] != "慕容复"
    st.close()


def _household_with_a_photo(tmp_path, h: str):
    """(the store's path, the photo's file) of a store holding household h1 with one photo."""
    db = str(tmp_path / "township.db")
    st = CentralStore(db)
    st.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇")
    st.server_write("household", "h1", {"grid_id": "g1", "head_name": "慕容复", "address": "白鹤村1组1号",
                                        "attachments": [{"hash": h, "name": "户口本.jpg", "size": 5,
                                                         "kind": "photo"}]})
    st.close()
    photo = tmp_path / "township.db.blobs" / h[:2] / h
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"photo")
    return db, photo


def test_an_erasure_with_the_bucket_out_of_reach_is_done_here_and_says_what_is_left_there(tmp_path, capsys,
                                                                                          monkeypatch):
    """The bucket's copy of a photo is the erasure's to delete too; when it cannot be
    reached the erasure still goes through on the server and names the files left."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("GRIDBOOK_BACKUP_URL", "s3://township/jinshan")
    monkeypatch.setenv("GRIDBOOK_S3_ENDPOINT", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("LITESTREAM_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("LITESTREAM_SECRET_ACCESS_KEY", "s")
    h = "ab" + "1" * 62
    db, _ = _household_with_a_photo(tmp_path, h)
    assert main(["erase", "household", "h1", "--request", "REQ-8", "--db", db]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["blobs_deleted"] == 1 and not (tmp_path / "township.db.blobs" / "ab" / h).exists()
    assert f"ab/{h}" in out["backup_blobs_left"] and "s3://township/jinshan/blobs/" in out["backup_blobs_left"]
    st = CentralStore(db)
    assert st.get("household", "h1")["head_name"] != "慕容复"
    st.close()


def test_files_an_erasure_committed_but_did_not_delete_go_at_the_next_opening(tmp_path, monkeypatch):
    """The power went between the erasure's commit and the deletion of the person's
    files: a second erase found nothing left to name them, doctor said all was applied,
    and the photo stayed on the server for good. They are named in the store until gone."""
    from sync.server import erasure
    db, photo = _household_with_a_photo(tmp_path, "cd" + "2" * 62)
    st = CentralStore(db)

    def power_cut(*a, **k):
        raise KeyboardInterrupt("the process ends here")
    monkeypatch.setattr(erasure, "delete_blobs", power_cut)
    with pytest.raises(KeyboardInterrupt):
        erasure.erase(st, "household", "h1", "admin", request="REQ-9")
    assert photo.exists() and st.get("household", "h1")["head_name"] != "慕容复"
    monkeypatch.undo()
    st.close()
    st = CentralStore(db)                       # the server starts again
    assert not photo.exists()
    assert st.conn.execute("SELECT count(*) FROM erasure_files").fetchone()[0] == 0
    st.close()


def test_a_file_an_erasure_cannot_delete_yet_leaves_the_store_opening(tmp_path, monkeypatch):
    """One erased file that cannot be deleted (its folder left to root by a `sudo`, a
    failing disk) stopped the store from opening at all: every command and the server."""
    from sync.server import erasure
    db, photo = _household_with_a_photo(tmp_path, "ef" + "3" * 62)
    st = CentralStore(db)
    monkeypatch.setattr(erasure, "delete_blobs", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        erasure.erase(st, "household", "h1", "admin", request="REQ-10")
    monkeypatch.undo()
    st.close()

    def refused(*a, **k):
        raise PermissionError("Operation not permitted")
    monkeypatch.setattr(erasure, "remove_named", refused)
    st = CentralStore(db)                       # opens, the file left for the next try
    assert st.conn.execute("SELECT count(*) FROM erasure_files").fetchone()[0] == 1 and photo.exists()
    st.close()
    monkeypatch.undo()
    st = CentralStore(db)
    assert not photo.exists() and st.conn.execute("SELECT count(*) FROM erasure_files").fetchone()[0] == 0
    st.close()


def test_a_restore_brings_back_no_file_of_an_erasure_left_unfinished(tmp_path, capsys, monkeypatch):
    """The backup holds an erasure committed whose file the power cut kept (its row in
    erasure_files, its file in the backup's folder): the restore opened the store before
    it copied the files back, so the row went and the file came back for good."""
    from sync.server import erasure
    folder = tmp_path / "store"
    folder.mkdir(mode=0o700)
    db, photo = _household_with_a_photo(folder, "aa" + "4" * 62)
    url = str(tmp_path / "backup")
    backup.copy_new_files(db + ".blobs", str(tmp_path / "backup" / "blobs"))
    st = CentralStore(db)
    monkeypatch.setattr(erasure, "delete_blobs", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        erasure.erase(st, "household", "h1", "admin", request="REQ-11")
    monkeypatch.undo()
    st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    st.close()
    _replicate_once(db, url)
    capsys.readouterr()
    assert main(["restore", "--from", url, "--db", db, "--force"]) == 0
    assert not photo.exists()
    st = CentralStore(db)
    assert st.conn.execute("SELECT count(*) FROM erasure_files").fetchone()[0] == 0
    st.close()
