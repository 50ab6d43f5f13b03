"""What a phone holds and shows of a resident: ID numbers masked.

The server sends phones ID numbers masked (a grid worker tells two people apart by
the ends of the number; the whole number is the office's). A phone may still write a
whole number, registering a household; a masked number it sends back unchanged
(editing a household's members, say) stands for the number the server holds.
"""

from __future__ import annotations

import functools
from typing import Callable

MASK = "*"


def mask_id(number: str | None) -> str:
    """330702199001011234 → 3307**********1234: enough to tell two people apart."""
    if not number:
        return ""
    n = number.strip()
    if len(n) <= 8:
        return MASK * len(n)
    return n[:4] + MASK * (len(n) - 8) + n[-4:]


def mask_phone(phone: str | None) -> str:
    """13812345678 → 138****5678."""
    if not phone:
        return ""
    p = phone.strip()
    if len(p) < 8:
        return MASK * len(p)
    if len(p) < 11:  # a landline: hiding only p[3:-4] would show nearly all of it
        return MASK * (len(p) - 4) + p[-4:]
    return p[:3] + MASK * (len(p) - 7) + p[-4:]


def masked_fields(entity: str, fields: dict) -> dict | None:
    """The fields as a phone receives them, or None when nothing in them is masked."""
    if entity != "household":
        return None
    out = None
    if fields.get("id_number"):
        out = dict(fields)
        out["id_number"] = mask_id(fields["id_number"])
    members = fields.get("members")
    if isinstance(members, list) and any(isinstance(m, dict) and m.get("id_number") for m in members):
        out = out or dict(fields)
        out["members"] = [{**m, "id_number": mask_id(m["id_number"])} if m.get("id_number") else m
                          for m in members]
    return out


def restore_masked(entity: str, fields: dict, before: dict | None,
                   earlier: Callable[[], set] | None = None) -> tuple[dict, str | None]:
    """Masked numbers a phone sent back, replaced by the numbers they stand for.
    Returns (fields, None), or (fields, the field at fault) when a masked number stands
    for none the record holds. `earlier`: the numbers the record held before (its
    history), asked for when the record no longer holds the one a mask stands for: the
    office corrected a member's number while a phone, offline, added a newborn, and the
    phone's edit was refused (`masked`) where it is a concurrent edit of the members."""
    if entity != "household":
        return fields, None
    out = fields
    # the history is read at most once, and only when a mask fits nothing held now
    history = functools.cache(earlier or set)

    def once_held(masked: str) -> set:
        return {n for n in history() if mask_id(n) == masked}

    idn = fields.get("id_number")
    if isinstance(idn, str) and MASK in idn:
        real = (before or {}).get("id_number")
        if not real or mask_id(real) != idn:
            alike = once_held(idn)
            if len(alike) != 1:
                return fields, "id_number"
            real = alike.pop()
        out = {**out, "id_number": real}
    members = fields.get("members")
    if isinstance(members, list) and any(isinstance(m, dict) and MASK in (m.get("id_number") or "")
                                         for m in members):
        held = [m.get("id_number") if isinstance(m, dict) else None for m in (before or {}).get("members") or []]
        restored = []
        for i, m in enumerate(members):
            masked = m.get("id_number") if isinstance(m, dict) else None
            if masked and MASK in masked:
                # The member's own number first (the same place: a form keeps their order);
                # else the one number the record holds under that mask. Two numbers can mask
                # alike (same first and last four digits): keyed by the mask alone, one
                # member's number was written over with the other's.
                own = held[i] if i < len(held) else None
                if own and mask_id(own) == masked:
                    real = own
                else:
                    alike = {n for n in held if n and mask_id(n) == masked} or once_held(masked)
                    if len(alike) != 1:
                        return fields, "members"
                    real = alike.pop()
                m = {**m, "id_number": real}
            restored.append(m)
        out = {**out, "members": restored}
    return out, None
