"""Erasure (PIPL art. 47) and the retention rule, end to end: the real server in a
subprocess, real phones syncing over HTTP, `gridbook erase` and `gridbook retention
apply` as real processes.

After `gridbook erase household`, the person's name, ID number (whole and as phones see
it, masked), phone number, address and family members' names are in no byte of the
store's files (main file and WAL), of any phone's files, of the attachment folder, or
of any export the office can take; the figures are what they were; other people's
records are untouched; the tombstone holds who, when, which record and why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import sqlite3
import zipfile
from pathlib import Path

import httpx
import pytest

from sync import privacy
from sync.erasure_rules import ERASED_TEXT
from sync.server import stats
from sync.server.central import CentralStore

from .conftest import auth_headers, case_fields, cli, now_iso, phone


def id_number(first17: str) -> str:
    """A valid resident ID number (GB 11643 check digit)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


PERSON = {"name": "欧阳秀兰", "id": id_number("33070219620715002"), "phone": "13512345678",
          "address": "金山镇白鹤村9组88号", "member": "欧阳小明", "member_id": id_number("33070219900101003")}
OTHER = {"name": "司马德福", "address": "金山镇白鹤村2组5号"}  # a neighbour, not erased


def secrets_of(person: dict) -> list[bytes]:
    out = [person["name"], person["id"], privacy.mask_id(person["id"]), person["phone"], person["address"],
           person["member"], person["member_id"], privacy.mask_id(person["member_id"])]
    return [s.encode() for s in out]


def files_bytes(*paths: Path) -> dict[str, bytes]:
    """The raw bytes of files (and of every file under folders), WAL files included."""
    out = {}
    for p in paths:
        for f in ([p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())):
            out[str(f)] = f.read_bytes()
        for suffix in ("-wal", "-shm", "-journal"):
            extra = Path(str(p) + suffix)
            if p.is_file() and extra.exists():
                out[str(extra)] = extra.read_bytes()
    return out


