"""A month handed in reads the same after its matters change (sync/server/standing.py):
the office's own verbs over a real central store, the township's figures and the monthly
report the clerk downloads, before and after an unsatisfied callback, a declined matter
taken up again, a second resolution, a second notice, an owner named later, a late
merge or decline, and a store written before the matters' days were kept."""

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


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def server_day(store: CentralStore, day: dt.date) -> None:
    """The server's clock at noon of that day (the day its writes are kept under)."""
    store.now = lambda: int(_noon(day).timestamp() * 1000)


class Calendar:
    """The office's day and the server's, moved together."""

    def __init__(self, monkeypatch, store):
        self.monkeypatch, self.store = monkeypatch, store

    def set(self, day: dt.date) -> None:
        self.monkeypatch.setattr("sync.server.office.today", lambda: day)
        self.monkeypatch.setattr("sync.server.office.now_iso", _noon(day).isoformat)
        server_day(self.store, day)


def township_office(tmp_path, monkeypatch, leaders: tuple = ()) -> tuple[CentralWorkspace, Calendar]:
    """A store with one grid, the office's workspace on it and its calendar; `leaders`:
    (account, name) of the leaders to add."""
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    st = CentralStore(str(tmp_path / "c.db"))
    st.add_grid("g1", "一组", "白鹤村", "金山镇", 29.07, 119.64)
    st.add_account("xinfang", "镇信访办", "office", "long-enough-1")
    for username, name in leaders:
        st.add_account(username, name, "leader", "long-enough-1")
    return CentralWorkspace(st, OFFICE), Calendar(monkeypatch, st)


@pytest.fixture
def office(tmp_path, monkeypatch):
    ws, cal = township_office(tmp_path, monkeypatch)
    yield ws, cal
    ws.replica.close()


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
    # 导出时间: when the file was made, which moves with every download
    return {name: value for name, value in rows[1:] if name not in ("统计截至", "导出时间")}


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


def test_a_store_from_before_recovers_how_its_matters_stood_from_its_change_log(office, tmp_path):
    ws, cal = office
    store = ws.replica
    cid = handled_in_october(ws, cal)
    handed_in = october(ws)
    cal.set(D(2026, 11, 5))
    ws.call_back(cid, "phone", "unsatisfied")
    cal.set(D(2026, 11, 20))
    ws.resolve_case(cid, "mediation", "补发工资")
    ws.call_back(cid, "phone", "unsatisfied")     # reopened twice, the second time the day it was resolved
    kept = store.conn.execute("SELECT * FROM case_standing ORDER BY case_id, changed_on").fetchall()
    # one row a day it changed, with the day's first state: Oct 2 (registered, then
    # accepted and told), Oct 20 (resolved), Nov 5 (reopened), Nov 20 (resolved, reopened)
    assert [(r[1], r[5]) for r in kept] == [("2026-10-02", "reported"), ("2026-10-20", "accepted"),
                                            ("2026-11-05", "resolved"), ("2026-11-20", "reopened")]
    again = opened_after_upgrade(store, "case_standing", 4)
    try:
        assert again.conn.execute("SELECT * FROM case_standing ORDER BY case_id, changed_on").fetchall() == kept
        assert stats.labelled(stats.figures(again.conn, *OCTOBER, today=READ_ON)) == handed_in
    finally:
        again.close()


def test_a_second_notice_an_owner_named_later_and_a_signal_added_later_leave_october_as_handed_in(office):
    ws, cal = office
    cid = handled_in_october(ws, cal)
    handed_in = october(ws)
    assert (handed_in["超期"], handed_in["包案领导化解"], handed_in["进京非访登记"]) == (0, 0, 0)
    cal.set(D(2026, 11, 5))
    ws.call_back(cid, "phone", "unsatisfied")
    cal.set(D(2026, 11, 6))
    ws.notice(cid, D(2026, 11, 6))                 # told again of the fresh period
    ws.replica.add_account("li", "李镇长", "leader", "long-enough-1")
    ws.consult(cid, D(2026, 11, 6), ["人社所"], "再次调解", "li")
    ws.grade(cid, "red", "urgent", ["beijing"])
    assert october(ws) == handed_in


