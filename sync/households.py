"""The household registry's own rules, as plain data and functions: which households
are archived, when the next visit is due, what a household form must hold, and the
office's list of households (search, filters, a page at a time).

A household is never deleted: one that moved out (已迁出) or whose head died (户主已故)
is archived. It leaves the worklist and the due lists but stays findable, shown as
archived, with its visits.

The next visit is due a number of days after the last one: the shortest visit
frequency of the household's needs, a code table the township changes
(sync/settings.py `visit_every`, `gridbook setting visit_every.dibao 30`). A household
first registered is due for its first visit on the day it is registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from . import idnumber, rules, statute, settings as township
from .model import ENTITIES, NUMBER_RULES, FieldError, tidy, validate_fields

CST = dt.timezone(dt.timedelta(hours=8))
ACTIVE = "active"
ARCHIVED = frozenset({"moved_out", "deceased"})
MEMBER_KEYS = ("name", "relation", "id_number", "note")
MEMBER_MAX = 60  # characters of each member value (model.py's members kind)


def archived(household: dict | None) -> bool:
    return bool(household) and household.get("status") in ARCHIVED


# --- when the next visit is due ----------------------------------------------------
def visit_day(visited_at: str | None) -> dt.date | None:
    """The township's calendar day of a visit (its time read in China Standard Time)."""
    if not visited_at:
        return None
    try:
        t = dt.datetime.fromisoformat(visited_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t.astimezone(CST) if t.tzinfo else t).date()


def next_visit_due(day: dt.date, needs: list[str] | None, settings: dict | None) -> dt.date:
    """After a visit on `day`: `day` plus the shortest visit frequency of the needs
    (the township's settings; a household with no need: visit_every.default)."""
    return day + dt.timedelta(days=township.visit_every(township.resolve(settings), needs))


# --- what a household form must hold -------------------------------------------------
RULES = {
    **{rule: texts for rule, texts in idnumber.MESSAGES.items()},
    "member_name": ("a member needs a name", "请填写成员姓名"),
    "member_relation": ("a member needs the relation to the head", "请填写与户主的关系"),
    "member_long": ("must be at most 60 characters", "最多60个字符"),
    "status": ("must be one of active, moved_out, deceased", "不是有效的在册状态"),
}


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of a household form. `field` names the record's
    field, or a member's ("members.2.id_number"), so a form marks the control itself."""
    field: str
    rule: str
    params: tuple = ()

    def message(self, lang: str = "en") -> str:
        en, zh = RULES[self.rule]
        return (zh if lang == "zh" else en).format(**dict(self.params))

    def __str__(self) -> str:
        return f"{self.field}: {self.message('en')}"


def _id_problem(field: str, number: str, today: dt.date | None) -> Problem | None:
    rule = idnumber.id_problem(number, today=today)
    if rule is None:
        return None
    return Problem(field, rule, tuple(sorted(idnumber.id_params(number).items())))


def _held_masked(value: str, before: dict | None, member: bool) -> bool:
    """A masked number sent back as the record holds it (a phone holds ID numbers masked
    and the server restores them): nothing typed, nothing to check."""
    if idnumber.MASK not in value or not before:
        return False
    if not member:
        return value == before.get("id_number")
    return any(isinstance(m, dict) and m.get("id_number") == value for m in before.get("members") or [])


# idnumber's rule -> the model's name for it in a push's refusal ("check_digit" -> "id_check_digit")
_SERVER_RULE = {rule: name for name, rule in NUMBER_RULES.items()}


def number_errors(fields: dict, before: dict | None, today: dt.date) -> list[FieldError]:
    """The ID numbers (the head's, each member's) and the phone number of a household
    change that break their rules, as the server refuses a phone's push (the model's
    `id_*` and `phone_*` rules): the forms check the same, but a phone that skipped its
    form must not put a number no card can hold into the ledger. A number the record
    already holds is not checked again: one stored before these checks, or sent back as
    the phone holds it, is no new mistake and must not hold up the rest of the change.
    `fields` hold the numbers themselves (masked ones restored: privacy.restore_masked)."""
    before = before or {}
    held = {before.get("id_number")} | {m.get("id_number") for m in before.get("members") or []
                                        if isinstance(m, dict)}
    out: list[FieldError] = []

    def check_id(field: str, number) -> None:
        if isinstance(number, str) and number.strip() and number not in held:
            p = _id_problem(field, number, today)
            if p is not None and p.rule in _SERVER_RULE:
                out.append(FieldError(field, _SERVER_RULE[p.rule], p.params))
            elif p is None and number != idnumber.normalize_id(number):
                # a good number written otherwise (full-width, spaced, a small x): the
                # ledger would hold one person under two spellings, which no search finds
                out.append(FieldError(field, "id_written"))
    check_id("id_number", fields.get("id_number"))
    for i, m in enumerate(fields.get("members") if isinstance(fields.get("members"), list) else ()):
        if isinstance(m, dict):
            check_id(f"members.{i}.id_number", m.get("id_number"))
    return out + phone_errors("phone", fields, before)