def unpacked(name: str, data: bytes) -> bytes:
    """An export's text as stored inside it: an .xlsx is a zip of XML parts."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return b"\n".join(z.read(n) for n in z.namelist())
    return data


def found(secrets: list[bytes], blobs: dict[str, bytes]) -> list[tuple[str, str]]:
    return [(name, s.decode()) for name, data in blobs.items() for s in secrets if s in data]


def exports(srv) -> dict[str, bytes]:
    office, admin = auth_headers(srv, "office1"), auth_headers(srv, "admin1")
    year = dt.date.today().year
    out = {}
    for kind, who, params in (("ledger.xlsx", office, {"start": f"{year - 1}-01-01", "end": f"{year}-12-31"}),
                              ("ledger.csv", office, {"start": f"{year - 1}-01-01", "end": f"{year}-12-31"}),
                              ("supervision.xlsx", office, {}),
                              ("monthly.xlsx", office, {"year": year, "month": dt.date.today().month}),
                              ("audit.csv", admin, {})):
        r = httpx.get(f"{srv.url}/api/v1/ledger/{kind}", headers=who, params=params, timeout=60)
        assert r.status_code == 200, (kind, r.text)
        out[kind] = unpacked(kind, r.content)
    return out


def figures(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        today = stats.township_today()   # not the machine's date: after 16:00 UTC it is tomorrow here
        return stats.figures(conn, dt.date(today.year - 1, 1, 1), today)
    finally:
        conn.close()


def test_erasing_a_household_leaves_no_trace_of_the_person(fresh_server, tmp_path):
    srv = fresh_server
    w1, c1 = phone(tmp_path / "worker1", srv, "worker1")
    w2, c2 = phone(tmp_path / "worker1-second-phone", srv, "lostphone")  # another phone of grid g1
    of, co = phone(tmp_path / "office", srv, "office1")

    # --- the person's records, as a grid worker writes them in the field
    voice = "录音：".encode() + PERSON["name"].encode() + b" says her son " + PERSON["member"].encode() + b"\x00" * 64
    from sync.attachments import Attachments
    note = Attachments.for_replica(w1).add_audio(voice, name=f"{PERSON['name']}.m4a")  # kept and queued on the phone
    h = note["hash"]
    assert h == hashlib.sha256(voice).hexdigest()
    hh = w1.create("household", {
        "grid_id": "g1", "head_name": PERSON["name"], "id_number": PERSON["id"], "phone": PERSON["phone"],
        "address": PERSON["address"], "lat": 29.071234, "lon": 119.647891, "tags": ["elderly_alone"],
        "members": [{"name": PERSON["name"], "relation": "户主"},
                    {"name": PERSON["member"], "relation": "儿子", "id_number": PERSON["member_id"]}],
        "note": f"{PERSON['name']}腿脚不便，儿子{PERSON['member']}在外打工。",
        "attachments": [note],
    }, author="worker1")["record"]
    other = w1.create("household", {"grid_id": "g1", "head_name": OTHER["name"], "address": OTHER["address"]},
                      author="worker1")["record"]
    w1.create("visit", {"grid_id": "g1", "household_id": hh, "kind": "household", "visited_at": now_iso(),
                        "visitor": "worker1", "seen": f"{PERSON['name']}家中整洁，电话{PERSON['phone']}。",
                        "requests": "希望帮助申请低保。", "lat": 29.0712, "lon": 119.6478}, author="worker1")
    reach = "13612345678"   # the number the matter holds to call her on (信访人联系电话), not the household's
    case = w1.create("case", case_fields("g1", "worker1", household_id=hh, parties=[PERSON["name"]],
                                         place=PERSON["address"], petitioner_phone=reach,
                                         description=f"{PERSON['name']}（{PERSON['phone']}）反映邻居占用通道。"),
                     author="worker1")["record"]
    assert c1.sync().quarantined == 0
    sent = c1.send_attachments(on_wifi=True)
    assert sent.get("sent") == 1, sent
    co.sync()
    assert Path(co.fetch_attachment(note)).read_bytes() == voice  # the office's phone opened it
    of.create("case_event", {"case_id": case, "kind": "note", "at": now_iso(), "by": "office1",
                             "text": f"已电话联系{PERSON['name']}，住址{PERSON['address']}。"}, author="office1")
    assert co.sync().quarantined == 0
    for c in (c1, c2, co):
        c.sync()

    secrets = secrets_of(PERSON) + [reach.encode()]
    assert found([reach.encode()], files_bytes(srv.db))   # there before the erasure...
    store_files = [srv.db, Path(str(srv.db) + ".blobs")]
    phone_files = [tmp_path / "worker1", tmp_path / "worker1-second-phone", tmp_path / "office"]
    # before: the test can see the person where they are (or it would prove nothing)
    assert found([PERSON["name"].encode()], files_bytes(*store_files))
    assert found([PERSON["name"].encode()], files_bytes(tmp_path / "worker1-second-phone"))
    assert found([PERSON["name"].encode()], exports(srv))
    assert not found([reach.encode()], exports(srv))    # ...and never in an export (docs/security.md)
    assert any(voice == data for data in files_bytes(Path(str(srv.db) + ".blobs")).values())
    figures_before = figures(srv.db)

    # the folder backup's copy of the attachment (as the server's backup watcher makes it)
    backup = tmp_path / "backup"
    (backup / "blobs" / h[:2]).mkdir(parents=True)
    (backup / "blobs" / h[:2] / h).write_bytes(voice)

    # --- the admin erases the household at the console, the server running
    r = cli("erase", "household", hh, "--db", str(srv.db), "--request", "REQ-2026-0042", "--by", "admin1",
            env={"GRIDBOOK_BACKUP_URL": str(backup)})
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["records"] == {"household": 1, "visit": 1, "case": 1, "case_event": 1}
    assert summary["blobs_deleted"] == 1 and summary["compacted"] is True

    # a phone that had not heard of it yet writes the person's new number: it is pushed
    # before the phone pulls the erasure, and must not bring the person back
    late = "13987654321"
    w1.update("household", hh, {"phone": late, "note": f"{PERSON['name']}搬到镇上了"}, author="worker1")
    secrets.append(late.encode())
    assert c1.sync().pushed == 1
    for c in (c1, c2, co):
        c.sync()

    # a phone that knows of the erasure keeps the record erased when the name is typed again
    w2.update("household", hh, {"note": f"{PERSON['name']}回来了"}, author="lostphone")
    assert w2.get("household", hh)["note"] is None
    assert c2.sync().quarantined == 0

    # --- nowhere: store (tables, change bodies, WAL, free pages), attachments, phones, exports
    assert found(secrets, files_bytes(*store_files)) == []
    assert found(secrets, files_bytes(backup)) == [] and not (backup / "blobs" / h[:2] / h).exists()
    assert found(secrets, files_bytes(*phone_files)) == []
    assert found(secrets, exports(srv)) == []
    assert not any(voice == data for data in files_bytes(Path(str(srv.db) + ".blobs")).values())
    gone = httpx.get(f"{srv.url}/api/v1/blobs/{h}", headers=auth_headers(srv, "office1"), timeout=30)
    assert gone.status_code in (403, 404)

    # the records are still there, counted, with the placeholder where a name was
    for replica in (w1, w2, of):
        rec = replica.get("household", hh)
        assert rec["head_name"] == ERASED_TEXT and rec["id_number"] is None and rec["members"] == []
        assert rec["tags"] == ["elderly_alone"] and rec["grid_id"] == "g1"
        assert replica.get("household", other)["head_name"] == OTHER["name"]  # the neighbour is untouched
    assert of.get("case", case)["status"] == "reported" and of.get("case", case)["parties"] == []
    assert OTHER["name"].encode() in b"".join(files_bytes(srv.db).values())

    # the figures are what they were (the map's point of the matter is only coarser)
    figures_after = figures(srv.db)
    before_points = {p["id"]: p for p in figures_before.pop("open_points")}
    after_points = {p["id"]: p for p in figures_after.pop("open_points")}
    assert figures_after == figures_before
    assert before_points.keys() == after_points.keys()
    assert after_points[case]["lat"] == round(before_points[case]["lat"], 2)

    # the tombstone: who, when, which record, why; the audit trail says it happened
    conn = sqlite3.connect(srv.db)
    try:
        tomb = conn.execute("SELECT entity, record, by_user, reason, request FROM erasures").fetchall()
        trail = conn.execute("SELECT username, detail FROM audit WHERE action='erase'").fetchall()
    finally:
        conn.close()
    assert tomb == [("household", hh, "admin1", "request", "REQ-2026-0042")]
    assert trail and trail[0][0] == "admin1" and hh in trail[0][1]

    # a phone that signs in afresh gets the erased history, never the old values
    fresh, cf = phone(tmp_path / "new-phone", srv, "worker1")
    cf.sync()
    assert fresh.get("household", hh)["head_name"] == ERASED_TEXT
    assert found(secrets, files_bytes(tmp_path / "new-phone")) == []


def test_a_visit_recorded_offline_before_the_erasure_is_erased_on_the_phone_that_sent_it(fresh_server, tmp_path):
    """The server keeps such a visit erased (its words 〔已删除〕), but the phone that sent
    it never pulls its own change, and the erasure named only what then existed: the
    person's words stayed on that phone, and in its kept copy of what it sent, for good."""
    srv = fresh_server
    w1, c1 = phone(tmp_path / "worker1", srv, "worker1")
    w2, c2 = phone(tmp_path / "worker1-second-phone", srv, "lostphone")   # another phone of grid g1
    hh = w1.create("household", {"grid_id": "g1", "head_name": PERSON["name"], "address": PERSON["address"],
                                 "phone": PERSON["phone"]}, author="worker1")["record"]
    c1.sync()
    w1.create("visit", {"grid_id": "g1", "household_id": hh, "kind": "household", "visited_at": now_iso(),
                        "visitor": "worker1", "seen": f"{PERSON['name']}在家，身体尚可",
                        "lat": 29.0712, "lon": 119.6478}, author="worker1")      # offline, not yet sent
    cli("erase", "household", hh, "--db", str(srv.db), "--request", "REQ-2026-0043", "--by", "admin1")
    assert c1.sync().quarantined == 0
    c1.sync()
    c2.sync()
    for replica in (w1, w2):
        words = [r[0] for r in replica.conn.execute("SELECT seen FROM visits WHERE household_id=?", (hh,))]
        assert words and not any(PERSON["name"] in (w or "") for w in words), words
        kept = [body for (body,) in replica.conn.execute("SELECT body FROM pushed")
                if PERSON["name"] in body] if replica is w1 else []
        assert kept == []
    assert all(PERSON["name"] not in (seen or "") for (seen,) in srv.sql("SELECT seen FROM visits"))


