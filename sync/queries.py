"""Reads the screens need, over any replica's tables: one place for the SQL.

Every function takes a replica and, where the store holds more than the person may
see (the central store, in the office's browser), a `Scope`; on a phone the replica
holds only what its account may see, so the scope is None there.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from . import merge
from .households import ARCHIVED
from .model import ENTITIES
from .replica import TABLES, Replica, decode_row


@dataclass(frozen=True)
class Scope:
    """What one person may read: their grids and the cases they own."""
    grids: frozenset
    username: str

    def where(self, grid_col: str = "grid_id", owner_col: str | None = None) -> tuple[str, list]:
        marks = ",".join("?" * len(self.grids)) or "NULL"
        sql = f"({grid_col} IN ({marks})"
        args = list(self.grids)
        if owner_col:
            sql += f" OR {owner_col} = ?"
            args.append(self.username)
        return sql + ")", args

    def where_named(self, grid_col: str = "grid_id", owner_col: str | None = None) -> tuple[str, dict]:
        """`where` with named parameters (`:scope_grid0`, ..., `:scope_user`), for a
        query whose other parameters are named."""
        sql, args = self.where(grid_col, owner_col)
        names = [f"scope_grid{i}" for i in range(len(self.grids))] + (["scope_user"] if owner_col else [])
        for name in names:
            sql = sql.replace("?", f":{name}", 1)
        return sql, dict(zip(names, args))


def _rows(replica: Replica, entity: str, sql: str, args=(), stamped: bool = False) -> list[dict]:
    """Decoded rows; `stamped` adds `_stamp`, the clock stamp of the record's first write
    (the order in which two things recorded in the same second happened)."""
    cur = replica.conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    ent = ENTITIES[entity]
    out = []
    for raw in cur:
        rec = dict(zip(names, raw))
        versions = rec.pop("_versions", None)
        rec.pop("_address_key", None)  # a sort key (replica.SORT_KEYS), not a field
        if stamped and versions:
            rec["_stamp"] = min(st[0] for st in merge.loads(versions).values())
        out.append(decode_row(ent, rec))
    return out


def _scoped(scope: Scope | None, owner: bool = False, prefix: str = "") -> tuple[str, list]:
    if scope is None:
        return "1", []
    return scope.where(f"{prefix}grid_id", f"{prefix}owner" if owner else None)


# --- the directory ------------------------------------------------------------------
def grids(replica: Replica) -> list[dict]:
    return _rows(replica, "grid", "SELECT * FROM grids ORDER BY id")


def staff_names(replica: Replica) -> dict[str, str]:
    return dict(replica.conn.execute("SELECT username, name FROM staff"))


def leaders(replica: Replica) -> list[dict]:
    return _rows(replica, "staff", "SELECT * FROM staff WHERE role='leader' ORDER BY username")


# --- households ---------------------------------------------------------------------
def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def case_words(search: str) -> tuple[str, list]:
    """The search box over matters, wherever it is (ledger, queues, supervision): the
    reference, title, text, parties and place."""
    if not search.strip():
        return "", []
    cols = ("ref", "title", "description", "parties", "place")
    return (" AND (" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in cols) + ")",
            [_like(search.strip())] * len(cols))


def search_households(replica: Replica, text: str = "", need: str | None = None,
                      scope: Scope | None = None, limit: int = 50, offset: int = 0) -> list[dict]:
    """Households whose head, address, phone or members match the text, in the natural
    order of their addresses (1组, 2组, … 10组; 3号 before 12号: replica.natural_key)."""
    where, args = _scoped(scope)
    text = text.strip()
    if text:
        where += (" AND (head_name LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\'"
                  " OR phone LIKE ? ESCAPE '\\' OR members LIKE ? ESCAPE '\\')")
        args += [_like(text)] * 4
    if need:
        where += " AND tags LIKE ?"
        args.append(f'%"{need}"%')
    return _rows(replica, "household",
                 f"SELECT * FROM households WHERE {where} ORDER BY _address_key, id LIMIT ? OFFSET ?",
                 (*args, limit, offset))


def nearest_households(replica: Replica, lat: float, lon: float, limit: int = 50,
                       scope: Scope | None = None) -> list[tuple[float, dict]]:
    """The households nearest a point, with their distance in metres (geodesic).

    SQLite orders by a flat-earth distance (exact enough to rank within a township);
    the few returned get the true geodesic distance from geopy.
    """
    from geopy.distance import geodesic
    where, args = _scoped(scope)
    k = math.cos(math.radians(lat)) ** 2
    rows = _rows(replica, "household",
                 f"SELECT * FROM households WHERE {where} AND lat IS NOT NULL AND lon IS NOT NULL"
                 " ORDER BY (lat-?)*(lat-?) + (lon-?)*(lon-?)*? LIMIT ?",
                 (*args, lat, lat, lon, lon, k, limit))
    return [(geodesic((lat, lon), (r["lat"], r["lon"])).meters, r) for r in rows]


def household(replica: Replica, household_id: str) -> dict | None:
    return replica.get("household", household_id)


def due_households(replica: Replica, today: dt.date, scope: Scope | None = None,
                   limit: int = 200) -> list[dict]:
    """Households whose next visit is due by today and not yet made, the most overdue
    first. A visit on or after the due date settles it: no write is needed for that. An
    archived household (moved out, head deceased) is never due."""
    where, args = _due(today, scope)
    return _rows(replica, "household", f"SELECT h.* FROM households h WHERE {where}"
                 " ORDER BY h.next_visit_due, h._address_key, h.id LIMIT ?", (*args, limit))


def due_count(replica: Replica, today: dt.date, scope: Scope | None = None) -> int:
    """How many households are due (due_households shows the first of them)."""
    where, args = _due(today, scope)
    return replica.conn.execute(f"SELECT count(*) FROM households h WHERE {where}", args).fetchone()[0]


def _due(today: dt.date, scope: Scope | None) -> tuple[str, list]:
    """Households whose next visit is due by `today` and not yet made. Only a household
    visit (走访) settles it, as only a household visit moves next_visit_due on: a
    leader's 下访 about a dispute, or a reception at the office, took the household off the
    grid worker's list while the date stayed where it was."""
    where, args = _scoped(scope, prefix="h.")
    archived = sorted(ARCHIVED)
    return (f"{where} AND h.next_visit_due IS NOT NULL"
            f" AND coalesce(h.status, '') NOT IN ({','.join('?' * len(archived))})"
            " AND h.next_visit_due <= ? AND NOT EXISTS (SELECT 1 FROM visits v"
            " WHERE v.household_id = h.id AND v.visited_at >= h.next_visit_due"
            " AND coalesce(v.kind, 'household') = 'household')",
            [*args, *archived, today.isoformat()])


