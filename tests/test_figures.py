"""The township's figures, one definition each (sync/server/stats.py, docs/office.md
"Figures"), over a real central store:

(a) the dashboard's figures and the monthly report's agree, for a month of data: the
    screen's own call (fieldapp/office/dashboard.py) against the .xlsx the office
    downloads, read back with openpyxl, figure by figure;
(b) the yearly figures of domain.md (接访 197, 明白卡 2000+ ...) reproduced from a small
    township whose every figure is counted by hand below, for a year and for a month;
(c) 超期 counts every statutory limit (statute.overdue_reasons), each on its own, as
    at the end of a past period and as at today for a running one.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from fieldapp.office import dashboard
from sync import statute
from sync.access import Principal
from sync.server import downloads, export, stats
from sync.server.central import CentralStore
from tests.test_past_periods import server_day

D = dt.date
YEAR = (D(2025, 1, 1), D(2025, 12, 31))
JUNE = (D(2025, 6, 1), D(2025, 6, 30))
LATER = D(2026, 3, 10)        # the figures of 2025 are read in March 2026
OFFICE = Principal("xinfang", "office")


def case(grid: str, channel: str, received: str, status: str, **extra) -> dict:
    """A matter as the office keeps it; the petitioner told on the day it came in unless
    `notice_sent_on` says otherwise (None: never told)."""
    fields = {"grid_id": grid, "kind": "petition", "channel": channel, "category": "02",
              "description": "群众反映的问题", "status": status, "reported_by": "xinfang",
              "reported_at": f"{received}T09:00:00+08:00", "received_on": received,
              "notice_sent_on": received, **extra}
    return {k: v for k, v in fields.items() if v is not None}


def visit(grid: str, kind: str, at: str, **extra) -> dict:
    return {"grid_id": grid, "kind": kind, "visitor": "wangfang", "visited_at": at + "+08:00",
            "seen": "家中情况正常", **extra}


def callback(case_id: str, at: str, answer: str) -> dict:
    return {"case_id": case_id, "at": at + "+08:00", "by": "xinfang", "method": "phone", "answer": answer}


# --- (b) a township counted by hand ----------------------------------------------------------
# Matters of 2025 (and one of December 2024), each with what it counts for.
MATTERS = {
    # resolved in March by its owning leader; litigation-prone; called back satisfied
    "M1": case("g1", "letter", "2025-02-01", "closed", accepted_on="2025-02-03", deadline="2025-04-04",
               resolved_on="2025-03-20", owner="lizhen", litigation=True),
    # handed down with the higher body's deadline, resolved in June by its owning leader
    "M2": case("g2", "handed_down", "2025-05-10", "called_back", accepted_on="2025-05-11",
               deadline="2025-06-30", resolved_on="2025-06-25", owner="chen", higher_deadline="2025-06-30"),
    # handed down, still being handled past its deadline: overdue at the year's end
    "M3": case("g2", "handed_down", "2025-10-01", "in_progress", accepted_on="2025-10-01", deadline="2025-11-30"),
    # registered in June, resolved in July, litigation-prone; the petitioner told late
    # (in July): the notice was overdue at the end of June, not at the end of the year
    "M4": case("g1", "grid", "2025-06-03", "resolved", accepted_on="2025-06-03", deadline="2025-08-02",
               resolved_on="2025-07-15", litigation=True, notice_sent_on="2025-07-05"),
    # an irregular petition in Beijing, declined: registered, never due
    "M5": case("g1", "grid", "2025-06-08", "declined", signals=["beijing", "level_skipping"],
               decline_reason="不属于本机关职权范围"),
    # waiting to be accepted; its 15 days end in 2026
    "M6": case("g2", "phone", "2025-12-20", "reported", register_by="2026-01-04", notice_sent_on=None),
    # waiting since November, the petitioner never told: two limits passed, one matter
    "M7": case("g2", "phone", "2025-11-01", "reported", register_by="2025-11-16", notice_sent_on=None),
    # past its deadline in May, resolved only in January 2026: overdue at the end of June
    # and of the year, as it was then
    "M8": case("g1", "letter", "2025-03-01", "resolved", accepted_on="2025-03-02", deadline="2025-05-01",
               resolved_on="2026-01-20"),
    # resolved; the petitioner asked for 复查 on 03-10, never answered (due 04-09)
    "M9": case("g1", "letter", "2025-01-05", "closed", accepted_on="2025-01-06", deadline="2025-03-07",
               resolved_on="2025-02-20", review_requested_on="2025-03-10", review_due="2025-04-09"),
    # 复查 and 复核 both answered in time
    "M10": case("g2", "letter", "2025-01-10", "closed", accepted_on="2025-01-11", deadline="2025-03-11",
                resolved_on="2025-02-01", review_requested_on="2025-02-10", review_due="2025-03-12",
                review_answered_on="2025-03-01", recheck_requested_on="2025-03-20", recheck_due="2025-04-19",
                recheck_answered_on="2025-04-10"),
    # a duplicate of M7, merged: counted nowhere (not registered, not overdue)
    "M11": case("g2", "phone", "2025-11-02", "reported", merged_into="M7", notice_sent_on=None),
    # resolved in May, reopened after an unsatisfied callback, a fresh period past by the
    # year's end: not resolved, due, overdue
    "M12": case("g1", "online", "2025-04-01", "reopened", accepted_on="2025-05-20", deadline="2025-07-19",
                resolved_on="2025-05-01"),
    # came in December 2024, resolved in January 2025 by its owning leader
    "M13": case("g2", "letter", "2024-12-15", "closed", accepted_on="2024-12-15", deadline="2025-02-13",
                resolved_on="2025-01-10", owner="lizhen"),
    # walk-ins with the leader who received them (来访 + 接访领导)
    "W1": case("g1", "visit", "2025-06-20", "called_back", reception_leader="lizhen", accepted_on="2025-06-20",
               deadline="2025-08-19", resolved_on="2025-07-30"),          # a reception visit names it
    "W2": case("g2", "visit", "2025-06-05", "declined", reception_leader="chen", decline_reason="已诉讼"),
    "W3": case("g1", "visit", "2025-09-09", "closed", reception_leader="lizhen", accepted_on="2025-09-10",
               deadline="2025-11-09", resolved_on="2025-10-01"),
    "W4": case("g1", "visit", "2025-06-12", "declined", decline_reason="重复"),  # no receiving leader
    "W5": case("g2", "visit", "2025-06-06", "reported", reception_leader="chen", merged_into="W2"),
    "W6": case("g2", "phone", "2025-06-15", "declined", reception_leader="chen", decline_reason="x"),  # not 来访
}
VISITS = {
    "R1": visit("g1", "reception", "2025-03-02T09:00:00", cards=4),
    "R2": visit("g2", "reception", "2025-06-10T09:00:00"),
    "R3": visit("g1", "reception", "2025-06-20T09:30:00", case_id="W1"),   # W1 is counted here, once
    "R4": visit("g1", "reception", "2024-12-31T23:50:00"),                 # the year before
    "R5": visit("g2", "reception", "2026-01-01T00:05:00"),                 # the year after
    "H1": visit("g1", "household", "2025-06-01T08:00:00", cards=10),
    "H2": visit("g2", "household", "2025-06-30T23:59:00", cards=5),        # the last minute of June
    "H3": visit("g2", "household", "2025-11-11T10:00:00", cards=0),
    "H4": visit("g1", "household", "2025-07-01T00:00:00", cards=7),        # July, at midnight
    "D1": visit("g2", "home", "2025-06-15T15:00:00", cards=3),
    "C1": visit("g1", "callback", "2025-08-08T10:00:00", cards=2),
}
CALLBACKS = {
    "CB1": callback("M1", "2025-03-25T10:00:00", "satisfied"),
    "CB2": callback("M2", "2025-06-28T10:00:00", "basically"),
    "CB3": callback("M4", "2025-07-20T10:00:00", "unsatisfied"),
    "CB4": callback("M13", "2025-01-15T10:00:00", "satisfied"),
    "CB5": callback("W1", "2025-08-01T10:00:00", "satisfied"),
    "CB6": callback("M13", "2024-12-31T23:59:00", "satisfied"),            # the year before
}

# Counted by hand, figure by figure (the matters named are the ones counted).
YEAR_EXPECTED = {
    "reception_visits": 3,      # R1, R2, R3
    "walk_in_receptions": 2,    # W2, W3 (W1: R3 names it; W4: no leader; W5: merged; W6: by phone)
    "receptions": 5,
    "household_visits": 4,      # H1-H4
    "home_visits": 1,           # D1
    "cards": 31,                # R1 4 + H1 10 + H2 5 + H4 7 + D1 3 + C1 2
    "registered": 16,           # M1-M10, M12, W1-W4, W6 (not M11, W5: merged; not M13: 2024)
    "resolved": 8,              # M1, M2, M4, M9, M10, M13, W1, W3 (M8: 2026; M12: reopened)
    "due": 11,                  # M1, M2, M3, M4, M8, M9, M10, M12, M13, W1, W3
    "due_resolved": 8,
    "resolution_rate": 0.7273,  # 8 / 11
    "callbacks": 5,             # CB1-CB5
    "satisfied": 4,             # CB1, CB2, CB4, CB5
    "satisfaction_rate": 0.8,
    "overdue": 5,               # M7 (register, notice), M3, M8, M12 (handling), M9 (answer)
    "overdue_register": 1, "overdue_notice": 1, "overdue_handling": 3, "overdue_answer": 1,
    "leader_resolved": 3,       # M1, M2, M13
    "handed_down_resolved": 1,  # M2 (M3 is open)
    "litigation_resolved": 2,   # M1, M4
    "beijing": 1,               # M5
    "open": 4,                  # M3, M6, M7, M12
    "due_soon": 0,
    "counted_to": "2025-12-31",
}
JUNE_EXPECTED = {
    "reception_visits": 2,      # R2, R3
    "walk_in_receptions": 1,    # W2
    "receptions": 3,
    "household_visits": 2,      # H1, H2
    "home_visits": 1,           # D1
    "cards": 18,                # H1 10 + H2 5 + D1 3
    "registered": 6,            # M4, M5, W1, W2, W4, W6
    "resolved": 1,              # M2
    "due": 1, "due_resolved": 1, "resolution_rate": 1.0,
    "callbacks": 1, "satisfied": 1, "satisfaction_rate": 1.0,   # CB2, basically satisfied
    "overdue": 3,               # as at July 1st: M4 (notice), M8 (handling), M9 (answer)
    "overdue_register": 0, "overdue_notice": 1, "overdue_handling": 1, "overdue_answer": 1,
    "leader_resolved": 1, "handed_down_resolved": 1, "litigation_resolved": 0,
    "beijing": 1,               # M5
    "open": 1, "due_soon": 0,   # M12 at June's end (M3, M6, M7 came in later)
    "counted_to": "2025-06-30",
}


@pytest.fixture(scope="module")
def township(tmp_path_factory):
    store = CentralStore(str(tmp_path_factory.mktemp("figures") / "township.db"))
    store.add_grid("g1", "一组", "白鹤村", "金山镇", 29.0712, 119.6471)
    store.add_grid("g2", "一组", "高山村", "金山镇", 29.0925, 119.6803)
    for rid, fields in MATTERS.items():
        store.server_write("case", rid, fields, author="system")
    for rid, fields in VISITS.items():
        store.server_write("visit", rid, fields, author="system")
    for rid, fields in CALLBACKS.items():
        store.server_write("callback", rid, fields, author="system")
    yield store
    store.close()


def test_the_years_figures_are_the_ones_counted_by_hand(township):
    f = stats.figures(township.conn, *YEAR, today=LATER)
    assert {k: f[k] for k in YEAR_EXPECTED} == YEAR_EXPECTED


def test_a_months_figures_are_the_ones_counted_by_hand(township):
    f = stats.figures(township.conn, *JUNE, today=LATER)
    assert {k: f[k] for k in JUNE_EXPECTED} == JUNE_EXPECTED


def test_the_months_report_reads_what_was_counted_by_hand(township):
    report = _report_values(township, 2025, 6, today=LATER)
    assert report["接访"] == 3 and report["明白卡"] == 18 and report["进京非访登记"] == 1
    assert report["超期"] == 3 and report["化解率"] == 1.0 and report["统计截至"] == D(2025, 6, 30)


def test_receptions_are_visits_plus_walk_ins_without_a_visit(township):
    """A walk-in registration with its receiving leader is a reception; a reception
    visit that names the matter is the same reception, counted once."""
    f = stats.figures(township.conn, D(2025, 6, 20), D(2025, 6, 20), today=LATER)
    assert (f["reception_visits"], f["walk_in_receptions"], f["receptions"]) == (1, 0, 1)  # R3 names W1
    f = stats.figures(township.conn, D(2025, 6, 5), D(2025, 6, 6), today=LATER)
    assert (f["reception_visits"], f["walk_in_receptions"], f["receptions"]) == (0, 1, 1)  # W2; W5 merged


def test_filters_narrow_the_walk_ins_and_keep_the_visits_to_their_village(township):
    f = stats.figures(township.conn, *YEAR, village="高山村", today=LATER)
    assert (f["reception_visits"], f["walk_in_receptions"]) == (1, 1)   # R2; W2
    f = stats.figures(township.conn, *YEAR, channel="letter", today=LATER)
    assert (f["walk_in_receptions"], f["reception_visits"]) == (0, 3)   # visits have no channel


def test_merged_duplicates_are_counted_nowhere(township):
    """M11 (merged into M7) and W5 (merged into W2) wait in no queue of their own: not
    registered, not overdue, not open, whatever limits they would have passed."""
    f = stats.figures(township.conn, D(2025, 11, 2), D(2025, 11, 2), today=LATER)
    assert f["registered"] == 0
    f = stats.figures(township.conn, D(2025, 6, 6), D(2025, 6, 6), today=LATER)
    assert (f["registered"], f["walk_in_receptions"]) == (0, 0)
    running = stats.figures(township.conn, D(2026, 1, 1), D(2026, 12, 31), today=LATER)
    late = [cid for cid in MATTERS if statute.overdue_reasons(township.get("case", cid), LATER)]
    assert "M11" not in late and "W5" not in late and running["overdue"] == len(late)
    assert running["open"] == 4


# --- (c) every statutory limit --------------------------------------------------------------------
def test_overdue_at_the_end_of_a_past_period_counts_each_limit_once(township):
    f = stats.figures(township.conn, *YEAR, today=LATER)
    reasons = {k: f[k] for k in ("overdue_register", "overdue_notice", "overdue_handling", "overdue_answer")}
    assert reasons == {"overdue_register": 1, "overdue_notice": 1, "overdue_handling": 3, "overdue_answer": 1}
    assert f["overdue"] == 5          # M7 passed two limits and is one overdue matter


def test_overdue_of_a_running_period_is_the_statutes_today(township):
    """For a period still running, 超期 is statute.overdue_reasons on every matter as it
    stands today: the office's overdue list, counted."""
    # (days after everything stored: a running period's today is never before what happened)
    for today in (D(2026, 1, 25), LATER, D(2026, 6, 1)):
        f = stats.figures(township.conn, today.replace(month=1, day=1), today.replace(month=12, day=31), today=today)
        late = {cid: statute.overdue_reasons(township.get("case", cid), today)
                for cid, m in MATTERS.items() if not m.get("merged_into")}
        assert f["overdue"] == sum(1 for why in late.values() if why), today
        for reason in ("register", "notice", "handling", "answer"):
            assert f[f"overdue_{reason}"] == sum(1 for why in late.values() if reason in why), (today, reason)


