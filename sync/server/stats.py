"""The figures the township reports, for any period: one definition each, shared by the
dashboard (fieldapp/office/dashboard.py) and the monthly report (export.py).

`figures(conn, start, end, ...)` is the only place a figure is counted; the dashboard
shows what it returns and `monthly_figures` labels the same dict for the report, so a
month reads the same on screen and on paper. `FIGURES` names each figure (Chinese and
English) and says in one line how it is counted; docs/office.md ("Figures") says the
same in English.

Plain SQL over a SQLite connection (the central store's, in practice). The matters are
read once, grouped by (grid, category, channel) from a covering index, and the groups
are summed here into totals and breakdowns; no figure walks the matters one by one.

The period and its days:
- a period is a pair of calendar days, both included. A period still running is
  counted up to today: its last counted day (`counted_to`) is min(end, today), so
  "this month" on screen and the running month's report are the same count;
- a stamp (visits, callbacks, reported_at) belongs to the day it was written with
  (+08:00, the township's time); a matter belongs to the day it was received
  (received_on, else the day it was reported);
- limits (超期) are judged as at the start of day `as_of` = min(end + 1, today): for a
  past period, at the end of its last day; for a running one, today, as the office's
  overdue list does (statute.overdue_reasons).
A duplicate folded into another matter (`merged_into`) is not a matter of its own and
is counted nowhere; a declined matter (不予受理) is registered but never due. A matter
changed after the last day counted (reopened, resolved again, told again, given an
owner, merged, declined late) is read as it stood at that day's end (standing.py), so the
matters a month handed in counted read the same when it is downloaded again. Entries that
arrive after the period (a phone offline at the month's end, a letter entered late) are
counted in the period they belong to; `late_entries` says how many there are (late_entries.py).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import NamedTuple

import orjson

from .. import codes
from . import callback_order, judged, late_entries, standing
from ..queries import OPEN_STATUSES
from ..rules import NOT_REACHED, SATISFIED_ANSWERS, superseded

SOON_DAYS = 7
MAX_POINTS = 5_000
TOWNSHIP_TZ = dt.timezone(dt.timedelta(hours=8))
_RISK_ORDER = ("red", "orange", "yellow", "blue")
FINISHED = ("resolved", "called_back", "closed")   # a resolution that stands


class Figure(NamedTuple):
    key: str           # in the dict `figures` returns
    zh: str            # the label of the township's report and the screen
    en: str
    kind: str          # "count", "rate" (a fraction, None when nothing to count) or "day"
    definition: str    # how it is counted, in one line (the report's 口径 sheet)


FIGURES: tuple[Figure, ...] = (
    Figure("receptions", "接访", "Receptions", "count",
           "接访记录与来访登记之和（见下两行）"),
    Figure("reception_visits", "其中：接访记录", "Reception records", "count",
           "期间内的接访记录（走访记录类型“接访”）"),
    Figure("walk_in_receptions", "其中：来访登记", "Walk-in registrations", "count",
           "期间内登记、来源为来访且填了接访领导的事项；已有接访记录指向它的（记录的事项字段）不再计"),
    Figure("household_visits", "走访", "Household visits", "count", "期间内的走访记录（类型“走访”）"),
    Figure("home_visits", "下访", "Leaders' home visits", "count", "期间内的领导下访记录（类型“下访”）"),
    Figure("cards", "明白卡", "Explanation cards handed out", "count", "期间内各类走访记录所发明白卡张数之和"),
    Figure("registered", "登记事项", "Registered", "count", "期间内登记（收到）的事项，含不予受理的；并入其他事项的重复件不计"),
    Figure("resolved", "办结", "Resolved", "count", "办结日期在期间内、且办结仍然有效（已办结、已回访、已结案）的事项"),
    Figure("due", "应办结事项", "Due", "count", "受理的事项中，办理期限在期间内或在期间内办结的"),
    Figure("due_resolved", "其中已化解", "Of which resolved", "count", "应办结事项中，截至统计日已办结且办结有效的"),
    Figure("resolution_rate", "化解率", "Resolution rate", "rate", "其中已化解 ÷ 应办结事项；无应办结事项时为“—”"),
    Figure("callbacks", "回访", "Callbacks", "count",
           "期间内的回访，含联系不上的；联系不上后截至期末再次回访的，只计再次回访"),
    Figure("callbacks_unreached", "其中：联系不上", "Of which not reached", "count",
           "期间内回访结果为联系不上、截至期末未再次回访的（不计入满意度）"),
    Figure("satisfied", "满意（含基本满意）", "Satisfied", "count", "期间内回访结果为满意或基本满意的"),
    Figure("satisfaction_rate", "满意度", "Satisfaction rate", "rate",
           "满意（含基本满意）÷（回访 - 联系不上）；无回访或均联系不上时为“—”"),
    Figure("overdue", "超期", "Overdue", "count",
           "统计日（期间已过：期末次日；期间未完：今日）已超过任一法定期限而未完成的事项（登记转送、告知、办理期限、复查复核答复）"),
    Figure("overdue_register", "其中：登记转送超期", "Overdue: register", "count",
           "仍待受理，登记转送期限（收到后15日）已过"),
    Figure("overdue_notice", "其中：告知超期", "Overdue: notice", "count",
           "收到后15日内未告知信访人，截至统计日仍未告知"),
    Figure("overdue_handling", "其中：办理超期", "Overdue: handling", "count",
           "办理期限已过，截至统计日尚未办结"),
    Figure("overdue_answer", "其中：复查复核答复超期", "Overdue: review answer", "count",
           "复查或复核申请30日内未答复，截至统计日仍未答复"),
    Figure("leader_resolved", "包案领导化解", "Resolved by owning leaders", "count", "办结事项中有包案领导的"),
    Figure("handed_down_resolved", "上级交办化解", "Handed down and resolved", "count", "办结事项中来源为上级交办的"),
    Figure("litigation_resolved", "涉法涉诉化解", "Litigation-prone resolved", "count", "办结事项中标为涉法涉诉的"),
    Figure("beijing", "进京非访登记", "Irregular petitions in Beijing", "count",
           "期间内登记、带“进京非访”信号的事项"),
    Figure("open", "未办结", "Open", "count", "统计截至日仍在办理中的事项（已上报、已受理、已分派、办理中、已重办）"),
    Figure("due_soon", "7日内到期", "Due within 7 days", "count", "统计截至日仍在办理、办理期限在统计日起7日内的事项"),
    Figure("counted_to", "统计截至", "Counted to", "day", "期间的最后一天，期间未完时为今日"),
)
BY_KEY = {f.key: f for f in FIGURES}
BY_LABEL = {f.zh: f for f in FIGURES}
# The rows of the monthly report, in order: every figure of the township's report.
REPORT = ("receptions", "reception_visits", "walk_in_receptions", "household_visits", "home_visits",
          "cards", "registered", "resolved", "due", "due_resolved", "resolution_rate", "callbacks",
          "callbacks_unreached", "satisfied", "satisfaction_rate", "overdue", "overdue_register", "overdue_notice",
          "overdue_handling", "overdue_answer", "leader_resolved", "handed_down_resolved",
          "litigation_resolved", "beijing", "counted_to")

# What the figures read, as covering indexes: each query below is answered from an
# index alone, never from the wide case rows (about 1.5 KB each with their versions).
# The cases index leads with the grouping columns so the GROUP BY follows its order.
_STATS_INDEXES = (
    "DROP INDEX IF EXISTS cases_stats",
    "DROP INDEX IF EXISTS cases_stats_v2",
    "DROP INDEX IF EXISTS cases_stats_v3",
    "DROP INDEX IF EXISTS visits_stats",
    "DROP INDEX IF EXISTS visits_reception",
    "DROP INDEX IF EXISTS idx_cases_grid_id",  # made by older central stores (CentralStore.indexes)
    "CREATE INDEX IF NOT EXISTS cases_stats_v4 ON cases(grid_id, category, channel, status,"
    " deadline, resolved_on, received_on, reported_at, owner, merged_into, reception_leader,"
    " litigation, signals, register_by, notice_sent_on, review_requested_on, review_due,"
    " review_answered_on, recheck_requested_on, recheck_due, recheck_answered_on, id)",
    "CREATE INDEX IF NOT EXISTS visits_stats_v2 ON visits(kind, visited_at, grid_id, cards)",
    "CREATE INDEX IF NOT EXISTS callbacks_stats ON callbacks(at, answer, case_id)",
)
_indexed: set[tuple[int, str]] = set()


def ensure_indexes(conn: sqlite3.Connection) -> None:
    """Create the indexes the figures need, once per connection.

    The first call on a large store builds them (about a second per 100,000 matters);
    later calls cost nothing. Keyed by the connection and its file, so a new
    connection that reuses a closed one's id on another file is not skipped."""
    key = (id(conn), _db_file(conn))
    if key in _indexed:
        return
    for sql in _STATS_INDEXES:
        conn.execute(sql)
    _indexed.add(key)