def test_erase_refuses_what_it_cannot_do(server):
    db = str(server.db)  # nothing is erased: the shared server's store will do
    r = cli("erase", "household", "no-such-household", "--db", db, check=False)
    assert r.returncode == 1 and "no household with id no-such-household" in r.stderr
    r = cli("erase", "case", "x", "--db", db, "--request", "王建国的申请", check=False)
    assert r.returncode == 1 and "request must be a reference number" in r.stderr


def test_retention_dry_run_then_apply(tmp_path):
    """Matters closed more than `retention_years` ago lose their personal fields; a dry run
    says which and changes nothing; open and recent matters are kept."""
    from sync.server import auth
    from sync.server.central import CentralStore
    db = tmp_path / "store.db"
    saved, auth._N = auth._N, 2 ** 4
    try:
        st = CentralStore(str(db))
        st.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇")
    finally:
        auth._N = saved

    def matter(cid, status, received, resolved=None, party="上官婉儿"):
        f = case_fields("g1", "system", status=status, received_on=received, parties=[party],
                        reported_at=f"{received}T09:00:00+08:00", description=f"{party}反映宅基地纠纷。")
        if resolved:
            f["resolved_on"] = resolved
        st.server_write("case", cid, f)
    matter("old-closed", "closed", "2019-03-01", "2019-04-10", party="上官婉儿")
    matter("old-declined", "declined", "2018-06-01", party="诸葛明亮")
    matter("recent-closed", "closed", "2025-01-05", "2025-02-01", party="公孙大娘")
    matter("old-open", "in_progress", "2018-01-01", party="东方不败")
    st.close()
    secrets = ["上官婉儿", "诸葛明亮"]
    kept = ["公孙大娘", "东方不败"]

    # off by default: nothing to do
    off = json.loads(cli("retention", "apply", "--db", str(db), "--dry-run").stdout)
    assert off["retention_years"] == 0 and off["cases"] == []

    cli("setting", "retention_years", "5", "--db", str(db))
    dry = json.loads(cli("retention", "apply", "--db", str(db), "--dry-run").stdout)
    assert dry["dry_run"] is True and sorted(dry["cases"]) == ["old-closed", "old-declined"]
    assert dry["records"] == {"case": 2}
    raw = b"".join(files_bytes(db).values())
    assert all(s.encode() in raw for s in secrets)  # the dry run changed nothing

    done = json.loads(cli("retention", "apply", "--db", str(db)).stdout)
    assert done["dry_run"] is False and sorted(done["cases"]) == ["old-closed", "old-declined"]
    raw = b"".join(files_bytes(db).values())
    assert not [s for s in secrets if s.encode() in raw]
    assert all(s.encode() in raw for s in kept)
    again = json.loads(cli("retention", "apply", "--db", str(db), "--dry-run").stdout)
    assert again["cases"] == []  # erased once
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 4
        assert {r[0] for r in conn.execute("SELECT reason FROM erasures")} == {"retention"}
    finally:
        conn.close()


