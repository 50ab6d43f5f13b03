"""The time limits of 信访工作条例 (2022) that run around a matter, as plain functions:
what is due by when, which deadline applies, the stages after the written opinion
(复查, 复核), and the order dates must keep. Calendar days (../shared/domain.md).

No I/O and no clock: every function takes the matter as a dict and, where it needs
one, `today`. rules.py holds the handling period itself (60 days, one extension),
the state machine, grading and rates; the screens, the verbs, the lists and the
figures all ask here, so each limit is computed in one place.
"""

from __future__ import annotations

import datetime as dt

from .rules import OPEN_STATUSES, REGISTER_DAYS, as_date, handle_by

NOTICE_DAYS = 15            # art. 23: tell the petitioner it was received, and how it will be handled
REVIEW_REQUEST_DAYS = 30    # art. 35: the petitioner may ask for 复查 within 30 days of the opinion
REVIEW_ANSWER_DAYS = 30     # ... and is answered within 30 days
RECHECK_REQUEST_DAYS = 30   # art. 36: 复核 within 30 days of the 复查 opinion
RECHECK_ANSWER_DAYS = 30    # ... answered within 30 days; then the same claim is not accepted again
FINISHED = ("resolved", "called_back", "closed")


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def received(case: dict) -> dt.date | None:
    """The day the matter entered the office's ledger (or, before, the day it was reported)."""
    return as_date(case.get("received_on")) or as_date(case.get("reported_at"))


# --- 15 days to register and route (art. 22), 15 to tell the petitioner (art. 23) ------------

def register_due(case: dict) -> dt.date | None:
    day = as_date(case.get("register_by"))
    if day is None and received(case):
        day = received(case) + _days(REGISTER_DAYS)
    return day


def register_overdue(case: dict, today: dt.date) -> bool:
    """Still waiting to be accepted or declined after its 15 days (a merged duplicate is
    the other matter's business)."""
    due = register_due(case)
    return (case.get("status") == "reported" and not case.get("merged_into")
            and due is not None and due < today)


def notice_due(case: dict) -> dt.date | None:
    day = received(case)
    return day + _days(NOTICE_DAYS) if day else None


def notice_overdue(case: dict, today: dt.date) -> bool:
    """The petitioner has not been told, and the 15 days are over."""
    due = notice_due(case)
    return (not case.get("notice_sent_on") and not case.get("merged_into")
            and due is not None and due < today)


# --- the handling period and a higher body's deadline ----------------------------------------

def statutory_deadline(case: dict) -> dt.date | None:
    accepted = as_date(case.get("accepted_on"))
    return handle_by(accepted, case.get("extended_days") or 0) if accepted else None


def deadline(accepted: dt.date, extended_days: int = 0, higher: dt.date | None = None,
             today: dt.date | None = None) -> tuple[dt.date, str]:
    """(the deadline that applies, "statute" or "higher"): the earlier of the statutory
    period and a higher body's deadline. Given `today` (a period begun again: `reopen`,
    or lengthened), a higher deadline already passed does not shorten it; a first
    acceptance passes none, as a deadline the township missed stays missed."""
    statutory = handle_by(accepted, extended_days)
    if higher is not None and higher < statutory and (today is None or higher >= today):
        return higher, "higher"
    return statutory, "statute"


def deadline_source(case: dict) -> str | None:
    """Which limit the matter's stored deadline is: "higher", "statute", or None."""
    due = as_date(case.get("deadline"))
    if due is None:
        return None
    higher = as_date(case.get("higher_deadline"))
    return "higher" if higher is not None and due == higher and due != statutory_deadline(case) else "statute"


def reopen(today: dt.date, higher: dt.date | None = None) -> dict:
    """The fields of a matter taken up again (an unsatisfied callback, a review): a fresh
    handling period from today, its one extension available again."""
    due, _ = deadline(today, 0, higher, today)
    return {"accepted_on": today.isoformat(), "deadline": due.isoformat(), "extended_days": 0}


# --- after the written opinion: 复查 and 复核 --------------------------------------------------

def opinion_day(case: dict) -> dt.date | None:
    """The day of the written opinion (信访处理意见书): the day the matter was resolved."""
    return as_date(case.get("resolved_on"))


def stage(case: dict) -> str | None:
    """None (handling), "review" (复查 asked), "recheck" (复核 asked) or "final"."""
    if case.get("recheck_answered_on"):
        return "final"
    if case.get("recheck_requested_on"):
        return "recheck"
    if case.get("review_requested_on"):
        return "review"
    return None


