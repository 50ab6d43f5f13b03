"""Acting on the phone's quarantine (issue "The office as a clerk finds it", 5), against
the real `gridbook serve` process: a refused change is discarded (audited, the record
back to what the server accepted) or corrected (discarded, the corrected values written
and accepted)."""

from __future__ import annotations

import httpx
import pytest

from sync import changes
from sync.workspace import DeviceWorkspace

from .conftest import PROTO, auth_headers, case_fields, phone

pytestmark = pytest.mark.integration
DISCARD = "/api/v1/sync/discard"


def workspace(replica, client) -> DeviceWorkspace:
    return DeviceWorkspace(replica, client.account())


def audit(srv, change_id: str) -> list[tuple]:
    return srv.sql("SELECT username, action, detail, device FROM audit WHERE action='discard' AND detail LIKE ?",
                   (f"{change_id} %",))


def mine(replica, record: str, entity: str = "case") -> list[tuple]:
    return [r for r in replica.table_rows(entity) if r[0] == record]


def same_as_a_fresh_phone(srv, tmp_path, user: str, entity: str, record: str, name: str) -> tuple:
    """The record as a phone that never held the refused change gets it from a pull."""
    other, client = phone(tmp_path / f"fresh-{name}", srv, user)
    client.pull()
    rows = mine(other, record, entity)
    other.close()
    return rows


def test_a_report_in_another_grid_is_refused_then_discarded_and_the_discard_is_audited(server, tmp_path):
    replica, client = phone(tmp_path / "w1", server, "worker1")
    ws = workspace(replica, client)
    # An app that does not check the write rules (an older version, a tampered one)
    # reports in a grid that is not the worker's, with a progress entry on it.
    bad = replica.create("case", case_fields("g2", "worker1"), "worker1")
    replica.create("case_event", {"case_id": bad["record"], "kind": "progress", "at": bad["fields"]["reported_at"],
                                  "by": "worker1", "text": "已上门"}, "worker1")
    report = client.sync()
    assert report.quarantined == 2
    [first, second] = ws.quarantined()
    assert first["change_id"] == bad["id"] and first["errors"][0]["rule"] == "forbidden"
    plan = ws.discard_plan(bad["id"])
    assert plan["gone"] and len(plan["dependents"]) == 1

    ws.discard(bad["id"])
    assert client.sync().discarded == 1
    assert ws.case(bad["record"]) is None and ws.timeline(bad["record"]) == []
    assert ws.quarantined() == [] and replica.pending_count() == 0
    [(user, action, detail, device)] = audit(server, bad["id"])
    assert (user, action, device) == ("worker1", "discard", replica.device_id)
    assert detail == f"{bad['id']} case {bad['record']}"
    assert server.sql("SELECT count(*) FROM cases WHERE id=?", (bad["record"],)) == [(0,)]


def test_a_too_long_title_from_a_tampered_app_is_discarded_and_the_record_is_the_servers_again(
        server, tmp_path, monkeypatch):
    replica, client = phone(tmp_path / "w1", server, "worker1")
    ws = workspace(replica, client)
    cid = ws.report_case({"grid_id": "g1", "category": "02", "description": "宅前排水沟堵塞", "title": "排水沟"})
    client.sync()
    assert replica.pending_count() == 0 and ws.case(cid)["ref"]
    # the tampered app: no length check on its side
    monkeypatch.setattr(changes, "check_fields", lambda ch, existing: [])
    tampered = replica.update("case", cid, {"title": "长" * 150}, "worker1")
    monkeypatch.undo()
    assert client.sync().quarantined == 1
    later = replica.update("case", cid, {"place": "白鹤村3组"}, "worker1")  # made after: held behind it
    assert client.sync().quarantined == 1 and ws.case(cid)["title"] == "长" * 150
    [item, held] = ws.quarantined()
    assert (item["errors"][0]["field"], item["errors"][0]["rule"]) == ("title", "too_long")
    assert held["change_id"] == later["id"] and held["errors"][0]["rule"] == "held"

    ws.discard(tampered["id"])
    client.sync()
    case = ws.case(cid)
    assert case["title"] == "排水沟" and case["place"] is None   # the held edit went with it
    assert mine(replica, cid) == same_as_a_fresh_phone(server, tmp_path, "worker1", "case", cid, "a")
    assert ws.quarantined() == [] and replica.pending_count() == 0
    assert len(audit(server, tampered["id"])) == 1


def test_a_refused_report_is_corrected_and_the_corrected_one_is_accepted(server, tmp_path):
    replica, client = phone(tmp_path / "w1", server, "worker1")
    ws = workspace(replica, client)
    bad = replica.create("case", case_fields("g2", "worker1", description="邻居占用通道"), "worker1")
    client.sync()
    [item] = ws.quarantined()
    assert ws.correctable(item)
    ws.correct(bad["id"], {"grid_id": "g1", "description": "邻居占用通道，堆放杂物", "category": "02"})
    assert ws.quarantined()[0]["state"] == "discarding"
    report = client.sync()
    assert report.discarded == 1 and report.pushed == 1 and report.quarantined == 0
    row = server.sql("SELECT grid_id, description, reported_by, status FROM cases WHERE id=?", (bad["record"],))
    assert row == [("g1", "邻居占用通道，堆放杂物", "worker1", "reported")]
    assert ws.quarantined() == [] and replica.pending_count() == 0
    assert len(audit(server, bad["id"])) == 1
    client.pull()
    assert mine(replica, bad["record"]) == same_as_a_fresh_phone(server, tmp_path, "worker1", "case",
                                                                 bad["record"], "b")


def test_the_discard_route_answers_only_what_the_caller_may_see(server, tmp_path):
    replica, client = phone(tmp_path / "w1", server, "worker1")
    cid = workspace(replica, client).report_case({"grid_id": "g1", "category": "02", "description": "排水沟堵塞"})
    client.sync()
    ask = {"change_id": "c-gone", "entity": "case", "record": cid}
    mine = httpx.post(server.url + DISCARD, headers=auth_headers(server, "worker1"), json=ask, timeout=30)
    assert mine.status_code == 200, mine.text
    assert [c["record"] for c in mine.json()["changes"]] == [cid] and mine.json()["ref"]
    theirs = httpx.post(server.url + DISCARD, headers=auth_headers(server, "worker2"), json=ask, timeout=30)
    assert theirs.status_code == 200 and theirs.json()["changes"] == [] and theirs.json()["ref"] is None
    office = httpx.post(server.url + DISCARD, headers=auth_headers(server, "office1"), json=ask, timeout=30)
    assert len(office.json()["changes"]) == 1
    assert len(audit(server, "c-gone")) == 3    # each asked, each on the trail
    nobody = httpx.post(server.url + DISCARD, headers=PROTO, json=ask, timeout=30)
    assert nobody.status_code == 401
    bad = httpx.post(server.url + DISCARD, headers=auth_headers(server, "worker1"), timeout=30,
                     json={**ask, "entity": "account"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
    paths = httpx.get(server.url + "/openapi.json", timeout=30).json()["paths"]
    assert {"200", "401", "422"} <= set(paths[DISCARD]["post"]["responses"])