@pytest.mark.parametrize("bad", ["-1", "abc", "101"])
def test_retention_setting_refuses_bad_values(tmp_path, bad):
    CentralStore(str(tmp_path / "s.db")).close()
    r = cli("setting", "retention_years", bad, "--db", str(tmp_path / "s.db"), check=False)
    assert r.returncode == 1 and "retention_years must be" in r.stderr


def test_a_store_restored_from_before_an_erasure_is_erased_again(tmp_path):
    """A backup taken before the erasure brings the person back; the erasure journal
    beside the store (no personal data) lets `gridbook retention apply` erase them again."""
    from sync.server.central import CentralStore
    db = tmp_path / "store.db"
    st = CentralStore(str(db))
    st.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇")
    st.server_write("household", "h1", {"grid_id": "g1", "head_name": "慕容复", "address": "白鹤村1组1号"})
    st.close()
    backup = tmp_path / "backup.db"
    conn = sqlite3.connect(db)
    conn.execute(f"VACUUM INTO '{backup}'")  # the backup of the day before
    conn.close()
    cli("erase", "household", "h1", "--db", str(db), "--request", "REQ-1")
    journal = Path(str(db) + ".erasures.jsonl").read_text()
    assert "慕容复" not in journal and '"record": "h1"' in journal
    assert (Path(str(db) + ".erasures.jsonl").stat().st_mode & 0o777) == 0o600

    # the disk failed; the store comes back from the backup: the person is back in it
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    backup.rename(db)
    assert "慕容复".encode() in db.read_bytes()
    # doctor says so (neither the restore's words nor doctor named it)
    said = json.loads(cli("doctor", "--db", str(db), "--json", check=False).stdout)
    [erasures] = [c for c in said["checks"] if c["check"] == "erasures"]
    assert not erasures["ok"] and "1 erasure(s)" in erasures["detail"] and "retention apply" in erasures["en"]
    dry = json.loads(cli("retention", "apply", "--db", str(db), "--dry-run").stdout)
    assert dry["replayed"] == [{"entity": "household", "record": "h1"}]
    assert "慕容复".encode() in db.read_bytes()
    done = json.loads(cli("retention", "apply", "--db", str(db)).stdout)
    assert done["replayed"] == [{"entity": "household", "record": "h1"}]
    assert not [f for f, data in files_bytes(db).items() if "慕容复".encode() in data]
    again = json.loads(cli("retention", "apply", "--db", str(db), "--dry-run").stdout)
    assert again["replayed"] == []
    said = json.loads(cli("doctor", "--db", str(db), "--json", check=False).stdout)
    assert [c["ok"] for c in said["checks"] if c["check"] == "erasures"] == [True]