@pytest.fixture
def limits(tmp_path):
    """One matter per statutory limit, each passing that limit alone by 2026-03-01."""
    store = CentralStore(str(tmp_path / "limits.db"))
    store.add_grid("g1", "一组", "白鹤村", "金山镇")
    matters = {
        # art. 22: received 01-01, still not accepted after its 15 days
        "register": case("g1", "phone", "2026-01-01", "reported", register_by="2026-01-16"),
        # art. 23: accepted in time, the petitioner never told
        "notice": case("g1", "phone", "2026-01-01", "accepted", accepted_on="2026-01-02",
                       deadline="2026-03-03", notice_sent_on=None),
        # arts. 31, 34: the handling period over, still in progress
        "handling": case("g1", "letter", "2025-11-01", "in_progress", accepted_on="2025-11-01",
                         deadline="2025-12-31"),
        # a higher body's earlier deadline counts as the deadline
        "higher": case("g1", "handed_down", "2026-01-05", "assigned", accepted_on="2026-01-05",
                       higher_deadline="2026-02-10", deadline="2026-02-10"),
        # art. 35: 复查 asked on 01-10, not answered within 30 days
        "review": case("g1", "letter", "2025-10-01", "closed", accepted_on="2025-10-01", deadline="2025-11-30",
                       resolved_on="2025-11-20", review_requested_on="2026-01-10", review_due="2026-02-09"),
        # art. 36: 复核 asked on 01-05, not answered within 30 days
        "recheck": case("g1", "letter", "2025-09-01", "closed", accepted_on="2025-09-01", deadline="2025-10-31",
                        resolved_on="2025-10-20", review_requested_on="2025-10-25", review_due="2025-11-24",
                        review_answered_on="2025-11-20", recheck_requested_on="2026-01-05",
                        recheck_due="2026-02-04"),
        # every limit kept: counted nowhere
        "in_time": case("g1", "letter", "2026-01-20", "accepted", accepted_on="2026-01-21", deadline="2026-03-22"),
    }
    for rid, fields in matters.items():
        store.server_write("case", rid, fields, author="system")
    yield store
    store.close()


