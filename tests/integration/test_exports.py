"""The office's files over HTTP, from the real server: the ledger as a spreadsheet the
office can open, and only for the office."""

import io
import re

import httpx
import pytest
from openpyxl import load_workbook


from .conftest import auth_headers, case_fields, phone

pytestmark = pytest.mark.integration


def test_office_downloads_the_years_ledger_and_a_grid_worker_may_not(server, tmp_path):
    replica, client = phone(tmp_path / "p", server, "worker1")
    replica.create("case", case_fields("g1", "worker1", parties=["=1+2", "张三"]), "worker1")
    client.sync()
    r = httpx.get(f"{server.url}/api/v1/ledger/ledger.xlsx", params={"start": "2000-01-01", "end": "2100-12-31"},
                  headers=auth_headers(server, "office1"), timeout=30)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and "当事人" in rows[0]
    parties = rows[0].index("当事人")
    mine = [row for row in rows[1:] if row[parties] and "张三" in row[parties]]
    assert len(mine) == 1 and mine[0][parties].startswith("=1+2")   # kept as text
    assert str(mine[0][0]).startswith("金")                           # the server's reference
    # taking the ledger is on the trail with who, what and from where
    took = server.sql("SELECT username, detail, address FROM audit WHERE action='export' ORDER BY rowid")[-1]
    assert took[0] == "office1" and took[1].startswith("ledger.xlsx") and took[2] == "127.0.0.1"

    r = httpx.get(f"{server.url}/api/v1/ledger/ledger.xlsx", headers=auth_headers(server, "worker1"), timeout=30)
    assert r.status_code == 403
    r = httpx.get(f"{server.url}/api/v1/ledger/ledger.xlsx", params={"start": "2026-13-01"},
                  headers=auth_headers(server, "office1"), timeout=30)
    assert r.status_code == 422 and "start" in r.json()["message"]


def test_a_download_link_works_once(server):
    r = httpx.get(f"{server.url}/api/v1/export/not-a-ticket", timeout=10)
    assert r.status_code == 404 and "expired or was used" in r.json()["message"]


def test_every_file_is_kept_out_of_caches_and_an_attempt_refused_is_on_the_trail(server):
    """The exports carried no Cache-Control: a shared proxy or an office computer's browser
    cache could keep the township's ledger, names and complaints in it. And a grid
    worker's or a leader's try at the ledger, or the office's at the admin's trail, was
    refused but left no line on the audit trail, where the admin looks for such tries."""
    office = auth_headers(server, "office1")
    for kind, params in (("ledger.xlsx", {}), ("ledger.csv", {}), ("supervision.xlsx", {}),
                         ("monthly.xlsx", {"year": 2026, "month": 11})):
        r = httpx.get(f"{server.url}/api/v1/ledger/{kind}", params=params, headers=office, timeout=30)
        assert r.status_code == 200, (kind, r.text)
        assert "no-store" in r.headers.get("cache-control", ""), kind
        assert "private" in r.headers["cache-control"], kind

    def refusals() -> list[tuple]:
        return server.sql("SELECT username, detail, address FROM audit WHERE action='download_refused'"
                          " ORDER BY rowid")

    before = len(refusals())
    for user, kind in (("worker1", "ledger.xlsx"), ("leader1", "monthly.xlsx"), ("office1", "audit.csv")):
        r = httpx.get(f"{server.url}/api/v1/ledger/{kind}", headers=auth_headers(server, user), timeout=30)
        assert r.status_code == 403, (user, kind)
    tries = refusals()[before:]
    assert [(u, d.split(":")[0], a) for u, d, a in tries] == [
        ("worker1", "ledger.xlsx", "127.0.0.1"), ("leader1", "monthly.xlsx", "127.0.0.1"),
        ("office1", "audit.csv", "127.0.0.1")]


def test_a_month_that_has_ended_says_what_came_in_after_it_and_every_file_when_it_was_made(server, tmp_path):
    """A phone offline at the end of last month syncs a visit made on its last day at
    23:30: the month's report downloaded again counts it (it is that month's work) and
    says, under the figures, that one visit more was entered after the month ended; every
    file says when it was made (the ledgers in a last column: the header stays the first
    line a spreadsheet import reads)."""
    import csv
    import datetime as dt
    cst = dt.timezone(dt.timedelta(hours=8))
    first_of_month = dt.datetime.now(cst).date().replace(day=1)
    last = first_of_month - dt.timedelta(days=1)
    office = auth_headers(server, "office1")
    month = {"year": last.year, "month": last.month}

    def report() -> tuple[dict, dict]:
        r = httpx.get(f"{server.url}/api/v1/ledger/monthly.xlsx", params=month, headers=office, timeout=30)
        assert r.status_code == 200, r.text
        rows = list(load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows(values_only=True))
        blank = rows.index((None, None))
        return dict(rows[1:blank]), dict(rows[blank + 1:])

    figures, notes = report()
    replica, client = phone(tmp_path / "p", server, "worker1")
    replica.create("visit", {"grid_id": "g1", "kind": "household", "visitor": "worker1", "seen": "独居老人",
                             "visited_at": f"{last.isoformat()}T23:30:00+08:00"}, "worker1")
    client.sync()
    figures2, notes2 = report()
    assert figures2["走访"] == figures["走访"] + 1

    def visits_late(text: str) -> int:
        found = re.search(r"走访(\d+)条", text)
        return int(found.group(1)) if found else 0
    assert visits_late(notes2["本月结束后补录"]) == visits_late(notes["本月结束后补录"]) + 1
    made = dt.datetime.strptime(notes2["导出时间"], "%Y-%m-%d %H:%M:%S +08:00")
    assert abs(made - dt.datetime.now(cst).replace(tzinfo=None)) < dt.timedelta(minutes=5)

    r = httpx.get(f"{server.url}/api/v1/ledger/ledger.csv", headers=office, timeout=30)
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert lines[0][0] == "编号" and lines[0][-1] == "导出时间" and "补录" in lines[0]
    assert len(lines) > 1 and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", line[-1])
                                  for line in lines[1:])
    r = httpx.get(f"{server.url}/api/v1/ledger/supervision.xlsx", headers=office, timeout=30)
    header = next(load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows(values_only=True))
    assert header[-1] == "导出时间"
