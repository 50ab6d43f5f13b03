"""One record's accepted changes, as a phone may see them: what a phone rebuilds a
record from when its person gives up a refused change (POST /api/v1/sync/discard).

The same scope rule as the pull: a person sees a record whose scope keys (its grid, its
case's grid and owner: access.record_keys) meet theirs; the office and the admin see
everything. A record the caller may not see, or that the server does not hold, answers
nothing (the same answer: it tells nothing of whether it exists). Phones receive ID
numbers masked, as in a pull.
"""

from __future__ import annotations

import orjson

from .. import access
from ..access import Principal
from ..model import ENTITIES
from .central import CentralStore


def visible(store: CentralStore, p: Principal, entity: str, record: str) -> dict | None:
    """The record as the store holds it, if this person may see it; else None."""
    row = store.get(entity, record)
    if row is None or p.sees_all:
        return row
    parent = ENTITIES[entity].parent
    case = store.get("case", row[parent]) if parent and row.get(parent) else None
    keys = access.record_keys(entity, row, case)
    return row if keys & p.keys else None


def accepted_changes(store: CentralStore, p: Principal, entity: str, record: str) -> tuple[list[str], str | None]:
    """(the bodies of the record's accepted changes, oldest first, as JSON text; the
    case's township reference), or ([], None) for a record this person may not see."""
    with store.lock:
        row = visible(store, p, entity, record)
        if row is None:
            return [], None
        body = "body" if p.sees_all else "COALESCE(body_masked, body)"
        bodies = [r[0] for r in store.conn.execute(
            f"SELECT {body} FROM changes WHERE record=? AND entity=? ORDER BY rowid", (record, entity))]
    return bodies, row.get("ref") if entity == "case" else None


def discard(store: CentralStore, p: Principal, change_id: str, entity: str, record: str,
            address: str = "") -> dict:
    """A phone gives up a refused change: on the audit trail (which change of which
    record, never its values), and answered with the record's accepted changes."""
    store.audit(p.username, "discard", f"{change_id} {entity} {record}", device=p.device, address=address)
    bodies, ref = accepted_changes(store, p, entity, record)
    return {"changes": [orjson.loads(b) for b in bodies], "ref": ref}
