"""A matter the office gives to another leader while the first one works on it offline,
against the real server: nothing the first leader typed is lost, their phone says why
what it cannot send was refused, marks the matter handed over, and lets it go once that
is settled; the photo of their visit still reaches the matter."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from sync.workspace import DeviceWorkspace

from .conftest import PASSWORD, case_fields, cli, phone

pytestmark = pytest.mark.integration


def _workspace(replica, username: str) -> DeviceWorkspace:
    return DeviceWorkspace(replica, {"username": username, "role": "leader", "grids": []})


@pytest.fixture
def township(fresh_server, tmp_path):
    """The server with a second leader; the office's and the first leader's phones; a
    matter a grid worker reported, accepted and given to the first leader."""
    srv = fresh_server
    cli("user", "add", "leader2", "--db", str(srv.db), "--role", "leader", "--password", PASSWORD)
    worker, worker_client = phone(tmp_path / "worker", srv, "worker1")
    office, office_client = phone(tmp_path / "office", srv, "office1")
    a, a_client = phone(tmp_path / "a", srv, "leader1")
    cid = worker.create("case", case_fields("g1", "worker1"), "worker1")["record"]
    worker_client.sync()
    office_client.sync()
    office.update("case", cid, {"status": "accepted"}, "office1")
    office.update("case", cid, {"owner": "leader1", "status": "assigned", "deadline": "2026-12-31"}, "office1")
    office_client.sync()
    return srv, office, office_client, a, a_client, cid


def test_a_leaders_offline_visit_reaches_a_matter_given_to_another_leader_meanwhile(township, tmp_path):
    srv, office, office_client, a, a_client, cid = township
    b, b_client = phone(tmp_path / "b", srv, "leader2")
    a_client.sync()
    ws = _workspace(a, "leader1")
    assert ws.may_home_visit(ws.case(cid)) and not ws.handed_over(cid)

    # in the petitioner's kitchen, no signal: a home visit and a note (the first moves
    # the matter to 办理中 on the phone)
    visit = ws.record_visit({"case_id": cid, "kind": "home", "seen": "在王某家中面谈，情绪平稳。"})
    note = ws.add_progress(cid, "已约村委会周五调解。")
    # meanwhile the office gives the matter to another leader
    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()

    a_client.sync()
    b_client.sync()
    # what was typed reached the matter and its new owner
    assert b.get("visit", visit) is not None and b.get("case_event", note) is not None
    assert b.get("case", cid)["owner"] == "leader2"
    # the move to 办理中 the note implied is the new leader's to make: refused, and
    # given up by the phone itself (the leader never typed it), so nothing is left to
    # settle; the matter leaves the phone with its visit, and 今日 says so
    assert ws.quarantined() == [] and a.pending_count() == 0
    assert ws.case(cid) is None and not ws.handed_over(cid) and a.get("visit", visit) is None
    assert [c["id"] for c in ws.left_cases()] == [cid]
    assert srv.sql("SELECT detail FROM audit WHERE action='discard'")   # accountable all the same


def test_what_the_leader_typed_on_a_matter_given_away_is_refused_and_kept_until_settled(township, tmp_path):
    """A resolution typed offline on a matter given to another leader meanwhile: refused
    (reassigned), kept on the phone, marked and offering nothing, until given up."""
    srv, office, office_client, a, a_client, cid = township
    a_client.sync()
    ws = _workspace(a, "leader1")
    ws.add_progress(cid, "已约村委会周五调解。")
    ws.resolve_case(cid, "mediation", "双方签字")
    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()
    a_client.sync()
    refused = ws.quarantined()
    assert [q["entity"] for q in refused] == ["case", "case", "case_event"]
    assert [e["rule"] for e in refused[0]["errors"]] == ["reassigned"]
    case = ws.case(cid)
    assert case is not None and ws.handed_over(cid)
    assert not (ws.may_home_visit(case) or ws.may_progress(case) or ws.may_resolve(case))
    ws.discard(refused[0]["change_id"])      # with the resolution held behind it
    ws.discard(refused[2]["change_id"])
    a_client.sync()
    assert ws.case(cid) is None and not ws.handed_over(cid) and ws.quarantined() == []


def test_a_matter_held_for_unsent_work_goes_once_the_work_is_sent(township, tmp_path):
    """Its exit came while a note was still unsent: kept, then let go at the sync that
    sent the note (the exit is not sent twice)."""
    srv, office, office_client, a, a_client, cid = township
    office.update("case", cid, {"status": "in_progress"}, "office1")
    office_client.sync()
    a_client.sync()
    ws = _workspace(a, "leader1")
    note = ws.add_progress(cid, "电话联系当事人。")
    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()
    a_client.pull()
    assert ws.handed_over(cid) and ws.case(cid) is not None
    a_client.sync()
    assert ws.case(cid) is None and a.pending_count() == 0 and ws.quarantined() == []
    office_client.sync()
    assert office.get("case_event", note) is not None


def test_a_matter_given_back_before_the_work_is_settled_stays_on_the_phone(township, tmp_path):
    """The hold is forgotten when the matter comes back: its unsent work sent, it stays."""
    srv, office, office_client, a, a_client, cid = township
    a_client.sync()
    ws = _workspace(a, "leader1")
    ws.record_visit({"case_id": cid, "kind": "home", "seen": "面谈。"})
    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()
    a_client.pull()                     # the exit arrives while the visit is still unsent
    assert ws.handed_over(cid)
    office.update("case", cid, {"owner": "leader1"}, "office1")
    office_client.sync()
    a_client.sync()
    assert not ws.handed_over(cid) and ws.case(cid)["owner"] == "leader1"
    assert ws.quarantined() == [] and a.pending_count() == 0


def test_the_photo_of_a_visit_reaches_a_matter_given_to_another_leader_before_it_was_sent(township, tmp_path):
    srv, office, office_client, a, a_client, cid = township
    b, b_client = phone(tmp_path / "b", srv, "leader2")
    a_client.sync()
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(buf, "JPEG")
    data = buf.getvalue()
    h = hashlib.sha256(data).hexdigest()
    visit = a.create("visit", {"grid_id": "g1", "case_id": cid, "kind": "home", "visitor": "leader1",
                               "visited_at": case_fields("g1", "x")["reported_at"], "seen": "房屋裂缝",
                               "attachments": [{"hash": h, "kind": "photo", "size": len(data), "name": "a.jpg"}]},
                     "leader1")["record"]
    a_client.push()                     # the record goes; its photo waits for Wi-Fi
    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()
    # on Wi-Fi the next morning: the bytes are sent by the one who took them
    r = httpx.put(f"{srv.url}/api/v1/blobs/{h}", params={"offset": 0}, content=data,
                  headers={**a_client._headers(), "Content-Type": "application/octet-stream"}, timeout=30)
    assert r.status_code == 200 and r.json()["complete"] is True, r.text
    b_client.sync()
    assert b.get("visit", visit) is not None
    got = httpx.get(f"{srv.url}/api/v1/blobs/{h}", headers=b_client._headers(), timeout=30)
    assert got.status_code == 200 and got.content == data
    # sending is not reading: the first leader cannot open it any more
    assert httpx.get(f"{srv.url}/api/v1/blobs/{h}", headers=a_client._headers(), timeout=30).status_code == 403


def test_a_former_owner_adds_an_account_of_their_work_never_the_resolution(township, tmp_path):
    """Taken off the matter, a leader's crafted 'resolution' event fed the supervision
    ledger's latest progress of another leader's matter."""
    srv, office, office_client, a, a_client, cid = township
    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()
    a_client.sync()
    assert a.get("case", cid) is None
    for kind, rule in (("progress", None), ("resolution", "reassigned")):
        made = a.create("case_event", {"case_id": cid, "kind": kind, "at": case_fields("g1", "x")["reported_at"],
                                       "by": "leader1", "text": "已办结，当事人满意"}, "leader1")["record"]
        a_client.push()
        kept = srv.sql("SELECT count(*) FROM case_events WHERE id=?", (made,))[0][0]
        got = [e["rule"] for q in a.quarantined() if q["record"] == made for e in q["errors"]]
        assert (kept, got) == ((1, []) if rule is None else (0, [rule]))


def test_a_matter_held_when_the_server_is_restored_is_the_persons_again(township, tmp_path):
    """The restored store (from before the matter was given away) gives it to this leader:
    the hold the old store caused was kept, and once the refused change went through the
    matter was deleted from its owner's phone for good."""
    import os
    import shutil
    import sqlite3

    from sync.server.central import CentralStore
    srv, office, office_client, a, a_client, cid = township
    a_client.sync()
    backup = tmp_path / "backup.db"
    with sqlite3.connect(srv.db) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()
    ws = _workspace(a, "leader1")
    a.update("case", cid, {"status": "resolved", "outcome": "supported", "method": "现场调解",
                           "resolved_on": case_fields("g1", "x")["reported_at"][:10]}, "leader1")
    a_client.sync()
    assert ws.handed_over(cid) and ws.quarantined()
    srv.kill()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{srv.db}{suffix}"):
            os.remove(f"{srv.db}{suffix}")
    shutil.copy(backup, srv.db)
    restored = CentralStore(str(srv.db))
    restored.begin_generation("restored in a test")
    restored.close()
    srv.start()
    a_client.sync()
    assert not ws.handed_over(cid) and ws.may_progress(ws.case(cid))
    a.retry_quarantined(ws.quarantined()[0]["change_id"])
    a_client.sync()
    a_client.sync()
    assert ws.case(cid)["status"] == "resolved" and srv.sql("SELECT owner, status FROM cases WHERE id=?", (cid,)) == [
        ("leader1", "resolved")]


