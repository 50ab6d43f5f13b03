"""A household found in the field travels like any record: added on one phone (offline
first, then synced), it reaches the township's store whole and the other phones of
that grid (ID numbers masked), never a phone of another grid; its visit moves the
next visit due everywhere, by the frequency the township set (`gridbook setting`)."""

from __future__ import annotations

import json
from pathlib import Path

from sync.workspace import DeviceWorkspace

from .conftest import cli, phone

GOOD_ID = "330702199001011237"
CHILD_ID = "330702201506010029"


def test_a_household_added_on_a_phone_reaches_the_office_and_its_grids_phones_only(fresh_server, tmp_path):
    srv = fresh_server
    r1, c1 = phone(tmp_path / "wangfang", srv, "worker1")
    r2, c2 = phone(tmp_path / "same-grid", srv, "lostphone")
    r3, c3 = phone(tmp_path / "other-grid", srv, "worker2")
    cli("setting", "visit_every.dibao", "21", "--db", str(srv.db))   # the township visits 低保 every 3 weeks
    for c in (c1, c2, c3):
        c.sync()
    ws = DeviceWorkspace(r1, json.loads(r1.meta("account")))

    hid = ws.add_household({"grid_id": "g1", "head_name": "王小红", "address": "金山镇白鹤村2组8号",
                            "id_number": GOOD_ID, "phone": "13812345678", "tags": ["dibao"],
                            "members": [{"name": "刘洋", "relation": "子", "id_number": CHILD_ID}]})
    ws.record_visit({"household_id": hid, "visited_at": "2026-11-20T10:00:00+08:00", "seen": "新迁入，租住"})
    assert r1.pending_count() == 3                 # the household, the visit, the next due it moved
    assert r1.get("household", hid)["id_number"] == GOOD_ID     # typed whole, shown whole until sent
    report = c1.sync()
    assert report.pushed == 3 and r1.pending_count() == 0 and not r1.quarantined()
    # once the township holds them, the phone that registered them holds them masked too
    # (a lost phone shows no whole number); its copy of what it sent keeps them, for a
    # restored server that lacks them
    mine = r1.get("household", hid)
    assert mine["id_number"] == "3307**********1237" and mine["members"][0]["id_number"] == "3307**********0029"
    table = r1.conn.execute("SELECT id_number, members, _versions FROM households WHERE id=?", (hid,)).fetchone()
    assert GOOD_ID not in "".join(table) and CHILD_ID not in "".join(table)

    [row] = srv.sql("SELECT head_name, id_number, members, next_visit_due, status, grid_id FROM households"
                    " WHERE id=?", (hid,))
    assert row[:2] == ("王小红", GOOD_ID)         # the township holds the number whole
    assert json.loads(row[2]) == [{"name": "刘洋", "relation": "子", "id_number": CHILD_ID}]
    assert row[3:] == ("2026-12-11", "active", "g1")    # 低保: the township's 21 days after the visit

    c2.sync()
    same = r2.get("household", hid)
    assert same["head_name"] == "王小红" and same["next_visit_due"] == "2026-12-11"
    assert same["id_number"] == "3307**********1237"            # masked for a phone
    assert same["members"][0]["id_number"] == "3307**********0029"
    assert [v["seen"] for v in DeviceWorkspace(r2, json.loads(r2.meta("account"))).household_visits(hid)] == [
        "新迁入，租住"]

    c3.sync()
    assert r3.get("household", hid) is None                    # another grid's phone never gets it

    # the other phone of the grid marks it moved out; the edit of a masked record goes
    # through (the numbers stay whole at the township)
    ws2 = DeviceWorkspace(r2, json.loads(r2.meta("account")))
    ws2.edit_household(hid, {**same, "phone": "13900001111", "status": "moved_out"})
    assert c2.sync().pushed == 1 and not r2.quarantined()
    [row] = srv.sql("SELECT id_number, phone, status FROM households WHERE id=?", (hid,))
    assert row == (GOOD_ID, "13900001111", "moved_out")
    c1.sync()
    assert r1.get("household", hid)["status"] == "moved_out"
    # the registering phone edits it in turn, holding the numbers masked: they stay whole
    # at the township, and a newborn added beside them is taken whole
    ws.edit_household(hid, {**r1.get("household", hid), "address": "金山镇白鹤村2组9号",
                            "members": [*r1.get("household", hid)["members"],
                                        {"name": "刘小宝", "relation": "孙", "id_number": "330702202601010013"}]})
    assert c1.sync().pushed == 1 and not r1.quarantined()
    [row] = srv.sql("SELECT id_number, members, address FROM households WHERE id=?", (hid,))
    assert row[0] == GOOD_ID and row[2] == "金山镇白鹤村2组9号"
    assert [m["id_number"] for m in json.loads(row[1])] == [CHILD_ID, "330702202601010013"]
    assert [m["id_number"] for m in r1.get("household", hid)["members"]] == ["3307**********0029",
                                                                              "3307**********0013"]


