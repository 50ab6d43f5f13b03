"""The office's files over HTTP, from the real server: the ledger as a spreadsheet the
office can open, and only for the office."""

import io

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
