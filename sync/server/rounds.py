"""A matter's earlier rounds: what it was before it was taken up again (重办).

Reopening a matter (an unsatisfied callback, a declined matter taken up, a closed one
reopened on review) dates its acceptance anew, gives it a fresh deadline and takes it
out of 办结; a second resolution overwrites the first one's day. The township's figures
for a month already handed in read the matter as it stood at that month's end, so the
store keeps, for every reopening, the fields the figures read as they were just before
it (`case_rounds`), with the township day it happened (`ended_on`). The writer adds the
row in the same transaction as the change that reopened the matter, whatever path wrote
it (the office's verbs, a server command), so no reopening goes unrecorded.

A period counted up to day C reads, for each matter, the first round ended after C; a
matter with none reads as it stands (`as_at`). Only dates and codes are kept: nothing
personal, nothing an erasure must reach.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Callable

import orjson

# The case fields the figures read that a reopening or a later resolution overwrites.
KEPT = ("status", "accepted_on", "deadline", "resolved_on")
REOPENED = "reopened"


def create(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS case_rounds (seq INTEGER PRIMARY KEY, case_id TEXT NOT NULL,"
                 " ended_on TEXT NOT NULL, status TEXT, accepted_on TEXT, deadline TEXT, resolved_on TEXT)")
    conn.execute("CREATE INDEX IF NOT EXISTS case_rounds_case ON case_rounds(case_id, ended_on)")


def ended(before: dict | None, after: dict) -> bool:
    """Whether a change that took the case from `before` to `after` reopened it."""
    return (before is not None and after.get("status") == REOPENED
            and before.get("status") != REOPENED)


def row(case_id: str, on: str, before: dict) -> tuple:
    return (case_id, on, *(before.get(k) for k in KEPT))


def add(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    conn.executemany(f"INSERT INTO case_rounds (case_id, ended_on, {', '.join(KEPT)}) VALUES (?,?,?,?,?,?)", rows)


def any_after(conn: sqlite3.Connection, day: str) -> bool:
    """Whether some matter was reopened after `day` (else every matter reads as it stands)."""
    return conn.execute("SELECT 1 FROM case_rounds WHERE ended_on > ? LIMIT 1", (day,)).fetchone() is not None


def as_at(columns: tuple[str, ...], day_param: str) -> str:
    """A query over the matters reopened after the day `:day_param`, each as it stood at
    that day's end (the first round ended after it), with `columns` of the cases table:
    select FROM it as you would from `cases`."""
    cols = ", ".join(f"r.{c}" if c in KEPT else f"c.{c}" for c in columns)
    return (f"(SELECT {cols} FROM case_rounds r JOIN cases c ON c.id = r.case_id"
            f" WHERE r.ended_on > :{day_param} AND NOT EXISTS (SELECT 1 FROM case_rounds e"
            f" WHERE e.case_id = r.case_id AND e.ended_on > :{day_param}"
            " AND (e.ended_on < r.ended_on OR (e.ended_on = r.ended_on AND e.seq < r.seq))))")


def reopened_after(day_param: str) -> str:
    """The ids of the matters reopened after the day `:day_param` (read through `as_at`)."""
    return f"(SELECT case_id FROM case_rounds WHERE ended_on > :{day_param})"


def backfill(conn: sqlite3.Connection, day_of: Callable[[int], dt.date]) -> int:
    """The rounds of matters reopened before this table existed, read from the change
    log: each case's changes folded in stamp order, a round kept at every change that
    reopened it, dated by `day_of` the instant the server received that change (ms).
    Returns how many."""
    create(conn)
    if conn.execute("SELECT 1 FROM case_rounds LIMIT 1").fetchone():
        return 0
    candidates = [r for (r,) in conn.execute(
        "SELECT DISTINCT record FROM changes WHERE entity = 'case' AND instr(body, ?) > 0",
        (f'"{REOPENED}"',))]
    rows = []
    for cid in candidates:
        state: dict | None = None
        for body, received_ms in conn.execute(
                "SELECT body, received_ms FROM changes WHERE entity = 'case' AND record = ? ORDER BY hlc",
                (cid,)):
            fields = (orjson.loads(body) or {}).get("fields") or {}
            after = {**(state or {}), **{k: fields[k] for k in KEPT if k in fields}}
            if ended(state, after):
                rows.append(row(cid, day_of(received_ms).isoformat(), state))
            state = after
    add(conn, rows)
    return len(rows)