def test_overdue_counts_each_statutory_limit(limits):
    today = D(2026, 3, 1)
    f = stats.figures(limits.conn, D(2026, 1, 1), D(2026, 12, 31), today=today)
    assert (f["overdue_register"], f["overdue_notice"], f["overdue_handling"], f["overdue_answer"]) == (1, 1, 2, 2)
    assert f["overdue"] == 6
    for rid, why in (("register", ["register"]), ("notice", ["notice"]), ("handling", ["handling"]),
                     ("higher", ["handling"]), ("review", ["answer"]), ("recheck", ["answer"]), ("in_time", [])):
        assert statute.overdue_reasons(limits.get("case", rid), today) == why, rid


def test_overdue_is_judged_on_the_day_after_the_period_and_the_deadline_day_is_in_time(limits):
    jan = stats.figures(limits.conn, D(2026, 1, 1), D(2026, 1, 31), today=D(2026, 3, 1))
    # January, as at February 1st: 15 days to register and to tell the petitioner (01-16)
    # and the handling period of 2025-12-31 had passed; the answers were due later
    assert jan["as_of"] == "2026-02-01"
    assert (jan["overdue_register"], jan["overdue_notice"], jan["overdue_handling"], jan["overdue_answer"],
            jan["overdue"]) == (1, 1, 1, 0, 3)
    # on the deadline day itself (02-10) the higher body's deadline is still kept
    running = stats.figures(limits.conn, D(2026, 2, 1), D(2026, 2, 28), today=D(2026, 2, 10))
    assert running["overdue_handling"] == 1        # the matter of 2025 only
    assert stats.figures(limits.conn, D(2026, 2, 1), D(2026, 2, 28),
                         today=D(2026, 2, 11))["overdue_handling"] == 2


