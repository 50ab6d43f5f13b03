"""The office's rules as plain functions: statutory deadlines, the case state machine,
risk grading and the reported rates. No I/O: screens, the server and the exports
all call these, so a rule lives in one place and is tested once.

Time limits are those of 信访工作条例 (2022), in calendar days (../shared/domain.md):
register and route within 15 days (art. 22); handle within 60 days of acceptance
(art. 31), extendable once by at most 30 days with the reason told to the
petitioner (art. 34).
"""

from __future__ import annotations

import datetime as dt

from . import codes

REGISTER_DAYS = 15       # art. 22
HANDLE_DAYS = 60         # art. 31
MAX_EXTENSION_DAYS = 30  # art. 34, and only once

# The states in which the clock of a case is still running.
OPEN_STATUSES = ("reported", "accepted", "assigned", "in_progress", "reopened")


# --- errors ---------------------------------------------------------------------------

_MESSAGES = {
    "not_accepted": ("the case has not been accepted: no handling period runs yet",
                     "事项尚未受理，办理期限尚未起算"),
    "extended_already": ("the handling period was already extended by {days} days: it may be"
                         " extended only once (art. 34)",
                         "办理期限已延长{days}天，只能延期一次（第三十四条）"),
    "extension_days": ("an extension must be 1 to {max} days, not {days}",
                       "延期须为1至{max}天，不能为{days}天"),
    "extension_reason": ("an extension needs a reason, to be told to the petitioner (art. 34)",
                         "延期须写明理由并告知信访人（第三十四条）"),
    "deadline_before_accepted": ("the deadline {deadline} is before the acceptance date {accepted}",
                                 "办理期限{deadline}早于受理日期{accepted}"),
    "unknown_status": ("{status} is not a case status", "“{status}”不是有效的案件状态"),
    "transition": ("a case cannot go from {from_en} to {to_en}",
                   "案件不能从“{from_zh}”变为“{to_zh}”"),
    "already_in_state": ("the case is {status_en} already (someone else may have done it meanwhile)",
                         "此事项已是“{status_zh}”（可能已由他人办理）：请取消，查看最新状态"),
    "action_not_now": ("the case is {status_en} now (it changed since the page was drawn): nothing was saved",
                       "此事项现为“{status_zh}”（页面打开后已由他人办理）：未保存，请关闭后查看最新状态"),
    "extension_not_open": ("a case is extended only while it is being handled; it is {status_en}",
                           "事项当前为“{status_zh}”，不能延期（延期只适用于办理中的事项）"),
    "callback_before_resolution": ("a case is called back only once it is resolved; it is {status_en}",
                                   "事项办结后才能回访，当前状态为“{status_zh}”"),
    "extension_late": ("the handling period ended on {deadline}: art. 34 extends a period still running, it"
                       " does not revive one that has run out", "办理期限已于{deadline}届满：延期须在期限届满前办理（第三十四条）"),
    "extension_no_effect": ("the deadline in force, {deadline}, is the higher body's: extending the statutory"
                            " period would not move it", "现行办理期限{deadline}为上级要求的期限，延长法定期限不会改变它"),
    "callback_merged": ("a duplicate merged into another matter is called back through that matter",
                        "已并入其他事项的重复件，请在主事项中回访"),
    "callback_answered": ("the case was called back and the petitioner answered: it is called back again only"
                          " after a callback that reached no one", "此事项已回访，信访人已作答：只有“联系不上”的才能再次回访"),
    "unknown_answer": ("{answer} is not a callback answer", "“{answer}”不是有效的回访结果"),
    "unknown_risk": ("{risk} is not a risk level", "“{risk}”不是有效的风险等级"),
    "review_no_opinion": ("a review is asked of a written opinion: the matter has none yet",
                          "事项尚未出具处理意见，不能申请复查"),
    "review_review_exists": ("a review was asked already", "已申请过复查"),
    "review_no_review_answer": ("a re-review is asked of a review's answer: there is none yet (art. 36)",
                                "复查尚未答复，不能申请复核（第三十六条）"),
    "review_before_opinion": ("the request is dated before the opinion it is about", "申请日期早于处理意见日期"),
    "review_window_closed": ("more than 30 days after the opinion: the request is out of time (arts. 35, 36)",
                             "已超过30日申请期限（第三十五、三十六条）"),
    "review_received_before": ("the petitioner cannot have received the answer before the day it was given",
                               "收到日期早于处理意见（复查意见）出具日期"),
    "review_received_after_request": ("the petitioner asked after receiving the answer: the receipt is not after the request",
                                      "收到日期晚于申请日期"),
    "review_before_answer": ("the re-review is asked before the review's answer it is about",
                             "申请日期早于复查答复日期"),
    "review_answer_in_future": ("the answer is dated {date}, a day that has not come yet",
                                "答复日期{date}是尚未到来的日期"),
    "review_in_future": ("the request is dated {date}, a day that has not come yet", "申请日期{date}是尚未到来的日期"),
    "date_in_future": ("{date} is a day that has not come yet", "{date}是尚未到来的日期"),
}
_STATE_PARAMS = {"from_status": "from", "to_status": "to", "status": "status"}