# The day each request's 30 days count from: the petitioner's receipt of the written
# answer (arts. 35, 36: 自收到书面答复之日起), when recorded, else the answer's own day.
RECEIVED = {"review": "opinion_received_on", "recheck": "review_answer_received_on"}


def review_window(case: dict, received: dt.date | None = None) -> tuple[dt.date, dt.date] | None:
    """(first, last) day the petitioner may ask for 复查: 30 days from the opinion's
    receipt (`received`, or the one recorded), or from its day."""
    return _window(opinion_day(case), received or as_date(case.get(RECEIVED["review"])), REVIEW_REQUEST_DAYS)


def recheck_window(case: dict, received: dt.date | None = None) -> tuple[dt.date, dt.date] | None:
    return _window(as_date(case.get("review_answered_on")),
                   received or as_date(case.get(RECEIVED["recheck"])), RECHECK_REQUEST_DAYS)


def _window(given: dt.date | None, received: dt.date | None, days: int) -> tuple[dt.date, dt.date] | None:
    if given is None:
        return None
    # a receipt before the answer it is of belongs to an earlier one (a matter resolved anew)
    start = received if received is not None and received > given else given
    return given, start + _days(days)


def answer_due(requested: dt.date) -> dt.date:
    """复查 and 复核 are each answered within 30 days of the request."""
    return requested + _days(REVIEW_ANSWER_DAYS)


# may_request's reasons that are the day's own fault (said at the day's field), and the
# receipt's (said at its own)
DAY_FAULTS = frozenset({"in_future", "before_opinion", "before_answer", "window_closed"})
RECEIPT_FAULTS = frozenset({"received_before", "received_after_request"})


def may_request(case: dict, kind: str, on: dt.date, today: dt.date | None = None,
                received: dt.date | None = None) -> str | None:
    """None when a request for 复查 ("review") or 复核 ("recheck") made on that day is
    within the law; else the reason, as a rule code (rules._MESSAGES, "review_" + it).
    A day after `today` is refused as such (it would read as out of time). `received`:
    the day the petitioner received the answer asked about, if later than its day."""
    if kind == "review":
        # a matter taken up again after an unsatisfied callback keeps the opinion it was
        # given: the petitioner's 30 days to ask for 复查 of it still run (art. 35)
        if case.get("status") not in (*FINISHED, "reopened") or opinion_day(case) is None:
            return "no_opinion"
        if stage(case) is not None:
            return "review_exists"
        window = review_window(case, received)
    else:
        if stage(case) != "review" or not case.get("review_answered_on"):
            return "no_review_answer"
        window = recheck_window(case, received)
    if today is not None and on > today:
        return "in_future"
    if received is not None:
        if received < window[0]:
            return "received_before"
        if received > on:
            return "received_after_request"
    if on < window[0]:
        return "before_opinion" if kind == "review" else "before_answer"
    if on > window[1]:
        return "window_closed"
    return None


def answer_overdue(case: dict, today: dt.date) -> bool:
    """A 复查 or 复核 asked for and not answered within its 30 days."""
    st = stage(case)
    if st == "review" and not case.get("review_answered_on"):
        due = as_date(case.get("review_due"))
    elif st == "recheck" and not case.get("recheck_answered_on"):
        due = as_date(case.get("recheck_due"))
    else:
        return False
    return due is not None and due < today


def is_final(case: dict) -> bool:
    """复核 answered: the same claim is not accepted again (art. 36)."""
    return stage(case) == "final"


# --- overdue, all limits together -------------------------------------------------------------

def overdue_reasons(case: dict, today: dt.date) -> list[str]:
    """Every limit the matter has passed: "register" (art. 22), "notice" (art. 23),
    "handling" (arts. 31, 34, or the higher body's), "answer" (arts. 35, 36)."""
    out = []
    if register_overdue(case, today):
        out.append("register")
    if notice_overdue(case, today):
        out.append("notice")
    if handling_overdue(case, today):
        out.append("handling")
    if answer_overdue(case, today):
        out.append("answer")
    return out


def handling_due(case: dict) -> dt.date | None:
    """The day the matter is to be handled by: its deadline; handed down and still waiting
    to be accepted, the higher body's (the 15 days to register do not stretch it)."""
    return as_date(case.get("higher_deadline") if case.get("status") == "reported" else case.get("deadline"))