def test_a_step_done_after_the_period_still_counts_as_late_for_that_period(limits):
    server_day(limits, D(2026, 2, 15))
    limits.server_write("case", "notice", {"notice_sent_on": "2026-02-15"}, author="system")
    server_day(limits, D(2026, 2, 20))
    limits.server_write("case", "handling", {"status": "resolved", "resolved_on": "2026-02-20",
                                             "outcome": "explained"}, author="system")
    jan = stats.figures(limits.conn, D(2026, 1, 1), D(2026, 1, 31), today=D(2026, 3, 1))
    assert (jan["overdue_handling"], jan["overdue_notice"]) == (1, 1)   # late at the end of January
    now = stats.figures(limits.conn, D(2026, 1, 1), D(2026, 12, 31), today=D(2026, 3, 1))
    assert (now["overdue_handling"], now["overdue_notice"]) == (1, 0)   # the higher body's matter only


def test_a_late_acceptance_keeps_the_registration_late_in_the_month_handed_in(limits):
    """Accepted on 02-03, the matter received 01-01 left January's 登记转送超期 (as at
    February 1st it was late); a matter taken up again is judged by its first acceptance
    (the new one is dated anew)."""
    before = stats.figures(limits.conn, D(2026, 1, 1), D(2026, 1, 31), today=D(2026, 2, 1))["overdue_register"]
    server_day(limits, D(2026, 2, 3))
    limits.server_write("case", "register", {"status": "accepted", "accepted_on": "2026-02-03",
                                             "deadline": "2026-04-04"}, author="system")
    jan = stats.figures(limits.conn, D(2026, 1, 1), D(2026, 1, 31), today=D(2026, 3, 1))
    assert before == jan["overdue_register"] == 1
    now = stats.figures(limits.conn, D(2026, 1, 1), D(2026, 12, 31), today=D(2026, 3, 1))
    assert now["overdue_register"] == 0
    # accepted on 01-02, in time; taken up again on 02-20
    server_day(limits, D(2026, 2, 20))
    limits.server_write("case", "notice", {"status": "reopened", "accepted_on": "2026-02-20"}, author="system")
    limits.server_write("case_event", "reopen-1", {"case_id": "notice", "kind": "reopen",
                                                   "at": "2026-02-20T09:00:00+08:00", "by": "x", "text": "重办"},
                        author="system")
    assert stats.figures(limits.conn, D(2026, 1, 1), D(2026, 1, 31), today=D(2026, 3, 1))["overdue_register"] == 1


