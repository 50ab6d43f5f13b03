"""Who may write what: one table, consulted by every path that writes.

The push admission on the server (server/central.py), the office's verbs (they write
through the same admission) and the phone's own screens (workspace.py, before a
write reaches the outbox) all ask `check`, so a phone never offers what the server
would refuse, and nothing the office's screens do escapes the rules.

The table is data: `GRANTS[entity][action][role]` says which fields a role may write
when it creates (or changes) a record of that entity, where (`where`: the record's
scope), and in which states of the case (`states`). Around it, rules that hold for
every role: authorship (`AUTHOR_FIELDS`), fields set once (`SET_ONCE`), fields only the
server writes (`SERVER_FIELDS`), codes a role may record (`ROLE_CODES`), the state
machine per role (`TRANSITIONS`), and the references a field must make
(`check_references`). `docs/security.md` prints the table; the permission-matrix test
is generated from it.

Scope predicates (`where`: any one of its tuples, and every predicate in that one):
  grid      the record's grid (before and after the change) is one of the writer's grids
  case      the case (the record itself, or the case it belongs to) is within the
            writer's reach: in one of their grids, or owned by them (holds when there is
            no case)
  owned     the case (itself or the parent) is owned by the writer
  owned_once  the case was owned by the writer at some time (its history, on the server
            alone): a leader's visit and notes made offline reach the matter even if the
            office gave it to another leader before they synced (nothing typed is lost)
  reporter  the case was reported by the writer
  any       anywhere (the office and the admin)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from . import rules
from .access import Principal
from .model import ENTITIES, FieldError, _err

ROLES = ("grid_worker", "leader", "office", "admin")
ALL = None  # every field of the entity the role may write at all (see _fields)


@dataclass(frozen=True)
class Grant:
    fields: frozenset | None = ALL
    where: tuple[tuple[str, ...], ...] = (("any",),)
    states: frozenset | None = None  # statuses of the case (itself or parent); None: any

    def describe_where(self) -> str:
        return " or ".join(" and ".join(alt) for alt in self.where)


# What a field report holds: the worker's own account of the matter.
REPORT_FIELDS = frozenset({
    "kind", "category", "title", "parties", "household_id", "petitioner_phone", "place", "lat", "lon", "accuracy_m",
    "location_source", "mocked", "description", "risk", "attachments"})  # photos of what was seen
REPORT_CREATE = REPORT_FIELDS | {"grid_id", "channel", "status", "reported_by", "reported_at"}
# The leader's part: the work on a case they own, and its resolution with an outcome.
LEADER_CASE_FIELDS = frozenset({"status", "outcome", "method", "resolved_on"})
WORKING_STATES = frozenset({"accepted", "assigned", "in_progress", "reopened"})

_OFFICE = Grant()
GRANTS: dict[str, dict[str, dict[str, Grant]]] = {
    "household": {
        "create": {"grid_worker": Grant(where=(("grid",),)), "office": _OFFICE, "admin": _OFFICE},
        # moving a household to another grid is the office's
        "update": {"grid_worker": Grant(ENTITIES["household"].by_name.keys() - {"grid_id"}, (("grid",),)),
                   "office": _OFFICE, "admin": _OFFICE},
    },
    "visit": {
        "create": {"grid_worker": Grant(where=(("grid", "case"),)),
                   "leader": Grant(where=(("grid", "case"), ("owned",), ("owned_once",))),
                   "office": _OFFICE, "admin": _OFFICE},
        "update": {},  # append-only: a correction is a new record
    },
    "case": {
        "create": {"grid_worker": Grant(REPORT_CREATE, (("grid",),)),
                   "leader": Grant(REPORT_CREATE, (("grid",),)),
                   "office": _OFFICE, "admin": _OFFICE},
        "update": {"grid_worker": Grant(REPORT_FIELDS, (("grid", "reporter"),), frozenset({"reported"})),
                   "leader": Grant(LEADER_CASE_FIELDS, (("owned",),), WORKING_STATES),
                   "office": _OFFICE, "admin": _OFFICE},
    },
    "case_event": {
        "create": {"grid_worker": Grant(where=(("case",),)), "leader": Grant(where=(("case",), ("owned_once",))),
                   "office": _OFFICE, "admin": _OFFICE},
        "update": {},
    },
    "callback": {  # calling the parties back (评) is the office's, once a case is resolved (and
        # again after a try that reached no one: rules.awaits_callback, judged in `check`)
        "create": {"office": Grant(states=frozenset({"resolved"}) | rules.CALLED_BACK),
                   "admin": Grant(states=frozenset({"resolved"}) | rules.CALLED_BACK)},
        "update": {},
    },
    # grids and staff: written by the server's own commands only (Entity.server_only)
    "grid": {"create": {}, "update": {}},
    "staff": {"create": {}, "update": {}},
}

# Fields that name who did it: the signed-in account, whoever writes.
AUTHOR_FIELDS = {"case": "reported_by", "visit": "visitor", "case_event": "by", "callback": "by"}
# Written with the record and never changed.
SET_ONCE = {"case": frozenset({"reported_by", "reported_at"})}
# Written by the township server alone (references are assigned in the commit).
SERVER_FIELDS = {"case": frozenset({"ref"})}
# A new case starts at the start of the state machine.
CREATE_VALUES = {("case", "status"): frozenset({"reported"})}
# Codes a role may record; a role not named may record any.
ROLE_CODES = {
    ("case", "channel"): {"grid_worker": frozenset({"grid", "screening"}),
                          "leader": frozenset({"grid", "screening"})},
    ("visit", "kind"): {"grid_worker": frozenset({"household", "callback"}),
                        "leader": frozenset({"home", "household", "callback"})},
    ("case_event", "kind"): {"grid_worker": frozenset({"progress", "note"}),
                             "leader": frozenset({"progress", "note", "visit", "resolution"})},
}
_ALL_MOVES = frozenset((a, b) for a, nxt in rules.TRANSITIONS.items() for b in nxt)
# The state machine (rules.TRANSITIONS) as each role may walk it.
TRANSITIONS: dict[str, frozenset] = {
    "grid_worker": frozenset(),
    "leader": frozenset({(s, "in_progress") for s in ("accepted", "assigned", "reopened")}
                        | {(s, "resolved") for s in WORKING_STATES}),
    "office": _ALL_MOVES,
    "admin": _ALL_MOVES,
}
# Records placed in a grid, which must be one of the township's.
GRIDDED = ("case", "visit", "household")
# Fields naming an account that must be a leader's.
LEADER_FIELDS = {("case", "owner"), ("case", "reception_leader")}


@functools.cache  # of the constant table above; asked for each change admitted
def fields_of(entity: str, action: str, role: str) -> frozenset:
    """The fields a role may write in this action (before the other rules)."""
    grant = GRANTS[entity][action].get(role)
    if grant is None:
        return frozenset()
    names = frozenset(ENTITIES[entity].by_name) if grant.fields is ALL else frozenset(grant.fields)
    names -= SERVER_FIELDS.get(entity, frozenset())
    if action == "update":
        names -= SET_ONCE.get(entity, frozenset())
    return names


# --- scope predicates ----------------------------------------------------------------

PastOwners = Callable[[str], "set[str]"]
LastCallback = Callable[[str], "dict | None"]   # a case's latest callback (None: none)


def _holds(pred: str, p: Principal, before: dict | None, after: dict, case: dict | None,
           past_owners: PastOwners | None = None) -> bool:
    if pred == "any":
        return True
    if pred == "grid":
        return after.get("grid_id") in p.grids and (before is None or before.get("grid_id") in p.grids)
    if pred == "case":
        return case is None or case.get("grid_id") in p.grids or case.get("owner") == p.username
    if pred == "owned":
        return case is not None and case.get("owner") == p.username
    if pred == "reporter":
        return case is not None and case.get("reported_by") == p.username
    if pred == "owned_once":
        return _owned_once(p, case, past_owners)
    raise AssertionError(f"unknown scope predicate {pred}")


def _owned_once(p: Principal, case: dict | None, past_owners: PastOwners | None) -> bool:
    return case is not None and past_owners is not None and p.username in past_owners(case["id"])


def in_scope(grant: Grant, p: Principal, entity: str, before: dict | None, after: dict,
             parent: dict | None, past_owners: PastOwners | None = None) -> bool:
    """Whether the write falls within the grant's `where`. A case is judged as it was and
    as it will be (nobody moves a case out of their own reach); a child by its case."""
    cases = ([after] + ([before] if before is not None else [])) if entity == "case" else [parent]
    return any(all(_holds(x, p, before, after, c, past_owners) for x in alt for c in cases) for alt in grant.where)


Lookup = Callable[[str, str], "dict | None"]


def check(p: Principal, entity: str, before: dict | None, fields: dict, lookup: Lookup,
          complete: bool = True, past_owners: PastOwners | None = None,
          last_callback: LastCallback | None = None) -> list[FieldError]:
    """Every rule this write breaks, each naming its field (empty: allowed).

    `before` is the record as the writer's store holds it (None: a create), `fields`
    what the write sets, `lookup(entity, id)` reads another record of the same store.
    `complete`: the store holds every record (the server); a phone's replica does not,
    so a reference it cannot see is left for the server to judge. `past_owners(case
    id)`: every account that ever owned the case (the server's history; "owned_once").
    `last_callback(case id)`: its latest callback; without it a callback on a matter called
    back already is left for the server to judge."""
    action = "create" if before is None else "update"
    grant = GRANTS[entity][action].get(p.role)
    if grant is None:
        return [_err("record", f"{action}_forbidden", role=p.role, entity=entity)]
    after = {**(before or {}), **fields}
    parent = None
    if entity != "case" and after.get("case_id"):
        parent = lookup("case", after["case_id"])
    errs: list[FieldError] = []
    allowed = fields_of(entity, action, p.role)
    for name in (() if fields.keys() <= allowed else fields):  # each name not allowed, and why
        if name in SERVER_FIELDS.get(entity, ()):
            errs.append(_err(name, "server_assigned"))
        elif action == "update" and name in SET_ONCE.get(entity, ()):
            errs.append(_err(name, "set_once"))
        elif name not in allowed:
            errs.append(_err(name, "field_forbidden", role=p.role))
    case = after if entity == "case" else parent
    # within as the matter stands, else as a matter they owned once (its history, asked only now)
    now = in_scope(grant, p, entity, before, after, parent)
    once = not now and in_scope(grant, p, entity, before, after, parent, past_owners)
    if once and entity == "case_event" and fields.get("kind") not in FORMER_OWNER_KINDS:
        # an account of their work, never the matter's resolution: that is the new leader's
        errs.append(_err("record", "reassigned", owner=(case or {}).get("owner") or ""))
    elif not (now or once):
        if p.role == "leader" and (case or {}).get("owner") not in (None, p.username) and _owned_once(
                p, case, past_owners):
            # their own matter, given to another leader before this phone heard of it
            errs.append(_err("record", "reassigned", owner=case["owner"]))
        else:
            errs.append(_err("record", "forbidden", user=p.username))
    status = ((before or {}) if entity == "case" else (parent or {})).get("status")
    if grant.states is not None and status not in grant.states:
        errs.append(_err("record", "state", role=p.role, status=status or "reported"))
    elif entity == "callback" and action == "create" and status in rules.CALLED_BACK and last_callback is not None:
        last = last_callback(after["case_id"]) or {}
        if not rules.awaits_callback(status, last.get("answer")):
            # called back again only after 联系不上: an answer given is not overwritten by another
            errs.append(_err("record", "callback_answered"))
        elif not rules.dated_after_try(after.get("at"), last.get("at")):
            errs.append(_err("at", "callback_before_try", at=str(last.get("at"))[:16].replace("T", " ")))
    author_field = AUTHOR_FIELDS.get(entity)
    if action == "create" and author_field and fields.get(author_field) not in (None, p.username):
        errs.append(_err(author_field, "author"))
    for (ent, name), values in CREATE_VALUES.items():
        if ent == entity and action == "create" and name in fields and fields[name] not in values:
            errs.append(_err(name, "initial_status"))
    for (ent, name), by_role in ROLE_CODES.items():
        codes_ok = by_role.get(p.role)
        if ent == entity and codes_ok is not None and name in fields and fields[name] not in codes_ok:
            errs.append(_err(name, "role_value", role=p.role, value=str(fields[name])))
    if entity == "case" and action == "update" and "status" in fields and fields["status"] != before.get("status"):
        move = (before.get("status"), fields["status"])
        if move not in TRANSITIONS.get(p.role, frozenset()):
            errs.append(_err("status", "transition", role=p.role, **{"from": move[0] or "reported", "to": move[1]}))
    if entity == "case" and after.get("status") == "resolved" and not after.get("outcome"):
        errs.append(_err("outcome", "outcome_needed"))
    if (entity == "case" and fields.get("status") == "resolved" and (before or {}).get("status") != "resolved"
            and not after.get("resolved_on")):
        # the day it was resolved is what the figures, the deadlines and the written
        # opinion count from: a case resolved without it was in the ledger as 已办结 and
        # in no figure (judged on the move only: a record from before is not refused later)
        errs.append(_err("resolved_on", "resolved_on_needed"))
    if (entity == "case" and fields.get("status") == "resolved" and (before or {}).get("status") != "resolved"
            and not str(after.get("method") or "").strip()):
        # 办理情况 is what the written opinion and the ledger say was done: the office's
        # form asks for it, and a phone's resolution without it stood in the ledger empty
        errs.append(_err("method", "method_needed"))
    if entity == "case" and after.get("status") not in FINISHED:
        # a result belongs to the resolution: written alone on a matter in progress, the
        # ledger read 办理中 beside 调解协议 and its plan marked 办结 done. A matter taken
        # up again keeps its old result (and the office settles a conflict between two):
        # only a first result is judged
        errs += [_err(name, "result_without_resolution") for name in ("outcome", "resolved_on")
                 if fields.get(name) not in (None, "") and not (before or {}).get(name)]
    if entity == "case" and fields.get("extended_days") and after.get("status") not in rules.OPEN_STATUSES:
        # a stale page's 延期 on a matter resolved meanwhile: its deadline moved after 办结
        errs.append(_err("extended_days", "extension_not_open", status=after.get("status") or "reported"))
    errs += check_references(p, entity, after, fields, lookup, complete)
    return errs


# Refusals that no retry can answer: the change names the state it was made on, and that
# state is gone for good (a retry was refused again, the same words, every time).
REFUSED_FOR_GOOD = frozenset({"status_moved_on"})


def stale_move_problems(p: Principal, entity: str, fields: dict, base: dict | None, before: dict | None,
                        versions: dict) -> list[FieldError]:
    """A phone's move of a matter made on a state it has left since: the move names, as
    its base, the state its author saw, and that is no longer the matter's. A leader's
    resolution made offline arrived after the petitioner's unsatisfied callback had
    reopened the matter: merged as a concurrent edit it won (the later stamp), and the
    matter read 已办结 with the old result while it was being worked again. The move is
    refused, saying what the matter is now; the author decides again on what it is.
    Judged only where the move names what it saw, and where another moved the matter
    meanwhile: the same person's own move on another phone of theirs (a progress note
    that put it 办理中) leaves nothing to decide again. A move naming nothing is merged
    as a concurrent edit, the office's conflict to settle, as before."""
    if entity != "case" or "status" not in fields or before is None:
        return []
    shown, by = (versions.get("status") or (None, None))[:2]
    seen = (base or {}).get("status")
    if shown is None or not seen or shown in seen or by == p.username:
        return []
    return [_err("status", "status_moved_on", status=before.get("status") or "reported")]