def test_a_matter_waiting_at_octobers_end_stays_late_after_a_merge_or_a_decline_in_november(office):
    """Received 10-02 and never accepted in October: late at October's end (15 days).
    Merged into another matter, or declined, in November: October still counts it."""
    ws, cal = office
    cal.set(D(2026, 10, 2))
    kept = matter(ws, D(2026, 10, 2))
    duplicate = matter(ws, D(2026, 10, 2))
    declined = matter(ws, D(2026, 10, 2))
    for cid in (kept, duplicate, declined):
        ws.notice(cid, D(2026, 10, 2))
    handed_in = october(ws)
    assert (handed_in["登记事项"], handed_in["其中：登记转送超期"]) == (3, 3)
    cal.set(D(2026, 11, 8))
    ws.merge(duplicate, kept)
    ws.decline(declined, "不属于本机关职权范围")
    assert october(ws) == handed_in
    # November, as it stands: the duplicate is counted nowhere, the declined one not late
    nov = stats.figures(ws.replica.conn, *NOVEMBER, today=READ_ON)
    assert nov["overdue_register"] == 1


def test_the_open_count_and_the_map_read_the_same_day(office):
    """未办结 and the map of open matters, for a past period, are as at its last day."""
    ws, cal = office
    cal.set(D(2026, 10, 2))
    cid = ws.register_matter({"channel": "phone", "category": "10", "grid_id": "g1", "parties": ["赵师傅"],
                              "description": "拖欠工资", "lat": 29.07, "lon": 119.64}, on=D(2026, 10, 2))
    ws.accept(cid, on=D(2026, 10, 2))
    cal.set(D(2026, 11, 10))
    ws.resolve_case(cid, "mediation", "签订调解协议")
    later = ws.register_matter({"channel": "phone", "category": "10", "grid_id": "g1", "parties": ["钱某"],
                                "description": "噪音扰民", "lat": 29.07, "lon": 119.64}, on=D(2026, 11, 10))
    f = stats.figures(ws.replica.conn, *OCTOBER, today=READ_ON)
    # the matter that came in November was not open in October
    assert (f["open"], [p["id"] for p in f["open_points"]]) == (1, [cid])
    now = stats.figures(ws.replica.conn, *NOVEMBER, today=READ_ON)
    assert (now["open"], [p["id"] for p in now["open_points"]]) == (1, [later])


def test_a_reception_recorded_next_month_leaves_the_walk_in_counted_in_its_month(office):
    """A walk-in registered with its receiving leader in October counts as October's
    接访; the reception visit that names it, written up in November, is November's
    record and does not take October's reception away."""
    ws, cal = office
    ws.replica.add_account("li", "李镇长", "leader", "long-enough-1")
    cal.set(D(2026, 10, 9))
    cid = ws.register_matter({"channel": "visit", "category": "10", "grid_id": "g1", "parties": ["赵师傅"],
                              "description": "拖欠工资", "reception_leader": "li"}, on=D(2026, 10, 9))
    handed_in = october(ws)
    assert (handed_in["接访"], handed_in["其中：来访登记"]) == (1, 1)
    cal.set(D(2026, 11, 3))
    ws.replica.server_write("visit", "reception-1", {
        "grid_id": "g1", "kind": "reception", "visitor": "li", "case_id": cid,
        "visited_at": "2026-11-03T10:00:00+08:00", "seen": "来访人反映拖欠工资"}, author="system")
    assert october(ws) == handed_in


