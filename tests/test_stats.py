"""The figures (stats.figures: the dashboard's and the monthly report's), as the
township office would check them by hand.

One small township: 白鹤村 (grids g1, g3) and 高山村 (g2); matters, visits and callbacks
in October and November 2026, plus one matter reported in September. Every petitioner
was told on the day (notice_sent_on), so 超期 here is about the other limits;
tests/test_figures.py counts each limit on its own.
"""

from datetime import date

import pytest

from sync.server import stats
from sync.server.central import CentralStore

OCT = (date(2026, 10, 1), date(2026, 10, 31))
NOV = (date(2026, 11, 1), date(2026, 11, 30))
BOTH = (date(2026, 10, 1), date(2026, 11, 30))
TODAY = date(2026, 11, 26)

# id: (grid, category, channel, status, reported, deadline, resolved_on, owner, extra)
MATTERS = {
    # due in October (deadline 10-10), resolved late, in November
    "c0": ("g2", "05", "visit", "resolved", "2026-09-20T09:00", "2026-10-10", "2026-11-03", None, {}),
    "c1": ("g1", "02", "grid", "resolved", "2026-10-03T10:00", "2026-10-20", "2026-10-15", None, {}),
    "c2": ("g1", "08", "visit", "closed", "2026-10-05T10:00", "2026-10-25", "2026-10-24", "li", {}),
    "c3": ("g2", "10", "phone", "in_progress", "2026-10-10T10:00", "2026-10-30", None, "li",
           {"lat": 29.07, "lon": 119.64, "risk": "red"}),
    # reported in the last minutes of October: an October matter
    "c4": ("g3", "02", "grid", "called_back", "2026-10-31T23:30", "2026-11-20", "2026-11-10", "wang", {}),
    "c5": ("g2", "09", "grid", "assigned", "2026-11-02T10:00", "2026-11-28", None, None,
           {"lat": 29.08, "lon": 119.65, "risk": "yellow"}),
    "c6": ("g1", "02", "letter", "reported", "2026-11-05T10:00", "2026-12-31", None, None, {}),
    "c7": ("g2", "08", "handed_down", "resolved", "2026-11-08T10:00", "2026-11-25", "2026-11-24", "li", {}),
    # declined: registered, but never due
    "c8": ("g1", "99", "phone", "declined", "2026-11-09T10:00", "2026-11-15", None, None, {}),
    # a duplicate folded into c6: not a matter of its own
    "c9": ("g1", "02", "grid", "closed", "2026-11-11T10:00", None, None, None, {"merged_into": "c6"}),
}

# (grid, kind, visited_at)
VISITS = [
    ("g1", "reception", "2026-10-08T09:00"), ("g2", "reception", "2026-10-15T09:00"),
    ("g1", "household", "2026-10-02T15:00"), ("g1", "household", "2026-10-09T15:00"),
    ("g2", "household", "2026-10-20T15:00"), ("g2", "home", "2026-10-21T15:00"),
    ("g3", "reception", "2026-11-12T09:00"), ("g2", "household", "2026-11-03T15:00"),
    # ten minutes into November, township time: a November visit
    ("g3", "household", "2026-11-01T00:10"), ("g1", "callback", "2026-11-16T10:00"),
]

# (case, at, answer)
CALLBACKS = [
    ("c1", "2026-10-16T10:00", "satisfied"), ("c2", "2026-10-26T10:00", "basically"),
    ("c2", "2026-11-01T10:00", "satisfied"), ("c0", "2026-11-04T10:00", "basically"),
    ("c4", "2026-11-12T10:00", "unsatisfied"), ("c7", "2026-11-25T10:00", "satisfied"),
    # on the duplicate folded into c6: counted nowhere, like the duplicate itself
    ("c9", "2026-11-13T10:00", "unsatisfied"),
]


def _case_fields(grid, category, channel, status, reported, deadline, resolved, owner, extra):
    fields = {"grid_id": grid, "kind": "petition", "channel": channel, "category": category,
              "description": "群众反映的问题", "status": status, "reported_by": "xinfang",
              "reported_at": reported + ":00+08:00", "notice_sent_on": reported[:10], **extra}
    for name, value in (("deadline", deadline), ("resolved_on", resolved), ("owner", owner)):
        if value is not None:
            fields[name] = value
    return fields


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    store = CentralStore(str(tmp_path_factory.mktemp("stats") / "c.db"))
    store.add_grid("g1", "一组", "白鹤村", "金山镇")
    store.add_grid("g2", "一组", "高山村", "金山镇")
    store.add_grid("g3", "二组", "白鹤村", "金山镇")
    for cid, row in MATTERS.items():
        store.server_write("case", cid, _case_fields(*row), author="xinfang")
    for i, (grid, kind, at) in enumerate(VISITS):
        store.server_write("visit", f"v{i}", {"grid_id": grid, "kind": kind, "visitor": "xinfang",
                                              "visited_at": at + ":00+08:00", "seen": "家中情况正常"},
                           author="xinfang")
    for i, (cid, at, answer) in enumerate(CALLBACKS):
        store.server_write("callback", f"cb{i}", {"case_id": cid, "at": at + ":00+08:00",
                                                  "by": "xinfang", "method": "phone",
                                                  "answer": answer}, author="xinfang")
    yield store.conn
    store.close()


