"""The figures the township reports and the dashboard shows, over a replica's tables.

Plain functions over a SQLite connection (the central store's, in practice). Each
figure is counted by SQLite in a handful of aggregate queries: the matters are read
once, grouped by (grid, category, channel), and the few thousand groups are summed
here into totals and breakdowns; no figure walks the matters one by one in Python.

Definitions (domain.md, "Figures the township reports"):
- a period is a pair of calendar days, both included; a stamp's day is the day it
  was written with (phones and the office write +08:00, the township's time);
- registered: matters reported in the period; resolved: `resolved_on` in the period;
- due: matters whose deadline falls in the period, or that were resolved in it;
  resolved-among-due: those of them resolved by the end of the period (a matter
  resolved before its deadline counts for the month of the deadline too);
- 化解率 = resolved-among-due / due; 满意度 = (满意 + 基本满意) / all callbacks;
  either is None when its denominator is empty (nothing due is not 0 %);
- overdue / due soon: open matters, deadline before today / within 7 days of it.
A duplicate folded into another case (`merged_into`) is not a matter of its own and
is left out; a declined matter (不予受理) is never due.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from .. import codes
from ..queries import OPEN_STATUSES

SOON_DAYS = 7
MAX_POINTS = 5_000
TOWNSHIP_TZ = dt.timezone(dt.timedelta(hours=8))
_RISK_ORDER = ("red", "orange", "yellow", "blue")

# What the dashboard reads, as covering indexes: each query below is answered from an
# index alone, never from the wide case rows (about 1.5 KB each with their versions).
# The cases index leads with the grouping columns so the GROUP BY follows its order.
_STATS_INDEXES = (
    "DROP INDEX IF EXISTS cases_stats",
    "DROP INDEX IF EXISTS cases_stats_v2",
    "DROP INDEX IF EXISTS idx_cases_grid_id",  # made by older central stores (CentralStore.indexes)
    "CREATE INDEX IF NOT EXISTS cases_stats_v3 ON cases(grid_id, category, channel, status,"
    " deadline, resolved_on, received_on, reported_at, owner, merged_into)",
    "CREATE INDEX IF NOT EXISTS visits_stats ON visits(kind, visited_at, grid_id)",
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
# Private on purpose: sync/rules.py will hold the office's rules; until then these are
# the two ratios the dashboard and the monthly report share.
def _ratio(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 4)


def _resolution_rate(resolved_due: int, due: int) -> float | None:
    """化解率: matters due in the period that are resolved, over matters due."""
    return _ratio(resolved_due, due)


def _satisfaction_rate(satisfied: int, basically: int, total: int) -> float | None:
    """满意度: 满意 and 基本满意 callbacks over all callbacks."""
    return _ratio(satisfied + basically, total)


def township_today() -> dt.date:
    """Today on the township's calendar, whatever the server's time zone."""
    return dt.datetime.now(TOWNSHIP_TZ).date()


# --- the dashboard -------------------------------------------------------------------
def dashboard(conn: sqlite3.Connection, start: dt.date, end: dt.date,
              village: str | None = None, category: str | None = None,
              channel: str | None = None, today: dt.date | None = None) -> dict:
    """Every dashboard figure for the period, as JSON-able values.

    The filters narrow every figure about matters (and callbacks, through their
    matter); visits are narrowed by village only, through the visit's grid.
    """
    ensure_indexes(conn)
    today = today or township_today()
    # a form's empty choice ("") means no filter, as None does
    village, category, channel = village or None, category or None, channel or None
    args = {
        "s": start.isoformat(), "e": end.isoformat(),
        "e1": (end + dt.timedelta(days=1)).isoformat(),   # stamps: day < e1
        "today": today.isoformat(),
        "soon": (today + dt.timedelta(days=SOON_DAYS)).isoformat(),
        "village": village, "category": category, "channel": channel,
    }
    out = {"start": args["s"], "end": args["e"], "today": args["today"],
           "filters": {"village": village, "category": category, "channel": channel}}
    out.update(_visit_counts(conn, args))
    out.update(_matter_figures(conn, args))
    out.update(_callback_figures(conn, args))
    out["resolution_rate"] = _resolution_rate(out["due_resolved"], out["due"])
    out["open_points"] = _open_points(conn, args)
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


def _visit_counts(conn, args) -> dict:
    where = ""
    if args["village"] is not None:
        where = " AND grid_id IN (SELECT id FROM grids WHERE village = :village)"
    counts = dict(conn.execute(
        "SELECT kind, count(*) FROM visits WHERE kind IN ('reception', 'household', 'home')"
        f" AND visited_at >= :s AND visited_at < :e1{where} GROUP BY kind", args))
    return {"receptions": counts.get("reception", 0),
            "household_visits": counts.get("household", 0),
            "home_visits": counts.get("home", 0)}


_OPEN = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATUSES))
_DUE = ("status <> 'declined' AND (deadline BETWEEN :s AND :e"
        " OR resolved_on BETWEEN :s AND :e)")
_FIGURES = ("registered", "resolved", "due", "due_resolved", "overdue", "due_soon",
            "open", "leader_resolved")
# One pass over the matters, grouped by the keys of the breakdowns. Every sum is of a
# 0/1 condition; a NULL date makes its condition NULL, which sum() skips.
_MATTERS_SQL = f"""
SELECT grid_id, category, channel,
  sum(coalesce(received_on, substr(reported_at, 1, 10)) BETWEEN :s AND :e),
  sum(resolved_on BETWEEN :s AND :e),
  sum({_DUE}),
  sum({_DUE} AND resolved_on <= :e),
  sum({_OPEN} AND deadline < :today),
  sum({_OPEN} AND deadline BETWEEN :today AND :soon),
  sum({_OPEN}),
  sum(resolved_on BETWEEN :s AND :e AND owner IS NOT NULL AND owner <> '')
