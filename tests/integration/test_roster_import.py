"""A roster imported into the store of a running township server (the real
`gridbook household import`, a real `gridbook serve` in a subprocess): the grid
workers' phones (DeviceReplica + SyncClient) receive the households of their own grid
on their next pull, and not another grid's; a corrected roster reaches them as an
update of the same household, never a second one."""

from __future__ import annotations

import io
import json

import httpx
import openpyxl
import pytest

import roster_files as rf
from sync import queries

from .conftest import auth_headers, cli, phone

pytestmark = pytest.mark.integration


def heads(replica) -> dict[str, dict]:
    return {h["head_name"]: h for h in queries.search_households(replica, "", None, None, 1000, 0)}


def test_phones_of_a_grid_receive_the_imported_households_of_their_grid_only(fresh_server, tmp_path):
    one, client_one = phone(tmp_path / "worker1", fresh_server, "worker1")
    two, client_two = phone(tmp_path / "worker2", fresh_server, "worker2")
    client_one.sync()
    client_two.sync()
    assert heads(one) == {} and heads(two) == {}

    src = tmp_path / "花名册.xlsx"
    src.write_bytes(rf.hurtful_xlsx())
    report = tmp_path / "拒收行.xlsx"
    r = cli("household", "import", str(src), "--db", str(fresh_server.db), "--report", str(report))
    assert [json.loads(line) for line in r.stdout.splitlines()] == [
        {"rows": 13, "imported": 3, "updated": 0, "refused": 10, "unchanged": 0, "skipped": rf.EXPECT_SKIPPED}]
    assert report.exists() and fresh_server.alive

    client_one.sync()
    client_two.sync()
    mine = heads(one)
    assert set(mine) == {"张建国", "陈桂兰"}                     # g1's, and nothing of g2
    assert set(heads(two)) == {"李秀英"}
    zhang = mine["张建国"]
    # the phone holds the number masked (the whole number is the office's)
    assert zhang["id_number"] == rf.ID_ZHANG[:4] + "*" * 10 + rf.ID_ZHANG[-4:]
    assert zhang["phone"] == "13857901234" and zhang["address"] == "金山镇白鹤村3组12号"

    # the corrected roster: 张建国's new phone number and the three rows put right
    src2 = tmp_path / "更正后.xlsx"
    src2.write_bytes(rf.hurtful_xlsx(corrected=True))
    r = cli("household", "import", str(src2), "--db", str(fresh_server.db))
    assert json.loads(r.stdout)["updated"] == 1 and json.loads(r.stdout)["imported"] == 3
    client_one.sync()
    client_two.sync()
    mine = heads(one)
    assert set(mine) == {"张建国", "陈桂兰", "刘德华", "周杰", "王大明"}
    assert mine["张建国"]["id"] == zhang["id"] and mine["张建国"]["phone"] == "13900001111"
    assert len(queries.search_households(one, "张建国", None, None, 100, 0)) == 1
    assert set(heads(two)) == {"李秀英"}
    # what the server holds: one household per person
    assert fresh_server.sql("SELECT count(*), count(DISTINCT id_number) FROM households")[0] == (6, 6)


def test_the_template_and_reports_are_the_offices_files(server):
    """The template over HTTP with a token (what the office's button fetches by ticket);
    a report is only ever the one its maker made at the office; a grid worker gets neither."""
    r = httpx.get(f"{server.url}/api/v1/ledger/roster_template.xlsx", headers=auth_headers(server, "office1"),
                  timeout=30)
    assert r.status_code == 200
    assert [c.value for c in openpyxl.load_workbook(io.BytesIO(r.content)).active[1]][:2] == ["户号", "户主姓名"]
    r = httpx.get(f"{server.url}/api/v1/ledger/roster_report.xlsx", headers=auth_headers(server, "office1"),
                  timeout=30)
    assert r.status_code == 422 and "report" in r.json()["message"]
    for kind in ("roster_template.xlsx", "roster_report.xlsx"):
        r = httpx.get(f"{server.url}/api/v1/ledger/{kind}", headers=auth_headers(server, "worker1"), timeout=30)
        assert r.status_code == 403