def handling_overdue(case: dict, today: dt.date) -> bool:
    due = handling_due(case)
    return case.get("status") in OPEN_STATUSES and not case.get("merged_into") and due is not None and due < today


# --- the order dates keep ---------------------------------------------------------------------

# (later field, earlier field): a matter is received before it is accepted, consulted on,
# resolved; a higher body's deadline is not before the matter reached the township.
# (Acceptance is not compared with consultation or resolution: a reopened matter is
# accepted anew after both.) The limits the office's verbs reckon (the deadline, the 15
# days to register, the 30 to answer a review) run from those days, never before them:
# a deadline of 2000-01-01 pushed for a matter of this year read over 9,000 days overdue.
DATE_ORDER = (
    ("accepted_on", "received_on"), ("consulted_on", "received_on"), ("resolved_on", "received_on"),
    ("higher_deadline", "received_on"), ("notice_sent_on", "received_on"),
    ("review_answered_on", "review_requested_on"),
    ("recheck_requested_on", "review_answered_on"), ("recheck_answered_on", "recheck_requested_on"),
    ("deadline", "received_on"), ("register_by", "received_on"),
    ("review_due", "review_requested_on"), ("recheck_due", "recheck_requested_on"),
)
# Judged only when the later one is written: a matter is resolved on or after the day it
# was accepted (the written opinion says both, and the review period runs from the
# first), but a reopened matter is accepted anew after its old resolution; a review is
# asked of a resolution, but a matter reopened meanwhile is resolved anew after the
# request (judged both ways it could never be resolved again).
DATE_ORDER_WHEN_WRITTEN = (("resolved_on", "accepted_on"), ("review_requested_on", "resolved_on"),
                           ("opinion_received_on", "resolved_on"), ("review_answer_received_on", "review_answered_on"))
# Days that cannot be in the future: things that have happened.
HAPPENED = ("received_on", "accepted_on", "consulted_on", "resolved_on", "notice_sent_on",
            "review_requested_on", "review_answered_on", "recheck_requested_on", "recheck_answered_on",
            "opinion_received_on", "review_answer_received_on")


def date_problems(case: dict, changed: dict, today: dt.date) -> list[tuple[str, str, str]]:
    """(field, rule, the other field) for each date this write sets out of order: a
    consultation dated before the matter was received, a higher deadline before it
    reached the township, a day that has not come yet. Only the fields written are
    judged (a record from before is not refused for what it already held)."""
    after = {**case, **changed}
    out = []
    for later, earlier in DATE_ORDER:
        if later not in changed and earlier not in changed:
            continue
        if later == "notice_sent_on" and case and not after.get("received_on"):
            # a phone's report is told of before it is registered (the only date written
            # then), and counts as received the day it was reported: a notice dated
            # before that was taken, and the acceptance, dating the matter from the
            # report, was then refused for ever (受理 gone for good)
            earlier = "reported_at"
        a, b = as_date(after.get(later)), as_date(after.get(earlier))
        if a is not None and b is not None and a < b:
            # named at the field written: a later day before the earlier one, or an earlier
            # day after the later one ("received_on: cannot be before the deadline" was said
            # of a registration date typed after the deadline)
            if later in changed:
                out.append((later, "date_before", earlier))
            else:
                out.append((earlier, "date_after", later))
    for later, earlier in DATE_ORDER_WHEN_WRITTEN:
        a, b = as_date(changed.get(later)), as_date(after.get(earlier))
        if later in changed and a is not None and b is not None and a < b:
            out.append((later, "date_before", earlier))
    return out + _after_tomorrow(HAPPENED, changed, today)


def _after_tomorrow(names, changed: dict, today: dt.date) -> list[tuple[str, str, str]]:
    """(field, "date_future", "") for each of these fields this write sets after tomorrow
    (a day for the zones and a clock a few hours off)."""
    return [(name, "date_future", "") for name in names
            if name in changed and (as_date(changed[name]) or today) > today + _days(1)]


# When a report, a visit, a timeline entry or a callback happened, as the phone's own
# clock said: never after the server's tomorrow. A phone whose date is years ahead would
# otherwise number its reports in that year (金山-2100-0001) and put its visits in the
# figures of months to come.
HAPPENED_AT = {"case": ("reported_at",), "visit": ("visited_at",), "case_event": ("at",), "callback": ("at",)}


