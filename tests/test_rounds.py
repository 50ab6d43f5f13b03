"""A month handed in reads the same after its matters are reopened (sync/server/rounds.py):
the office's own verbs over a real central store, the township's figures and the monthly
report the clerk downloads, before and after an unsatisfied callback, a declined matter
taken up again, a second resolution, and a store written before rounds were kept."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3

import openpyxl
import pytest

from sync.access import Principal
from sync.server import downloads, stats
from sync.server.central import CentralStore
from sync.server.office import CentralWorkspace

D = dt.date
OFFICE = {"username": "xinfang", "name": "镇信访办", "role": "office", "grids": []}
OCTOBER = (D(2026, 10, 1), D(2026, 10, 31))
NOVEMBER = (D(2026, 11, 1), D(2026, 11, 30))
READ_ON = D(2026, 11, 25)   # the clerk reads October again late in November


class Calendar:
    """The office's day and the server's, moved together."""

    def __init__(self, monkeypatch, store):
        self.monkeypatch, self.store = monkeypatch, store

    def set(self, day: dt.date) -> None:
        noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        self.monkeypatch.setattr("sync.server.office.today", lambda: day)
        self.monkeypatch.setattr("sync.server.office.now_iso", noon.isoformat)
        self.store.now = lambda: int(noon.timestamp() * 1000)


@pytest.fixture
def office(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    st = CentralStore(str(tmp_path / "c.db"))
    st.add_grid("g1", "一组", "白鹤村", "金山镇", 29.07, 119.64)
    st.add_account("xinfang", "镇信访办", "office", "long-enough-1")
    ws = CentralWorkspace(st, OFFICE)
    yield ws, Calendar(monkeypatch, st)
    st.close()


def matter(ws, on: dt.date) -> str:
    return ws.register_matter({"channel": "phone", "category": "10", "grid_id": "g1", "parties": ["赵师傅"],
                               "description": "拖欠工资"}, on=on)


def handled_in_october(ws, cal) -> str:
    """Received, accepted and resolved in October; told the petitioner on the day."""
    cal.set(D(2026, 10, 2))
    cid = matter(ws, D(2026, 10, 2))
    ws.accept(cid, on=D(2026, 10, 2))
    ws.notice(cid, D(2026, 10, 2))
    cal.set(D(2026, 10, 20))
    ws.resolve_case(cid, "mediation", "签订调解协议")
    return cid


def october(ws) -> dict:
    return stats.labelled(stats.figures(ws.replica.conn, *OCTOBER, today=READ_ON))


def report(store, year: int, month: int) -> dict:
    """The monthly report as the office downloads it, read back: label -> value."""
    data = downloads.build_export(store, Principal("xinfang", "office"), "monthly.xlsx",
                                  {"year": str(year), "month": str(month)})
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    return {name: value for name, value in rows[1:] if name != "统计截至"}


def opened_after_upgrade(store: CentralStore, table: str, version: int) -> CentralStore:
    """The store closed, put back as the version before wrote it (no `table`, schema
    `version`), and opened again by this one."""
    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"PRAGMA user_version={version}")
    conn.commit()
    conn.close()
    return CentralStore(path)


def test_an_unsatisfied_callback_in_november_leaves_octobers_figures_as_handed_in(office):
    ws, cal = office
    cid = handled_in_october(ws, cal)
    handed_in = october(ws)
    assert (handed_in["办结"], handed_in["应办结事项"], handed_in["其中已化解"], handed_in["化解率"]) == (1, 1, 1, 1.0)
    cal.set(D(2026, 11, 5))
    assert ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到") == "reopened"
    assert ws.case(cid)["accepted_on"] == "2026-11-05"   # a fresh period, as the statute has it
    assert october(ws) == handed_in
    # November sees the matter at work again: open, nothing resolved
    nov = stats.figures(ws.replica.conn, *NOVEMBER, today=READ_ON)
    assert (nov["open"], nov["resolved"]) == (1, 0)
    # resolved a second time: November counts that resolution, October keeps its own
    cal.set(D(2026, 11, 20))
    ws.resolve_case(cid, "mediation", "补发工资")
    assert october(ws) == handed_in
    nov = stats.figures(ws.replica.conn, *NOVEMBER, today=READ_ON)
    assert (nov["resolved"], nov["open"]) == (1, 0)


def test_the_report_the_clerk_downloads_for_october_does_not_move(office, monkeypatch):
    ws, cal = office
    cid = handled_in_october(ws, cal)
    monkeypatch.setattr("sync.server.stats.township_today", lambda: READ_ON)
    before = report(ws.replica, 2026, 10)
    cal.set(D(2026, 11, 5))
    ws.call_back(cid, "phone", "unsatisfied")
    assert report(ws.replica, 2026, 10) == before
    assert before["办结"] == 1


def test_a_late_acceptance_stays_late_in_its_month_after_the_matter_is_reopened(office):
    """Received 09-01, accepted only 10-20: late in September's report; reopened in
    November (acceptance dated anew), still late in September's."""
    ws, cal = office
    cal.set(D(2026, 9, 1))
    cid = matter(ws, D(2026, 9, 1))
    ws.notice(cid, D(2026, 9, 1))
    cal.set(D(2026, 10, 20))
    ws.accept(cid, on=D(2026, 10, 20))
    ws.resolve_case(cid, "explained", "已解释政策")
    september = (D(2026, 9, 1), D(2026, 9, 30))
    late = stats.figures(ws.replica.conn, *september, today=READ_ON)["overdue_register"]
    cal.set(D(2026, 11, 5))
    ws.call_back(cid, "phone", "unsatisfied")
    assert late == stats.figures(ws.replica.conn, *september, today=READ_ON)["overdue_register"] == 1
    # and the month of the reopening judges the fresh acceptance, in time
    assert stats.figures(ws.replica.conn, *NOVEMBER, today=READ_ON)["overdue_register"] == 0