FROM cases WHERE merged_into IS NULL{{filters}}
GROUP BY grid_id, category, channel"""


def _matter_figures(conn, args) -> dict:
    totals = dict.fromkeys(_FIGURES, 0)
    per = {"village": {}, "category": {}, "channel": {}}
    villages = dict(conn.execute("SELECT id, village FROM grids"))
    for grid_id, category, channel, *sums in conn.execute(
            _MATTERS_SQL.format(filters=_case_filter(args)), args):
        sums = [n or 0 for n in sums]
        for name, n in zip(_FIGURES, sums):
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


def _callback_figures(conn, args) -> dict:
    filters = _case_filter(args, prefix="c.")
    if filters:
        sql = ("SELECT cb.answer, count(*) FROM callbacks cb JOIN cases c ON c.id = cb.case_id"
               f" WHERE cb.at >= :s AND cb.at < :e1{filters} GROUP BY cb.answer")
    else:
        sql = "SELECT answer, count(*) FROM callbacks WHERE at >= :s AND at < :e1 GROUP BY answer"
    answers = dict(conn.execute(sql, args))
    total = sum(answers.values())
    sat, basic = answers.get("satisfied", 0), answers.get("basically", 0)
    return {"callbacks": total, "satisfied": sat + basic,
            "satisfaction_rate": _satisfaction_rate(sat, basic, total),
            "satisfaction_by_owner": _satisfaction_by(conn, args, "c.owner"),
            "satisfaction_by_department": _satisfaction_by(conn, args, "d.value",
                                                           "JOIN json_each(c.departments) d")}


def _satisfaction_by(conn, args, key: str, join: str = "") -> list[dict]:
    """Satisfaction per owning leader or per cooperating department: the figure tied
    to officials' performance and departments' funds (domain.md, 评)."""
    filters = _case_filter(args, prefix="c.")
    sql = (f"SELECT {key}, sum(cb.answer IN ('satisfied', 'basically')), count(*)"
           f" FROM callbacks cb JOIN cases c ON c.id = cb.case_id {join}"
           f" WHERE cb.at >= :s AND cb.at < :e1 AND {key} IS NOT NULL{filters}"
           f" GROUP BY {key} ORDER BY {key}")
    names = dict(conn.execute("SELECT username, name FROM staff"))
    return [{"key": k, "label": names.get(k, k), "callbacks": n,
             "satisfaction_rate": _ratio(good, n)} for k, good, n in conn.execute(sql, args)]


def _open_points(conn, args) -> list[dict]:
    """Open matters with a position, the riskiest first: when there are more than the
    map can take, the ones leadership must see are the ones kept."""
    rank = " ".join(f"WHEN '{r}' THEN {i}" for i, r in enumerate(_RISK_ORDER))
    rows = conn.execute(
        f"SELECT id, lat, lon, risk FROM cases WHERE {_OPEN} AND merged_into IS NULL"
        f" AND lat IS NOT NULL AND lon IS NOT NULL{_case_filter(args)}"
        f" ORDER BY CASE risk {rank} ELSE {len(_RISK_ORDER)} END, id LIMIT {MAX_POINTS}", args)
    return [{"id": i, "lat": lat, "lon": lon, "risk": risk} for i, lat, lon, risk in rows]


# --- the monthly report ----------------------------------------------------------------
MONTHLY_LABELS = {
    "接访": "receptions", "走访": "household_visits", "登记事项": "registered",
    "办结": "resolved", "化解率": "resolution_rate", "满意度": "satisfaction_rate",
    "超期": "overdue", "包案领导化解": "leader_resolved",
}


def monthly_figures(conn: sqlite3.Connection, year: int, month: int,
                    today: dt.date | None = None) -> dict:
    """The month's figures under the labels of the township's report. Rates are
    fractions (0.925), None when nothing was due or nobody was called back.

    超期 is counted as at the end of the month (open matters whose deadline passed by
    then), or as at today for the month still running."""
    start = dt.date(year, month, 1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    as_of = min(end + dt.timedelta(days=1), today or township_today())
    figures = dashboard(conn, start, end, today=as_of)
    return {label: figures[key] for label, key in MONTHLY_LABELS.items()}