def moved_back(entity: str, fields: dict, by_ms: int | None, earliest: dt.datetime | None,
               now: dt.datetime, limit: dt.datetime, reach_days: int, stamp_by_ms: int | None = None) -> dict:
    """The fields of a change made while the phone's date was ahead, its times of what
    happened moved back by `by_ms` (how far the date is still off: to when it happened,
    if it was as far off then), or to `now` (the server's time) where that lands after
    `now`, before `earliest` (the last sync, a time known to have passed) or is unknown
    (None). Moved are the times after `limit` (the server's time and the few minutes a
    clock may be ahead) and the days after today, which a phone on the right date never
    writes: a day typed for later is left as typed. A day reckoned from the phone's
    today (a household's next visit) moves by as many days only where it lies further
    off than any reckoning reaches (`reach_days`): one reckoned from the last visit
    stays. Where `by_ms` does not bring it within reach (the date put right before the
    sync), it moves by `stamp_by_ms` (its change's stamp back to now), else to today.
    Anything unreadable is left to the server's checks."""
    out = dict(fields)

    def moved(t: dt.datetime) -> dt.datetime:
        t = t + dt.timedelta(milliseconds=by_ms) if by_ms is not None else now
        return now if t > now or (earliest is not None and t < earliest) else t

    for name in HAPPENED_AT.get(entity, ()):
        try:
            t = dt.datetime.fromisoformat(str(out.get(name)).replace("Z", "+00:00"))
        except ValueError:
            continue
        if t.tzinfo is not None and t > limit:
            out[name] = moved(t).astimezone(now.tzinfo).replace(microsecond=0).isoformat()
    for name in HAPPENED if entity == "case" else ():
        day = as_date(out.get(name))
        if day is not None and day > now.date():
            out[name] = moved(dt.datetime.combine(day, dt.time(12), now.tzinfo)).date().isoformat()
    for name in RECKONED_FROM_TODAY.get(entity, ()):
        day = as_date(out.get(name))
        reach = now.date() + _days(reach_days)
        if day is not None and day > reach:
            later = [d for d in (day + dt.timedelta(days=round(ms / 86_400_000))
                                 for ms in (by_ms, stamp_by_ms) if ms is not None) if d <= reach]
            out[name] = max(later[0] if later else now.date(), now.date()).isoformat()
    return out


# A time a screen read off the phone's clock for a change (a visit's time as its form
# opened, a report's, a note's) lies at most this long before the change was saved.
READ_OFF_CLOCK_MS = 12 * 3_600_000


def redated(entity: str, fields: dict, delta_ms: int, at: dt.datetime, now: dt.datetime) -> dict:
    """The fields of a change written at `at` by the phone's clock, which is now known to
    have been `delta_ms` off (the change was made at `at` + `delta_ms`, township time):
    the times of what happened that were read off that clock (within READ_OFF_CLOCK_MS
    before `at`, or a few minutes after) move by as much, never past `now`; days of the
    change's own day, and days reckoned from it (a household's next visit), move by the
    days it moved. A time or day the person typed for another day is theirs: left."""
    out = dict(fields)
    later = at + dt.timedelta(milliseconds=delta_ms)
    shift_days = (later.astimezone(now.tzinfo).date() - at.astimezone(now.tzinfo).date()).days
    for name in HAPPENED_AT.get(entity, ()):
        try:
            t = dt.datetime.fromisoformat(str(out.get(name)).replace("Z", "+00:00"))
        except ValueError:
            continue
        if t.tzinfo is None or not at - dt.timedelta(milliseconds=READ_OFF_CLOCK_MS) <= t <= at + dt.timedelta(minutes=10):
            continue
        moved = min(t + dt.timedelta(milliseconds=delta_ms), now)
        out[name] = moved.astimezone(t.tzinfo).replace(microsecond=0).isoformat()
    own_day = at.astimezone(now.tzinfo).date()
    for name in (HAPPENED if entity == "case" else ()):
        day = as_date(out.get(name))
        if day == own_day and shift_days:
            out[name] = min(day + _days(shift_days), now.date()).isoformat()
    for name in RECKONED_FROM_TODAY.get(entity, ()):
        day = as_date(out.get(name))
        if day is not None and shift_days:
            out[name] = (day + _days(shift_days)).isoformat()
    return out


# Days a phone reckons from its own today when it writes them (a visit moves its
# household's next visit on from the visit's day).
RECKONED_FROM_TODAY = {"household": ("next_visit_due",)}