# What the office does to a matter in each state, in the order of the process: the buttons
# a matter's page offers (fieldapp/office/matter.py), and what each verb checks when it
# is saved, since a dialog stays open while another clerk moves the matter on (a 会商
# saved after 办结 gave the resolved matter to another leader). A matter called back or
# closed is called back again only while its latest callback reached no one
# (can_call_back; office_actions leaves the button out otherwise).
OFFICE_ACTIONS = {
    "reported": ("accept", "decline", "grade", "notice"),
    "accepted": ("grade", "consult", "add_progress", "extend", "resolve", "notice"),
    "assigned": ("grade", "consult", "add_progress", "extend", "resolve", "notice"),
    "in_progress": ("grade", "consult", "add_progress", "extend", "resolve", "notice"),
    "resolved": ("call_back", "review", "notice"),
    "called_back": ("call_back", "close_case", "review", "notice"),
    "reopened": ("consult", "add_progress", "extend", "resolve", "notice", "review"),
    "declined": ("notice", "reopen_review"),
    "closed": ("call_back", "review"),
}


def office_actions(case: dict, last_answer: str | None = None) -> tuple[str, ...]:
    """The actions a matter's page offers, in order: its state's, a callback only while
    one is awaited (`last_answer`: the answer of its latest callback, if any)."""
    return tuple(a for a in OFFICE_ACTIONS.get(case.get("status") or "reported", ())
                 if a != "call_back" or can_call_back(case, last_answer))


def check_office_action(action: str, status: str | None) -> None:
    """Refuse an office action its matter's present state does not offer."""
    status = status or "reported"
    if action not in OFFICE_ACTIONS.get(status, ()):
        raise RuleError("action_not_now", status=status)


class RuleError(Exception):
    """A rule of the office refused something; `code` says which, for programs, and
    `message(lang)` says it in words, English for the API and Chinese for screens."""

    def __init__(self, code: str, **params):
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        en, zh = _MESSAGES[self.code]
        p = dict(self.params)
        # states are named by their labels, so a person reads 已结案, not "closed"
        for param, name in _STATE_PARAMS.items():
            if p.get(param) is not None:
                p[f"{name}_en"] = codes.label(codes.CASE_STATUSES, p[param], "en")
                p[f"{name}_zh"] = codes.label(codes.CASE_STATUSES, p[param], "zh")
        return (zh if lang == "zh" else en).format(**p)


# --- deadlines --------------------------------------------------------------------------

