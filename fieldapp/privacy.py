"""What a screen may show of a resident: ID numbers and phones masked."""

from __future__ import annotations


def mask_id(number: str | None) -> str:
    """330702199001011234 → 3307**********1234: enough to tell two people apart."""
    if not number:
        return ""
    n = number.strip()
    if len(n) <= 8:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 8) + n[-4:]


def mask_phone(phone: str | None) -> str:
    """13812345678 → 138****5678."""
    if not phone:
        return ""
    p = phone.strip()
    if len(p) < 8:
        return "*" * len(p)
    if len(p) < 11:  # a landline: hiding only p[3:-4] would show nearly all of it
        return "*" * (len(p) - 4) + p[-4:]
    return p[:3] + "*" * (len(p) - 7) + p[-4:]