def visits(replica: Replica, household_id: str | None = None, case_id: str | None = None,
           limit: int = 100) -> list[dict]:
    if household_id:
        return _rows(replica, "visit", "SELECT * FROM visits WHERE household_id=?"
                     " ORDER BY visited_at DESC LIMIT ?", (household_id, limit))
    return _rows(replica, "visit", "SELECT * FROM visits WHERE case_id=?"
                 " ORDER BY visited_at DESC LIMIT ?", (case_id, limit))


# --- cases --------------------------------------------------------------------------
OPEN_STATUSES = ("reported", "accepted", "assigned", "in_progress", "reopened")


def cases(replica: Replica, *, reported_by: str | None = None, owner: str | None = None,
          open_only: bool = False, status: str | None = None, scope: Scope | None = None,
          search: str = "", limit: int = 50, offset: int = 0) -> list[dict]:
    """Cases newest first; filtered by reporter, owner, state, words."""
    where, args = _scoped(scope, owner=True)
    words, said = case_words(search)
    where, args = where + words, [*args, *said]
    if reported_by:
        where += " AND reported_by=?"
        args.append(reported_by)
    if owner:
        where += " AND owner=?"
        args.append(owner)
    if status:
        where += " AND status=?"
        args.append(status)
    elif open_only:
        where += f" AND status IN ({','.join('?' * len(OPEN_STATUSES))})"
        args += OPEN_STATUSES
    order = "deadline IS NULL, deadline, reported_at DESC" if owner else "reported_at DESC"
    return _rows(replica, "case", f"SELECT * FROM cases WHERE {where} ORDER BY {order}, id"
                 " LIMIT ? OFFSET ?", (*args, limit, offset))


