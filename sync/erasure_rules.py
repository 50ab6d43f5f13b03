"""Which fields of each entity are a person's personal data, and what erasing each
leaves behind (PIPL art. 47). Plain data and pure functions: the server applies them
to its tables and change history (sync/server/erasure.py), phones to theirs
(DeviceReplica.apply_erasures).

What is kept is what the township's figures count and what keeps the records
consistent: ids, grids, codes (status, category, channel, needs), dates, who handled
it. A required text field gets a fixed placeholder rather than nothing, so that every
screen, export and document that expects one still reads; a location is rounded to
two decimals (about a kilometre): the map still shows the village, not the door.
"""

from __future__ import annotations

ERASED_TEXT = "〔已删除〕"  # what a required text field shows after erasure

# How a field is erased: a fixed value, or a function of the old value.
BLANK = "blank"            # nothing (NULL)
PLACEHOLDER = "placeholder"  # ERASED_TEXT
EMPTY = "empty"            # an empty list
COARSE = "coarse"          # a coordinate rounded to 0.01 degree

PERSONAL: dict[str, dict[str, str]] = {
    "household": {
        "head_name": PLACEHOLDER, "id_number": BLANK, "address": PLACEHOLDER, "phone": BLANK,
        "members": EMPTY, "note": BLANK, "hh_number": BLANK, "attachments": EMPTY,
        "lat": COARSE, "lon": COARSE,
    },
    "visit": {  # what was seen and asked at someone's home may name them
        "seen": BLANK, "requests": BLANK, "attachments": EMPTY, "lat": COARSE, "lon": COARSE,
    },
    "case": {
        "title": PLACEHOLDER, "parties": EMPTY, "petitioner_phone": BLANK, "place": BLANK, "description": PLACEHOLDER,
        "method": BLANK, "plan": BLANK, "extension_reason": BLANK, "decline_reason": BLANK,
        "attachments": EMPTY, "lat": COARSE, "lon": COARSE,
    },
    "case_event": {"text": BLANK, "attachments": EMPTY},
    "callback": {"comment": BLANK},
    "grid": {},   # places, not people
    "staff": {},  # the township's own staff: their accounts are managed, not erased
}

# Erasing a record reaches the records that hang on it (the person's visits, matters
# and their timelines), found through these fields: entity -> [(child entity, field)].
CASCADE: dict[str, list[tuple[str, str]]] = {
    "household": [("visit", "household_id"), ("case", "household_id")],
    # a duplicate folded into the matter (并入此件) is the same matter: its history shows
    # on the matter's timeline, and kept the person's name after the matter was erased
    "case": [("case_event", "case_id"), ("callback", "case_id"), ("visit", "case_id"), ("case", "merged_into")],
}
ERASABLE = ("household", "case")  # what `gridbook erase` takes


def erased_value(how: str, old):
    if old is None or old == []:  # nothing was there: nothing to stand in for
        return old
    if how == PLACEHOLDER:
        return ERASED_TEXT
    if how == EMPTY:
        return []
    if how == COARSE:
        return None if old is None else round(float(old), 2)
    return None


def erase_fields(entity: str, fields: dict) -> dict:
    """A change's (or a row's) fields with every personal value replaced; the same dict
    when it holds none. A field absent stays absent (a change keeps what it wrote)."""
    rules = PERSONAL.get(entity) or {}
    if not any(name in fields for name in rules):
        return fields
    return {name: (erased_value(rules[name], v) if name in rules else v) for name, v in fields.items()}


def erase_versions(entity: str, versions: dict) -> dict:
    """The merge state of a record (merge.py) without the losing values of personal
    fields: a conflict's other side may hold a name too. The stamps stay, so every
    replica still merges the same way."""
    rules = PERSONAL.get(entity) or {}
    out = {}
    for name, state in versions.items():
        if name in rules and len(state) > 3 and state[3]:
            state = [state[0], state[1], state[2],
                     {stamp: [erased_value(rules[name], head[0]), *head[1:]] for stamp, head in state[3].items()}]
        out[name] = state
    return out


def attachment_hashes(entity: str, fields: dict) -> set[str]:
    """The attachments' hashes a record (or a change) names."""
    items = fields.get("attachments")
    return {a["hash"] for a in items if isinstance(a, dict) and isinstance(a.get("hash"), str)} \
        if isinstance(items, list) else set()


def personal_strings(entity: str, row: dict) -> list[str]:
    """The personal values a record holds, as text (for tests and checks that search raw
    bytes for them): names, numbers, addresses, members' names."""
    out = []
    for name, how in (PERSONAL.get(entity) or {}).items():
        v = row.get(name)
        if how == COARSE or v in (None, "", [], ERASED_TEXT):
            continue
        if isinstance(v, list):
            out += [str(m[k]) for m in v if isinstance(m, dict) for k in ("name", "id_number", "phone") if m.get(k)]
            out += [s for s in v if isinstance(s, str)]
        else:
            out.append(str(v))
    return out