def test_a_store_from_before_china_time_counts_each_stamp_on_its_china_day(office):
    """Times written in another offset before phones had to send +08:00: a callback made
    at 04:00 on 1 November China time, stored as 2026-10-31T20:00:00+00:00, counted in
    October's 回访 while the ledger dates it 1 November; the upgrade rewrites the stored
    stamps as the same instant in China time (migration 7), the log keeps them as sent."""
    ws, cal = office
    store = ws.replica
    cid = handled_in_october(ws, cal)
    cal.set(D(2026, 11, 1))
    ws.call_back(cid, "phone", "satisfied")
    store.server_write("visit", "v-late", {"grid_id": "g1", "kind": "household", "visitor": "xinfang",
                                           "visited_at": "2026-11-01T04:30:00+08:00", "seen": "走访"},
                       author="system")
    store.server_write("visit", "v-odd", {"grid_id": "g1", "kind": "household", "visitor": "xinfang",
                                          "visited_at": "2026-10-20T10:00:00+08:00", "seen": "走访"},
                       author="system")
    store.conn.execute("UPDATE callbacks SET at='2026-10-31T20:00:00+00:00'")
    store.conn.execute("UPDATE visits SET visited_at='2026-10-31T20:30:00Z' WHERE id='v-late'")
    store.conn.execute("UPDATE visits SET visited_at='not a time' WHERE id='v-odd'")  # left as it is
    # a time at the calendar's end, from before times were held to 2000-2100: past the end in China
    store.conn.execute("UPDATE case_events SET at='9999-12-31T23:59:59Z'")
    store.conn.commit()
    old = stats.figures(store.conn, *OCTOBER, today=READ_ON)
    assert (old["callbacks"], old["household_visits"]) == (1, 1)   # what the old store counted
    log_before = store.conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=6")
    conn.commit()
    conn.close()
    again = CentralStore(path)
    try:
        oct_, nov = (stats.figures(again.conn, *p, today=READ_ON) for p in (OCTOBER, NOVEMBER))
        assert (oct_["callbacks"], oct_["household_visits"]) == (0, 0)
        assert (nov["callbacks"], nov["household_visits"]) == (1, 1)
        assert again.conn.execute("SELECT at FROM callbacks").fetchone()[0] == "2026-11-01T04:00:00+08:00"
        assert again.conn.execute("SELECT visited_at FROM visits WHERE id='v-odd'").fetchone()[0] == "not a time"
        assert {r[0] for r in again.conn.execute("SELECT at FROM case_events")} == {"9999-12-31T23:59:59Z"}
        assert again.conn.execute("SELECT count(*) FROM changes").fetchone()[0] == log_before
    finally:
        again.close()


def test_a_store_from_before_folds_a_late_phones_change_where_it_arrived(tmp_path, monkeypatch):
    """A leader's phone marks a matter 办理中 offline on 20 January and syncs on 3 February;
    the office told the petitioner on 25 January. The writer took the change on 3
    February, so January ends with the notice sent: not overdue. The upgrade's fold of the
    change log (migration 5) folded by stamp, put the notice after the leader's change and
    counted January 超期 1, 告知超期 1; it folds in arrival order now, as the writer did."""
    from sync import changes, clock
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    instant = [0]   # the server's clock (its stamps too) on the calendar's day
    store = CentralStore(str(tmp_path / "c.db"), now=lambda: instant[0])
    store.add_grid("g1", "一组", "白鹤村", "金山镇", 29.07, 119.64)
    store.add_account("li", "李镇长", "leader", "long-enough-1")
    ws = CentralWorkspace(store, OFFICE)

    class cal:
        @staticmethod
        def set(day):
            monkeypatch.setattr("sync.server.office.today", lambda: day)
            monkeypatch.setattr("sync.server.office.now_iso", _noon(day).isoformat)
            instant[0] = int(_noon(day).timestamp() * 1000)
    cal.set(D(2026, 1, 5))
    cid = matter(ws, D(2026, 1, 5))
    ws.accept(cid, on=D(2026, 1, 5))
    ws.consult(cid, D(2026, 1, 5), ["人社所"], "先行垫付", "li")
    _, versions = store._load("case", [cid])[cid]
    offline = changes.make("case", cid, {"status": "in_progress"},
                           clock.encode(int(_noon(D(2026, 1, 20)).timestamp() * 1000), 0, "phone-li"),
                           "phone-li", "li", {"status": [versions["status"][0]]})
    cal.set(D(2026, 1, 25))
    ws.notice(cid, D(2026, 1, 25))
    cal.set(D(2026, 2, 3))
    res = store.push(Principal("li", "leader", frozenset(), "phone-li"), [offline]).results[0]
    assert res["status"] == "applied", res
    january = (D(2026, 1, 1), D(2026, 1, 31))
    kept = store.conn.execute("SELECT changed_on, status, notice_sent_on FROM case_standing ORDER BY 1").fetchall()
    handed_in = stats.figures(store.conn, *january, today=D(2026, 2, 10))
    assert (handed_in["overdue"], handed_in["overdue_notice"]) == (0, 0)
    again = opened_after_upgrade(store, "case_standing", 4)
    try:
        assert again.conn.execute("SELECT changed_on, status, notice_sent_on FROM case_standing"
                                  " ORDER BY 1").fetchall() == kept
        assert stats.figures(again.conn, *january, today=D(2026, 2, 10)) == handed_in
    finally:
        again.close()


