"""The township's retention rule: the personal fields of matters closed more than
`retention_years` years ago (a township setting; 0 keeps them) are erased, as
`gridbook erase case` would (erasure.py), with the reason "retention".

A matter counts as closed when its status is closed or declined and no review
(复查) or re-check (复核) is waiting for an answer; it was closed on the latest of the
days it was resolved, declined (received), or its review or re-check was answered.
`gridbook retention apply --dry-run` lists what would go; run without it from cron
(docs/deploy.md) to apply. Its household stays: a person is erased from the roster
on their own request (`gridbook erase household`), not because an old matter closed.
"""

from __future__ import annotations

import datetime as dt

from . import erasure
from .central import township_today

CLOSED = ("closed", "declined")
_DAYS = ("resolved_on", "review_answered_on", "recheck_answered_on", "received_on")


def closed_on(case: dict) -> dt.date | None:
    days = [case.get(k) for k in _DAYS if case.get(k)]
    try:
        return max(dt.date.fromisoformat(d) for d in days) if days else None
    except ValueError:
        return None


def cutoff(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def due(store, today: dt.date | None = None) -> list[str]:
    """Ids of the matters the rule erases now, oldest first (none when it is off)."""
    years = int(store.settings().get("retention_years") or 0)
    if years <= 0:
        return []
    today = today or township_today(store.now())
    limit = cutoff(today, years)
    rows = store.conn.execute(
        "SELECT id, status, resolved_on, review_answered_on, recheck_answered_on, received_on,"
        " review_requested_on, recheck_requested_on FROM cases"
        f" WHERE status IN ({','.join('?' * len(CLOSED))}) ORDER BY id", CLOSED).fetchall()
    done = {r[0] for r in store.conn.execute("SELECT record FROM erasures WHERE entity='case'")}
    out = []
    for r in rows:
        case = dict(zip(("id", "status", *_DAYS, "review_requested_on", "recheck_requested_on"), r))
        if case["id"] in done:
            continue
        if (case["review_requested_on"] and not case["review_answered_on"]) or \
                (case["recheck_requested_on"] and not case["recheck_answered_on"]):
            continue  # a review is waiting: the matter is not over
        day = closed_on(case)
        if day is not None and day < limit:
            out.append((day, case["id"]))
    return [cid for _, cid in sorted(out)]


def apply(store, dry_run: bool = False, by: str = "system", today: dt.date | None = None) -> dict:
    """Erase what the rule says (or, with dry_run, only say what it would). One JSON-able
    summary: the setting, the cut-off day, the matters, and how many records each reached."""
    years = int(store.settings().get("retention_years") or 0)
    today = today or township_today(store.now())
    # a store restored from before an erasure: erase again what the journal says first
    replayed = erasure.replay(store, dry_run=dry_run)
    ids = due(store, today)
    out = {"dry_run": dry_run, "retention_years": years, "replayed": replayed,
           "closed_before": cutoff(today, years).isoformat() if years > 0 else None,
           "cases": ids, "records": {}}
    for cid in ids:
        got = erasure.erasure_plan(store, "case", cid) if dry_run else \
            erasure.erase(store, "case", cid, by, reason="retention", compact=False)
        for ent, n in got["records"].items():
            out["records"][ent] = out["records"].get(ent, 0) + n
    if (ids or replayed) and not dry_run:
        with store.lock:
            out["compacted"] = erasure.compact_file(store)
    return out