# --- (a) the screen and the report agree ----------------------------------------------------------
def _report_values(store, year: int, month: int, today: dt.date | None = None, through_download=False) -> dict:
    """The monthly report as the office downloads it, read back: label -> value."""
    if through_download:
        data = downloads.build_export(store, OFFICE, "monthly.xlsx", {"year": str(year), "month": str(month)})
    else:
        out = io.BytesIO()
        export.monthly_report_xlsx(stats.monthly_figures(store.conn, year, month, today=today), out,
                                   f"{year}年{month}月")
        data = out.getvalue()
    wb = openpyxl.load_workbook(io.BytesIO(data))
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == ("指标", f"{year}年{month}月")
    out = {}
    for name, value in rows[1:]:
        if name is None:   # the figures end at an empty row; the notes (导出时间, 补录) follow
            break
        out[name] = value.date() if isinstance(value, dt.datetime) else value
    return out


def _as_reported(figure: stats.Figure, value):
    if value is None:
        return export.NONE_SHOWN
    return D.fromisoformat(value) if figure.kind == "day" else value


def _month_of_data(store, today: dt.date, seed: int = 7) -> None:
    """A month of a township's work, up to today: matters from every channel in every
    state, walk-ins with and without their reception visit, visits with cards,
    callbacks, overdue limits of every kind."""
    rng = random.Random(seed)
    first = today.replace(day=1)
    days = [first + dt.timedelta(days=i) for i in range((today - first).days + 1)]
    channels = ["visit", "letter", "phone", "online", "grid", "screening", "discipline", "handed_down"]
    statuses = ["reported", "accepted", "assigned", "in_progress", "resolved", "called_back", "closed",
                "declined", "reopened"]
    for n in range(120):
        got = rng.choice(days) - dt.timedelta(days=rng.choice([0, 0, 0, 20, 45, 80]))
        status = rng.choice(statuses)
        extra = {"channel": rng.choice(channels), "category": rng.choice(["01", "02", "07", "08", "10"]),
                 "notice_sent_on": None if n % 5 == 0 else got.isoformat()}
        if extra["channel"] == "visit" and n % 3:
            extra["reception_leader"] = rng.choice(["lizhen", "chen"])
        if n % 11 == 0:
            extra["signals"] = ["beijing"]
        if n % 7 == 0:
            extra["litigation"] = True
        if status not in ("reported", "declined"):
            accepted = got + dt.timedelta(days=rng.randint(0, 3))
            extra.update(accepted_on=accepted.isoformat(),
                         deadline=(accepted + dt.timedelta(days=rng.choice([10, 25, 60]))).isoformat())
        if status in ("resolved", "called_back", "closed", "reopened"):
            extra["resolved_on"] = min(today, got + dt.timedelta(days=rng.randint(1, 40))).isoformat()
        if status in ("called_back", "closed") and n % 4 == 0:
            extra.update(review_requested_on=extra["resolved_on"],
                         review_due=(D.fromisoformat(extra["resolved_on"]) + dt.timedelta(days=30)).isoformat())
        if n % 3 == 0:
            extra["owner"] = rng.choice(["lizhen", "chen"])
        if n % 17 == 0 and n:
            extra["merged_into"] = f"m{n - 1}"
        channel = extra.pop("channel")
        store.server_write("case", f"m{n}", case(rng.choice(["g1", "g2", "g3"]), channel, got.isoformat(), status,
                                                 **extra), author="system")
        if channel == "visit" and n % 2:
            store.server_write("visit", f"rv{n}", visit("g1", "reception", f"{got.isoformat()}T10:00:00",
                                                        case_id=f"m{n}"), author="system")
        if status in ("called_back", "closed"):
            store.server_write("callback", f"cb{n}", callback(
                f"m{n}", f"{extra['resolved_on']}T16:00:00", rng.choice(["satisfied", "basically", "unsatisfied"])),
                author="system")
    for n in range(150):
        day = rng.choice(days) - dt.timedelta(days=rng.choice([0, 0, 0, 31]))
        store.server_write("visit", f"v{n}", visit(rng.choice(["g1", "g2", "g3"]),
                                                   rng.choice(["household", "household", "home", "reception"]),
                                                   f"{day.isoformat()}T{rng.randint(0, 23):02d}:30:00",
                                                   cards=rng.randint(0, 20)), author="system")


@pytest.fixture(scope="module")
def month_store(tmp_path_factory):
    store = CentralStore(str(tmp_path_factory.mktemp("month") / "month.db"))
    for gid, village in (("g1", "白鹤村"), ("g2", "高山村"), ("g3", "白鹤村")):
        store.add_grid(gid, "网格", village, "金山镇")
    _month_of_data(store, stats.township_today())
    yield store
    store.close()


def test_this_month_on_screen_and_in_the_downloaded_report_agree(month_store):
    """The issue: "the same month shows 66.7% on screen and 69.2% in the exported
    monthly report". The screen's 本月 and the office's 导出月报 are one count."""
    today = stats.township_today()
    key, start, end = dashboard.periods(today)[1]
    assert key == "this_month"
    screen = dashboard.period_figures(month_store.conn, start, end, {}, today)
    assert screen["registered"] > 20 and screen["due"] > 0          # a month with work in it
    report = _report_values(month_store, today.year, today.month, through_download=True)
    assert list(report) == [stats.BY_KEY[k].zh for k in stats.REPORT]
    for key in stats.REPORT:
        figure = stats.BY_KEY[key]
        assert report[figure.zh] == _as_reported(figure, screen[key]), figure.zh
    # and what the screen writes is the report's number, to the tenth of a percent
    for key in ("resolution_rate", "satisfaction_rate"):
        if screen[key] is not None:
            assert dashboard.shown(screen[key]) == f"{report[stats.BY_KEY[key].zh] * 100:.1f}%"


