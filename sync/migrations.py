"""Numbered schema migrations, for the phone's replica and the township's store.

A store records its schema version in SQLite's header (`PRAGMA user_version`). At
start-up `upgrade` brings it to the code's version inside ONE transaction (BEGIN
IMMEDIATE): a failing migration leaves the store exactly as it was, and a second
process starting at the same moment (the server and a `gridbook` command) waits and
then finds the work done. A store newer than the code is refused before anything is
touched: the code would not know what its tables mean.

Migration 1 is the schema as it was before versions were recorded (the tables made by
`_create_entity_tables` and each replica's `_create_tables`, with their old ad-hoc
ALTERs). Those functions are idempotent and run at every start, as before, so a store
written before versions existed (user_version 0) is recognised by its tables and
brought to version 1 without losing anything. Every schema change after that is a new
numbered step here (the phone's) or in sync/server/migrations.py (the township's).

Plain Python, no server imports: the phone runs it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class StoreTooNew(ValueError):
    """The store was written by a newer Gridbook than this one."""

    def __init__(self, path: str, have: int, know: int, kind: str):
        super().__init__(
            f"the {kind} store {path} has schema version {have}, but this Gridbook knows versions up to "
            f"{know} only: it was written by a newer Gridbook. Install that version (or newer) to open it, "
            f"or restore a backup made before the upgrade with THIS version's own restore (a newer "
            f"Gridbook's restore brings the store to its own schema); nothing was changed")
        self.have, self.know = have, know


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    apply: Callable  # (replica) -> None, runs inside the upgrade's transaction


def baseline(replica) -> None:
    """Migration 1: the schema as it was before numbered migrations (idempotent)."""
    replica._create_entity_tables()
    replica._create_tables()


def version(conn) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def upgrade(replica, steps: tuple[Migration, ...], *, kind: str = "phone", target: int | None = None) -> dict:
    """Bring the replica's store to the newest of `steps` (or to `target`, for tests of
    each intermediate version). Returns {"from": n, "to": m}."""
    numbers = [m.number for m in steps]
    assert numbers == list(range(1, len(steps) + 1)), "migrations are numbered 1, 2, 3, ... without gaps"
    newest = numbers[-1]
    goal = newest if target is None else target
    conn = replica.conn
    with replica.transaction():
        have = version(conn)  # read under the write lock: another process may just have upgraded it
        if have > newest:
            raise StoreTooNew(replica.path, have, newest, kind)
        for m in steps:
            # Migration 1 runs at every start (it is idempotent, as the schema code always
            # was); the others once, in order.
            if m.number == 1 or have < m.number <= goal:
                m.apply(replica)
        if goal > have:
            conn.execute(f"PRAGMA user_version={int(goal)}")
    return {"from": have, "to": max(have, goal)}


# --- the phone's replica -------------------------------------------------------------

def _phone_2_erased(replica) -> None:
    """Records whose personal data the township erased (sync/erasure_rules.py): which,
    and when; never what they held."""
    replica.conn.execute("CREATE TABLE IF NOT EXISTS erased (entity TEXT NOT NULL, record TEXT NOT NULL,"
                         " erased_ms INTEGER NOT NULL, PRIMARY KEY (entity, record)) WITHOUT ROWID")


def _phone_3_undated(replica) -> None:
    """Changes written while the phone's clock was not on the boot clock since a sync
    (it restarted): how to date them again once the township's time is known (which
    boot, its clock then, the phone's date then, the clock's last stamp before them)."""
    replica.conn.execute("CREATE TABLE IF NOT EXISTS undated (change_id TEXT PRIMARY KEY, boot_id TEXT,"
                         " boot_ms INTEGER, wall_ms INTEGER NOT NULL, at_ms INTEGER NOT NULL,"
                         " floor_ms INTEGER NOT NULL, floor_counter INTEGER NOT NULL) WITHOUT ROWID")


def _phone_4_petitioner_phone(replica) -> None:
    """Matters an older app pulled with the petitioner's number (信访人联系电话), a field it
    did not know: its row kept none (a row holds the fields its code knows), while the merge
    state names the write. The pull cannot send those changes again from where it stands:
    the field's state goes (a write folded again over it would keep the empty value), the
    matter's changes are forgotten as seen, and the next pull passes from the start,
    folding only what is not seen (a leader on a home visit calls from the matter's page)."""
    from . import merge
    conn = replica.conn
    dropped = conn.execute("SELECT id, _versions FROM cases WHERE petitioner_phone IS NULL"
                           " AND instr(_versions, '\"petitioner_phone\"') > 0").fetchall()
    for rid, versions in dropped:
        state = merge.loads(versions)
        state.pop("petitioner_phone", None)
        conn.execute("UPDATE cases SET _versions=? WHERE id=?", (merge.dumps(state), rid))
        conn.execute("DELETE FROM seen WHERE record=?", (rid,))
    if dropped:
        conn.execute("DELETE FROM meta WHERE key='cursor'")


PHONE = (
    Migration(1, "the schema before numbered migrations", baseline),
    Migration(2, "erased records", _phone_2_erased),
    Migration(3, "changes written after a restart, to be dated again at the next sync", _phone_3_undated),
    Migration(4, "matters an older app pulled without the petitioner's number, pulled again",
              _phone_4_petitioner_phone),
)