def test_a_resolution_the_office_made_first_leaves_the_leaders_whole_resolution_refused(township):
    """The office resolves the matter while its leader, offline, resolves it too. The
    leader's move is refused (the matter is 已办结 already), and so is the 办结 entry of
    the same tap: it was taken alone, and the timeline showed the leader's words as the
    resolution while the matter held the office's."""
    srv, office, office_client, a, a_client, cid = township
    a_client.sync()
    ws = _workspace(a, "leader1")
    ws.resolve_case(cid, "mediation", "本人现场调解，双方签字")
    office.update("case", cid, {"status": "resolved", "outcome": "explained", "method": "信访办电话调解",
                                "resolved_on": case_fields("g1", "x")["reported_at"][:10]}, "office1")
    office_client.sync()
    a_client.sync()
    assert srv.sql("SELECT status, method FROM cases WHERE id=?", (cid,)) == [("resolved", "信访办电话调解")]
    assert srv.sql("SELECT count(*) FROM case_events WHERE case_id=? AND kind='resolution'", (cid,)) == [(0,)]
    refused = {q["entity"]: [e["rule"] for e in q["errors"]] for q in a.quarantined()}
    assert refused == {"case": ["state"], "case_event": ["resolution_not_theirs"]}
    # what the leader did in the kitchen is not lost: 更正 keeps the words as a progress
    # note; the refused move is given up
    entry = next(q for q in ws.quarantined() if q["entity"] == "case_event")
    move = next(q for q in ws.quarantined() if q["entity"] == "case")
    assert ws.correctable(entry) and not ws.correctable(move)
    ws.correct(entry["change_id"], {"text": entry["change"]["fields"]["text"]})
    ws.discard(move["change_id"])
    report = a_client.sync()
    assert report.quarantined == 0 and ws.quarantined() == [], report
    notes = srv.sql("SELECT kind, by, text FROM case_events WHERE case_id=? AND by='leader1'", (cid,))
    assert notes == [("progress", "leader1", entry["change"]["fields"]["text"])]
    assert srv.sql("SELECT status, method FROM cases WHERE id=?", (cid,)) == [("resolved", "信访办电话调解")]
    assert ws.case(cid)["method"] == "信访办电话调解"