# The states a matter has a result in (its resolution, and what follows it)
FINISHED = frozenset({"resolved", "called_back", "closed"})


def resolution_entry_problems(p: Principal, entity: str, fields: dict, case: dict | None,
                              case_versions: dict) -> list[FieldError]:
    """A phone's resolution entry (办结, on the timeline) stands with its author's
    resolution of the matter, written just before it: the matter must show that
    resolution. When the office resolved or reassigned it first, the phone's move was
    refused and the entry alone was taken: the timeline said 办结 in the leader's words
    while the matter held the office's."""
    if entity != "case_event" or fields.get("kind") != "resolution" or p.sees_all:
        return []
    status = (case or {}).get("status")
    by = (case_versions.get("status") or (None, None))[1]
    if status == "resolved" and by == p.username:
        return []
    return [_err("record", "resolution_not_theirs", status=status or "reported")]


# The timeline entries a leader may still add to a matter given to another (owned_once).
FORMER_OWNER_KINDS = frozenset({"progress", "note", "visit"})
# A duplicate is folded into the matter kept while it is still only reported (docs/office.md),
# and only into a matter still being handled: folded into one declined or closed, a new
# petition left 待受理 and was never accepted, declined or told anything.
MERGEABLE = frozenset({"reported"})
MERGE_TARGETS = frozenset(rules.OPEN_STATUSES)


