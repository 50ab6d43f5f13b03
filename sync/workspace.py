"""The store the screens talk to: domain verbs over a replica, for one signed-in person.

Two implementations share the reads (sync/queries.py) and the verbs below and
differ in how a write is made: on a phone, into the device replica's outbox
(`DeviceWorkspace`); in the office's browser, straight into the central store with
the person's permissions (issue 4). Screens never see SQL or HTTP.
"""

from __future__ import annotations

import datetime as dt

from . import households, permissions, queries, rules, updates
from .access import Principal
from .device import DeviceReplica, ValidationError
from .model import ENTITIES, FieldError, tidy, validate_fields, visit_problems

CST = dt.timezone(dt.timedelta(hours=8))


def now_iso() -> str:
    return dt.datetime.now(CST).replace(microsecond=0).isoformat()


# Rules the verbs keep that the field table (model.py) has no words for yet: a change
# that breaks one is never queued. Once model.py knows the rule (the server's own
# check), its words are used.
# A refused rule's words: model.py holds every rule's (kept as a name the screens use).
VerbError = FieldError


class Workspace:
    replica = None

    def __init__(self, account: dict):
        self.account = account

    # --- who -------------------------------------------------------------------------
    @property
    def username(self) -> str:
        return self.account["username"]

    @property
    def role(self) -> str:
        return self.account["role"]

    @property
    def grids(self) -> list[str]:
        return list(self.account.get("grids") or [])

    scope = None  # a phone's replica holds only what its account may see
    device = ""
    complete = False  # a phone's replica lacks what its account may not see

    @property
    def principal(self) -> Principal:
        return Principal(self.username, self.role, frozenset(self.grids), self.device)

    # --- the write rules (permissions.py): what a screen may offer -------------------
    def now(self) -> dt.datetime:
        """The township's time as this workspace best knows it (+08:00)."""
        return dt.datetime.now(CST)

    def _now_iso(self) -> str:
        return self.now().replace(microsecond=0).isoformat()

    def _today(self) -> dt.date:
        return self.now().date()

    def refusals(self, entity: str, before: dict | None, fields: dict) -> list:
        """The rules a write would break (empty: the server will take it)."""
        return permissions.check(self.principal, entity, before, fields, self.replica.get, self.complete,
                                 last_callback=lambda cid: queries.last_callback(self.replica, cid))

    def may(self, entity: str, before: dict | None, fields: dict) -> bool:
        return not self.refusals(entity, before, fields)

    @staticmethod
    def retry_futile(item: dict) -> bool:
        """Whether a refused change (an item of `quarantined`) would be refused again at
        every retry, whatever the server holds by then: 重试 is not offered for it."""
        return any(e.get("rule") in permissions.REFUSED_FOR_GOOD for e in item.get("errors") or [])

    def clock_guess_minutes(self) -> int | None:
        """How far the phone's date was off the township's at its last sync, in minutes,
        when the phone restarted since: its times are now its date plus that, a guess it
        cannot check until it syncs (right if the date is still as wrong, wrong if the
        person has put it right). None where times are not guessed."""
        return None

    def clock_floored_at(self) -> dt.datetime | None:
        """The last sync's time when the phone's date reads before it (a phone reset to a
        default date): its records are dated then, not when they happen, until the date
        is put right. None where times are not floored."""
        return None

    def handed_over(self, cid: str) -> bool:
        """Kept on this replica only for its unsent work, the case no longer this person's
        (DeviceReplica.handed_over); never so where every record is held."""
        return False

    def left_cases(self) -> list[dict]:
        """Cases that left this replica since the person last read of them (a phone's)."""
        return []

    def forget_left_cases(self) -> None:
        """The person has read of the cases that left."""

    def may_progress(self, case: dict) -> bool:
        if self.handed_over(case["id"]):   # nothing more is offered on a matter given to another
            return False
        return self.may("case_event", None, {"case_id": case["id"], "kind": "progress", "at": self._now_iso(),
                                             "by": self.username})

    def may_resolve(self, case: dict) -> bool:
        if self.handed_over(case["id"]):
            return False
        return self.may("case", case, {"status": "resolved", "outcome": "supported", "method": "-",
                                       "resolved_on": self._today().isoformat()})

    def may_home_visit(self, case: dict) -> bool:
        if self.handed_over(case["id"]):
            return False
        return self.may("visit", None, {"grid_id": case.get("grid_id"), "case_id": case["id"], "kind": "home",
                                        "visited_at": self._now_iso(), "visitor": self.username})

    # --- reads -----------------------------------------------------------------------
    def grid_list(self) -> list[dict]:
        mine = set(self.grids)
        return [g for g in queries.grids(self.replica) if not mine or g["id"] in mine]

    def grid_names(self) -> dict[str, str]:
        """Every grid of the township this replica knows, by id: its name."""
        return {g["id"]: g.get("name") or g["id"] for g in queries.grids(self.replica)}

    def staff_names(self) -> dict[str, str]:
        return queries.staff_names(self.replica)

    def search_households(self, text="", need=None, limit=50, offset=0):
        return queries.search_households(self.replica, text, need, self.scope, limit, offset)

    def nearest_households(self, lat, lon, limit=50):
        return queries.nearest_households(self.replica, lat, lon, limit, self.scope)

    def household(self, hid):
        return queries.household(self.replica, hid)

    def household_visits(self, hid):
        return queries.visits(self.replica, household_id=hid)

    def case_visits(self, cid):
        return queries.visits(self.replica, case_id=cid)

    def due_households(self, today: dt.date, limit: int = 200):
        """Households due for a visit; an archived one (moved out, head deceased) is not."""
        return queries.due_households(self.replica, today, self.scope, limit)

    def due_count(self, today: dt.date) -> int:
        return queries.due_count(self.replica, today, self.scope)

    def cases(self, **kw):
        return queries.cases(self.replica, scope=self.scope, **kw)

    def case(self, cid):
        return self.replica.get("case", cid)

    def timeline(self, cid):
        return queries.timeline(self.replica, cid)

    def last_callback_answer(self, cid) -> str | None:
        return queries.last_callback_answer(self.replica, cid)

    def conflicts(self, entity, rid):
        return self.replica.conflicts(entity, rid)

    def conflicted(self):
        return queries.conflicted(self.replica)

    # --- writes: tidied here (model.tidy), written by each implementation ----------
    def create(self, entity: str, fields: dict) -> str:
        return self._create(entity, tidy(ENTITIES[entity], fields))

    def update(self, entity: str, rid: str, fields: dict) -> None:
        self._update(entity, rid, tidy(ENTITIES[entity], fields))

    def _create(self, entity: str, fields: dict) -> str:
        raise NotImplementedError

    def _update(self, entity: str, rid: str, fields: dict) -> None:
        raise NotImplementedError

    # --- the verbs --------------------------------------------------------------------
    def visit_fields(self, fields: dict) -> dict:
        """The fields of a visit as recorded: who, when, the grid of the household (or case)."""
        f = {"kind": "household", "visitor": self.username, "visited_at": self._now_iso(), **fields}
        if not f.get("grid_id"):
            if f.get("household_id"):
                hh = self.household(f["household_id"]) or {}
                f["grid_id"] = hh.get("grid_id")
            elif f.get("case_id"):
                f["grid_id"] = (self.case(f["case_id"]) or {}).get("grid_id")
        return _clean(f)

    def record_visit(self, fields: dict) -> str:
        """A household visit (走访) or, with a case, a leader's home visit (下访). A
        household visit with nothing recorded is refused (`visit_problems`)."""
        f = self.visit_fields(fields)
        errs = visit_problems(f)
        if errs:
            raise ValidationError(errs)
        vid = self.create("visit", f)  # a visit for a case is on its timeline already
        hh = self.household(f["household_id"]) if f.get("household_id") else None
        if hh:
            after = self.after_visit(hh, f)
            if after and self.may("household", hh, after):
                self.update("household", f["household_id"], after)
        return vid

    # --- households (issue 9): the registry in the field and at the office ------------
    def township(self) -> dict:
        """The township's settings (sync/settings.py): the store's own at the office, on a
        phone as learned at its last sync (the defaults before its first)."""
        import json

        from . import settings
        own = getattr(self.replica, "settings", None)
        if callable(own):
            return own()
        try:
            return settings.resolve(json.loads(self.replica.meta("township_settings") or "{}"))
        except (TypeError, ValueError):
            return settings.defaults()

    def after_visit(self, hh: dict, visit: dict) -> dict:
        """What a visit changes on its household, in one write: the needs it found, and the
        next visit due (the visit's day plus the shortest frequency of the needs; counted
        from the latest visit when an earlier one is recorded late)."""
        out = {}
        tags = sorted(set(hh.get("tags") or []) | set(visit.get("needs_found") or []))
        if tags != sorted(hh.get("tags") or []):
            out["tags"] = tags
        days = [d for d in (households.visit_day(visit.get("visited_at")),
                            *(households.visit_day(v.get("visited_at")) for v in self.household_visits(hh["id"])[:1]))
                if d is not None]
        if days:
            # counted from no later than today: a visit dated tomorrow 23:59 (a clock a few
            # hours ahead) put the next one a day late, and one the server refuses as a
            # day to come moved the household's next visit months away without a visit
            due = households.next_visit_due(min(max(days), self._today()), tags, self.township()).isoformat()
            if due != hh.get("next_visit_due"):
                out["next_visit_due"] = due
        return out

    def household_problems(self, fields: dict, before: dict | None = None) -> list:
        """What a household form would be refused for, each naming its field (a member's
        as "members.N.key"), checked before anything is written."""
        f = households.normalize(fields, before)
        return households.problems(f if before is None else households.changed(f, before), before, self._today())

    def add_household(self, fields: dict) -> str:
        """A household registered (a new arrival found in the field, or by the office): in
        the registry, and due for its first visit on the day it is registered."""
        f = self.new_household_fields(fields)
        errs = households.problems(f, None, self._today())
        if errs:
            raise ValidationError(errs)
        return self.create("household", f)

    def new_household_fields(self, fields: dict) -> dict:
        """A new household's fields as stored: in the registry, due for its first visit
        on the day it is registered."""
        f = households.normalize(_clean(fields))
        f.setdefault("status", households.ACTIVE)
        f.setdefault("next_visit_due", self._today().isoformat())
        return f

    def edit_household(self, hid: str, fields: dict, shown: dict | None = None) -> dict:
        """Change a household: only what differs from what is held is written (an emptied
        field is cleared). New needs bring the next visit nearer when they are visited more
        often (counted from the last visit). Returns what was written.

        `shown`: the household as the form showed it when it opened. Only what the person
        changed on the form is written then: a phone number a sync brought while the
        form was open was written back to the old one by a clerk who changed the note."""
        before = self.household(hid)
        if before is None:
            raise KeyError(hid)
        f = households.normalize({k: (None if v == "" else v) for k, v in fields.items()}, before)
        if shown is not None:
            f = households.changed(f, shown)
        f = households.changed(f, before)
        if "tags" in f:
            last = self.household_visits(hid)[:1]
            day = households.visit_day(last[0]["visited_at"]) if last else None
            if day is not None:
                due = households.next_visit_due(day, f["tags"], self.township()).isoformat()
                if due != before.get("next_visit_due"):
                    f["next_visit_due"] = due
        errs = households.problems(f, before, self._today())
        if errs:
            raise ValidationError(errs)
        if f:
            self.update("household", hid, f)
        return f

    def set_household_status(self, hid: str, status: str) -> None:
        """Moved out (已迁出), head deceased (户主已故), or back in the registry (在册): the
        household is kept whatever happens; archived, it leaves the due lists."""
        self.edit_household(hid, {"status": status})

    def household_page(self, text: str = "", grid: str | None = None, status: str | None = None,
                       need: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """(a page of the households this person sees, how many match) for the office's list."""
        return households.search(self.replica, text, grid, status, need, self.scope.grids if self.scope else None,
                                 limit, offset)

    def report_fields(self, fields: dict) -> dict:
        return _clean({"kind": "dispute", "channel": "grid", "status": "reported",
                       "reported_by": self.username, "reported_at": self._now_iso(), **fields})

    def report_case(self, fields: dict) -> str:
        """A dispute or petition sign reported from the field (上报矛盾纠纷)."""
        # its report opens its timeline
        return self.create("case", self.report_fields(self.checked_petitioner_phone(fields)))

    def checked_petitioner_phone(self, fields: dict) -> dict:
        """The matter's fields with the petitioner's number cleaned, or ValidationError
        naming it by the phone rules households keep (the server refuses the same)."""
        f = households.with_petitioner_phone(fields)
        errs = households.phone_errors("petitioner_phone", f)
        if errs:
            raise ValidationError(errs)
        return f

    def add_progress(self, case_id: str, text: str, attachments: list | None = None) -> str:
        case = self.case(case_id) or {}
        eid = self.create("case_event", {"case_id": case_id, "kind": "progress", "at": self._now_iso(),
                                         "by": self.username, "text": text,
                                         **({"attachments": attachments} if attachments else {})})
        # the owner's progress starts the work; anyone else's is a note on the timeline
        if case.get("status") in ("assigned", "accepted", "reopened") and self.may("case", case, rules.IMPLIED_MOVE):
            self.update("case", case_id, dict(rules.IMPLIED_MOVE))
        return eid

    def resolve_case(self, case_id: str, outcome: str, method: str, attachments: list | None = None) -> None:
        self.update("case", case_id, {"status": "resolved", "outcome": outcome, "method": method,
                                      "resolved_on": self._today().isoformat()})
        self.create("case_event", {"case_id": case_id, "kind": "resolution", "at": self._now_iso(),
                                   "by": self.username, "text": method,
                                   **({"attachments": attachments} if attachments else {})})


def _clean(fields: dict) -> dict:
    """Leave out empty answers: an unanswered field is absent, not an empty string."""
    return {k: v for k, v in fields.items() if v not in (None, "", [])}


class DeviceWorkspace(Workspace):
    """The phone's workspace: writes go to the device replica and its outbox."""

    def __init__(self, replica: DeviceReplica, account: dict):
        super().__init__(account)
        self.replica = replica
        self.device = replica.device_id

    def now(self) -> dt.datetime:
        """The township's time by this phone's clock as anchored at its last sync: a phone
        whose date is set wrong (or was, when it restarted) still records its visits and
        reports at the time they happened, not on a day the server refuses to come. Never
        before the server's time at the last sync (a time known to have passed): a phone
        that restarted with its date reset years back, offline, filed its visits and
        reports in a year long reported (a ledger number of that year, limits run out).
        Not the clock's last stamp: one made while the date was ahead would have dated
        every later record ahead too, after the date was put right."""
        self.replica._load_clock()
        return dt.datetime.fromtimestamp(self.replica.clock.written_ms() / 1000, CST)

    # An offset below this is a phone's ordinary drift: no one is asked to look.
    CLOCK_GUESS_MIN = 10

    def clock_guess_minutes(self) -> int | None:
        self.replica._load_clock()
        c = self.replica.clock
        if c.anchored() or self.replica.meta("token") is None:   # not signed in: never synced
            return None
        minutes = round(c.offset_ms / 60_000)
        return minutes if abs(minutes) >= self.CLOCK_GUESS_MIN else None

    def clock_floored_at(self) -> dt.datetime | None:
        self.replica._load_clock()
        c = self.replica.clock
        if c.anchor_server_ms is None or c.physical() >= c.anchor_server_ms - self.CLOCK_GUESS_MIN * 60_000:
            return None
        return dt.datetime.fromtimestamp(c.anchor_server_ms / 1000, CST)

    def _create(self, entity, fields):
        self._check(entity, None, fields)
        return self.replica.create(entity, fields, self.username)["record"]

    def _update(self, entity, rid, fields):
        self._check(entity, self.replica.get(entity, rid), fields)
        self.replica.update(entity, rid, fields, self.username)

    def _check(self, entity, before, fields) -> None:
        """The phone queues nothing the server would refuse for its rules (the server
        still judges: another phone may have moved the case on meanwhile), nor an empty
        household visit."""
        errs = self.refusals(entity, before, fields)
        if entity == "visit" and before is None:
            errs = visit_problems(fields) + errs
        if errs:
            raise ValidationError(errs)

    # --- what only a phone has ------------------------------------------------------
    def handed_over(self, cid: str) -> bool:
        return self.replica.handed_over(cid)

    def left_cases(self) -> list[dict]:
        return self.replica.left_cases()

    def forget_left_cases(self) -> None:
        self.replica.forget_left_cases()

    def pending_count(self) -> int:
        return self.replica.pending_count()

    def quarantined(self) -> list[dict]:
        return self.replica.quarantined()

    def retry_quarantined(self, change_id: str) -> None:
        self.replica.retry_quarantined(change_id)

    # --- giving up a refused change, or correcting it (docs/phone.md) ----------------
    def discard_plan(self, change_id: str) -> dict:
        """What a discard takes with it, for the screen to say before it is done."""
        return self.replica.discard_plan(change_id)

    def discard(self, change_id: str) -> None:
        """Give up a refused change: at the next sync the server's accepted state of the
        record replaces it (and the server audits it); until then it waits."""
        self.replica.request_discard(change_id)

    # What the phone's forms can correct: a visit, a report, a progress entry, a household.
    CORRECTABLE = ("visit", "case", "case_event", "household")

    def correctable(self, item: dict) -> bool:
        """Whether a form can correct this refused change: a visit, a progress entry, a
        household or a report the server never took, or an edit of a report while it may
        be edited. (A refused edit of a household waits for 重试 or 放弃: the phone holds
        its ID numbers masked, and a form of it could not say what the person changed.)"""
        ch = item["change"]
        if item["entity"] not in self.CORRECTABLE or item.get("state") == "discarding":
            return False
        gone = self.replica.discard_plan(item["change_id"], dependents=False)["gone"]
        if item["entity"] == "case_event":
            return gone and (ch["fields"].get("kind") == "progress" or kept_as_progress(item))
        if item["entity"] in ("visit", "household") or gone:
            return gone
        row = self.replica.get("case", item["record"])  # an edit of a report: while it may be edited
        return row is not None and self.may("case", row, {"description": row.get("description") or "-"})

    def correction_fields(self, change_id: str, form: dict) -> tuple[dict, bool]:
        """(the corrected record's fields, whether it is created anew): the refused values
        with the form's over them, completed as the verbs complete them."""
        item = next(q for q in self.quarantined() if q["change_id"] == change_id)
        entity, refused = item["entity"], item["change"]["fields"]
        create = self.replica.discard_plan(change_id, False)["gone"]
        if entity == "visit":
            # when and where it happened stay as recorded unless the form changes them;
            # the grid is the household's as this phone now holds it
            full = self.visit_fields({**{k: v for k, v in refused.items() if k != "grid_id"}, **form})
        elif entity == "case":
            full = self.report_fields({**refused, **form}) if create else _clean(form)
        elif entity == "household":
            # where it was recorded stays (the form has no position); the grid is the form's
            full = self.new_household_fields({**{k: v for k, v in refused.items() if k != "grid_id"}, **form})
        else:
            full = _clean({**refused, **form})
            if kept_as_progress(item):
                full["kind"] = "progress"
        if not create:
            allowed = permissions.fields_of(entity, "update", self.role)
            full = {k: v for k, v in full.items() if k in allowed}
        # a change refused for a pasted zero-width space is mended by saving it again
        return tidy(ENTITIES[entity], full), create

    def correct(self, change_id: str, form: dict) -> None:
        """Give up a refused change and write the form's values in its place. The new
        values are checked now (they are written when the server has answered the
        discard, maybe offline hours later) and refused here with the field named."""
        fields, create = self.correction_fields(change_id, form)
        item = next(q for q in self.quarantined() if q["change_id"] == change_id)
        if item["entity"] == "case":
            fields = households.with_petitioner_phone(fields)
        before = None if create else self.replica.get(item["entity"], item["record"])
        if item["entity"] == "household":   # the model's rules, and the ID numbers' and phone's
            errs = households.problems(fields, None, self._today())
        else:
            errs = validate_fields(ENTITIES[item["entity"]], fields, creating=create)
            errs += households.phone_errors("petitioner_phone", fields, before)
        errs += self.refusals(item["entity"], before, fields)
        if item["entity"] == "visit" and create:
            errs = visit_problems(fields) + errs
        if errs:
            raise ValidationError(errs)
        self.replica.request_discard(change_id, {"fields": fields, "author": self.username, "create": create})

    def mark_seen(self, case_id: str) -> None:
        """Remember the case as the person last saw it, for "changed since" on Today."""
        self.replica.set_meta(f"seen:{case_id}", updates.newest_stamp(self.replica.versions("case", case_id)))

    def changed_cases(self) -> list[dict]:
        """Cases this person follows that someone else changed since they last looked
        (sync/updates.py decides)."""
        out = []
        mine = self.cases(reported_by=self.username, limit=500) + (
            self.cases(owner=self.username, limit=500) if self.role == "leader" else [])
        starting = self.replica.seen_starting()
        seen_ids = set()
        for c in mine:
            if c["id"] in seen_ids:
                continue
            seen_ids.add(c["id"])
            by_others = updates.newest_stamp(self.replica.versions("case", c["id"]), exclude_author=self.username)
            if updates.is_update(by_others, self.replica.meta(f"seen:{c['id']}"), starting):
                out.append(c)
        return out


def kept_as_progress(item: dict) -> bool:
    """A refused 办结 entry whose matter someone else resolved first (or took from this
    person): corrected, the words of what was done stay on the timeline as a progress
    note (进展), which the person may still add; the resolution is not theirs."""
    return (item["entity"] == "case_event" and item["change"]["fields"].get("kind") == "resolution"
            and any(e.get("rule") in ("resolution_not_theirs", "reassigned") for e in item.get("errors") or []))


__all__ = ["Workspace", "DeviceWorkspace", "VerbError", "now_iso", "visit_problems"]