def test_a_past_month_on_screen_and_in_the_report_agree(month_store):
    today = stats.township_today()
    last = today.replace(day=1) - dt.timedelta(days=1)
    start, end = stats.month_period(last.year, last.month)
    screen = dashboard.period_figures(month_store.conn, start, end, {}, today)   # a custom period
    report = _report_values(month_store, last.year, last.month, today=today)
    for key in stats.REPORT:
        figure = stats.BY_KEY[key]
        assert report[figure.zh] == _as_reported(figure, screen[key]), figure.zh


def test_the_report_says_how_each_figure_is_counted(township):
    out = io.BytesIO()
    export.monthly_report_xlsx(stats.monthly_figures(township.conn, 2025, 6, today=LATER), out, "2025年6月")
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert wb.sheetnames[1] == "口径"
    rows = {name: text for name, text in wb["口径"].iter_rows(min_row=2, values_only=True)}
    assert all(rows[stats.BY_KEY[k].zh] == stats.BY_KEY[k].definition for k in stats.REPORT)
    rates = {r[0].value: r[1].number_format for r in wb.worksheets[0].iter_rows(min_row=2)}
    assert rates["化解率"] == rates["满意度"] == "0.0%" and rates["统计截至"] == "yyyy-mm-dd"


def test_every_figure_has_its_definition_in_the_office_docs():
    text = (Path(__file__).resolve().parents[1] / "docs" / "office.md").read_text(encoding="utf-8")
    section = text[text.index("## Figures"):]
    for figure in stats.FIGURES:
        assert re.search(rf"^- \*\*{re.escape(figure.zh)}\*\*", section, re.M), figure.zh


# --- the dashboard's pieces -------------------------------------------------------------------------
def test_the_presets_are_whole_periods_and_a_running_one_is_counted_to_today():
    today = D(2026, 2, 14)
    assert dashboard.periods(today) == [("this_year", D(2026, 1, 1), D(2026, 12, 31)),
                                        ("this_month", D(2026, 2, 1), D(2026, 2, 28)),
                                        ("last_30", D(2026, 1, 16), today)]
    assert stats.counting_days(D(2026, 2, 28), today) == (today, today)
    assert stats.counting_days(D(2026, 1, 31), today) == (D(2026, 1, 31), D(2026, 2, 1))


def test_grid_outlines_are_the_hull_of_their_households(tmp_path):
    store = CentralStore(str(tmp_path / "map.db"))
    store.add_grid("g1", "一组", "白鹤村", "金山镇", 29.07, 119.64)
    store.add_grid("g2", "一组", "高山村", "金山镇", 29.09, 119.68)   # no household with a position
    corners = [(29.06, 119.63), (29.06, 119.65), (29.08, 119.65), (29.08, 119.63), (29.07, 119.64)]
    for n, (lat, lon) in enumerate(corners):
        store.server_write("household", f"h{n}", {"grid_id": "g1", "head_name": "户主", "address": "村里",
                                                  "lat": lat, "lon": lon}, author="system")
    areas = {a["id"]: a for a in dashboard.grid_areas(store.conn)}
    assert sorted(areas["g1"]["outline"]) == sorted(corners[:4])      # the middle one is inside
    assert areas["g2"]["outline"] == [] and areas["g2"]["centre"] == (29.09, 119.68)
    labels = dashboard.village_labels(list(areas.values()))
    assert labels["白鹤村"] == (29.06, pytest.approx(119.64)) and labels["高山村"] == (29.09, 119.68)
    points = dashboard.view_points([{"lat": 29.1, "lon": 119.7}], list(areas.values()))
    assert (29.1, 119.7) in points and (29.06, 119.63) in points and (29.09, 119.68) in points
    store.close()


def test_the_map_lets_the_wheel_scroll_the_page():
    import flet_map as fm
    assert not fm.InteractionFlag.has_scroll_wheel_zoom(dashboard.MAP_GESTURES)
    assert fm.InteractionFlag.has_drag(dashboard.MAP_GESTURES)
    assert fm.InteractionFlag.has_double_tap_zoom(dashboard.MAP_GESTURES)


def test_a_handed_down_matter_waiting_past_the_higher_deadline_is_overdue_before_and_after_acceptance(tmp_path):
    """The higher body wanted it handled by 02-05; the township had not even accepted it.
    Overdue from 02-06 in the list and the figures, the month's figures handed in too, and
    still after a late acceptance (the missed deadline is the one that applies)."""
    store = CentralStore(str(tmp_path / "handed.db"))
    store.add_grid("g1", "一组", "白鹤村", "金山镇")
    server_day(store, D(2026, 2, 1))
    store.server_write("case", "handed", case("g1", "handed_down", "2026-02-01", "reported",
                                              register_by="2026-02-16", higher_deadline="2026-02-05",
                                              higher_ref="县信访局交〔2026〕3号"), author="system")
    for day, late in ((D(2026, 2, 5), []), (D(2026, 2, 6), ["handling"])):
        assert statute.overdue_reasons(store.get("case", "handed"), day) == late
        assert stats.figures(store.conn, D(2026, 2, 1), D(2026, 2, 28), today=day)["overdue_handling"] == len(late)
    server_day(store, D(2026, 2, 10))
    store.server_write("case", "handed", {"status": "accepted", "accepted_on": "2026-02-10",
                                          "deadline": "2026-02-05"}, author="system")
    assert statute.overdue_reasons(store.get("case", "handed"), D(2026, 2, 10)) == ["handling"]
    # days of February handed in, judged on the day after them (as it stood: still waiting)
    assert stats.figures(store.conn, D(2026, 2, 1), D(2026, 2, 4), today=D(2026, 3, 1))["overdue_handling"] == 0
    assert stats.figures(store.conn, D(2026, 2, 1), D(2026, 2, 5), today=D(2026, 3, 1))["overdue_handling"] == 1
    # a store of the version before kept no higher deadline in its past rows: upgraded, the same
    store.close()
    conn = sqlite3.connect(tmp_path / "handed.db")
    conn.execute("ALTER TABLE case_standing DROP COLUMN higher_deadline")
    conn.execute("PRAGMA user_version=11")
    conn.commit()
    conn.close()
    store = CentralStore(str(tmp_path / "handed.db"))
    assert stats.figures(store.conn, D(2026, 2, 1), D(2026, 2, 5), today=D(2026, 3, 1))["overdue_handling"] == 1
    assert stats.figures(store.conn, D(2026, 2, 1), D(2026, 2, 4), today=D(2026, 3, 1))["overdue_handling"] == 0
    store.close()


