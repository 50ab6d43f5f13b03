"""The township office's workspace: the verbs of 集分研化评 over the central store,
each checked against the office's rules (rules.py) and written with the signed-in
person's permissions, each leaving its trace on the case timeline.

Server-side: it works on the central store directly (the office's browser), so no
sync is involved; phones see the result on their next pull.
"""

from __future__ import annotations

import datetime as dt
import difflib

from .. import changes, codes, rules, statute
from . import callback_order
from .central import SERVER_DEVICE, CentralStore
from ..queries import OPEN_STATUSES, Scope, _rows, case_words
from ..replica import chunks
from ..workspace import CST, Workspace, _clean, now_iso

class Missing(ValueError):
    """A field the office must fill in was left empty."""

    def __init__(self, field: str):
        super().__init__(f"{field}: is required")
        self.field = field


DUPLICATE_DAYS = 30
NEAR_M = 200.0
SIMILAR = 0.5


def today() -> dt.date:
    return dt.datetime.now(CST).date()


# The callback queue lists this many at once in each of its two lists; its header counts them all.
CALLBACK_QUEUE_SHOWN = 500
# A matter waiting for its callback (a duplicate merged away is called back through its matter).
CALLBACK_WAITING = "status='resolved' AND merged_into IS NULL"
# The matters called back or closed whose latest callback reached no one, and when that
# try was made (rules.retry_listed decides which wait on the queue). Read from the tries
# (a few callbacks) to their matters: read from the matters, it looked into every one ever
# called back (0.3 s for 100,000 matters, twice a drawing of the queue).
_LAST_TRIES = ("SELECT c.id, c.status, cb.at FROM callbacks cb CROSS JOIN cases c ON c.id = cb.case_id"
               f" WHERE cb.answer = ? AND c.status IN ({','.join('?' * len(rules.CALLED_BACK))})"
               f" AND c.merged_into IS NULL AND {{scope}} AND {callback_order.latest('cb')}")


def not_to_come(on: dt.date, field: str, code: str = "date_in_future") -> None:
    """What the office records as done is dated no later than today: the write rules
    allow tomorrow for a phone's clock and zone, which the office has not, and a notice
    dated tomorrow took a matter off the overdue list though no one had been told."""
    if on > today():
        raise rules.RuleError(code, field=field, date=on.isoformat())