def test_a_declined_matter_taken_up_again_stays_not_due_in_its_month(office):
    ws, cal = office
    cal.set(D(2026, 10, 2))
    cid = matter(ws, D(2026, 10, 2))
    ws.notice(cid, D(2026, 10, 2))
    ws.decline(cid, "不属于本机关职权范围")
    handed_in = october(ws)
    assert (handed_in["登记事项"], handed_in["应办结事项"], handed_in["超期"]) == (1, 0, 0)
    cal.set(D(2026, 11, 5))
    ws.reopen_declined(cid)
    assert october(ws) == handed_in


def test_the_running_month_reads_the_matter_as_it_stands(office):
    ws, cal = office
    cid = handled_in_october(ws, cal)
    cal.set(D(2026, 10, 25))
    ws.call_back(cid, "phone", "unsatisfied")   # reopened within October itself
    f = stats.figures(ws.replica.conn, *OCTOBER, today=D(2026, 10, 28))
    assert (f["resolved"], f["open"]) == (0, 1)
    # and read after October: as it stood at the month's end, reopened
    assert october(ws)["办结"] == 0


def test_a_store_from_before_rounds_recovers_them_from_its_change_log(office, tmp_path):
    ws, cal = office
    store = ws.replica
    cid = handled_in_october(ws, cal)
    handed_in = october(ws)
    cal.set(D(2026, 11, 5))
    ws.call_back(cid, "phone", "unsatisfied")
    cal.set(D(2026, 11, 20))
    ws.resolve_case(cid, "mediation", "补发工资")
    cal.set(D(2026, 11, 22))
    ws.call_back(cid, "phone", "unsatisfied")     # reopened twice
    kept = store.conn.execute("SELECT case_id, ended_on, status, accepted_on, deadline, resolved_on"
                              " FROM case_rounds ORDER BY seq").fetchall()
    assert [r[1:3] for r in kept] == [("2026-11-05", "resolved"), ("2026-11-22", "resolved")]
    again = opened_after_upgrade(store, "case_rounds", 4)
    try:
        assert again.conn.execute("SELECT case_id, ended_on, status, accepted_on, deadline, resolved_on"
                                  " FROM case_rounds ORDER BY seq").fetchall() == kept
        assert stats.labelled(stats.figures(again.conn, *OCTOBER, today=READ_ON)) == handed_in
    finally:
        again.close()