def test_a_villages_callbacks_of_a_month_stay_with_it_when_the_matter_moves_grid_next_month(office):
    """白鹤村's October: a matter registered, resolved and called back (unsatisfied); in
    November the office moves it to 青山村's grid. October read again by village keeps
    the callback with 白鹤村, as it keeps the matter (the callbacks were filtered by the
    matter's grid as it stands now: 白鹤村 回访 0, 青山村 回访 1 and 满意度 0 %)."""
    ws, cal = office
    ws.replica.add_grid("g2", "二组", "青山村", "金山镇", 29.08, 119.65)
    cid = handled_in_october(ws, cal)
    cal.set(D(2026, 10, 25))
    assert ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到") == "reopened"

    def by_village(village: str) -> tuple:
        f = stats.figures(ws.replica.conn, *OCTOBER, village=village, today=READ_ON)
        return f["registered"], f["callbacks"], f["satisfaction_rate"]
    handed_in = {v: by_village(v) for v in ("白鹤村", "青山村")}
    assert handed_in == {"白鹤村": (1, 1, 0.0), "青山村": (0, 0, None)}
    cal.set(D(2026, 11, 3))
    ws.update("case", cid, {"grid_id": "g2"})
    assert {v: by_village(v) for v in handed_in} == handed_in
    nov = stats.figures(ws.replica.conn, *NOVEMBER, village="青山村", today=READ_ON)
    assert nov["open"] == 1 and nov["callbacks"] == 0    # November: 青山村's matter, no callback of its own


def ledger(store, start: dt.date, end: dt.date) -> list[dict]:
    """The ledger .xlsx as the clerk downloads it, read back: one dict per row."""
    data = downloads.build_export(store, Principal("xinfang", "office"), "ledger.xlsx",
                                  {"start": start.isoformat(), "end": end.isoformat()})
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_octobers_ledger_downloaded_again_lists_what_octobers_figures_count(office, monkeypatch):
    """October's ledger, downloaded again in November after one matter moved village,
    one was merged into another and one was reopened by an unsatisfied callback: the
    same rows as the month's 登记事项, by village as the figures count them, each matter
    as it stood at October's end (it listed a moved matter in its new village, dropped a
    merged one, and showed a reopened matter as 已重办 with its first outcome)."""
    ws, cal = office
    ws.replica.add_grid("g2", "二组", "青山村", "金山镇", 29.08, 119.65)
    monkeypatch.setattr("sync.server.stats.township_today", lambda: READ_ON)
    resolved = handled_in_october(ws, cal)
    cal.set(D(2026, 10, 10))
    moved, kept, duplicate = (matter(ws, D(2026, 10, 10)) for _ in range(3))
    handed_in = ledger(ws.replica, *OCTOBER)

    def counted(village=None) -> int:
        return stats.figures(ws.replica.conn, *OCTOBER, village=village, today=READ_ON)["registered"]
    assert len(handed_in) == counted() == 4
    assert [r["村"] for r in handed_in] == ["白鹤村"] * 4
    assert handed_in[0]["状态"] == "已办结" and handed_in[0]["办理结果"]

    cal.set(D(2026, 11, 5))
    ws.update("case", moved, {"grid_id": "g2"})
    ws.update("case", kept, {"risk": "red"})
    ws.merge(duplicate, kept)
    assert ws.call_back(resolved, "phone", "unsatisfied", "仍有两人未领到") == "reopened"
    again = ledger(ws.replica, *OCTOBER)
    assert again == handed_in
    assert len(again) == counted() and sum(r["村"] == "白鹤村" for r in again) == counted("白鹤村") == 4
    assert counted("青山村") == 0
    # November's ledger of the whole year so far reads the matters as they stand now
    now = {r["编号"]: r for r in ledger(ws.replica, D(2026, 10, 1), READ_ON)}
    assert len(now) == 3 and now[ws.case(moved)["ref"]]["村"] == "青山村"
    assert now[ws.case(resolved)["ref"]]["状态"] == "已重办" and not now[ws.case(resolved)["ref"]]["办理结果"]