def _db_file(conn: sqlite3.Connection) -> str:
    return next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main"), "")


# --- the rules, as plain functions ---------------------------------------------------
def _ratio(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 4)


def _resolution_rate(resolved_due: int, due: int) -> float | None:
    """化解率: matters due in the period that are resolved, over matters due."""
    return _ratio(resolved_due, due)


def _satisfaction_rate(satisfied: int, basically: int, total: int) -> float | None:
    """满意度: 满意 and 基本满意 callbacks over the callbacks answered (`total`)."""
    return _ratio(satisfied + basically, total)


def township_today() -> dt.date:
    """Today on the township's calendar, whatever the server's time zone."""
    return dt.datetime.now(TOWNSHIP_TZ).date()


def counting_days(end: dt.date, today: dt.date) -> tuple[dt.date, dt.date]:
    """(the last day counted, the day limits are judged at) of a period ending `end`:
    (end, end + 1) for a past period, (today, today) for one still running."""
    return min(end, today), min(end + dt.timedelta(days=1), today)


def month_period(year: int, month: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, month, 1)
    return start, (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


# --- the figures -----------------------------------------------------------------------
def figures(conn: sqlite3.Connection, start: dt.date, end: dt.date,
            village: str | None = None, category: str | None = None,
            channel: str | None = None, today: dt.date | None = None) -> dict:
    """Every figure for the period (see FIGURES), the breakdowns, the satisfaction per
    leader and department and the open matters for the map, as JSON-able values.

    The filters narrow every figure about matters (and callbacks, through their
    matter); visits are narrowed by village only, through the visit's grid (a visit
    has no category or channel)."""
    ensure_indexes(conn)
    today = today or township_today()
    counted_to, as_of = counting_days(end, today)
    # a form's empty choice ("") means no filter, as None does
    village, category, channel = village or None, category or None, channel or None
    args = {
        "s": start.isoformat(), "c": counted_to.isoformat(),
        "c1": (counted_to + dt.timedelta(days=1)).isoformat(),   # stamps: day < c1
        "a": as_of.isoformat(),
        "soon": (as_of + dt.timedelta(days=SOON_DAYS)).isoformat(),
        "village": village, "category": category, "channel": channel,
    }
    out = {"start": start.isoformat(), "end": end.isoformat(), "today": today.isoformat(),
           "counted_to": counted_to.isoformat(), "as_of": as_of.isoformat(),
           "filters": {"village": village, "category": category, "channel": channel}}
    own = not conn.in_transaction   # one read transaction: every figure of the same state
    if own:
        conn.execute("BEGIN")
    try:
        # matters changed after the last day counted are read as they stood then (standing.py)
        since = standing.any_after(conn, args["c"])
        visits = _visit_counts(conn, args)
        out.update(visits)
        out.update(_matter_figures(conn, args, since))
        out["receptions"] = visits["reception_visits"] + out["walk_in_receptions"]
        out.update(_callback_figures(conn, args, since))
        out["resolution_rate"] = _resolution_rate(out["due_resolved"], out["due"])
        out["open_points"] = _open_points(conn, args, since)
        # a period that has ended: how many of its entries came in after it ended (补录)
        out["late_entries"] = _late_entries(conn, args, end) if end < today else None
    finally:
        if own:
            conn.execute("COMMIT")
    return out


dashboard = figures  # the name the dashboard's first version (and bench/) call


def labelled(f: dict, keys: tuple[str, ...] = REPORT, lang: str = "zh") -> dict:
    """The figures under their labels, in the given order (a date as a date)."""
    out = {}
    for key in keys:
        fig = BY_KEY[key]
        value = f[key]
        if fig.kind == "day" and value is not None:
            value = dt.date.fromisoformat(value)
        out[fig.zh if lang == "zh" else fig.en] = value
    return out


def _case_filter(args: dict, prefix: str = "") -> str:
    """The WHERE terms of the filters that are set, over the cases table."""
    terms = []
    if args["village"] is not None:
        terms.append(f"{prefix}grid_id IN (SELECT id FROM grids WHERE village = :village)")
    if args["category"] is not None:
        terms.append(f"{prefix}category = :category")
    if args["channel"] is not None:
        terms.append(f"{prefix}channel = :channel")
    return "".join(f" AND {t}" for t in terms)


# each kind of visit, the figure counting it
VISIT_FIGURES = {"reception": "reception_visits", "household": "household_visits", "home": "home_visits"}


def _visits_in(args, alias: str = "visits") -> str:
    """SQL: the period's visits (and the village's, when one is chosen)."""
    where = f"{alias}.visited_at >= :s AND {alias}.visited_at < :c1"
    if args["village"] is not None:
        where += f" AND {alias}.grid_id IN (SELECT id FROM grids WHERE village = :village)"
    return where


def _visit_counts(conn, args) -> dict:
    counts, cards = dict.fromkeys(VISIT_FIGURES.values(), 0), 0
    for kind, n, handed in conn.execute(
            f"SELECT kind, count(*), total(cards) FROM visits WHERE {_visits_in(args)} GROUP BY kind", args):
        if kind in VISIT_FIGURES:
            counts[VISIT_FIGURES[kind]] = n
        cards += int(handed)
    return {**counts, "cards": cards}


# One pass over the matters, grouped by the keys of the breakdowns. Each figure counts
# the matters meeting its condition; a NULL date makes a condition NULL: not met.
_RECEIVED = "coalesce(received_on, substr(reported_at, 1, 10))"
_IN = "BETWEEN :s AND :c"
_FIN = "status IN ({})".format(", ".join(f"'{s}'" for s in FINISHED))
_OPEN = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATUSES))
_HANDLING = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATUSES if s != "reported"))
_RESOLVED = f"(resolved_on {_IN} AND {_FIN})"
_DUE = f"(status <> 'declined' AND (deadline {_IN} OR {_RESOLVED}))"


