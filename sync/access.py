"""Who may see what: scope keys, as plain functions (who may *write* what is the
table in permissions.py).

Every record carries a set of scope keys computed from its fields: `g:<grid>` for
the grid it belongs to, `u:<leader>` for the leader who owns a case, `*` for the
public directory (grids, staff). Children of a case (visits made for it, timeline
events, callbacks) carry the case's keys too. A person's own keys are their grids
and their name; they see a record when the two sets meet. The office and the admin
see everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

PUBLIC = "*"
ALL_SEEING = {"office", "admin"}


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
