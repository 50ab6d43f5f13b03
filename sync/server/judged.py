"""Whom a callback judged: the owning leader (包案领导) and the departments of the matter
when the petitioner was called back.

Satisfaction per leader and per department is tied to officials' performance and
departments' funds (domain.md, 评). A matter handed to another leader, or given to
other departments, after its callback must not take that answer with it: January's
"李镇长 0 %" became "陈书记 0 %" once the matter changed hands in February. So when a
matter's owner or departments change, the writer keeps, for each callback it already
has, the owner and departments it judged (`callback_judged`, the first change after the
callback winning), and the figures read them from there; a callback with no row judged
the matter as it stands. Most callbacks never need a row, so the figures read the
callbacks from their covering index as before and the few kept rows beside them.

Nothing personal: an account name and department names.
"""

from __future__ import annotations

import sqlite3

import orjson

from . import standing

TABLE = "callback_judged"
FIELDS = ("owner", "departments")


def create(conn: sqlite3.Connection) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (callback_id TEXT PRIMARY KEY, owner TEXT,"
                 " departments TEXT) WITHOUT ROWID")


def _departments(value) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value if isinstance(value, list) else [str(value)]).decode()


def changed(before: dict | None, after: dict) -> bool:
    """Whether a change of a matter moved whom its earlier callbacks judged."""
    return before is not None and any(before.get(f) != after.get(f) for f in FIELDS)


def rows(conn: sqlite3.Connection, case_id: str, before: dict, also: list[str] = ()) -> list[tuple]:
    """The rows keeping `before`'s owner and departments for every callback the matter
    has (`also`: callbacks admitted in the same push, not written yet)."""
    ids = [r[0] for r in conn.execute("SELECT id FROM callbacks WHERE case_id=?", (case_id,))] + list(also)
    return [(cb, before.get("owner"), _departments(before.get("departments"))) for cb in ids]


def add(conn: sqlite3.Connection, kept: list[tuple]) -> None:
    conn.executemany(f"INSERT OR IGNORE INTO {TABLE} VALUES (?,?,?)", kept)


def any_kept(conn: sqlite3.Connection) -> bool:
    return conn.execute(f"SELECT 1 FROM {TABLE} LIMIT 1").fetchone() is not None


def column(name: str) -> str:
    """The matter's (`c`) `name` (owner, departments) as the callback (`cb`) judged it; the
    matter's own where nothing was kept. Needs `JOIN` below."""
    return f"(CASE WHEN j.callback_id IS NULL THEN c.{name} ELSE j.{name} END)"


JOIN = f"LEFT JOIN {TABLE} j ON j.callback_id = cb.id"


def backfill(conn: sqlite3.Connection) -> int:
    """Callbacks admitted before this table existed whose matter changed hands since,
    judged from the change log: the owner and departments the matter held when the
    callback arrived (its changes and the matter's in the order they arrived, each field
    its newest stamp, as the writer held them), kept where they differ from the matter's now."""
    create(conn)
    if any_kept(conn):
        return 0
    firsts: dict[str, dict[str, int]] = {}   # case -> callback -> where it arrived in the log
    for cb, case_id, arrived in conn.execute(
            "SELECT cb.id, cb.case_id, min(ch.rowid) FROM callbacks cb"
            " JOIN changes ch ON ch.entity = 'callback' AND ch.record = cb.id GROUP BY cb.id"):
        if case_id is not None:
            firsts.setdefault(case_id, {})[cb] = arrived
    kept = []
    for case_id, callbacks in firsts.items():
        # the matter as the writer held it after each of its changes, in arrival order
        history, state, stamps = [], {}, {}
        for arrived, hlc, body in conn.execute(
                "SELECT rowid, hlc, body FROM changes WHERE entity = 'case' AND record = ? ORDER BY rowid",
                (case_id,)):
            state = standing.newest(state, stamps, hlc, body, FIELDS)
            history.append((arrived, state))
        now = state
        for cb, at in callbacks.items():
            then = next((s for arrived, s in reversed(history) if arrived < at), {})
            if any(then.get(f) != now.get(f) for f in FIELDS):
                kept.append((cb, then.get("owner"), _departments(then.get("departments"))))
        if len(kept) >= 10_000:
            add(conn, kept)
            kept = []
    add(conn, kept)
    return conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