def merge_target(case: dict) -> bool:
    """Whether a matter may keep a duplicate folded into it (the page's 并入此件)."""
    return not case.get("merged_into") and (case.get("status") or "reported") in MERGE_TARGETS


def check_references(p: Principal, entity: str, after: dict, fields: dict, lookup: Lookup,
                     complete: bool) -> list[FieldError]:
    """Fields naming another record or an account name one that exists and fits."""
    errs = []
    for (ent, name) in LEADER_FIELDS:
        if ent == entity and fields.get(name) is not None:
            staff = lookup("staff", f"staff-{fields[name]}")
            if staff is None and not complete:
                continue
            if staff is None or staff.get("role") != "leader" or staff.get("active") is False:
                errs.append(_err(name, "not_leader"))
    if entity == "case" and fields.get("merged_into") is not None:
        kept = lookup("case", fields["merged_into"])
        if fields["merged_into"] == after.get("id"):
            errs.append(_err("merged_into", "merged_self"))
        elif kept is None and complete:
            errs.append(_err("merged_into", "unknown_record", entity="case"))
        elif _merges_back(after.get("id"), fields["merged_into"], lookup):
            errs.append(_err("merged_into", "merged_cycle"))
        elif (kept or {}).get("merged_into"):
            # a chain z → y → x: the kept matter is x, and z's parties were never shown on it
            errs.append(_err("merged_into", "merged_chain"))
        elif after.get("status") not in MERGEABLE:
            # accepted, given to a leader, running to its deadline: folding it away took it
            # off the overdue list and every figure while its leader kept working it
            errs.append(_err("merged_into", "merged_not_reported", status=after.get("status") or "reported"))
        elif complete and not merge_target(kept):
            errs.append(_err("merged_into", "merged_into_finished", status=kept.get("status") or "reported"))
    gid = fields.get("grid_id")
    if gid is not None and entity in GRIDDED and complete and lookup("grid", gid) is None:
        errs.append(_err("grid_id", "unknown_record", entity="grid"))
    if entity == "visit" and after.get("case_id") and not after.get("household_id"):
        # a home visit is the matter's grid's: it shows on that grid's phones and figures
        case = lookup("case", after["case_id"])
        if case is not None and after.get("grid_id") != case.get("grid_id"):
            errs.append(_err("grid_id", "case_grid"))
    hid = fields.get("household_id")
    if hid is not None and entity in ("case", "visit"):
        hh = lookup("household", hid)
        if hh is None:
            if complete:
                errs.append(_err("household_id", "unknown_record", entity="household"))
        elif entity == "visit" and after.get("grid_id") != hh.get("grid_id"):
            errs.append(_err("grid_id", "household_grid"))
        elif not p.sees_all and hh.get("grid_id") not in p.grids:
            # a leader may name the household of a case they own, in a grid not theirs
            case = after if entity == "case" else lookup("case", after.get("case_id") or "")
            if not (case and case.get("owner") == p.username and case.get("household_id") == hid):
                errs.append(_err("household_id", "forbidden", user=p.username))
    return errs


