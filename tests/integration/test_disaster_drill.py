"""The disaster drill (issue 11): the real `gridbook serve --backup` under the real
Litestream binary replicates to a local folder; phones push records and photos; the
replica is made to lag (Litestream is killed, as a crashed backup would be) while the
phones push more, which the server acknowledges; the server is SIGKILLed and its store
and attachments deleted; `gridbook restore` brings them back from the replica; the
server is served again; the phones sync. Every change any phone ever had acknowledged
is in the store exactly once, every photo's bytes are back, and the office is told how
many changes came back from the phones."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from sync.attachments import Attachments
from sync.server import backup

from .conftest import _server_from, case_fields, cli, household_fields, phone

pytestmark = pytest.mark.integration


def picture(seed: int) -> bytes:
    import io
    img = Image.new("RGB", (64, 48), (seed * 40 % 256, 90, 160))
    img.putpixel((seed % 64, 3), (255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG")
    return out.getvalue()


def replica_change_ids(backup_dir: Path, scratch: Path) -> set[str]:
    """What the replica holds right now: restored with the real binary into a scratch file."""
    out = scratch / f"probe-{time.monotonic_ns()}.db"
    r = subprocess.run([backup.litestream_binary(), "restore", "-o", str(out),
                        "file://" + str(backup_dir / "store")], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not out.exists():
        return set()
    conn = sqlite3.connect(out)
    try:
        return {row[0] for row in conn.execute("SELECT change_id FROM changes")}
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(out) + suffix).unlink(missing_ok=True)


def wait_for(fn, what: str, timeout: float = 30.0):
    end = time.monotonic() + timeout  # a deadline for a state to be reached, not a timing claim
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _refused(url: str) -> bool:
    try:
        httpx.get(url + "/api/v1/health", timeout=1.0)
    except httpx.TransportError:
        return True
    return False


def write_round(replica, store: Attachments, username: str, grid: str, n: int, tag: str) -> tuple[list, list]:
    """A household with a photo, a matter, a visit-less edit: the kind of work a day brings."""
    ids, hashes = [], []
    att = store.add_photo(picture(n), f"{tag}.jpg")
    hashes.append(att["hash"])
    hh = replica.create("household", {**household_fields(grid, n), "attachments": [att]}, username)
    ids.append(hh["id"])
    case = replica.create("case", case_fields(grid, username, title=f"排水沟堵塞 {tag}"), username)
    ids.append(case["id"])
    ids.append(replica.update("household", hh["record"], {"phone": f"1380000{n:04d}"}, username)["id"])
    return ids, hashes


def copied(srv, to: Path) -> Path:
    """The administrator's copy of the live store, consistent (SQLite's backup)."""
    src, dst = sqlite3.connect(srv.db), sqlite3.connect(to)
    src.backup(dst)
    src.close()
    dst.close()
    return to


def put_back(srv, copy: Path) -> None:
    """The server stopped and its store file replaced by the copy, its WAL gone with it."""
    srv.kill()
    for suffix in ("-wal", "-shm"):
        Path(str(srv.db) + suffix).unlink(missing_ok=True)
    shutil.copy(copy, srv.db)


def test_restore_loses_nothing_the_phones_had(template_db, tmp_path):
    backup_dir = tmp_path / "backup"
    srv = _server_from(template_db, tmp_path / "server", args=("--backup", str(backup_dir)))
    blobs_dir = Path(str(srv.db) + ".blobs")
    phones = {}
    groups = []
    try:
        srv.start()
        groups.append(srv.proc.pid)
        for username, grid in (("worker1", "g1"), ("worker2", "g2")):
            replica, client = phone(tmp_path / username, srv, username)
            phones[username] = (replica, client, Attachments.for_replica(replica), grid)

        acknowledged: set[str] = set()
        photos: set[str] = set()

        def day(tag: str, n0: int) -> tuple[set[str], set[str]]:
            ids_of_day, hashes_of_day = set(), set()
            for i, (username, (replica, client, store, grid)) in enumerate(phones.items()):
                ids, hashes = write_round(replica, store, username, grid, n0 + i, f"{tag}-{username}")
                report = client.sync()
                assert report.pending == 0 and report.quarantined == 0, report
                assert client.send_attachments()["sent"] == len(hashes)
                ids_of_day |= set(ids)
                hashes_of_day |= set(hashes)
            photos.update(hashes_of_day)
            return ids_of_day, hashes_of_day

        # Day 1: replicated. Wait until the replica holds every change (a restored probe)
        # and every photo.
        first, _ = day("day1", 1)
        acknowledged |= first
        wait_for(lambda: first <= replica_change_ids(backup_dir, tmp_path), "the replica to hold day 1")
        wait_for(lambda: all((backup_dir / "blobs" / h[:2] / h).exists() for h in photos),
                 "day 1's photos in the replica folder")

        # The backup dies (Litestream killed: a frozen one could hold SQLite's write lock,
        # a dead one holds nothing); the server, its child, goes on serving, and the
        # phones go on working: it acknowledges everything they push.
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=30)
        second, second_photos = day("day2", 11)
        acknowledged |= second
        assert not (second & replica_change_ids(backup_dir, tmp_path)), "the lag was not real"
        # The server copies a new photo to the replica folder within seconds: take back
        # what it copied of day 2, as if the machine had died a moment sooner.
        for h in second_photos:
            (backup_dir / "blobs" / h[:2] / h).unlink(missing_ok=True)

        # The machine dies: every process of the service at once, then the disk's files.
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.kill()
        wait_for(lambda: _refused(srv.url), "the old server to be gone")
        for suffix in ("", "-wal", "-shm"):
            Path(str(srv.db) + suffix).unlink(missing_ok=True)
        shutil.rmtree(blobs_dir)
        shutil.rmtree(srv.db.parent / f".{srv.db.name}-litestream", ignore_errors=True)

        restored = json.loads(cli("restore", "--from", str(backup_dir), "--db", str(srv.db)).stdout)
        assert restored["changes"] > 0 and restored["generation"]
        held = {r[0] for r in sqlite3.connect(srv.db).execute("SELECT change_id FROM changes")}
        assert first <= held and not (second & held)   # the replica had day 1, not day 2
        assert oct(os.stat(srv.db).st_mode & 0o777) == oct(0o600)

        srv.start()
        groups.append(srv.proc.pid)
        recovered = 0
        for username, (replica, client, store, grid) in phones.items():
            report = client.sync()
            recovered += report.recovered
            assert report.quarantined == 0, report
            client.send_attachments()
        assert recovered == len(second)

        # Every acknowledged change, exactly once: in the change table and as one origin
        # entry of the log; and the records they made are there with what they wrote.
        counts = dict(srv.sql("SELECT change_id, count(*) FROM log WHERE origin=1 GROUP BY change_id"))
        missing = acknowledged - set(counts)
        assert not missing, f"{len(missing)} acknowledged changes lost"
        assert all(counts[c] == 1 for c in acknowledged)
        assert srv.sql("SELECT count(*) FROM changes")[0][0] == len(set(srv.sql("SELECT change_id FROM changes")))
        for username, (replica, client, store, grid) in phones.items():
            for (rid, phone_no) in replica.conn.execute("SELECT id, phone FROM households"
                                                        " WHERE phone IS NOT NULL").fetchall():
                assert srv.sql("SELECT phone FROM households WHERE id=?", (rid,)) == [(phone_no,)]

        # Every photo's bytes are back, whole.
        for h in photos:
            p = blobs_dir / h[:2] / h
            assert p.exists(), f"photo {h[:12]} not back"
            assert hashlib.sha256(p.read_bytes()).hexdigest() == h

        # The office is told: the count is kept and audited.
        assert srv.sql("SELECT value FROM server_meta WHERE key='recovered'") == [(str(len(second)),)]
        assert srv.sql("SELECT sum(CAST(substr(detail, 9) AS INTEGER)) FROM audit WHERE action='recovered'")[0][0] \
            == len(second)

        # ... and shown on the office's dashboard.
        from fieldapp.office.dashboard import recovered_line
        from sync.server.central import CentralStore
        office_store = CentralStore(str(srv.db))
        try:
            rec = office_store.recovered()
            line = recovered_line(type("Ctx", (), {"lang": "zh"})(), rec)
        finally:
            office_store.close()
        assert rec["since_restore"] == len(second)
        assert f"手机补交了 {len(second)} 条" in line.content.value

        # A later sync offers nothing again.
        for username, (replica, client, store, grid) in phones.items():
            assert client.sync().recovered == 0
    finally:
        for pgid in groups:   # Litestream and the server it runs, of each start
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        srv.kill()


def test_a_store_copied_back_by_hand_is_caught_by_the_log_head(template_db, tmp_path):
    """No `gridbook restore` (so no new generation): the store file is put back from a copy
    made by hand. A phone whose cursor is beyond the log's head offers again what it
    pushed and pulls again from the start; a phone that only reads pulls again too and
    ends with every record once."""
    srv = _server_from(template_db, tmp_path / "server")
    try:
        srv.start()
        writer, wclient = phone(tmp_path / "writer", srv, "worker1")
        reader, rclient = phone(tmp_path / "reader", srv, "lostphone")   # the same grid, reads only
        kept = [writer.create("household", household_fields("g1", n), "worker1")["record"] for n in range(2)]
        assert wclient.sync().pushed == 2
        copy = copied(srv, tmp_path / "copy.db")
        later = [writer.create("household", household_fields("g1", n), "worker1")["record"] for n in range(2, 5)]
        assert wclient.sync().pushed == 3
        assert rclient.sync().pulled >= 5                # the directory and the five households

        put_back(srv, copy)
        srv.start()

        assert rclient.sync().recovered == 0            # behind its cursor: pulls again, offers nothing
        report = wclient.sync()
        assert report.recovered == 3 and report.quarantined == 0
        rclient.sync()
        held = {r[0] for r in srv.sql("SELECT id FROM households")}
        assert set(kept + later) <= held
        assert srv.sql("SELECT count(*) FROM households WHERE id IN (%s)" % ",".join("?" * 5),
                       kept + later) == [(5,)]
        got = {r[0] for r in reader.conn.execute("SELECT id FROM households")}
        assert set(kept + later) <= got
    finally:
        srv.kill()


def test_offline_edits_of_records_a_restored_store_lacked_go_through_once_the_records_are_back(
        template_db, tmp_path):
    """The phone pushes before it pulls: after a restore its edits of records the restored
    store lacks are refused ("does not hold") before the pull finds the restore and offers
    the records again. Once they are back, the edits go in the same sync, not refused
    for a reason no longer true."""
    srv = _server_from(template_db, tmp_path / "server")
    try:
        srv.start()
        p, client = phone(tmp_path / "writer", srv, "worker1")
        client.sync()
        copy = copied(srv, tmp_path / "copy.db")
        hid = p.create("household", household_fields("g1", 1), "worker1")["record"]
        assert client.sync().pushed == 1
        p.update("household", hid, {"address": "金山镇白鹤村3组新址"}, "worker1")     # offline, later

        put_back(srv, copy)
        srv.start()

        report = client.sync()
        assert report.recovered == 1 and report.quarantined == 0 and p.quarantined() == []
        assert srv.sql("SELECT address FROM households WHERE id=?", (hid,)) == [("金山镇白鹤村3组新址",)]
        assert client.sync().pending == 0
    finally:
        srv.kill()


def test_an_edit_of_masked_members_the_restored_store_lacked_goes_through_once_they_are_back(
        template_db, tmp_path):
    """The registering phone holds its household's ID numbers masked once the township has
    them; the store put back lacks the member added since, so the edit sent before the
    pull that finds the restore cannot place that member's masked number ("masked").
    Once the offered-again change brings the member back, the edit goes in the same sync."""
    from sync import idnumber
    from sync.workspace import DeviceWorkspace

    def valid(first17):
        return first17 + idnumber.check_char(first17)
    head, son, grandson = valid("33070219800101123"), valid("33070220100202002"), valid("33070220200303004")
    srv = _server_from(template_db, tmp_path / "server")
    try:
        srv.start()
        p, client = phone(tmp_path / "writer", srv, "worker1")
        client.sync()
        ws = DeviceWorkspace(p, json.loads(p.meta("account")))
        hid = ws.add_household({"grid_id": "g1", "head_name": "甄一", "address": "白鹤村1组1号", "id_number": head,
                                "members": [{"name": "甄二", "relation": "子", "id_number": son}]})
        client.sync()
        copy = copied(srv, tmp_path / "copy.db")
        h = p.get("household", hid)
        ws.edit_household(hid, {**h, "members": [*h["members"], {"name": "甄三", "relation": "孙",
                                                                 "id_number": grandson}]}, shown=h)
        client.sync()
        assert "*" in p.get("household", hid)["members"][1]["id_number"]      # held masked now

        put_back(srv, copy)
        srv.start()
        h = p.get("household", hid)
        members = [dict(m) for m in h["members"]]
        members[1]["note"] = "已上学"
        ws.edit_household(hid, {**h, "members": members}, shown=h)             # offline, on the masked numbers
        report = client.sync()
        assert report.recovered >= 1 and p.quarantined() == [], p.quarantined()
        [(held,)] = srv.sql("SELECT members FROM households WHERE id=?", (hid,))
        held = json.loads(held)
        assert [m["id_number"] for m in held] == [son, grandson] and held[1].get("note") == "已上学"
    finally:
        srv.kill()


def test_a_report_the_restored_store_lacks_and_now_refuses_stays_on_the_phone_and_is_shown(template_db, tmp_path):
    """worker1's report was sent and acknowledged; the store comes back from a copy made
    before it, and meanwhile worker1 was moved to another grid. Offered again, the report
    is refused (outside worker1's grids now). The phone keeps it, among the refused
    changes with the server's reason, through the scope reset that follows: it was
    dropped without a word, from the server and the phone alike."""
    srv = _server_from(template_db, tmp_path / "server")
    try:
        srv.start()
        p, client = phone(tmp_path / "worker", srv, "worker1")
        client.sync()
        copy = copied(srv, tmp_path / "copy.db")
        made = p.create("case", case_fields("g1", "worker1"), "worker1")
        cid = made["record"]
        note = p.create("case_event", {"case_id": cid, "kind": "progress", "at": made["fields"]["reported_at"],
                                       "by": "worker1", "text": "已约两户明天到村委会"}, "worker1")["record"]
        assert client.sync().pushed == 2

        put_back(srv, copy)
        from sync.server.central import CentralStore
        restored = CentralStore(str(srv.db))
        restored.begin_generation("restored from the copy")   # as `gridbook restore` marks it
        restored.close()
        cli("user", "grids", "worker1", "--grid", "g2", "--db", str(srv.db))
        srv.start()

        report = client.sync()
        assert report.reset and report.quarantined == 2
        assert srv.sql("SELECT count(*) FROM cases WHERE id=?", (cid,)) == [(0,)]
        refused = p.quarantined()
        assert [(q["entity"], q["record"]) for q in refused] == [("case", cid), ("case_event", note)]
        assert refused[0]["errors"] and refused[0]["reason"]
        assert p.get("case", cid)["title"] == "宅前排水沟堵塞"           # still on the phone
        # the next sync neither loses it nor offers it again on its own
        again = client.sync()
        assert again.recovered == 0 and p.get("case", cid) is not None and len(p.quarantined()) == 2
    finally:
        srv.kill()


def test_a_store_copied_back_by_hand_is_caught_though_other_phones_pushed_past_the_cursor(template_db, tmp_path):
    """The copy put back by hand, then another phone pushes more than the first one had
    read: the log's head is beyond the first phone's cursor again, so only the row its
    cursor names (another change now) tells that the store went back. It offers again
    what it sent, and pulls the other phone's new records it would have skipped."""
    srv = _server_from(template_db, tmp_path / "server")
    try:
        srv.start()
        writer, wclient = phone(tmp_path / "writer", srv, "worker1")
        other, oclient = phone(tmp_path / "other", srv, "lostphone")   # the same grid
        oclient.sync()
        copy = copied(srv, tmp_path / "copy.db")
        sent = [writer.create("household", household_fields("g1", n), "worker1")["record"] for n in range(5)]
        assert wclient.sync().pushed == 5
        put_back(srv, copy)
        srv.start()
        theirs = [other.create("household", household_fields("g1", n), "lostphone")["record"]
                  for n in range(10, 30)]
        assert oclient.sync().pushed == 20          # the head is past the writer's cursor again
        report = wclient.sync()
        assert report.recovered == 5
        held = {r[0] for r in srv.sql("SELECT id FROM households")}
        assert set(sent) <= held
        assert set(theirs) <= {r[0] for r in writer.conn.execute("SELECT id FROM households")}
    finally:
        srv.kill()