def test_a_resolution_typed_on_a_matter_given_away_is_kept_as_the_leaders_progress_note(township):
    """Resolved offline on a matter the office gave to another leader meanwhile: the
    move and its 办结 entry are refused. 更正 of the entry keeps what the leader did as a
    progress note (a former owner may add one); the move is given up; the matter leaves
    the phone, the note stays on the server's timeline, the resolution stays the office's
    to make."""
    srv, office, office_client, a, a_client, cid = township
    a_client.sync()
    ws = _workspace(a, "leader1")
    ws.resolve_case(cid, "mediation", "本人现场调解，双方签字")
    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()
    a_client.sync()
    entry = next(q for q in ws.quarantined() if q["entity"] == "case_event")
    move = next(q for q in ws.quarantined() if q["entity"] == "case")
    assert [e["rule"] for e in entry["errors"]] == ["reassigned"] and ws.correctable(entry)
    ws.correct(entry["change_id"], {"text": entry["change"]["fields"]["text"]})
    ws.discard(move["change_id"])
    report = a_client.sync()
    assert ws.quarantined() == [] and a.pending_count() == 0, report
    assert srv.sql("SELECT kind, text FROM case_events WHERE case_id=? AND by='leader1'", (cid,)) == [
        ("progress", entry["change"]["fields"]["text"])]
    assert srv.sql("SELECT owner, status FROM cases WHERE id=?", (cid,)) == [("leader2", "assigned")]
    assert a.get("case", cid) is None


def test_a_matter_given_away_leaves_the_phone_with_its_photos_and_the_phone_says_so(township, tmp_path):
    """With nothing unsent on it, a matter given to another leader was deleted without a
    word, and the photos of it this phone had fetched stayed in its folder, readable,
    though the server refuses them to this leader now."""
    from sync.attachments import Attachments
    from fieldapp.worklist import today
    srv, office, office_client, a, a_client, cid = township
    worker, worker_client = phone(tmp_path / "worker2", srv, "worker1")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (150, 90, 40)).save(buf, "JPEG")
    shot = Attachments.for_replica(worker).add_photo(buf.getvalue(), "房屋裂缝.jpg")
    worker.create("case_event", {"case_id": cid, "kind": "progress", "at": case_fields("g1", "x")["reported_at"],
                                 "by": "worker1", "text": "房屋裂缝照片", "attachments": [shot]}, "worker1")
    worker_client.sync()
    assert Attachments.for_replica(worker).upload(worker_client, on_wifi=True).sent == 1
    a_client.sync()
    fetched = Attachments.for_replica(a).fetch(a_client, shot)          # the leader opens the photo
    assert fetched and Path(fetched).exists()

    office.update("case", cid, {"owner": "leader2"}, "office1")
    office_client.sync()
    a_client.sync()
    assert a.get("case", cid) is None and not Path(fetched).exists()
    ref = srv.sql("SELECT ref FROM cases WHERE id=?", (cid,))[0][0]
    ws = _workspace(a, "leader1")
    assert [c["ref"] for c in today(ws).left] == [ref]