def _not_by(col: str) -> str:
    """The step was not done by the last day counted (not done, or done later)."""
    return f"({col} IS NULL OR {col} > :c)"


# The statutory limits (statute.overdue_reasons), each passed when its last day is
# before :a and its step was not done by :c. For a running period (:a = :c = today)
# this is statute.overdue_reasons on the record as it stands; for a past one, steps
# done after the period (a late notice, resolution or answer) still count as undone.
_OVERDUE = {
    # art. 22: still waiting to be accepted or declined; for a past period, also one
    # accepted only after it (a late acceptance took it out of a month handed in). A
    # matter changed since is read as it stood then (standing.py): a reopened one by its
    # first acceptance.
    "overdue_register": ("((status = 'reported' OR accepted_on > :c)"
                         f" AND coalesce(register_by, date({_RECEIVED}, '+15 days')) < :a)"),
    # art. 23: the petitioner told within 15 days of receipt
    "overdue_notice": f"({_not_by('notice_sent_on')} AND date({_RECEIVED}, '+15 days') < :a)",
    # arts. 31, 34, or the higher body's deadline: being handled, or resolved only later
    # (handed down and not yet accepted: the higher body's)
    "overdue_handling": (f"((deadline < :a AND ({_HANDLING} OR ({_FIN} AND resolved_on > :c)))"
                         " OR ((status = 'reported' OR accepted_on > :c) AND higher_deadline < :a))"),
    # arts. 35, 36: a 复查 or 复核 answered within 30 days of the request
    "overdue_answer": ("((review_requested_on IS NOT NULL AND review_due < :a"
                       f" AND {_not_by('review_answered_on')} AND {_not_by('recheck_requested_on')}"
                       f" AND {_not_by('recheck_answered_on')})"
                       " OR (recheck_requested_on IS NOT NULL AND recheck_due < :a"
                       f" AND {_not_by('recheck_answered_on')}))"),
}
_WALK_IN = (f"(channel = 'visit' AND reception_leader IS NOT NULL AND {_RECEIVED} {_IN}"
            " AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.case_id = cases.id AND v.kind = 'reception'"
            " AND v.visited_at < :c1))")