# The township's time, as every screen of the app writes it: the figures count a time
# by its day as written (a visit at 02:00+14:00 is the day before in China), so a time
# in another offset would land in the wrong day, month or year of the figures.
TOWNSHIP_OFFSET = "+08:00"


def time_problems(entity: str, changed: dict, today: dt.date, as_it_happens: bool = True,
                  now_ms: int | None = None) -> list[tuple[str, str, str]]:
    """(field, rule, "") for each time of a thing that happened that this write sets
    after tomorrow ("date_future"), in another offset than the township's ("time_zone")
    or, written by one who records things as they happen (a phone, not the office
    entering its paper register), over a year ago ("date_long_past") or, given the
    server's time, later than it by more than a phone's clock may be ahead
    ("time_future")."""
    names = HAPPENED_AT.get(entity, ())
    zones = [(name, "time_zone", "") for name in names
             if isinstance(changed.get(name), str) and not changed[name].endswith(TOWNSHIP_OFFSET)]
    old = _over_a_year_ago(names, changed, today) if as_it_happens else []
    later = _after_tomorrow(names, changed, today)
    if as_it_happens and now_ms is not None:
        later += _later_than(names, changed, now_ms, {name for name, _, _ in later})
    return zones + later + old


def _later_than(names, changed: dict, now_ms: int, said: set) -> list[tuple[str, str, str]]:
    """A phone dates what happens at its own now, and a change whose stamp is more than
    MAX_AHEAD_MS ahead of the server is refused first (clock_ahead, then stamped again
    with its times moved back): a time later than that was typed ahead (a visit at 23:59
    tonight), and 今日 and the figures counted it done before it was."""
    from .changes import MAX_AHEAD_MS
    out = []
    for name in names:
        text = changed.get(name)
        if name in said or not isinstance(text, str):
            continue
        try:
            at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        if at.utcoffset() is not None and at.timestamp() * 1000 > now_ms + MAX_AHEAD_MS:
            out.append((name, "time_future", ""))
    return out


# How far back a phone's time of what happened may lie: a phone dates what happens as it
# happens (never before its last sync, DeviceWorkspace.now), and no phone stays offline
# for a year. (A bound in days, not "last year": a report dated 2 January of last year
# was numbered in a year already reported.)
LONG_PAST_DAYS = 366


def _over_a_year_ago(names, changed: dict, today: dt.date) -> list[tuple[str, str, str]]:
    """A report dated years back (a phone whose date reset to 2000 before it ever synced,
    or a forged one) was numbered in that year (金山-2000-0001), missing from this year's
    ledger, its limits long run out."""
    return [(name, "date_long_past", "") for name in names
            if name in changed and (as_date(changed[name]) or today) < today - _days(LONG_PAST_DAYS)]


# --- 倒排时间节点, ticked as the steps are done ------------------------------------------------

STEP_DONE = {"plan": "consulted_on", "resolve": "resolved_on", "reply": "resolved_on"}


def counts_as_progress(item: dict, since: dt.date) -> bool:
    """A timeline item (queries.timeline) that is work on the plan since the present period
    began (a reopened matter's earlier work is done): a home visit (下访) recorded on it, or
    a progress or visit entry that says or shows something. An empty entry, from a phone
    that skipped its form, had ticked the milestone."""
    if (item.get("at") or "")[:10] < str(since):
        return False
    if item.get("type") == "visit":
        return item.get("kind") == "home"
    return item.get("kind") in ("progress", "visit") and bool((item.get("text") or "").strip()
                                                               or item.get("attachments"))


def milestone_progress(case: dict, milestones: list, has_progress: bool, today: dt.date) -> list[dict]:
    """The milestones worked back from the deadline (rules.milestones), each with whether
    its step is done and whether it is late: the plan by the consultation, the plan's
    work by a progress entry, the resolution and the written reply by the resolution."""
    out = []
    # a step counts as done in the present period only: a matter taken up again (重办) kept
    # its first round's consultation and resolution, and read "已完成" for steps not begun
    since = as_date(case.get("accepted_on"))
    for key, label, day in milestones:
        if key == "action":
            done = has_progress
        else:
            when = as_date(case.get(STEP_DONE[key]))
            done = when is not None and (since is None or when >= since)
        out.append({"key": key, "label": label, "day": day, "done": done, "late": not done and day < today})
    return out

