"""How each matter stood at the end of a past day, for the figures of past periods.

The township's figures for a month already handed in must read the same when the month
is downloaded again. A matter changes after the month it is counted in: it is reopened
(重办: acceptance dated anew, a fresh deadline, out of 办结), resolved a second time,
told again, given an owner or a signal, merged into another, declined late. So the
writer keeps, the first time a matter changes on a day, the fields the figures read as
they stood before that change (`case_standing`, one row per matter and day it changed,
with that day: `changed_on`), in the same transaction as the change, whatever path
wrote it. A period counted up to day C reads each matter changed after C from its
first row changed after C (the matter as it stood at the end of C), and every other
matter as it stands (`as_at`).

Only codes, dates, account names and departments: nothing an erasure must reach.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Callable

import orjson

from ..model import ENTITIES
from ..replica import encode_row

# Every field of a matter the figures read (stats.py), and the codes a past period's
# ledger shows beside them (export.py: the outcome of a resolution, the risk level, the
# departments), as stored.
# The ledger's, kept since migration 11 (a store's rows from before are made again from the log).
LEDGER_FIELDS = ("outcome", "risk", "departments")
FIELDS = ("grid_id", "category", "channel", "status", "accepted_on", "deadline", "resolved_on",
          "received_on", "reported_at", "owner", "merged_into", "reception_leader", "litigation", "signals",
          "register_by", "notice_sent_on", "review_requested_on", "review_due", "review_answered_on",
          "recheck_requested_on", "recheck_due", "recheck_answered_on", *LEDGER_FIELDS, "higher_deadline")
TABLE = "case_standing"
_CASE = ENTITIES["case"]
_AT = {name: i for i, name in enumerate(("id", *_CASE.columns))}


def create(conn: sqlite3.Connection) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (case_id TEXT NOT NULL, changed_on TEXT NOT NULL, "
                 + ", ".join(FIELDS) + ", PRIMARY KEY (case_id, changed_on)) WITHOUT ROWID")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_day ON {TABLE}(changed_on)")


def changed(before: dict | None, after: dict) -> bool:
    """Whether a change that took the matter from `before` to `after` moved a figure's field."""
    return before is not None and any(before.get(f) != after.get(f) for f in FIELDS)


def row(case_id: str, on: str, before: dict) -> tuple:
    """The row that keeps `before` (a matter as the writer holds it) as it stood until `on`."""
    stored = encode_row(_CASE, {"id": case_id, **before})
    return (case_id, on, *(stored[_AT[f]] for f in FIELDS))


def add(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Keep the rows; a matter already kept for that day keeps its first (the day's start)."""
    # by name: a store's columns added by migrations stand in the order they were added
    conn.executemany(f"INSERT OR IGNORE INTO {TABLE} (case_id, changed_on, {', '.join(FIELDS)})"
                     f" VALUES ({','.join('?' * (2 + len(FIELDS)))})", rows)


def any_after(conn: sqlite3.Connection, day: str) -> bool:
    """Whether some matter changed after `day` (else every matter reads as it stands)."""
    return conn.execute(f"SELECT 1 FROM {TABLE} WHERE changed_on > ? LIMIT 1", (day,)).fetchone() is not None


def as_at(columns: tuple[str, ...], day_param: str) -> str:
    """A query over the matters changed after the day `:day_param`, each as it stood at
    that day's end, with `columns` of the cases table (those the figures read from the
    kept row, the others as they stand): select FROM it as you would from `cases`."""
    cols = ", ".join(f"h.{c}" if c in FIELDS else f"c.{c}" for c in columns)
    return (f"(SELECT {cols} FROM {TABLE} h JOIN cases c ON c.id = h.case_id"
            f" WHERE h.changed_on = (SELECT min(e.changed_on) FROM {TABLE} e"
            f" WHERE e.case_id = h.case_id AND e.changed_on > :{day_param}))")


def as_it_stood(columns: tuple[str, ...], day_param: str) -> str:
    """Every matter, with `columns`, as it stood at the end of the day `:day_param`: those
    changed since through `as_at`, the others as they stand. Select FROM it as you would
    from `cases`."""
    return (f"(SELECT {', '.join(columns)} FROM cases WHERE id NOT IN {changed_after(day_param)}"
            f" UNION ALL SELECT * FROM {as_at(columns, day_param)})")


def changed_after(day_param: str) -> str:
    """The ids of the matters changed after the day `:day_param` (read through `as_at`)."""
    return f"(SELECT case_id FROM {TABLE} WHERE changed_on > :{day_param})"


def newest(state: dict, stamps: dict, hlc: str, body: str, names: tuple[str, ...]) -> dict:
    """`state` after a change that arrived next (its stamp `hlc`, its logged `body`), for
    the fields `names`: each field holds the value of its newest stamp, as the writer's
    merge shows it (the newest write of a field is always one of its heads, merge.py),
    whatever order the changes arrived in. `stamps` (field -> stamp) is kept up to date."""
    fields = (orjson.loads(body) or {}).get("fields") or {}
    after = dict(state)
    for k in names:
        if k in fields and hlc > stamps.get(k, ""):
            after[k], stamps[k] = fields[k], hlc
    return after


def backfill(conn: sqlite3.Connection, day_of: Callable[[int], dt.date]) -> int:
    """The rows of matters changed before this table existed, read from the change log:
    each matter's changes folded in the order they arrived (as the writer kept them: a
    phone's change made offline on the 20th and brought on the 3rd of next month moved
    the matter on the 3rd), a row kept the first time on a day (`day_of` the instant the
    server received the change, in ms) that a change moved a figure's field. Returns how
    many."""
    create(conn)
    if conn.execute(f"SELECT 1 FROM {TABLE} LIMIT 1").fetchone():
        return 0
    rows, case_id, state, stamps, days = [], None, None, {}, set()
    for record, hlc, body, received_ms in conn.execute(
            "SELECT record, hlc, body, received_ms FROM changes WHERE entity = 'case' ORDER BY record, rowid"):
        if record != case_id:
            case_id, state, stamps, days = record, None, {}, set()
        after = newest(state or {}, stamps, hlc, body, FIELDS)
        if changed(state, after):
            day = day_of(received_ms).isoformat()
            if day not in days:
                days.add(day)
                rows.append(row(record, day, state))
        state = after
        if len(rows) >= 10_000:
            add(conn, rows)
            rows = []
    add(conn, rows)
    return conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
