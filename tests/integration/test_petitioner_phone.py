"""The petitioner's number travels with the matter (信访人联系电话): the leader who owns
it gets it on his phone, which holds no households, and calls from the matter's page
offline; a grid worker of another grid, who does not see the matter, never receives it.
The server refuses a number no phone can dial, by the household's phone rules."""

from __future__ import annotations

import json

import pytest

from sync import changes
from sync.workspace import DeviceWorkspace

from .conftest import case_fields, phone
from .test_hostile_phone import mk, pull_all, push, pushed_ok, refused

pytestmark = pytest.mark.integration
NUMBER = "13812345678"


def test_the_owner_of_a_matter_gets_its_petitioners_number_and_another_grid_never_does(fresh_server, tmp_path):
    srv = fresh_server
    r1, c1 = phone(tmp_path / "worker1", srv, "worker1")
    ws = DeviceWorkspace(r1, json.loads(r1.meta("account")))
    hid = ws.add_household({"grid_id": "g1", "head_name": "秦红秀", "address": "金山镇白鹤村2组8号",
                            "phone": NUMBER})
    cid = ws.report_case({"grid_id": "g1", "household_id": hid, "category": "02", "parties": ["秦红秀"],
                          "description": "宅前排水沟堵塞，两户互相指责。", "petitioner_phone": NUMBER})
    c1.sync()
    assert srv.sql("SELECT petitioner_phone FROM cases WHERE id=?", (cid,)) == [(NUMBER,)]
    pushed_ok(srv, "office1", mk("office1", "case", cid, {"status": "accepted", "accepted_on": "2026-11-01",
                                                          "deadline": "2026-12-31"}))
    pushed_ok(srv, "office1", mk("office1", "case", cid, {"status": "assigned", "owner": "leader1"}))

    r2, c2 = phone(tmp_path / "leader1", srv, "leader1")
    c2.sync()
    assert r2.get("household", hid) is None           # a leader's phone holds no households...
    assert r2.get("case", cid)["petitioner_phone"] == NUMBER   # ...the matter holds the number

    r3, c3 = phone(tmp_path / "worker2", srv, "worker2")
    c3.sync()
    assert r3.get("case", cid) is None
    assert NUMBER not in json.dumps(pull_all(srv, "worker2"), ensure_ascii=False)
    r3.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert NUMBER.encode() not in (tmp_path / "worker2" / "gridbook.db").read_bytes()


def test_a_petitioners_number_no_phone_can_dial_is_refused(fresh_server):
    cid = changes.new_id("r")
    r = push(fresh_server, "worker1", mk("worker1", "case", cid, case_fields("g1", "worker1",
                                                                            petitioner_phone="1381234")))
    assert refused(r, 422) == [("petitioner_phone", "phone_mobile")]