def phone_errors(field: str, fields: dict, before: dict | None = None) -> list[FieldError]:
    """A phone number of a change (a household's, a matter's petitioner's) that breaks the
    rules of idnumber.phone_problem, or is not written as the forms write it. A number
    the record already holds is not checked again."""
    phone = fields.get(field)
    if isinstance(phone, str) and phone.strip() and phone != (before or {}).get(field):
        rule = idnumber.phone_problem(phone)
        if rule is not None:
            return [FieldError(field, rule)]
        if phone != idnumber.normalize_phone(phone):
            return [FieldError(field, "phone_written")]
    return []


def with_petitioner_phone(fields: dict) -> dict:
    """A matter's fields with the petitioner's number as the forms store it (cleaned of
    spaces and full-width digits); phone_errors says what is still wrong with it."""
    phone = fields.get("petitioner_phone")
    if isinstance(phone, str):
        return {**fields, "petitioner_phone": idnumber.normalize_phone(phone)}
    return fields


# The longest a household can wait for its next visit: the longest interval a township
# may set (settings `visit_every.*`, at most 366 days), from a visit made up to tomorrow.
LONGEST_WAIT_DAYS = 367

# Visits made where someone lives: the phone takes its position for them. A reception
# (接访) is at the office, and a callback (回访) mostly by phone: no position is asked of them.
PLACED_KINDS = frozenset({"household", "home"})


def unplaced(visit: dict) -> bool:
    """A visit made at a home with no position at all (the location refused or off, and
    none typed): where it was made is unknown, so the office reviews it as it does one
    far away, mocked or typed by hand. Read as 位置正常 before, turning the GPS off got a
    visit past every check."""
    return (visit.get("kind") or "household") in PLACED_KINDS and (
        visit.get("lat") is None or visit.get("lon") is None)


