"""The change record: what every write becomes, and what travels between replicas.

    {"id": "c-…",            client-generated, globally unique: the idempotency key
     "entity": "case",        one of model.ENTITIES
     "record": "r-…",         client-generated id of the record written
     "fields": {...},         the field values written
     "base": {"f": [stamp]},  per field, the stamps this write replaces (merge.py)
     "hlc": "…",              hybrid logical clock stamp (clock.py)
     "device": "…",           the device that wrote it
     "author": "…"}           the account that wrote it

Set once by the writing replica and never changed: the server stores the body as it
came and serves the same bytes to every puller.
"""

from __future__ import annotations

import secrets
import time

from . import clock
from .model import ENTITIES, FieldError, _err, valid_id, validate_fields

# 2: a pull carries `erasures`, records whose personal data the township erased, which
# the phone must blank at once (PIPL art. 47); a phone of protocol 1 would ignore them
# and keep the data, so the server tells it to update (HTTP 426, "update_required").
PROTOCOL_VERSION = 2
# How far ahead of the server a stamp may be: more means a phone whose clock is
# wrong, and accepting it would let that phone win every later edit.
MAX_AHEAD_MS = 10 * 60 * 1000
ENVELOPE = ("id", "entity", "record", "fields", "hlc", "device", "author")
KEYS = frozenset(ENVELOPE) | {"base"}  # everything else is refused, never stored and resent


def new_id(prefix: str = "") -> str:
    """32 hex digits, as a UUID's: the wall-clock millisecond, then 80 random bits (the
    layout of UUIDv7). Ids made at about the same time sort together, so the server's
    indexes take a group commit's new rows on a few pages at their right edge, not each on
    a random page of a 2 GB store: on a table of 2,000,000 rows, 0.4 KB of WAL a row
    instead of 13.7 KB (docs/performance.md, "County"). A phone whose clock is wrong only
    loses that locality; uniqueness rests on the random bits."""
    return f"{prefix}{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def make(entity: str, record: str, fields: dict, stamp: str, device: str, author: str,
         base: dict | None = None) -> dict:
    ch = {"id": new_id("c"), "entity": entity, "record": record, "fields": fields,
          "hlc": stamp, "device": device, "author": author}
    if base:
        ch["base"] = base
    return ch


# The server's log holds, beside changes, entries of its own under ids of these forms
# (sync/server/central.py); a pull tells them from changes by the id. A change pushed
# under such an id stood in for the entry: an erasure never reached the phones, and a
# worker's change went to another grid's phones in its place.
LOG_ENTRY_PREFIXES = ("exit:", "exit-household:", "ref:", "erase:")


def check_envelope(ch) -> list[FieldError]:
    """Problems with the parts every change has, before its fields are looked at."""
    if not isinstance(ch, dict):
        return [_err("change", "type", expected="an object")]
    errs = [_err(str(k)[:64], "unknown_key") for k in ch if k not in KEYS][:5]
    for key in ENVELOPE:
        if ch.get(key) is None:
            errs.append(_err(key, "required"))
    if errs:
        return errs
    for key in ("id", "record", "device"):
        if not valid_id(ch[key]):
            errs.append(_err(key, "id"))
    reserved = valid_id(ch["id"]) and next((p for p in LOG_ENTRY_PREFIXES if ch["id"].startswith(p)), None)
    if reserved:
        errs.append(_err("id", "id_reserved", prefix=reserved))
    if not isinstance(ch["author"], str) or not 0 < len(ch["author"]) <= 40:
        errs.append(_err("author", "type", expected="a string"))
    if not isinstance(ch["entity"], str) or ch["entity"] not in ENTITIES:
        errs.append(_err("entity", "unknown_entity", choices=", ".join(ENTITIES)))
    if not isinstance(ch["fields"], dict):
        errs.append(_err("fields", "type", expected="an object"))
    elif not ch["fields"]:
        errs.append(_err("fields", "no_fields"))
    elif isinstance(ch["entity"], str) and ch["entity"] in ENTITIES and len(ch["fields"]) > len(ENTITIES[ch["entity"]].fields):
        # before anything reads them: a change of 600,000 fields is answered at once
        errs.append(_err("fields", "too_many_fields", entity=ch["entity"], n=len(ENTITIES[ch["entity"]].fields)))
    try:
        # A stamp names the device that made it: two devices can then never issue the
        # same stamp, which the merge rule relies on (merge.py).
        if len(ch["hlc"]) > 100 or clock.decode(ch["hlc"])[2] != ch["device"]:
            raise ValueError("stamp too long, or of another device")
    except (ValueError, AttributeError, TypeError):
        errs.append(_err("hlc", "clock"))
        return errs
    base = ch.get("base")
    if base is not None:
        ok = isinstance(base, dict) and len(base) <= 100 and all(
            isinstance(v, list) and len(v) <= 50
            and all(isinstance(s, str) and len(s) <= 100 and s < ch["hlc"] for s in v)
            for v in base.values())
        if not ok:
            errs.append(_err("base", "base"))
    return errs


def check_clock(ch: dict, now_ms: int) -> FieldError | None:
    ahead = clock.physical_ms(ch["hlc"]) - now_ms
    if ahead > MAX_AHEAD_MS:
        return _err("hlc", "clock_ahead", hours=ahead / 3_600_000)
    return None


def check_fields(ch: dict, existing: bool, values: list[FieldError] | None = None) -> list[FieldError]:
    """Field rules; `existing` tells whether the record is already held; `values`: the
    fields' value_errors, when found before (the server's precheck)."""
    ent = ENTITIES[ch["entity"]]
    if existing and ent.append_only:
        return [_err("record", "append_only", entity=ent.name)]
    return validate_fields(ent, ch["fields"], creating=not existing, values=values)


def describe(errors: list[FieldError], lang: str = "en") -> str:
    return "; ".join(f"{e.field}: {e.message(lang)}" for e in errors)


def error_list(errors: list[FieldError]) -> list[dict]:
    return [{"field": e.field, "rule": e.rule, "message": e.message("en")} for e in errors]