def test_october_counts_visits_and_matters_in_the_period(conn):
    d = stats.figures(conn, *OCT, today=TODAY)
    assert (d["receptions"], d["household_visits"], d["home_visits"]) == (2, 3, 1)
    assert d["registered"] == 4      # c1-c4; c4 was reported at 23:30 on the 31st
    assert d["resolved"] == 2        # c1, c2
    assert d["leader_resolved"] == 1  # c2, owned by li


def test_resolution_rate_counts_a_matter_due_but_unresolved_against_the_month(conn):
    d = stats.figures(conn, *OCT, today=TODAY)
    # due: c0 (resolved only in November), c1, c2, c3 (still open)
    assert (d["due"], d["due_resolved"]) == (4, 2)
    assert d["resolution_rate"] == 0.5


def test_november_resolution_rate_counts_the_late_resolution_and_skips_the_declined(conn):
    # on 11-26 November is counted up to that day: c5, due on 11-28, is not due yet
    d = stats.figures(conn, *NOV, today=TODAY)
    # due: c0 (resolved on 11-03), c4, c7; c8 was declined, never due
    assert (d["due"], d["due_resolved"], d["counted_to"]) == (3, 3, "2026-11-26")
    assert d["resolution_rate"] == 1.0
    assert d["resolved"] == 3 and d["leader_resolved"] == 2   # c4 (wang), c7 (li)
    # once the month is over, c5 (still open) counts against it
    done = stats.figures(conn, *NOV, today=date(2026, 12, 3))
    assert (done["due"], done["due_resolved"], done["resolution_rate"]) == (4, 3, 0.75)
    assert done["counted_to"] == "2026-11-30"


def test_a_running_period_reads_the_same_whatever_its_end(conn):
    """"This month" on screen (the 1st to today) and the running month's report (the
    1st to the 30th) are one count: a running period is counted up to today."""
    whole = stats.figures(conn, *NOV, today=TODAY)
    to_today = stats.figures(conn, NOV[0], TODAY, today=TODAY)
    assert {k: v for k, v in whole.items() if k != "end"} == {k: v for k, v in to_today.items() if k != "end"}


def test_declined_matter_is_registered_but_a_merged_duplicate_is_not(conn):
    d = stats.figures(conn, *NOV, today=TODAY)
    assert d["registered"] == 4      # c5, c6, c7, c8; not c9, folded into c6


def test_visit_ten_minutes_into_a_month_belongs_to_that_month(conn):
    d = stats.figures(conn, *NOV, today=TODAY)
    assert (d["receptions"], d["household_visits"], d["home_visits"]) == (1, 2, 0)


def test_satisfaction_counts_basically_satisfied_as_satisfied(conn):
    oct_, nov = stats.figures(conn, *OCT, today=TODAY), stats.figures(conn, *NOV, today=TODAY)
    assert (oct_["callbacks"], oct_["satisfaction_rate"]) == (2, 1.0)
    assert (nov["callbacks"], nov["satisfied"], nov["satisfaction_rate"]) == (4, 3, 0.75)


def test_period_with_nothing_due_and_no_callbacks_has_no_rates_rather_than_zero(conn):
    d = stats.figures(conn, date(2026, 6, 1), date(2026, 6, 30), today=TODAY)
    assert d["resolution_rate"] is None and d["satisfaction_rate"] is None
    assert d["due"] == 0 and d["registered"] == 0 and d["receptions"] == 0


def test_overdue_and_due_soon_are_counted_from_the_given_today(conn):
    d = stats.figures(conn, *NOV, today=TODAY)
    # c3 past its deadline; c6 still waiting to be accepted 21 days after it came in
    assert (d["overdue"], d["overdue_handling"], d["overdue_register"]) == (2, 1, 1)
    assert (d["due_soon"], d["open"]) == (1, 3)                   # c5 due on 11-28
    later = stats.figures(conn, *NOV, today=date(2026, 12, 1))
    assert (later["overdue"], later["overdue_handling"], later["due_soon"]) == (3, 2, 0)


def test_village_filter_narrows_matters_visits_and_callbacks(conn):
    d = stats.figures(conn, *NOV, village="白鹤村", today=TODAY)
    assert d["registered"] == 2 and d["resolved"] == 1           # c6, c8; c4 (grid g3)
    assert (d["due"], d["resolution_rate"]) == (1, 1.0)
    assert (d["receptions"], d["household_visits"]) == (1, 1)    # both in g3
    assert (d["callbacks"], d["satisfaction_rate"]) == (2, 0.5)  # c2 satisfied, c4 not
    assert d["overdue"] == 1 and d["open_points"] == []           # c6, not yet accepted