def as_date(value) -> dt.date | None:
    """A date from a date or an ISO string (a datetime string gives its own date);
    None for no date, or for text no calendar has (a record from an older version, or
    typed by hand into the store, never makes a reading fail)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


_as_date = as_date  # the name sync/office.py first used


def register_by(received: dt.date) -> dt.date:
    """The last day to register and route a matter received that day (art. 22)."""
    return received + dt.timedelta(days=REGISTER_DAYS)


def handle_by(accepted: dt.date, extended_days: int = 0) -> dt.date:
    """The last day of the handling period, with any extension granted (arts. 31, 34)."""
    return accepted + dt.timedelta(days=HANDLE_DAYS + (extended_days or 0))


def extend(accepted: dt.date | None, current_extended_days: int | None, days: int,
           reason: str | None, deadline: dt.date | None = None, today: dt.date | None = None) -> int:
    """The case's extended_days after granting an extension of `days`.

    Art. 34 allows one extension of at most 30 days, with the reason told to the
    petitioner: a second one, a longer one, or one without a reason is refused, and so
    is one asked once the period in force (`deadline`) has run out by `today` (it
    would take a late matter off the overdue list and out of last month's figures).
    """
    if accepted is None:
        raise RuleError("not_accepted")
    if deadline is not None and today is not None and today > deadline:
        raise RuleError("extension_late", deadline=deadline.isoformat())
    if current_extended_days:
        raise RuleError("extended_already", days=current_extended_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise RuleError("extension_days", days=days, max=MAX_EXTENSION_DAYS)
    if not reason or not reason.strip():
        raise RuleError("extension_reason")
    return days


def days_left(deadline, today: dt.date) -> int | None:
    """Days until the deadline: 0 on the day itself, negative once it has passed; None
    for no deadline."""
    day = as_date(deadline)
    return None if day is None else (day - today).days


def _open_deadline(case: dict) -> dt.date | None:
    """The deadline of a case whose clock still runs, else None."""
    if case.get("status") not in OPEN_STATUSES:
        return None
    return as_date(case.get("deadline"))


def is_overdue(case: dict, today: dt.date) -> bool:
    """An open case whose deadline day has passed (the deadline day itself is in time)."""
    deadline = _open_deadline(case)
    return deadline is not None and deadline < today


def due_within(case: dict, today: dt.date, days: int = 7) -> bool:
    """An open case not yet overdue whose deadline falls within the next `days` days."""
    deadline = _open_deadline(case)
    return deadline is not None and 0 <= (deadline - today).days <= days


# Worked back from the deadline (倒排时间节点): (key, label, anchor, offset in days).
MILESTONES = (
    ("plan", "会商研判、制定化解方案", "accepted", 10),
    ("action", "化解方案落实", "deadline", -30),
    ("resolve", "化解办结", "deadline", -7),
    ("reply", "出具书面答复意见", "deadline", 0),
)


def milestones(accepted: dt.date, deadline: dt.date) -> list[tuple[str, str, dt.date]]:
    """The dates the work must reach each step by, in order, within [accepted, deadline].

    A short period (a higher body's earlier deadline) squeezes the steps together:
    none falls before acceptance or after the deadline, and none before the one
    preceding it, so the plan can always be read top to bottom.
    """
    accepted, deadline = as_date(accepted), as_date(deadline)
    if deadline < accepted:
        raise RuleError("deadline_before_accepted", deadline=deadline.isoformat(),
                        accepted=accepted.isoformat())
    anchors = {"accepted": accepted, "deadline": deadline}
    out, floor = [], accepted
    for key, label, anchor, offset in MILESTONES:
        day = anchors[anchor] + dt.timedelta(days=offset)
        day = min(max(day, floor), deadline)
        out.append((key, label, day))
        floor = day
    return out


# --- the case state machine -------------------------------------------------------------

TRANSITIONS: dict[str, frozenset[str]] = {
    "reported": frozenset({"accepted", "declined"}),
    "accepted": frozenset({"assigned", "in_progress", "resolved"}),
    "assigned": frozenset({"in_progress", "resolved"}),
    "in_progress": frozenset({"resolved"}),
    "resolved": frozenset({"called_back", "reopened"}),
    "called_back": frozenset({"closed", "reopened"}),
    "reopened": frozenset({"assigned", "in_progress", "resolved"}),
    "declined": frozenset({"reopened"}),  # the petitioner asks for a review (复查)
    "closed": frozenset({"reopened"}),
}


def allowed_next(status: str) -> frozenset[str]:
    """The states a case in `status` may move to (what a screen offers)."""
    return TRANSITIONS.get(status, frozenset())


def check_transition(from_status: str, to_status: str) -> None:
    """Raise RuleError unless a case may move from one state to the other."""
    for s in (from_status, to_status):
        if s not in codes.CASE_STATUSES:
            raise RuleError("unknown_status", status=s)
    if to_status == from_status:   # another clerk (or a leader's phone) did it first
        raise RuleError("already_in_state", status=from_status)
    if to_status not in allowed_next(from_status):
        raise RuleError("transition", from_status=from_status, to_status=to_status)


# 联系不上 records a try, not an answer: the matter counts as called back (it may be
# closed) until the petitioner is reached, a week later or when he rings the office back,
# and his answer is recorded then, closed or not (a matter closed on a try alone was
# never asked how it went). An answer given stays the matter's last word.
CALLED_BACK = frozenset({"called_back", "closed"})


def awaits_callback(status: str | None, last_answer: str | None) -> bool:
    """Whether a matter in `status`, its latest callback answered `last_answer` (None:
    none yet), may be called back: resolved, or called back with no one reached."""
    return status == "resolved" or (status in CALLED_BACK and last_answer == NOT_REACHED)


def dated_after_try(at: str | None, last_at: str | None) -> bool:
    """Whether a callback made at `at` may follow the latest one, made at `last_at`: not
    dated before it. A matter's callbacks are in time order, as everything reading them
    takes them (queries.last_callback, server/callback_order.py): an answer entered with a
    time before the try it follows went unseen by the figures and the queue, which still
    took the try as the latest, and the matter could be called back again and reopened
    over an answer given. Times no clock reads are left to their own rule (time_format)."""
    try:
        return at is None or last_at is None or (
            dt.datetime.fromisoformat(at) >= dt.datetime.fromisoformat(last_at))
    except (TypeError, ValueError):
        return True


def can_call_back(case: dict, last_answer: str | None = None) -> bool:
    """A callback asks how a resolution went: there is none to ask about before, and
    nothing more to ask once the petitioner has answered."""
    return awaits_callback(case.get("status"), last_answer) and not case.get("merged_into")


# The office's callback queue lists, apart from the matters resolved and not yet called
# back, those whose latest callback reached no one (联系不上，待再次回访), the oldest try
# first. One called back and not closed stays until the petitioner is reached or the
# matter is closed: it is the clerk's to finish. One closed on such a try leaves the
# list this many days after its last try: room for the tries a week apart the office
# makes, without the list filling, month after month, with petitioners who moved away.
# Its page still takes his answer whenever he rings back (awaits_callback).
RETRY_LISTED_DAYS = 30


def retry_listed(status: str | None, last_answer: str | None, last_try: dt.date | None, today: dt.date) -> bool:
    """Whether a matter called back or closed, its latest callback answered `last_answer`
    on `last_try` (None: a day no calendar reads), is on the queue's 联系不上 list."""
    if status not in CALLED_BACK or not awaits_callback(status, last_answer):
        return False
    return status != "closed" or last_try is None or (today - last_try).days <= RETRY_LISTED_DAYS


def check_call_back(case: dict, last_answer: str | None = None) -> None:
    if case.get("merged_into"):
        raise RuleError("callback_merged")
    if not can_call_back(case, last_answer):
        if case.get("status") in CALLED_BACK:
            raise RuleError("callback_answered")
        raise RuleError("callback_before_resolution", status=case.get("status") or "reported")


def after_callback(answer: str, stage: str | None = None, status: str = "resolved") -> str:
    """The state a case in `status` moves to once the parties are called back: an
    unsatisfied answer sends it back to work (重办), unless 复核 has answered (`stage`
    "final", statute.stage): the same matter is not taken up again (条例 art. 36), the
    callback is counted. (With 复查 or 复核 still asked, the township works on: the
    conflict is not settled by waiting for the higher body.) A petitioner not reached is
    called back all the same: the matter may be closed, its attempt on record. Called
    back again after such a try (awaits_callback), a matter stays where it is (closed
    stays closed) unless the answer reopens it, as a first 不满意 does."""
    if answer not in codes.SATISFACTION:
        raise RuleError("unknown_answer", answer=answer)
    if answer == "unsatisfied" and stage != "final":
        return "reopened"
    return "called_back" if status == "resolved" else status


# --- moves the phone makes by itself ------------------------------------------------------

# A leader's progress note on a matter not yet being worked moves it to 办理中
# (Workspace.add_progress): the person never typed it. Refused because the matter moved
# on meanwhile (resolved by the office, given to another leader), it is not theirs to
# settle: the phone gives it up by itself (SyncClient), unless later changes of theirs
# to the matter wait behind it.
IMPLIED_MOVE = {"status": "in_progress"}


def implied(entity: str, fields: dict) -> bool:
    """Whether a change is the move a progress note implies, and nothing else."""
    return entity == "case" and fields == IMPLIED_MOVE


# --- risk grading -----------------------------------------------------------------------

# Lowest to highest; a township with another scheme changes it here (and in codes).
RISK_ORDER = ("blue", "yellow", "orange", "red")
GROUP_SIZE = 5  # a visit by more than this many people is a group visit (集体访)


def grade(base_risk: str | None, signals: list[str] | tuple = (),
          group_size: int | None = None) -> str:
    """The risk grade: the assessed base (blue when none was given) raised one step
    for each distinct escalation signal, up to red.

    A group of more than 5 people counts as the group signal whether or not it was
    ticked; a signal ticked twice counts once.
    """
    base = base_risk or RISK_ORDER[0]
    if base not in RISK_ORDER:
        raise RuleError("unknown_risk", risk=base)
    step = min(RISK_ORDER.index(base) + len(raised_by(signals, group_size)), len(RISK_ORDER) - 1)
    return RISK_ORDER[step]


def raised_by(signals: list[str] | tuple = (), group_size: int | None = None) -> list[str]:
    """The escalation signals a grade counts, sorted: those ticked, and the group signal
    for a group of more than GROUP_SIZE people."""
    raised = set(signals or ())
    if group_size is not None and group_size > GROUP_SIZE:
        raised.add("group")
    return sorted(raised)


def base_risk(graded: str | None, signals: list[str] | tuple = ()) -> str:
    """The assessed risk a stored grade was raised from, as a form shows it again: the
    grade lowered one step per signal it counts. Saving that base with the same signals
    gives the same grade again (a grade capped at red gives red again), where showing
    the raised grade as the base raised it once more at every save."""
    if graded not in RISK_ORDER:
        return RISK_ORDER[0]
    return RISK_ORDER[max(0, RISK_ORDER.index(graded) - len(set(signals or ())))]


# --- rates ------------------------------------------------------------------------------

SATISFIED_ANSWERS = frozenset({"satisfied", "basically"})  # 满意 + 基本满意
NOT_REACHED = "unreachable"   # a callback no one answered: left out of 满意度


def resolution_rate(resolved: int, due: int) -> float | None:
    """化解率, a fraction; None when nothing was due (the screen shows "—")."""
    if not due:
        return None
    return resolved / due


def superseded(answer: str, called_back_later: bool) -> bool:
    """A try that reached no one, the matter called back again later: the matter's
    callback is the later one, so the try is counted nowhere (neither as a callback nor
    under 联系不上), the matter once, by what the petitioner answered."""
    return answer == NOT_REACHED and called_back_later


def satisfaction_rate(answers: list[str]) -> float | None:
    """满意度: satisfied and basically satisfied callbacks over those answered; None for none."""
    answers = [a for a in answers if a != NOT_REACHED]
    if not answers:
        return None
    return sum(1 for a in answers if a in SATISFIED_ANSWERS) / len(answers)


def format_rate(rate: float | None) -> str:
    """A rate as people read it: "93.5%", or "—" when there was nothing to count."""
    return "—" if rate is None else f"{rate * 100:.1f}%"