# --- (d) a matter called back again after a try that reached no one (联系不上) ----------------
# Each received in October, resolved, owned by 李振华 with 人社所; what its callbacks are.
CALLED_AGAIN = {
    # not reached, then reached the same afternoon: satisfied
    "SAME": [("cb-same-1", "2026-11-03T10:00:00", "unreachable"), ("cb-same-2", "2026-11-03T16:00:00", "satisfied")],
    # the same, both recorded in the same second; the answer's id (given elsewhere: an
    # import, the demo) sorts before the try's
    "TIE": [("cb-tie-b", "2026-11-04T10:00:00", "unreachable"), ("cb-tie-a", "2026-11-04T10:00:00", "satisfied")],
    # not reached in October (the month handed in), reached in November
    "NEXT": [("cb-next-1", "2026-10-28T10:00:00", "unreachable"), ("cb-next-2", "2026-11-03T10:00:00", "basically")],
    # not reached twice: one try counted, the matter waits for another
    "TWICE": [("cb-twice-1", "2026-11-05T10:00:00", "unreachable"),
              ("cb-twice-2", "2026-11-12T10:00:00", "unreachable")],
}
OCT, NOV, Y2026 = (D(2026, 10, 1), D(2026, 10, 31)), (D(2026, 11, 1), D(2026, 11, 30)), (D(2026, 1, 1), D(2026, 12, 31))
READ = D(2026, 11, 29)
# (回访, 其中：联系不上, 满意（含基本满意）, 满意度), 李振华's and 人社所's (回访, 满意度)
CALLED_AGAIN_COUNTED = {
    OCT: ((1, 1, 0, None), [], []),
    NOV: ((4, 1, 3, 1.0), [("lizhen", 3, 1.0)], [("人社所", 3, 1.0)]),
    Y2026: ((4, 1, 3, 1.0), [("lizhen", 3, 1.0)], [("人社所", 3, 1.0)]),
}
# the ledger's 回访 and 满意度 of each matter, the period's last day counted
CALLED_AGAIN_LEDGER = {
    OCT: {"SAME": (None, ""), "TIE": (None, ""), "NEXT": (D(2026, 10, 28), "联系不上"), "TWICE": (None, "")},
    Y2026: {"SAME": (D(2026, 11, 3), "满意"), "TIE": (D(2026, 11, 4), "满意"), "NEXT": (D(2026, 11, 3), "基本满意"),
            "TWICE": (D(2026, 11, 12), "联系不上")},
}


@pytest.fixture
def called_again(tmp_path):
    store = CentralStore(str(tmp_path / "again.db"))
    store.add_grid("g1", "一组", "白鹤村", "金山镇")
    store.add_account("lizhen", "李振华", "leader", "long-enough-1")
    store.add_account("xinfang", "镇信访办", "office", "long-enough-1")
    server_day(store, D(2026, 10, 26))
    for n, (rid, calls) in enumerate(CALLED_AGAIN.items()):
        store.server_write("case", rid, case("g1", "visit", f"2026-10-0{n + 1}", "closed", ref=rid,
                                             accepted_on=f"2026-10-0{n + 1}", deadline="2026-12-01",
                                             resolved_on="2026-10-26", outcome="supported", method="已支付",
                                             owner="lizhen", departments=["人社所"]), author="system")
    for rid, calls in CALLED_AGAIN.items():
        for cb, at, answer in calls:
            store.server_write("callback", cb, callback(rid, at, answer), author="system")
    yield store
    store.close()


