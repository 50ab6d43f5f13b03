"""Whom a callback judged: the owning leader (包案领导) and the departments of the matter
when the petitioner was called back.

Satisfaction per leader and per department is tied to officials' performance and
departments' funds (domain.md, 评). A matter handed to another leader, or given to
other departments, after its callback must not take that answer with it: January's
"李镇长 0 %" became "陈书记 0 %" once the matter changed hands in February. So the
writer keeps, beside each callback as it is admitted, the matter's owner and
departments of that moment (`callback_judged`), and the figures read them from there.

Nothing personal: an account name and department names.
"""

from __future__ import annotations

import sqlite3

import orjson

TABLE = "callback_judged"


def create(conn: sqlite3.Connection) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (callback_id TEXT PRIMARY KEY, owner TEXT,"
                 " departments TEXT) WITHOUT ROWID")


def _departments(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def row(callback_id: str, case: dict) -> tuple:
    return (callback_id, case.get("owner"), _departments(case.get("departments")))


def add(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    conn.executemany(f"INSERT OR IGNORE INTO {TABLE} VALUES (?,?,?)", rows)


def column(name: str, callback: str = "cb", case: str = "c", judged: str = "j") -> str:
    """The matter's `name` (owner, departments) as the callback judged it; the matter's
    own where nothing was kept. Needs `LEFT JOIN callback_judged j ON j.callback_id = cb.id`."""
    return f"(CASE WHEN {judged}.callback_id IS NULL THEN {case}.{name} ELSE {judged}.{name} END)"


JOIN = f"LEFT JOIN {TABLE} j ON j.callback_id = cb.id"


def backfill(conn: sqlite3.Connection) -> int:
    """Callbacks admitted before this table existed, judged from the change log: the
    owner and departments the matter held at the callback's first stamp."""
    create(conn)
    if conn.execute(f"SELECT 1 FROM {TABLE} LIMIT 1").fetchone():
        return 0
    firsts: dict[str, dict[str, str]] = {}   # case -> callback -> its first stamp
    for cb, case_id, hlc in conn.execute(
            "SELECT cb.id, cb.case_id, min(ch.hlc) FROM callbacks cb"
            " JOIN changes ch ON ch.entity = 'callback' AND ch.record = cb.id GROUP BY cb.id"):
        if case_id is not None:
            firsts.setdefault(case_id, {})[cb] = hlc
    rows = []
    for case_id, callbacks in firsts.items():
        history = [(hlc, (orjson.loads(body) or {}).get("fields") or {}) for hlc, body in conn.execute(
            "SELECT hlc, body FROM changes WHERE entity = 'case' AND record = ? ORDER BY hlc", (case_id,))]
        for cb, at in callbacks.items():
            state: dict = {}
            for hlc, fields in history:
                if hlc >= at:
                    break
                state.update({k: fields[k] for k in ("owner", "departments") if k in fields})
            rows.append(row(cb, state))
    add(conn, rows)
    return len(rows)