class CentralWorkspace(Workspace):
    complete = True  # the central store holds every record

    def __init__(self, store: CentralStore, account: dict):
        super().__init__(account)
        self.replica = store
        self.device = SERVER_DEVICE  # the office's writes are the server's own
        self.scope = None if self.principal.sees_all else Scope(frozenset(self.grids), self.username)

    # --- writes: the same rules as a phone's push --------------------------------------
    def _create(self, entity, fields):
        rid = changes.new_id("r")
        self.replica.server_write(entity, rid, fields, author=self.username, principal=self.principal)
        return rid

    def _update(self, entity, rid, fields):
        self.replica.server_write(entity, rid, fields, author=self.username, principal=self.principal)

    def name(self, username: str | None) -> str:
        """A person as the timeline names them: their name, not their account."""
        return self.staff_names().get(username, username or "")

    def _event(self, cid: str, kind: str, text: str = "") -> None:
        self.create("case_event", {"case_id": cid, "kind": kind, "at": now_iso(), "by": self.username,
                                   "text": text})

    def _move(self, case: dict, to: str, fields: dict | None = None, event: tuple | None = None) -> None:
        rules.check_transition(case["status"], to)
        self.update("case", case["id"], {"status": to, **(fields or {})})
        if event:
            self._event(case["id"], *event)

    def _case(self, cid: str) -> dict:
        case = self.case(cid)
        if case is None:
            raise KeyError(cid)
        return case

    # --- 集 collect ----------------------------------------------------------------------
    def register_matter(self, fields: dict, on: dt.date | None = None) -> str:
        """A matter from any channel enters the one ledger; its reference comes from the
        server, its registration deadline from the rules."""
        on = on or today()
        fields = self.checked_petitioner_phone(fields)
        f = {"kind": "petition", "status": "reported", "reported_by": self.username,
             "reported_at": now_iso(), "received_on": on.isoformat(),
             "register_by": rules.register_by(on).isoformat(), **fields}
        cid = self.create("case", _clean(f))
        how = codes.label(codes.CHANNELS, f.get("channel"))
        if f.get("reception_leader"):
            how += f"，接访领导 {self.name(f['reception_leader'])}"
        self._event(cid, "note", f"登记（{how}）")
        return cid

    def likely_duplicates(self, fields: dict, exclude: str | None = None) -> list[tuple[dict, str]]:
        """Matters that may be the same one: the same household or party with the same
        category within 30 days, or a report within 200 m with similar text."""
        from geopy.distance import geodesic
        since = (today() - dt.timedelta(days=DUPLICATE_DAYS)).isoformat()
        rows = _rows(self.replica, "case", "SELECT * FROM cases WHERE (reported_at >= ? OR recheck_answered_on IS NOT"
                     " NULL) AND merged_into IS NULL", (since,))
        parties = set(fields.get("parties") or [])
        text = fields.get("description") or ""
        out = []
        for c in rows:
            if c["id"] == exclude:
                continue
            same_cat = c["category"] == fields.get("category")
            if statute.is_final(c):
                # 复核 answered: the same claim is not accepted again (art. 36), however old
                if same_cat and (parties & set(c.get("parties") or []) or (
                        fields.get("household_id") and c.get("household_id") == fields["household_id"])):
                    out.append((c, "final"))
                continue
            if (c.get("reported_at") or "") < since:
                continue
            if same_cat and fields.get("household_id") and c.get("household_id") == fields["household_id"]:
                out.append((c, "same_household"))
            elif same_cat and parties & set(c.get("parties") or []):
                out.append((c, "same_party"))
            elif (None not in (fields.get("lat"), fields.get("lon"), c.get("lat"), c.get("lon"))
                  and geodesic((fields["lat"], fields["lon"]), (c["lat"], c["lon"])).meters <= NEAR_M
                  and difflib.SequenceMatcher(None, text, c["description"] or "").ratio() >= SIMILAR):
                out.append((c, "near_similar"))
        return out

    def merge(self, duplicate: str, into: str) -> None:
        """Fold a duplicate into the matter kept: both keep their history, the kept
        one's timeline shows the other's (queries.timeline), the duplicate is closed."""
        dup, keep = self._case(duplicate), self._case(into)
        self.update("case", duplicate, {"merged_into": into})
        self._event(into, "merge", f"并入 {dup.get('ref') or duplicate}")
        self._event(duplicate, "merge", f"并入 {keep.get('ref') or into}")

    # --- 分 classify ---------------------------------------------------------------------
    def accept(self, cid: str, on: dt.date | None = None) -> None:
        """Accepted: the 60 days start; the deadline is computed, never typed (the higher
        body's, when it is earlier)."""
        on = on or today()
        case = self._case(cid)
        received = {}
        if not case.get("received_on"):  # a phone's report enters the ledger when accepted
            got = rules.as_date(case.get("reported_at")) or on
            received = {"received_on": got.isoformat(), "register_by": rules.register_by(got).isoformat()}
        due, source = statute.deadline(on, 0, rules.as_date(case.get("higher_deadline")))
        self._move(case, "accepted", {**received, "accepted_on": on.isoformat(), "deadline": due.isoformat()},
                   ("accept", f"受理，办理期限 {due.isoformat()}" + ("（上级要求）" if source == "higher" else "")))

    def notice(self, cid: str, on: dt.date | None = None) -> None:
        """The petitioner was told the matter was received and how it will be handled (art. 23)."""
        on = on or today()
        rules.check_office_action("notice", self._case(cid).get("status"))
        not_to_come(on, "notice_sent_on")
        self.update("case", cid, {"notice_sent_on": on.isoformat()})
        self._event(cid, "notice", f"已告知信访人（{on.isoformat()}）")

    def decline(self, cid: str, reason: str) -> None:
        if not reason.strip():
            raise Missing("decline_reason")
        self._move(self._case(cid), "declined", {"decline_reason": reason.strip()}, ("decline", reason.strip()))

    def grade(self, cid: str, risk: str, urgency: str = "normal", signals: list[str] = (),
              group_size: int | None = None) -> str:
        """The assessed risk, raised by the escalation signals (rules.grade)."""
        rules.check_office_action("grade", self._case(cid).get("status"))
        graded = rules.grade(risk, list(signals), group_size)
        # the signals that raised it, the group of more than five included, and how many
        # came: kept on the matter, so the form shows them (and the base) again
        raised = rules.raised_by(signals, group_size)
        self.update("case", cid, {"risk": graded, "urgency": urgency, "signals": raised,
                                  **({"visitors": group_size} if group_size else {})})
        from ..codes import RISK_LEVELS, SIGNALS, URGENCY, label
        self._event(cid, "grade", f"{label(RISK_LEVELS, graded)} · {label(URGENCY, urgency)} · "
                                  f"{'、'.join(label(SIGNALS, x) for x in raised) or '无升级信号'}"
                                  + (f" · {group_size}人" if group_size else ""))
        return graded

    # --- 研 plan -------------------------------------------------------------------------
    def consult(self, cid: str, on: dt.date, departments: list[str], plan: str, owner: str) -> None:
        """The joint consultation (会商): the plan, the owning leader, the departments."""
        case = self._case(cid)
        rules.check_office_action("consult", case.get("status"))
        not_to_come(on, "consulted_on")
        if not plan.strip():
            raise Missing("plan")
        if not owner:
            raise Missing("owner")
        fields = {"consulted_on": on.isoformat(), "departments": departments, "plan": plan.strip(),
                  "owner": owner}
        if case["status"] in ("accepted", "reopened"):
            self._move(case, "assigned", fields)
        else:
            self.update("case", cid, fields)
        self._event(cid, "consultation", f"{'、'.join(departments)}会商：{plan.strip()}")
        self._event(cid, "assign", f"包案领导 {self.name(owner)}")

    def add_progress(self, case_id: str, text: str, attachments: list | None = None) -> str:
        rules.check_office_action("add_progress", self._case(case_id).get("status"))
        return super().add_progress(case_id, text, attachments)

    def extend(self, cid: str, days: int, reason: str) -> None:
        case = self._case(cid)
        if case.get("status") not in OPEN_STATUSES:   # a page drawn before it was resolved
            raise rules.RuleError("extension_not_open", status=case.get("status") or "reported")
        accepted = rules.as_date(case.get("accepted_on"))
        total = rules.extend(accepted, case.get("extended_days"), days, reason,
                             rules.as_date(case.get("deadline")), today())
        # as at today, as accept and reopen judge it: a higher deadline already passed
        # does not shorten the period (it took a reopened matter's deadline back to October)
        deadline, _ = statute.deadline(accepted, total, rules.as_date(case.get("higher_deadline")), today())
        current = rules.as_date(case.get("deadline"))
        if current is not None and deadline <= current:
            # the higher body's deadline still governs: the one extension would be spent
            # and the notice would tell the petitioner of a "longer" period that is not
            raise rules.RuleError("extension_no_effect", deadline=current.isoformat())
        self.update("case", cid, {"extended_days": total, "extension_reason": reason.strip(),
                                  "deadline": deadline.isoformat()})
        self._event(cid, "extension", f"延期 {days} 天至 {deadline.isoformat()}：{reason.strip()}")

    # --- 化 resolve ----------------------------------------------------------------------
    def resolve_case(self, cid: str, outcome: str, method: str) -> None:
        case = self._case(cid)
        if not outcome:
            raise Missing("outcome")
        if not (method or "").strip():
            raise Missing("method")
        self._move(case, "resolved", {"outcome": outcome, "method": method.strip(),
                                      "resolved_on": today().isoformat()},
                   ("resolution", f"{codes.label(codes.OUTCOMES, outcome)}：{method.strip()}"))

    # --- 评 evaluate ---------------------------------------------------------------------
    def call_back(self, cid: str, method: str, answer: str, comment: str = "") -> str:
        """A callback after resolution; an unsatisfied answer reopens the matter, unless
        复核 has answered (rules.after_callback). A matter whose latest callback reached
        no one (联系不上) is called back again, called back or closed (rules.awaits_callback)."""
        case = self._case(cid)
        rules.check_call_back(case, self.last_callback_answer(cid))
        if not answer:
            raise Missing("answer")
        self.create("callback", _clean({"case_id": cid, "at": now_iso(), "by": self.username,
                                        "method": method, "answer": answer, "comment": comment}))
        to = rules.after_callback(answer, statute.stage(case), case["status"])
        fresh = statute.reopen(today(), rules.as_date(case.get("higher_deadline"))) if to == "reopened" else {}
        event = None
        if fresh:
            event = ("reopen", f"{comment or '回访不满意'}，重新办理，办理期限 {fresh['deadline']}")
        elif answer == "unsatisfied":   # not taken up again (rules.after_callback)
            event = ("callback", f"{comment or '回访不满意'}。复核已终结，同一事项不再受理，不重新办理")
        if to != case["status"]:
            self._move(case, to, fresh, event=event)
        elif event:   # called back again, and it stays as it was (closed stays closed)
            self._event(cid, *event)
        return to

    # --- after the written opinion: 复查 (art. 35), 复核 (art. 36) ---------------------------
    def request_review(self, cid: str, kind: str, on: dt.date, received: dt.date | None = None) -> None:
        """The petitioner asked for 复查 ("review") or 复核 ("recheck") on that day,
        having received the answer asked about on `received` (if later than its day)."""
        case = self._case(cid)
        if received is None and kind == "review":
            issued = self.opinion_issued_on(cid)
            received = issued if issued is not None and issued <= on else None
        why = statute.may_request(case, kind, on, today(), received)
        if why:
            field = (f"{kind}_requested_on" if why in statute.DAY_FAULTS else
                     statute.RECEIVED[kind] if why in statute.RECEIPT_FAULTS else "record")
            raise rules.RuleError(f"review_{why}", field=field, date=on.isoformat())
        due = statute.answer_due(on)
        self.update("case", cid, {f"{kind}_requested_on": on.isoformat(), f"{kind}_due": due.isoformat(),
                                  **({statute.RECEIVED[kind]: received.isoformat()} if received else {})})
        self._event(cid, kind, f"申请{'复查' if kind == 'review' else '复核'}（{on.isoformat()}），"
                               f"答复期限 {due.isoformat()}")

    def opinion_issued_on(self, cid: str) -> dt.date | None:
        """The first day the written opinion was issued (its document made) since the
        matter was resolved: the petitioner cannot have received it before, though the
        opinion bears the day of the resolution (documents.py)."""
        from . import documents
        since = self._case(cid).get("resolved_on")
        if not since:
            return None
        row = self.replica.conn.execute(
            "SELECT min(substr(at, 1, 10)) FROM case_events WHERE case_id = ? AND kind = ?"
            " AND instr(text, ?) > 0 AND substr(at, 1, 10) >= ?",
            (cid, documents.EVENT_KIND, f"《{documents.KINDS['opinion']}》", since)).fetchone()
        return rules.as_date(row[0]) if row and row[0] else None

    def answer_review(self, cid: str, kind: str, on: dt.date, outcome: str) -> None:
        """The higher body answered the 复查 or 复核."""
        if not outcome:
            raise Missing(f"{kind}_outcome")
        not_to_come(on, f"{kind}_answered_on", "review_answer_in_future")
        self.update("case", cid, {f"{kind}_answered_on": on.isoformat(), f"{kind}_outcome": outcome})
        word = "复查" if kind == "review" else "复核"
        self._event(cid, kind, f"{word}答复：{codes.label(codes.REVIEW_OUTCOMES, outcome)}（{on.isoformat()}）"
                               + ("。复核终结，同一事项不再受理" if kind == "recheck" else ""))

    # --- documents and conflicts --------------------------------------------------------
    def resolve_conflict(self, entity: str, rid: str, field: str, value) -> None:
        """Settle concurrent edits of a field: a write whose base names every head (the
        merge rule then shows this value alone, on every replica)."""
        self.replica.server_write(entity, rid, {field: value}, author=self.username, principal=self.principal,
                                  all_heads=True)

    def reopen_declined(self, cid: str) -> None:
        """A declined matter taken up again (the petitioner's request was upheld): a fresh
        handling period from today."""
        case = self._case(cid)
        fresh = statute.reopen(today(), rules.as_date(case.get("higher_deadline")))
        self._move(case, "reopened", fresh, ("reopen", f"重新受理，办理期限 {fresh['deadline']}"))

    def close(self, cid: str) -> None:
        self._move(self._case(cid), "closed", event=("status", "结案"))

    # --- lists -------------------------------------------------------------------------
    def acceptance_queue(self, search: str = "", limit: int = 100, offset: int = 0) -> list[dict]:
        """Matters waiting to be accepted or declined; a duplicate merged into another
        has left the queue (its history stays, shown on the one it joined)."""
        where, args = self._where(search)
        return _rows(self.replica, "case", f"SELECT * FROM cases WHERE {where} AND status='reported'"
                     " AND merged_into IS NULL ORDER BY reported_at DESC, id LIMIT ? OFFSET ?", (*args, limit, offset))

    def _where(self, search: str = "") -> tuple[str, list]:
        """The person's scope, and the words searched for (the ledger's box), over cases."""
        where, args = (self.scope.where("grid_id", "owner") if self.scope else ("1", []))
        words, said = case_words(search)
        return where + words, [*args, *said]

    def callback_queue(self, limit: int = CALLBACK_QUEUE_SHOWN) -> list[dict]:
        """Resolved matters waiting for their callback, the longest waiting first: the
        first `limit` of them (the 500 newest reports, as it was, left the oldest out)."""
        where, args = self._where()
        return _rows(self.replica, "case", f"SELECT * FROM cases WHERE {where} AND {CALLBACK_WAITING}"
                     " ORDER BY resolved_on IS NULL, resolved_on, reported_at, id LIMIT ?", (*args, limit))

    def callbacks_waiting(self) -> int:
        """How many resolved matters wait for their callback (the first of the queue's lists)."""
        where, args = self._where()
        return self.replica.conn.execute(f"SELECT count(*) FROM cases WHERE {where} AND {CALLBACK_WAITING}",
                                         args).fetchone()[0]

    def _retries(self, on: dt.date) -> list[tuple[str, str]]:
        """(matter, day of its last try) of the matters whose petitioner was not reached
        and who wait for another try (rules.retry_listed), the oldest try first."""
        scope, args = self.scope.where("c.grid_id", "c.owner") if self.scope else ("1", [])
        found = self.replica.conn.execute(_LAST_TRIES.format(scope=scope),
                                          (rules.NOT_REACHED, *sorted(rules.CALLED_BACK), *args))
        listed = sorted((at, cid) for cid, status, at in found
                        if rules.retry_listed(status, rules.NOT_REACHED, rules.as_date(at), on))
        return [(cid, at[:10]) for at, cid in listed]

    def callback_retries(self, limit: int = CALLBACK_QUEUE_SHOWN, on: dt.date | None = None) -> list[dict]:
        """The queue's second list: matters called back (or closed) whose latest callback
        reached no one (联系不上), to be called back again, the oldest try first, each with
        `last_try`, the day of that try. A resolved matter is never in it (the first list)."""
        return self.callback_retry_queue(limit, on)[0]

    def callback_retries_waiting(self, on: dt.date | None = None) -> int:
        return len(self._retries(on or today()))

    def callback_retry_queue(self, limit: int = CALLBACK_QUEUE_SHOWN,
                             on: dt.date | None = None) -> tuple[list[dict], int]:
        """callback_retries and how many there are in all, from one reading of the tries."""
        listed = self._retries(on or today())
        tries = dict(listed[:limit])
        rows = {c["id"]: c for part in chunks(list(tries)) for c in _rows(
            self.replica, "case", f"SELECT * FROM cases WHERE id IN ({','.join('?' * len(part))})", part)}
        return [{**rows[cid], "last_try": day} for cid, day in tries.items() if cid in rows], len(listed)

    def _open_by_deadline(self, lo: str | None, hi: str, search: str = "") -> list[dict]:
        where, args = self._where(search)
        marks = ",".join("?" * len(OPEN_STATUSES))
        sql = (f"SELECT * FROM cases WHERE {where} AND status IN ({marks}) AND deadline IS NOT NULL"
               " AND merged_into IS NULL"
               + (" AND deadline >= ?" if lo else "") + " AND deadline <= ? ORDER BY deadline, id")
        return _rows(self.replica, "case", sql, (*args, *OPEN_STATUSES, *([lo] if lo else []), hi))

    def overdue(self, on: dt.date | None = None, search: str = "") -> list[dict]:
        """Matters past any statutory limit (statute.overdue_reasons: 15 days to register,
        15 to tell the petitioner, the handling period, a review's answer), the longest
        overdue first; `search`: the ledger's words, as its other lists take them."""
        on = on or today()
        where, args = self._where(search)
        rows = _rows(self.replica, "case", f"SELECT * FROM cases WHERE {where} AND merged_into IS NULL AND ("
                     "(status IN ('reported','accepted','assigned','in_progress','reopened')) OR notice_sent_on IS NULL"
                     " OR (review_requested_on IS NOT NULL AND review_answered_on IS NULL)"
                     " OR (recheck_requested_on IS NOT NULL AND recheck_answered_on IS NULL))", args)
        late = [(c, statute.overdue_reasons(c, on)) for c in rows]
        return [c for c, why in sorted(((c, w) for c, w in late if w), key=lambda cw: _first_due(cw[0]))]

    def due_soon(self, on: dt.date | None = None, days: int = 7, search: str = "") -> list[dict]:
        """Open matters due within the next `days` days (rules.due_within)."""
        on = on or today()
        return [c for c in self._open_by_deadline(on.isoformat(), (on + dt.timedelta(days=days)).isoformat(), search)
                if rules.due_within(c, on, days)]

    def supervision(self, *, which: str = "open", leader: str = "", search: str = "",
                    limit: int = 100_000, offset: int = 0) -> list[dict]:
        """The leader supervision ledger: leader-owned matters, leader by leader, the most
        pressing first (the nearest deadlines, finished ones last). `which`: "open",
        "overdue" or "all" (finished too). Paged in SQL: a year's thousands of owned
        matters, each with its latest progress, took seconds to draw on every phone's sync."""
        where, args = self._supervision_where("open" if which == "overdue" else which, leader, search)
        order = ("(SELECT name FROM staff WHERE username=cases.owner), owner,"
                 f" status NOT IN ({','.join('?' * len(OPEN_STATUSES))}), deadline IS NULL, deadline,"
                 " COALESCE(ref, id), id")
        if which == "overdue":   # the rules' test, over the open ones' two fields it reads
            on = today()
            late = [cid for cid, status, deadline in self.replica.conn.execute(
                f"SELECT id, status, deadline FROM cases WHERE {where} ORDER BY {order}", (*args, *OPEN_STATUSES))
                if rules.is_overdue({"status": status, "deadline": deadline}, on)][offset:offset + limit]
            rows = {c["id"]: c for part in chunks(late) for c in _rows(
                self.replica, "case", f"SELECT * FROM cases WHERE id IN ({','.join('?' * len(part))})", part)}
            return [rows[cid] for cid in late if cid in rows]
        return _rows(self.replica, "case", f"SELECT * FROM cases WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                     (*args, *OPEN_STATUSES, limit, offset))

    def supervision_counts(self, which: str = "open", search: str = "") -> dict[str, tuple[int, int]]:
        """Per leader: how many matters `which` and the search leave, and how many of their
        open ones are overdue."""
        on = today()
        where, args = self._supervision_where("open", "", search)
        running, late = {}, {}
        for owner, status, deadline in self.replica.conn.execute(
                f"SELECT owner, status, deadline FROM cases WHERE {where}", args):
            running[owner] = running.get(owner, 0) + 1
            if rules.is_overdue({"status": status, "deadline": deadline}, on):
                late[owner] = late.get(owner, 0) + 1
        if which == "all":
            where, args = self._supervision_where("all", "", search)
            n = dict(self.replica.conn.execute(f"SELECT owner, COUNT(*) FROM cases WHERE {where} GROUP BY owner", args))
        else:
            n = late if which == "overdue" else running
        return {owner: (k, late.get(owner, 0)) for owner, k in n.items()}

    def _supervision_where(self, which: str, leader: str, search: str) -> tuple[str, list]:
        where, args = self._where(search)
        where += " AND owner IS NOT NULL AND owner != '' AND merged_into IS NULL"
        if which == "open":
            where += f" AND status IN ({','.join('?' * len(OPEN_STATUSES))})"
            args = [*args, *OPEN_STATUSES]
        if leader:
            where += " AND owner=?"
            args = [*args, leader]
        return where, args

    def ledger_years(self) -> list[int]:
        """The years the ledger holds matters of, the latest first, and this year always:
        what the exports offer (a ledger or a report of a year gone by is due in January)."""
        where, args = self._where()
        first = self.replica.conn.execute(
            f"SELECT MIN(substr(COALESCE(received_on, reported_at), 1, 4)) FROM cases WHERE {where}", args).fetchone()[0]
        now = today().year
        try:
            since = max(int(first), now - 30) if first else now   # nothing stored may make it fail
        except ValueError:
            since = now
        return list(range(now, min(since, now) - 1, -1))

    def recent_visits(self, limit: int = 500) -> list[dict]:
        """The latest visits this person may see, newest first (the office's review)."""
        where, args = (self.scope.where("grid_id") if self.scope else ("1", []))
        return _rows(self.replica, "visit", f"SELECT * FROM visits WHERE {where} ORDER BY visited_at DESC, id"
                     " LIMIT ?", (*args, limit))

    def conflicted_records(self) -> list[tuple[str, dict]]:
        """(entity, record) of the matters and households that carry concurrent edits."""
        return [(e, r) for e, r in self.conflicted() if e in ("case", "household")]


def _first_due(case: dict) -> str:
    """The earliest limit a matter has, for ordering the overdue list."""
    days = [d for d in (statute.register_due(case), statute.notice_due(case), rules.as_date(case.get("deadline")))
            if d is not None]
    return min(days).isoformat() if days else "9999"


__all__ = ["CentralWorkspace", "Missing"]