_SUMS = {
    "registered": f"{_RECEIVED} {_IN}",
    "resolved": _RESOLVED,
    "due": _DUE,
    "due_resolved": f"{_DUE} AND {_FIN} AND resolved_on <= :c",
    **_OVERDUE,
    "overdue": " OR ".join(_OVERDUE.values()),
    "due_soon": f"deadline BETWEEN :a AND :soon AND {_OPEN} AND {_RECEIVED} <= :c",
    "open": f"{_OPEN} AND {_RECEIVED} <= :c",   # a matter that came in later was not open then
    "leader_resolved": f"owner IS NOT NULL AND {_RESOLVED}",
    "handed_down_resolved": f"channel = 'handed_down' AND {_RESOLVED}",
    "litigation_resolved": f"litigation = 1 AND {_RESOLVED}",
    "beijing": f"signals IS NOT NULL AND instr(signals, '\"beijing\"') > 0 AND {_RECEIVED} {_IN}",
    "walk_in_receptions": _WALK_IN,
}
# count(CASE WHEN ...): a condition in a WHEN is evaluated lazily (the first false term
# of an AND ends it), several times quicker than summing the 0/1 values of the terms.
_MATTERS_SQL = ("SELECT grid_id, category, channel, "
                + ", ".join(f"count(CASE WHEN {cond} THEN 1 END)" for cond in _SUMS.values())
                + " FROM {source} AS cases WHERE merged_into IS NULL{filters} GROUP BY grid_id, category, channel")