def timeline(replica: Replica, case_id: str, _seen: frozenset = frozenset()) -> list[dict]:
    """Everything that happened to a case, oldest first: events, visits, callbacks."""
    items = []
    seen = _seen | {case_id}
    merged = [r[0] for r in replica.conn.execute("SELECT id FROM cases WHERE merged_into=?", (case_id,))]
    # a duplicate folded into this case brings its history along; a loop of merges (two
    # offline clerks folding two matters into each other) is followed once round
    for dup in merged:
        if dup not in seen:
            items.extend(dict(it, merged_from=dup) for it in timeline(replica, dup, seen))
    case = replica.get("case", case_id)
    if case and case.get("reported_at"):
        items.append({"type": "report", "at": case["reported_at"], "by": case.get("reported_by") or "",
                      "kind": case.get("channel") or "", "text": "", "id": ""})
    for e in _rows(replica, "case_event", "SELECT * FROM case_events WHERE case_id=?", (case_id,), True):
        items.append({"type": "event", "at": e["at"], "by": e["by"], "kind": e["kind"],
                      "text": e["text"] or "", "id": e["id"], "stamp": e["_stamp"],
                      "attachments": e["attachments"] or []})
    for v in _rows(replica, "visit", "SELECT * FROM visits WHERE case_id=?", (case_id,), True):
        items.append({"type": "visit", "at": v["visited_at"], "by": v["visitor"], "kind": v["kind"],
                      "text": "\n".join(x for x in (v["seen"], v["requests"]) if x), "id": v["id"],
                      "lat": v["lat"], "lon": v["lon"], "accuracy_m": v["accuracy_m"], "stamp": v["_stamp"]})
    for c in _rows(replica, "callback", "SELECT * FROM callbacks WHERE case_id=?", (case_id,), True):
        items.append({"type": "callback", "at": c["at"], "by": c["by"], "kind": c["answer"],
                      "text": c["comment"] or "", "id": c["id"], "stamp": c["_stamp"]})
    items.sort(key=lambda x: (_instant(x["at"]), x.get("stamp", "")))
    return items


def last_callback(replica: Replica, case_id: str) -> dict | None:
    """A case's latest callback (in the timeline's order, the id last), None for none.
    The server's figures, ledger and callback queue order callbacks alike, in SQL
    (sync/server/callback_order.py)."""
    rows = _rows(replica, "callback", "SELECT * FROM callbacks WHERE case_id=?", (case_id,), True)
    return max(rows, key=lambda c: (_instant(c["at"]), c.get("_stamp", ""), c["id"])) if rows else None


def last_callback_answer(replica: Replica, case_id: str) -> str | None:
    """The answer of a case's latest callback, None for none: after 联系不上 the matter
    awaits its answer still (rules.awaits_callback)."""
    return (last_callback(replica, case_id) or {}).get("answer")


def _instant(text: str) -> float:
    """Times written in different zones still sort in true order (as seconds since the
    epoch); what no clock can read sorts first, and nothing stored makes it fail."""
    try:
        t = dt.datetime.fromisoformat(text)
        return (t if t.tzinfo else t.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))).timestamp()
    except (TypeError, ValueError, OverflowError):
        return float("-inf")


def conflicted(replica: Replica) -> list[tuple[str, dict]]:
    """(entity, record) of every record carrying a losing concurrent edit."""
    out = []
    for entity, table in TABLES.items():
        for r in _rows(replica, entity, f"SELECT * FROM {table} WHERE _conflicts > 0"):
            out.append((entity, r))
    return out