def due_window(today: dt.date, since: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(earliest, latest) next visit a phone may write. A next visit is reckoned from the
    day the household was registered or from a visit of it (next_visit_due), and a phone
    records a visit at most a year late (statute.LONG_PAST_DAYS, date_long_past): one due
    further back than that before the registration or the last visit (`since`, where
    earlier than today) reckons from nothing. Dated 2000-01-01, it was settled by any
    visit ever made, and the household left its grid's 今日 for good."""
    start = min(today, since) if since is not None else today
    return (start - dt.timedelta(days=statute.LONG_PAST_DAYS),
            today + dt.timedelta(days=LONGEST_WAIT_DAYS))


def due_errors(fields: dict, today: dt.date,
               since: Callable[[], dt.date | None] | None = None) -> list[FieldError]:
    """A next visit set further off than any interval reaches (a phone that skipped its
    form put 2100-12-31, and the household left its grid's 今日 for 75 years), or further
    back than any visit reckons from (due_window). `since`: the day the household was
    registered or last visited, asked only of a day further back than a year (it reads
    the store)."""
    due = rules.as_date(fields.get("next_visit_due"))
    if due is None:
        return []
    earliest, latest = due_window(today)
    if due > latest:
        return [FieldError("next_visit_due", "due_too_far", (("days", LONGEST_WAIT_DAYS),))]
    if due < earliest and since is not None:
        earliest, _ = due_window(today, since())
    if due < earliest:
        return [FieldError("next_visit_due", "due_too_early", (("earliest", earliest.isoformat()),))]
    return []


def normalize(fields: dict, before: dict | None = None) -> dict:
    """The fields as they are stored: text trimmed, ID numbers and phones cleaned
    (spaces, full-width digits, a small x), empty member rows left out."""
    out = dict(tidy(ENTITIES["household"], fields))
    for name in ("head_name", "address", "hh_number", "note"):
        if isinstance(out.get(name), str):
            out[name] = out[name].strip()
    if isinstance(out.get("id_number"), str) and not _held_masked(out["id_number"], before, False):
        out["id_number"] = idnumber.normalize_id(out["id_number"])
    if isinstance(out.get("phone"), str):
        out["phone"] = idnumber.normalize_phone(out["phone"])
    if isinstance(out.get("members"), list):
        members = []
        for m in out["members"]:
            if not isinstance(m, dict):
                members.append(m)
                continue
            m = _clean_member(m)
            if isinstance(m.get("id_number"), str) and not _held_masked(m["id_number"], before, True):
                m["id_number"] = idnumber.normalize_id(m["id_number"])
            if m:
                members.append(m)
        out["members"] = members
    return out


def _clean_member(m: dict) -> dict:
    """A member's row as a form keeps it: text trimmed, empty values left out."""
    m = {k: (v.strip() if isinstance(v, str) else v) for k, v in m.items()}
    return {k: v for k, v in m.items() if v not in (None, "")}


def problems(fields: dict, before: dict | None = None, today: dt.date | None = None) -> list:
    """Every problem with a household's fields as a form writes them (normalized first),
    each naming its field: the model's rules (required, lengths, codes), the ID number
    (GB 11643 check digit and birth date), the phone, and each member's name, relation
    and ID number. A masked number the record already holds is not checked again."""
    mine: list = []
    idn = fields.get("id_number")
    if isinstance(idn, str) and idn and not _held_masked(idn, before, False):
        p = _id_problem("id_number", idn, today)
        if p:
            mine.append(p)
    phone = fields.get("phone")
    if isinstance(phone, str) and phone:
        rule = idnumber.phone_problem(phone)
        if rule:
            mine.append(Problem("phone", rule))
    members = fields.get("members")
    member_problems = False
    if isinstance(members, list):
        # a member as the record held them is not this person's to mend: one written
        # elsewhere without a relation must not stop an edit of another member or field
        held = [_clean_member(m) for m in (before or {}).get("members") or [] if isinstance(m, dict)]
        for i, m in enumerate(members):
            if not isinstance(m, dict) or (held and _clean_member(m) in held):
                continue
            for key in MEMBER_KEYS:
                if isinstance(m.get(key), str) and len(m[key]) > MEMBER_MAX:
                    mine.append(Problem(f"members.{i}.{key}", "member_long"))
            if not (m.get("name") or "").strip():
                mine.append(Problem(f"members.{i}.name", "member_name"))
            if not (m.get("relation") or "").strip():
                mine.append(Problem(f"members.{i}.relation", "member_relation"))
            mid = m.get("id_number")
            if isinstance(mid, str) and mid and not _held_masked(mid, before, True):
                p = _id_problem(f"members.{i}.id_number", mid, today)
                if p:
                    mine.append(p)
        member_problems = any(p.field.startswith("members.") for p in mine)
    # the model's own rules, except where the words above say more (an ID number of 19
    # characters: "应为18位", not "最多18个字符"; a member's long note: on that member)
    said = {p.field for p in mine} | ({"members"} if member_problems else set())
    model = [e for e in validate_fields(ENTITIES["household"], fields, before is None) if e.field not in said]
    order = {f.name: i for i, f in enumerate(ENTITIES["household"].fields)}
    errs = sorted(model + mine, key=lambda e: order.get(e.field.split(".")[0], 99))
    return errs


def changed(fields: dict, before: dict | None) -> dict:
    """Only what differs from the record as held: an edit writes nothing it did not change
    (a field left as it was never conflicts with someone else's edit of it)."""
    if before is None:
        return dict(fields)
    held = {**before, "status": before.get("status") or ACTIVE}   # no status written: in the registry
    if isinstance(held.get("members"), list):   # as a form shows them: the same members are no edit
        held["members"] = [_clean_member(m) if isinstance(m, dict) else m for m in held["members"]]
    return {k: v for k, v in fields.items() if held.get(k) != v and not (v in (None, "", []) and
                                                                        held.get(k) in (None, "", []))}


# --- the office's list ---------------------------------------------------------------
def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(text: str = "", grid: str | None = None, status: str | None = None, need: str | None = None,
           grids: frozenset | None = None) -> tuple[str, list]:
    where, args = ["1"], []
    if grids is not None:
        where.append(f"grid_id IN ({','.join('?' * len(grids)) or 'NULL'})")
        args += sorted(grids)
    text = (text or "").strip()
    if text:
        where.append("(head_name LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\' OR phone LIKE ? ESCAPE '\\'"
                     " OR id_number LIKE ? ESCAPE '\\' OR hh_number LIKE ? ESCAPE '\\' OR members LIKE ? ESCAPE '\\')")
        args += [_like(text)] * 6
    if grid:
        where.append("grid_id = ?")
        args.append(grid)
    if status == ACTIVE:
        where.append("(status IS NULL OR status = 'active')")
    elif status == "archived":
        where.append(f"status IN ({','.join('?' * len(ARCHIVED))})")
        args += sorted(ARCHIVED)
    elif status:
        where.append("status = ?")
        args.append(status)
    if need:
        where.append("tags LIKE ?")
        args.append(f'%"{need}"%')
    return " AND ".join(where), args


def search(replica, text: str = "", grid: str | None = None, status: str | None = None, need: str | None = None,
           grids: frozenset | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    """(a page of households, how many match): by head, address, phone, ID number,
    household number or member; by grid, status ("active", "archived" or a status
    code) and need; in the natural order of their addresses. `grids`: only these
    (a person who does not see every grid)."""
    from .queries import _rows
    where, args = _where(text, grid, status, need, grids)
    total = replica.conn.execute(f"SELECT count(*) FROM households WHERE {where}", args).fetchone()[0]
    rows = _rows(replica, "household", f"SELECT * FROM households WHERE {where}"
                 " ORDER BY _address_key, id LIMIT ? OFFSET ?", (*args, limit, offset))
    return rows, total


__all__ = ["ARCHIVED", "ACTIVE", "Problem", "archived", "visit_day", "next_visit_due", "normalize", "problems",
           "changed", "search", "FieldError"]