# Every column of a matter the conditions above read: those a later change may have
# moved come from how the matter stood at the last day counted (standing.as_at).
_READ = ("id", *standing.FIELDS)


def _matter_rows(conn, args, since: bool):
    """The grouped sums over the matters as they stood at the last day counted: those
    changed `since`, as they were then (standing.py); the others as they stand."""
    filters = _case_filter(args)
    if not since:
        return conn.execute(_MATTERS_SQL.format(source="cases", filters=filters), args).fetchall()
    now = conn.execute(_MATTERS_SQL.format(
        source="cases", filters=f"{filters} AND id NOT IN {standing.changed_after('c')}"), args).fetchall()
    return now + conn.execute(_MATTERS_SQL.format(source=standing.as_at(_READ, "c"), filters=filters),
                              args).fetchall()


def _matter_figures(conn, args, since: bool) -> dict:
    totals = dict.fromkeys(_SUMS, 0)
    per = {"village": {}, "category": {}, "channel": {}}
    villages = dict(conn.execute("SELECT id, village FROM grids"))
    for grid_id, category, channel, *sums in _matter_rows(conn, args, since):
        sums = [n or 0 for n in sums]
        for name, n in zip(_SUMS, sums):
            totals[name] += n
        for axis, key in (("village", villages.get(grid_id)), ("category", category),
                          ("channel", channel)):
            reg, res = per[axis].get(key, (0, 0))
            per[axis][key] = (reg + sums[0], res + sums[1])
    totals["by_village"] = _breakdown(per["village"], None)
    totals["by_category"] = _breakdown(per["category"], codes.CATEGORIES)
    totals["by_channel"] = _breakdown(per["channel"], codes.CHANNELS)
    return totals


