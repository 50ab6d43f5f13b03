"""Who may see and change what: scope keys, as plain functions.

Every record carries a set of scope keys computed from its fields: `g:<grid>` for
the grid it belongs to, `u:<leader>` for the leader who owns a case, `*` for the
public directory (grids, staff). Children of a case (visits made for it, timeline
events, callbacks) carry the case's keys too. A person's own keys are their grids
and their name; they see and change a record when the two sets meet. The office
and the admin see everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

PUBLIC = "*"
ALL_SEEING = {"office", "admin"}
# Fields that only the office sets: who owns a case, and its township reference.
OFFICE_FIELDS = frozenset({"owner", "ref"})


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    grids: frozenset = field(default_factory=frozenset)
    device: str = ""

    @property
    def sees_all(self) -> bool:
        return self.role in ALL_SEEING

    @cached_property
    def keys(self) -> frozenset:
        return frozenset({PUBLIC, f"u:{self.username}", *(f"g:{g}" for g in self.grids)})


def record_keys(entity: str, row: dict | None, case: dict | None = None) -> frozenset:
    """The scope keys of a record (row) given, for children, the case it belongs to."""
    if row is None:
        return frozenset()
    if entity in ("grid", "staff"):
        return frozenset({PUBLIC})
    keys = set()
    if entity == "case":
        case = row
    elif row.get("grid_id"):
        keys.add(f"g:{row['grid_id']}")
    if case is not None:
        if case.get("grid_id"):
            keys.add(f"g:{case['grid_id']}")
        if case.get("owner"):
            keys.add(f"u:{case['owner']}")
    return frozenset(keys)


def may_write(p: Principal, fields: dict, keys_before: frozenset, keys_after: frozenset) -> bool:
    """A change is allowed when the record was, and stays, within the writer's scope."""
    if p.sees_all:
        return True
    if OFFICE_FIELDS.intersection(fields):
        return False
    mine = p.keys - {PUBLIC}
    if not keys_after & mine:
        return False
    return not keys_before or bool(keys_before & mine)