def test_a_household_moved_to_another_grid_leaves_the_phone_with_the_photos_it_fetched(fresh_server, tmp_path):
    """The household row went at its exit, and the photo of it a co-worker's phone had
    opened (an ID card, say) stayed in the data folder, though the server refuses it to
    her now. The visit made in her grid, and a photo it names, stay."""
    import io

    from PIL import Image

    from sync.attachments import Attachments
    srv = fresh_server
    r1, c1 = phone(tmp_path / "wangfang", srv, "worker1")
    r2, c2 = phone(tmp_path / "co-worker", srv, "lostphone")
    office, office_client = phone(tmp_path / "office", srv, "office1")
    c1.sync()
    shots = []
    for colour in ((10, 120, 200), (200, 120, 10)):
        buf = io.BytesIO()
        Image.new("RGB", (80, 60), colour).save(buf, "JPEG")
        shots.append(Attachments.for_replica(r1).add_photo(buf.getvalue(), "户口本.jpg"))
    ws = DeviceWorkspace(r1, json.loads(r1.meta("account")))
    hid = ws.add_household({"grid_id": "g1", "head_name": "甄秘密", "address": "白鹤村9号", "attachments": [shots[0]]})
    ws.record_visit({"household_id": hid, "visited_at": "2026-11-20T10:00:00+08:00", "seen": "在家",
                     "attachments": [shots[1]]})
    c1.sync()
    assert Attachments.for_replica(r1).upload(c1, on_wifi=True).sent == 2
    c2.sync()
    got = [Attachments.for_replica(r2).fetch(c2, shot) for shot in shots]
    assert all(p and Path(p).exists() for p in got)

    office_client.sync()
    office.update("household", hid, {"grid_id": "g2"}, "office1")
    office_client.sync()
    c2.sync()
    assert r2.get("household", hid) is None
    assert not Path(got[0]).exists()          # the household's photo went with it
    assert Path(got[1]).exists()              # the visit stays g1's, and its photo with it


def test_a_household_photo_waiting_for_wifi_goes_up_after_the_household_moved_grid(fresh_server, tmp_path):
    """The office moved the household to another grid before its photo went up: the
    upload was refused (out of the worker's grids) and the photo was missing for ever.
    Sending is not reading: her own photo goes up; reading it is the new grid's."""
    import io

    import httpx
    from PIL import Image

    from sync.attachments import Attachments
    srv = fresh_server
    r1, c1 = phone(tmp_path / "wangfang", srv, "worker1")
    office, office_client = phone(tmp_path / "office", srv, "office1")
    r2, c2 = phone(tmp_path / "gaoshan", srv, "worker2")
    c1.sync()
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 160, 90)).save(buf, "JPEG")
    shot = Attachments.for_replica(r1).add_photo(buf.getvalue(), "门牌.jpg")
    hid = DeviceWorkspace(r1, json.loads(r1.meta("account"))).add_household(
        {"grid_id": "g1", "head_name": "甄秘密", "address": "白鹤村9号", "attachments": [shot]})
    c1.sync()                                   # the record goes; the photo waits for Wi-Fi
    office_client.sync()
    office.update("household", hid, {"grid_id": "g2"}, "office1")
    office_client.sync()
    c1.sync()
    assert Attachments.for_replica(r1).upload(c1, on_wifi=True).sent == 1
    c2.sync()
    got = Attachments.for_replica(r2).fetch(c2, shot)            # the new grid's worker reads it
    assert got and Path(got).read_bytes()
    refused = httpx.get(f"{srv.url}/api/v1/blobs/{shot['hash']}", headers=c1._headers())
    assert refused.status_code == 403                           # and she, now, does not
