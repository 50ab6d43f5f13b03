"""The petitioner's number (信访人联系电话) of the matters a store held before it was a
field of the matter: taken once from the household each open matter was filed for.

The new column came with the schema (every field of the model is a column, added to an
older store when it opens); the values cannot: a leader on a home visit has a matter
from before, and his phone holds no households. Each number is a change of the system's,
logged to the matter's scope like any other, so it reaches exactly the phones that see
the matter and is erased with it (sync/erasure_rules.py).
"""

from __future__ import annotations

from .. import idnumber
from ..queries import OPEN_STATUSES

DONE = "petitioner_phones_filled"   # server_meta: filled (or nothing to fill), never again


def missing(conn) -> list[tuple[str, str]]:
    """(matter, number) of every open matter filed for a household that has a number a
    phone can dial, the matter holding none. A finished matter needs no call: its
    petitioner's number is not spread to it."""
    marks = ",".join("?" * len(OPEN_STATUSES))
    rows = conn.execute(
        "SELECT c.id, h.phone FROM cases c JOIN households h ON h.id = c.household_id"
        " WHERE c.petitioner_phone IS NULL AND c.merged_into IS NULL AND h.phone IS NOT NULL"
        f" AND c.status IN ({marks}) ORDER BY c.id", OPEN_STATUSES).fetchall()
    return [(cid, idnumber.normalize_phone(p)) for cid, p in rows if idnumber.phone_problem(p) is None]


def fill(store) -> int:
    """Write the numbers `missing` finds, once per store (a second process opening it
    finds the mark, read under the write lock). Returns how many were written."""
    from .central import WriteRefused
    with store.lock, store.transaction():
        if store._meta(DONE):
            return 0
        n = 0
        for cid, phone in missing(store.conn):
            try:
                store.server_write("case", cid, {"petitioner_phone": phone})
                n += 1
            except WriteRefused:   # a matter the rules hold otherwise: left without, as before
                continue
        store._set_meta(DONE, "1")
    return n