def _callbacks_everywhere(store) -> dict:
    """What every place that counts or lists callbacks says: the dashboard's figures and
    tables, the monthly report downloaded, the ledger's 回访 and 满意度, each matter's
    page, the callback queue."""
    from sync import queries
    from sync.server.office import CentralWorkspace
    out = {}
    for period in CALLED_AGAIN_COUNTED:
        f = dashboard.period_figures(store.conn, *period, {}, READ)
        out[period] = ((f["callbacks"], f["callbacks_unreached"], f["satisfied"], f["satisfaction_rate"]),
                       [(r["key"], r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_owner"]],
                       [(r["key"], r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_department"]])
    for month in (10, 11):
        report = _report_values(store, 2026, month, today=READ)
        out[("report", month)] = tuple(report[stats.BY_KEY[k].zh] for k in
                                       ("callbacks", "callbacks_unreached", "satisfied", "satisfaction_rate"))
    for period in CALLED_AGAIN_LEDGER:
        out[("ledger", period)] = {r["编号"]: (r["回访"], r["满意度"])
                                   for r in export.ledger_rows(store.conn, *period, today=READ)}
    out["page"] = {rid: queries.last_callback_answer(store, rid) for rid in CALLED_AGAIN}
    office = CentralWorkspace(store, {"username": "xinfang", "name": "镇信访办", "role": "office", "grids": []})
    out["queue"] = [(c["id"], c["last_try"]) for c in office.callback_retries(on=READ)]
    return out


def test_a_matter_called_back_again_is_counted_exported_and_listed_alike_everywhere(called_again):
    """A try that reached no one and the petitioner's answer: the figures, their tables per
    leader and department, the report, the ledger, the matter's page and the queue name the
    same callback the matter's (the later), in October handed in and in November. Two
    recorded in the same second were told apart by the rows' place (figures), by the ids
    (the ledger: 联系不上 for a matter answered 满意) and by the stamps (the page)."""
    seen = _callbacks_everywhere(called_again)
    for period, counted in CALLED_AGAIN_COUNTED.items():
        assert seen[period] == counted, period
    assert seen[("report", 10)] == (1, 1, 0, export.NONE_SHOWN)
    assert seen[("report", 11)] == (4, 1, 3, 1.0)
    for period, ledger in CALLED_AGAIN_LEDGER.items():
        assert seen[("ledger", period)] == ledger, period
    assert seen["page"] == {"SAME": "satisfied", "TIE": "satisfied", "NEXT": "basically", "TWICE": "unreachable"}
    assert seen["queue"] == [("TWICE", "2026-11-12")]


def test_erasing_a_matter_called_back_twice_leaves_every_count_as_it_was(called_again):
    """The retention rule erases the personal data of a matter long closed: its callbacks
    are written anew (their comments blanked), in the order of their ids. The figures went
    by the rows' place and counted the try as the matter's latest callback: November's
    report changed after it was handed in (5 callbacks, 2 not reached)."""
    from sync.server import erasure
    before = _callbacks_everywhere(called_again)
    erasure.erase(called_again, "case", "TIE", "admin", reason="retention")
    assert _callbacks_everywhere(called_again) == before
    assert before[NOV][0] == (4, 1, 3, 1.0)


# --- entries that came in after their month had ended (补录) ------------------------------------
def _report_notes(data: bytes) -> dict:
    """The lines under the monthly report's figures (after the empty row): label -> text."""
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    blank = rows.index((None, None))
    return {name: value for name, value in rows[blank + 1:]}


def test_a_month_handed_in_says_what_was_entered_after_it_ended(tmp_path):
    """October was handed in; then a phone offline at the month's end synced a visit made
    on 31 October at 23:30, the office entered a letter received on 20 October and a
    callback of 30 October. Downloaded again, October counted more and said nothing about
    it. Now the late entries stay October's, and the report, downloaded again, says how
    many of its entries came in after October ended, and when it was made."""
    store = CentralStore(str(tmp_path / "t.db"))
    store.add_grid("g1", "一组", "白鹤村", "金山镇", 29.0712, 119.6471)
    server_day(store, D(2026, 10, 20))
    store.server_write("case", "m1", case("g1", "visit", "2026-10-20", "resolved", resolved_on="2026-10-25"),
                       author="system")
    store.server_write("visit", "v1", visit("g1", "household", "2026-10-20T10:00:00"), author="system")
    october = {"year": "2026", "month": "10"}
    handed_in = downloads.build_export(store, OFFICE, "monthly.xlsx", october)
    server_day(store, D(2026, 11, 3))
    store.server_write("visit", "v2", visit("g1", "household", "2026-10-31T23:30:00"), author="system")
    store.server_write("case", "m2", case("g1", "letter", "2026-10-20", "reported"), author="system")
    store.server_write("callback", "cb1", callback("m1", "2026-10-30T10:00:00", "satisfied"), author="system")
    again = downloads.build_export(store, OFFICE, "monthly.xlsx", october)

    figures = _report_values(store, 2026, 10, through_download=True)
    assert figures["走访"] == 2 and figures["登记事项"] == 2 and figures["回访"] == 1   # still October's work
    assert _report_notes(handed_in)["本月结束后补录"] == "无"
    second = _report_notes(again)
    assert second["本月结束后补录"] == "走访1条、登记事项1件、回访1次"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", second["导出时间"])
    rule = dict(openpyxl.load_workbook(io.BytesIO(again))["口径"].iter_rows(min_row=2, values_only=True))
    assert "本月结束后补录" in rule

    # the dashboard of October says the same, in the office's language; a running month says nothing
    f = dashboard.period_figures(store.conn, D(2026, 10, 1), D(2026, 10, 31), {}, D(2026, 11, 29))
    assert dashboard.late_line(type("Ctx", (), {"lang": "zh"}), f["late_entries"]).value == \
        "统计期间结束后补录：走访1条、登记事项1件、回访1次"
    assert dashboard.late_line(type("Ctx", (), {"lang": "en"}), f["late_entries"]).value == \
        "Entered after the period ended: household visits 1, matters registered 1, callbacks 1"
    f = dashboard.period_figures(store.conn, D(2026, 10, 1), D(2026, 10, 31), {"village": "高山村"}, D(2026, 11, 29))
    assert dashboard.late_line(type("Ctx", (), {"lang": "zh"}), f["late_entries"]).value == "统计期间结束后补录：无"
    f = dashboard.period_figures(store.conn, D(2026, 10, 1), D(2026, 10, 31), {}, D(2026, 10, 31))
    assert f["late_entries"] is None and dashboard.late_line(None, f["late_entries"]) is None
    store.close()