def _merges_back(case_id, into: str, lookup: Lookup) -> bool:
    """Whether the case `into` is, through the cases it was merged into, folded into
    `case_id` itself: merging would close a loop (A into B, B into A)."""
    seen = set()
    while into is not None and into not in seen:
        if into == case_id:
            return True
        seen.add(into)
        nxt = lookup("case", into)
        into = nxt.get("merged_into") if nxt else None
    return False


def table_markdown() -> str:
    """The table as docs/security.md prints it (a test keeps the two the same)."""
    lines = ["| entity | action | role | fields it may write | where | case states |",
             "| --- | --- | --- | --- | --- | --- |"]
    for entity, actions in GRANTS.items():
        for action in ("create", "update"):
            for role in ROLES:
                grant = actions[action].get(role)
                if grant is None:
                    continue
                names = fields_of(entity, action, role)
                every = names == fields_of(entity, action, "admin") and grant.fields is ALL
                shown = "all" if every else ", ".join(sorted(names))
                states = "any" if grant.states is None else ", ".join(sorted(grant.states))
                lines.append(f"| {entity} | {action} | {role} | {shown} | {grant.describe_where()} | {states} |")
    lines += ["", "Nothing else: a role, entity and action not listed may not write at all "
                  "(grid and staff records are written by the server's own commands).", "",
              "| rule | holds |", "| --- | --- |"]
    lines.append("| written by the signed-in account | "
                 + ", ".join(f"{e}.{f}" for e, f in AUTHOR_FIELDS.items()) + " |")
    lines.append("| set once, at creation | " + ", ".join(f"{e}.{f}" for e, fs in SET_ONCE.items()
                                                          for f in sorted(fs)) + " |")
    lines.append("| written by the server alone | " + ", ".join(f"{e}.{f}" for e, fs in SERVER_FIELDS.items()
                                                                 for f in sorted(fs)) + " |")
    lines.append("| a new record holds | " + ", ".join(f"{e}.{f} = {' or '.join(sorted(v))}"
                                                      for (e, f), v in CREATE_VALUES.items()) + " |")
    for (e, f), by_role in ROLE_CODES.items():
        lines.append(f"| codes of {e}.{f} | " + "; ".join(f"{r}: {', '.join(sorted(v))}"
                                                          for r, v in by_role.items()) + "; others: any |")
    lines.append("| names a leader's account | " + ", ".join(f"{e}.{f}" for e, f in sorted(LEADER_FIELDS)) + " |")
    lines.append("| a resolved case has | an outcome |")
    lines.append("| outcome, resolved_on are written | only on a case " + ", ".join(sorted(FINISHED)) + " after the write |")
    lines += ["", "| role | moves of the state machine it may make |", "| --- | --- |"]
    for role in ROLES:
        moves = sorted(TRANSITIONS[role])
        lines.append(f"| {role} | " + (", ".join(f"{a}→{b}" for a, b in moves) or "none") + " |")
    return "\n".join(lines) + "\n"


def allowed(p: Principal, entity: str, before: dict | None, fields: dict, lookup: Lookup,
            complete: bool = False) -> bool:
    """What a screen asks before it offers an action."""
    return not check(p, entity, before, fields, lookup, complete)


def may_move(role: str, from_status: str | None, to_status: str) -> bool:
    return (from_status, to_status) in TRANSITIONS.get(role, frozenset())


__all__ = ["GRANTS", "Grant", "check", "allowed", "fields_of", "may_move", "ROLES", "TRANSITIONS"]