def _breakdown(counts: dict, table: codes.Table | None) -> list[dict]:
    """Keys with something registered or resolved, in code-table order (villages by
    name), each with its Chinese label."""
    if table is not None:
        order = {code: i for i, code in enumerate(table)}
        keys = sorted(counts, key=lambda k: (order.get(k, len(order)), k or ""))
    else:
        keys = sorted(counts, key=lambda k: (k is None, k or ""))
    rows = []
    for key in keys:
        reg, res = counts[key]
        if reg or res:
            label = codes.label(table, key) if table is not None else (key or "未知村")
            rows.append({"key": key, "label": label, "registered": reg, "resolved": res})
    return rows


def _callback_figures(conn, args, since: bool = False) -> dict:
    """The callbacks of the period, their satisfaction, and the same per owning leader and
    per cooperating department: the figure tied to officials' performance and
    departments' funds (domain.md, 评). Each callback counts for the leader and
    departments the matter had when it was made (judged.py).

    One pass over the period's callbacks, summed here: three grouped queries (the
    answers, per leader, per department) each joined every callback to its matter."""
    # A callback on a duplicate folded into another matter is not counted: the duplicate
    # is counted nowhere, and its parties are the matter's (asked once, counted once).
    filters = _case_filter(args, prefix="c.")
    matters = "cases"
    if since and filters:
        # a village's or category's callbacks are those of its matters as they stood at the
        # last day counted, as its matters are counted (a matter moved to another grid
        # next month took its January callbacks with it)
        matters = standing.as_it_stood(("id", "grid_id", "category", "channel", "merged_into", "owner",
                                        "departments"), "c")
    if judged.any_kept(conn):
        owner, departments, join = judged.column("owner"), judged.column("departments"), judged.JOIN
    else:
        owner, departments, join = "c.owner", "c.departments", ""
    answers: dict[str, int] = {}
    by_owner: dict[str, list[int]] = {}
    by_department: dict[str, list[int]] = {}
    # whether a try that reached no one was followed by another callback of the matter by
    # the last day counted (rules.superseded): asked of those tries alone
    later = f"CASE WHEN cb.answer = :not_reached THEN {callback_order.called_back_after('cb', ':c1')} ELSE 0 END"
    for answer, again, who, depts in conn.execute(
            f"SELECT cb.answer, {later}, {owner}, {departments} FROM callbacks cb JOIN {matters} c ON c.id = cb.case_id"
            f" {join} WHERE cb.at >= :s AND cb.at < :c1 AND c.merged_into IS NULL{filters}",
            {**args, "not_reached": NOT_REACHED}):
        if superseded(answer, bool(again)):   # the matter counts once, by its answer
            continue
        answers[answer] = answers.get(answer, 0) + 1
        if answer == NOT_REACHED:   # no one answered: no one's satisfaction
            continue
        good = answer in SATISFIED_ANSWERS
        for key, table in ((who, by_owner), *((d, by_department) for d in _listed(depts))):
            if key is not None:
                tally = table.setdefault(key, [0, 0])
                tally[0] += good
                tally[1] += 1
    total = sum(answers.values())
    unreached = answers.get(NOT_REACHED, 0)
    sat, basic = answers.get("satisfied", 0), answers.get("basically", 0)
    names = dict(conn.execute("SELECT username, name FROM staff"))

    def rows(table: dict) -> list[dict]:
        return [{"key": k, "label": names.get(k, k), "callbacks": n, "satisfaction_rate": _ratio(good, n)}
                for k, (good, n) in sorted(table.items(), key=lambda kv: str(kv[0]))]
    return {"callbacks": total, "callbacks_unreached": unreached, "satisfied": sat + basic,
            "satisfaction_rate": _satisfaction_rate(sat, basic, total - unreached),
            "satisfaction_by_owner": rows(by_owner), "satisfaction_by_department": rows(by_department)}