def test_a_letter_of_december_entered_in_january_is_numbered_in_the_year_whose_ledger_lists_it(office):
    """The clerk enters on 2 January the letters that came on 30 December: each is
    listed in last year's ledger (by its 登记日期), so it takes last year's number, not
    the first of the new year's (which left the new year's ledger starting at 0002)."""
    ws, cal = office
    cal.set(D(2027, 1, 2))
    late = matter(ws, D(2026, 12, 30))
    new = matter(ws, D(2027, 1, 2))
    assert ws.case(late)["ref"].split("-")[1:] == ["2026", "0001"]
    assert ws.case(new)["ref"].split("-")[1:] == ["2027", "0001"]
    assert [r["编号"] for r in ledger(ws.replica, D(2026, 1, 1), D(2026, 12, 31))] == [ws.case(late)["ref"]]
    assert [r["编号"] for r in ledger(ws.replica, D(2027, 1, 1), D(2027, 12, 31))] == [ws.case(new)["ref"]]



def test_a_matter_resolved_again_next_month_keeps_octobers_outcome_in_octobers_ledger(office, monkeypatch):
    """Resolved by mediation in October, reopened and resolved again in November with
    another outcome: October's ledger showed 已办结 beside November's outcome (the status
    as it stood, the outcome as it stands). So it does not on a store upgraded from the
    version before either: its kept rows are made again from the change log."""
    ws, cal = office
    monkeypatch.setattr("sync.server.stats.township_today", lambda: READ_ON)
    cid = handled_in_october(ws, cal)
    handed_in = ledger(ws.replica, *OCTOBER)
    cal.set(D(2026, 11, 5))
    ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到")
    cal.set(D(2026, 11, 12))
    ws.update("case", cid, {"risk": "red"})
    ws.resolve_case(cid, "explained", "依政策解释说明")
    assert ledger(ws.replica, *OCTOBER) == handed_in
    now = ledger(ws.replica, D(2026, 10, 1), READ_ON)
    assert now[0]["办理结果"] != handed_in[0]["办理结果"] and now[0]["风险等级"] != handed_in[0]["风险等级"]
    # the version before kept no outcome, risk or departments: upgraded, the same ledger
    path = ws.replica.path
    ws.replica.close()
    conn = sqlite3.connect(path)
    for name in ("outcome", "risk", "departments"):
        conn.execute(f"ALTER TABLE case_standing DROP COLUMN {name}")
    conn.execute("PRAGMA user_version=10")
    conn.commit()
    conn.close()
    store = CentralStore(path)
    try:
        assert ledger(store, *OCTOBER) == handed_in
    finally:
        store.close()
    ws.replica = CentralStore(path)   # for the fixture's close