def test_category_and_channel_filters(conn):
    land = stats.figures(conn, *BOTH, category="08", today=TODAY)
    assert (land["registered"], land["resolved"], land["leader_resolved"]) == (2, 2, 2)
    assert [r["label"] for r in land["by_category"]] == ["征地拆迁"]
    grid = stats.figures(conn, *BOTH, channel="grid", today=TODAY)
    assert grid["registered"] == 3                                # c1, c4, c5
    assert grid["by_channel"] == [{"key": "grid", "label": "网格员上报", "registered": 3,
                                   "resolved": 2}]


def test_breakdowns_by_village_and_category_carry_chinese_labels(conn):
    d = stats.figures(conn, *BOTH, today=TODAY)
    villages = {r["label"]: (r["registered"], r["resolved"]) for r in d["by_village"]}
    assert villages == {"白鹤村": (5, 3), "高山村": (3, 2)}
    categories = {r["label"]: (r["registered"], r["resolved"]) for r in d["by_category"]}
    # 生产经营: c0, reported in September, resolved in November
    assert categories == {"邻里": (3, 2), "生产经营": (0, 1), "征地拆迁": (2, 2),
                          "环境污染": (1, 0), "劳动争议": (1, 0), "其他": (1, 0)}
    assert d["by_category"][0]["key"] == "02"                      # code-table order


def test_map_shows_open_matters_with_a_position_riskiest_first(conn):
    d = stats.figures(conn, *NOV, today=TODAY)
    assert [(p["id"], p["risk"]) for p in d["open_points"]] == [("c3", "red"), ("c5", "yellow")]
    assert d["open_points"][0]["lat"] == 29.07


def test_monthly_figures_use_the_report_labels(conn):
    nov = stats.monthly_figures(conn, 2026, 11, today=TODAY)
    assert list(nov) == [stats.BY_KEY[k].zh for k in stats.REPORT]
    assert {k: nov[k] for k in ("接访", "走访", "登记事项", "办结", "化解率", "满意度", "超期",
                                "包案领导化解", "上级交办化解", "统计截至")} == {
        "接访": 1, "走访": 2, "登记事项": 4, "办结": 3, "化解率": 1.0, "满意度": 0.75, "超期": 2,
        "包案领导化解": 2, "上级交办化解": 1, "统计截至": TODAY}


def test_monthly_overdue_of_a_past_month_is_counted_as_at_its_end(conn):
    # at the end of October c3 and c0 had passed their deadlines (c0 was resolved only
    # on 11-03); c5's came later, and c6 had not come in yet
    assert stats.monthly_figures(conn, 2026, 10, today=date(2026, 12, 15))["超期"] == 2
    assert stats.monthly_figures(conn, 2026, 10, today=date(2026, 11, 2))["超期"] == 2
    # December, as at the 15th: c3 and c5 past their deadlines, c6 never accepted
    assert stats.monthly_figures(conn, 2026, 12, today=date(2026, 12, 15))["超期"] == 3


def test_rates_are_none_without_a_denominator():
    assert stats._resolution_rate(0, 0) is None
    assert stats._satisfaction_rate(0, 0, 0) is None
    assert stats._resolution_rate(37, 40) == 0.925
    assert stats._satisfaction_rate(1, 1, 3) == 0.6667


def test_satisfaction_is_reported_per_owning_leader_and_per_department(tmp_path):
    import datetime as dt

    from sync.server.central import CentralStore
    st = CentralStore(str(tmp_path / "s.db"))
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    for n, (owner, depts, answer) in enumerate([("lizhen", ["司法所", "人社所"], "satisfied"),
                                                ("lizhen", ["司法所"], "unsatisfied"),
                                                ("chen", ["人社所"], "basically")]):
        st.server_write("case", f"c{n}", {"grid_id": "g1", "kind": "dispute", "channel": "phone", "category": "02",
                                          "description": "x", "status": "called_back", "reported_by": "x",
                                          "reported_at": "2026-05-01T09:00:00+08:00", "owner": owner,
                                          "departments": depts})
        st.server_write("callback", f"cb{n}", {"case_id": f"c{n}", "at": "2026-05-20T10:00:00+08:00", "by": "x",
                                               "method": "phone", "answer": answer})
    from sync.server import stats
    f = stats.figures(st.conn, dt.date(2026, 5, 1), dt.date(2026, 5, 31))
    by_owner = {r["key"]: (r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_owner"]}
    assert by_owner == {"lizhen": (2, 0.5), "chen": (1, 1.0)}
    by_dept = {r["key"]: (r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_department"]}
    assert by_dept == {"司法所": (2, 0.5), "人社所": (2, 1.0)}