def _late_entries(conn, args, end: dt.date) -> dict:
    """The period's visits, registered matters and callbacks (as the figures take them,
    filters included) first received after the period was over (late_entries.py): one
    index step per entry of the period, none for a period still running."""
    late = {**args, "closed": late_entries.closed_ms(end)}
    out = dict.fromkeys((*VISIT_FIGURES.values(), "registered", "callbacks"), 0)
    for kind, n in conn.execute(
            f"SELECT v.kind, count(*) FROM visits v WHERE {_visits_in(args, 'v')}"
            f" AND {late_entries.first_received('v', 'visit')} >= :closed GROUP BY v.kind", late):
        if kind in VISIT_FIGURES:
            out[VISIT_FIGURES[kind]] = n
    out["registered"] = conn.execute(
        f"SELECT count(*) FROM cases WHERE merged_into IS NULL AND {_RECEIVED} {_IN}{_case_filter(args)}"
        f" AND {late_entries.first_received('cases', 'case')} >= :closed", late).fetchone()[0]
    out["callbacks"] = conn.execute(
        "SELECT count(*) FROM callbacks cb JOIN cases c ON c.id = cb.case_id WHERE cb.at >= :s AND cb.at < :c1"
        f" AND c.merged_into IS NULL{_case_filter(args, prefix='c.')}"
        f" AND {late_entries.first_received('cb', 'callback')} >= :closed", late).fetchone()[0]
    return out


def _listed(text: str | None) -> list:
    """A matter's departments as stored (a JSON list); anything else counts as none."""
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    return value if isinstance(value, list) else [value]


def _open_points(conn, args, since: bool) -> list[dict]:
    """Matters open at the last day counted (the 未办结 of the figures) with a position,
    the riskiest first: when there are more than the map can take, the ones leadership
    must see are the ones kept."""
    rank = " ".join(f"WHEN '{r}' THEN {i}" for i, r in enumerate(_RISK_ORDER))
    source = "cases"
    if since:
        source = standing.as_it_stood((*_READ, "lat", "lon", "risk"), "c")
    rows = conn.execute(
        f"SELECT id, lat, lon, risk FROM {source} AS cases WHERE {_OPEN} AND {_RECEIVED} <= :c AND merged_into IS NULL"
        f" AND lat IS NOT NULL AND lon IS NOT NULL{_case_filter(args)}"
        f" ORDER BY CASE risk {rank} ELSE {len(_RISK_ORDER)} END, id LIMIT {MAX_POINTS}", args)
    return [{"id": i, "lat": lat, "lon": lon, "risk": risk} for i, lat, lon, risk in rows]


# --- the monthly report ----------------------------------------------------------------
def monthly_figures(conn: sqlite3.Connection, year: int, month: int,
                    today: dt.date | None = None) -> dict:
    """The month's figures under the labels of the township's report (REPORT, in
    order): `figures` for the whole month, as the dashboard's "this month" shows them.
    Rates are fractions (0.925), None when nothing was due or nobody was called back;
    统计截至 is the last day counted (today, for the month still running)."""
    return labelled(figures(conn, *month_period(year, month), today=today))
