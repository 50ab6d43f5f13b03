"""The statute's time limits around a matter (sync/statute.py), with dates across month
and year ends."""

import datetime as dt

from sync import rules, statute
from sync.households import CST

D = dt.date


def matter(**over):
    return {"status": "reported", "received_on": "2026-12-20", "register_by": "2027-01-04", **over}


# --- art. 22: 15 days to register and route --------------------------------------------------

def test_register_overdue_after_its_15_days_across_the_year_end():
    m = matter()
    assert statute.register_due(m) == D(2027, 1, 4)
    assert not statute.register_overdue(m, D(2027, 1, 4))      # the last day is in time
    assert statute.register_overdue(m, D(2027, 1, 5))


def test_register_overdue_only_while_waiting_to_be_accepted():
    assert not statute.register_overdue(matter(status="accepted"), D(2027, 3, 1))
    assert not statute.register_overdue(matter(merged_into="c-2"), D(2027, 3, 1))


def test_register_due_from_the_report_day_when_never_registered():
    m = {"status": "reported", "reported_at": "2026-01-25T09:00:00+08:00"}
    assert statute.register_due(m) == D(2026, 2, 9)


# --- art. 23: the petitioner told within 15 days ---------------------------------------------

def test_notice_due_15_days_after_receipt_across_a_month_end():
    m = matter(received_on="2026-01-20")
    assert statute.notice_due(m) == D(2026, 2, 4)
    assert not statute.notice_overdue(m, D(2026, 2, 4))
    assert statute.notice_overdue(m, D(2026, 2, 5))
    assert not statute.notice_overdue({**m, "notice_sent_on": "2026-01-30"}, D(2026, 3, 1))


def test_a_declined_matter_still_owes_its_notice():
    assert statute.notice_overdue(matter(status="declined", received_on="2026-01-01"), D(2026, 2, 1))


# --- the handling period and a higher body's deadline ----------------------------------------

def test_the_earlier_of_the_statute_and_a_higher_bodys_deadline_applies_and_says_which():
    assert statute.deadline(D(2026, 11, 1)) == (D(2026, 12, 31), "statute")
    assert statute.deadline(D(2026, 11, 1), higher=D(2026, 12, 10)) == (D(2026, 12, 10), "higher")
    assert statute.deadline(D(2026, 11, 1), higher=D(2027, 2, 1)) == (D(2026, 12, 31), "statute")
    assert statute.deadline(D(2026, 12, 15), 30) == (D(2027, 3, 15), "statute")


def test_deadline_source_tells_a_higher_deadline_from_the_statutes():
    m = {"accepted_on": "2026-11-01", "deadline": "2026-12-10", "higher_deadline": "2026-12-10"}
    assert statute.deadline_source(m) == "higher"
    assert statute.deadline_source({**m, "deadline": "2026-12-31"}) == "statute"
    assert statute.deadline_source({"accepted_on": "2026-11-01"}) is None


def test_a_reopened_matter_gets_a_fresh_period_not_an_expired_one():
    fields = statute.reopen(D(2027, 1, 10), higher=D(2026, 12, 1))   # the higher deadline has passed
    assert fields == {"accepted_on": "2027-01-10", "deadline": "2027-03-11", "extended_days": 0}
    assert not rules.is_overdue({"status": "reopened", "deadline": fields["deadline"]}, D(2027, 1, 11))


# --- arts. 35, 36: 复查 and 复核 ---------------------------------------------------------------

def resolved(**over):
    return {"status": "resolved", "resolved_on": "2026-12-15", **over}


def test_review_may_be_asked_within_30_days_of_the_opinion_across_the_year_end():
    assert statute.review_window(resolved()) == (D(2026, 12, 15), D(2027, 1, 14))
    assert statute.may_request(resolved(), "review", D(2027, 1, 14)) is None
    assert statute.may_request(resolved(), "review", D(2027, 1, 15)) == "window_closed"
    assert statute.may_request(resolved(status="in_progress"), "review", D(2026, 12, 20)) == "no_opinion"


def test_a_request_dated_after_today_is_refused_as_such_not_as_out_of_time():
    # 2027-12-31 read "已超过30日申请期限": the clerk looks for a window, not a typo
    assert statute.may_request(resolved(), "review", D(2027, 12, 31), today=D(2026, 12, 20)) == "in_future"
    assert statute.may_request(resolved(), "review", D(2026, 12, 21), today=D(2026, 12, 20)) == "in_future"
    assert statute.may_request(resolved(), "review", D(2026, 12, 20), today=D(2026, 12, 20)) is None


def test_review_and_recheck_are_answered_within_30_days_and_then_the_claim_is_final():
    asked = resolved(review_requested_on="2026-12-20", review_due="2027-01-19")
    assert statute.stage(asked) == "review"
    assert statute.answer_due(D(2026, 12, 20)) == D(2027, 1, 19)
    assert not statute.answer_overdue(asked, D(2027, 1, 19))
    assert statute.answer_overdue(asked, D(2027, 1, 20))
    assert statute.may_request(asked, "recheck", D(2027, 1, 1)) == "no_review_answer"
    answered = {**asked, "review_answered_on": "2027-01-31"}
    assert statute.recheck_window(answered) == (D(2027, 1, 31), D(2027, 3, 2))
    assert statute.may_request(answered, "recheck", D(2027, 3, 2)) is None
    assert statute.may_request(answered, "review", D(2027, 1, 2)) == "review_exists"
    final = {**answered, "recheck_requested_on": "2027-02-10", "recheck_answered_on": "2027-03-01"}
    assert statute.stage(final) == "final" and statute.is_final(final)


# --- everything overdue at once ----------------------------------------------------------------

def test_overdue_reasons_name_every_limit_passed():
    m = matter(received_on="2026-10-01", register_by="2026-10-16")
    assert statute.overdue_reasons(m, D(2026, 11, 1)) == ["register", "notice"]
    handling = {"status": "in_progress", "received_on": "2026-09-01", "notice_sent_on": "2026-09-02",
                "accepted_on": "2026-09-02", "deadline": "2026-10-31"}
    assert statute.overdue_reasons(handling, D(2026, 11, 1)) == ["handling"]
    assert statute.overdue_reasons({**handling, "status": "resolved"}, D(2026, 11, 1)) == []


# --- the order of dates ------------------------------------------------------------------------

def test_a_consultation_before_the_matter_was_received_is_out_of_order():
    m = {"received_on": "2026-03-01", "accepted_on": "2026-03-05"}
    assert statute.date_problems(m, {"consulted_on": "2019-06-01"}, D(2026, 11, 26)) == [
        ("consulted_on", "date_before", "received_on")]
    assert statute.date_problems(m, {"consulted_on": "2026-03-06"}, D(2026, 11, 26)) == []


def test_a_higher_deadline_before_receipt_and_a_day_not_yet_come_are_refused():
    m = {"received_on": "2026-03-01"}
    assert ("higher_deadline", "date_before", "received_on") in statute.date_problems(
        m, {"higher_deadline": "2020-01-01"}, D(2026, 11, 26))
    assert ("resolved_on", "date_future", "") in statute.date_problems(
        m, {"resolved_on": "2026-12-31"}, D(2026, 11, 26))


def test_a_limit_reckoned_from_a_day_is_not_before_that_day():
    """A deadline of 2000-01-01 pushed for a matter received this year read over 9,000 days
    overdue: the limits run from the days they are reckoned from."""
    m = {"received_on": "2026-03-01", "review_requested_on": "2026-06-01", "recheck_requested_on": "2026-08-01"}
    for field, day, other in [("deadline", "2000-01-01", "received_on"), ("register_by", "2026-02-28", "received_on"),
                              ("review_due", "2026-05-31", "review_requested_on"),
                              ("recheck_due", "2000-01-01", "recheck_requested_on")]:
        assert statute.date_problems(m, {field: day}, D(2026, 11, 26)) == [(field, "date_before", other)]
    assert statute.date_problems(m, {"deadline": "2026-05-01", "register_by": "2026-03-16", "review_due": "2026-07-01",
                                     "recheck_due": "2026-08-31"}, D(2026, 11, 26)) == []
    from sync.model import FieldError
    said = FieldError("deadline", "date_before", (("other", "received_on"),))
    assert said.message("en") == "cannot be before the registration date" and said.message("zh") == "不能早于登记日期"


def test_an_earlier_day_written_after_the_later_one_is_said_to_be_after_it():
    """A registration date typed after the matter's consultation was refused as
    "cannot be before the consultation date", the wrong way round."""
    from sync.model import FieldError
    m = {"received_on": "2026-03-01", "consulted_on": "2026-03-05", "deadline": "2026-05-01"}
    got = statute.date_problems(m, {"received_on": "2026-03-10"}, D(2026, 11, 26))
    assert ("received_on", "date_after", "consulted_on") in got and all(rule == "date_after" for _, rule, _ in got)
    said = FieldError("received_on", "date_after", (("other", "consulted_on"),))
    assert said.message("en") == "cannot be after the consultation date" and said.message("zh") == "不能晚于会商日期"


def test_only_the_dates_written_are_judged():
    old = {"received_on": "2026-03-01", "consulted_on": "2019-01-01"}   # as an older version stored it
    assert statute.date_problems(old, {"plan": "先调解"}, D(2026, 11, 26)) == []


def test_a_matter_is_resolved_no_earlier_than_it_was_accepted_but_may_be_accepted_anew_after():
    """The written opinion says when the matter was accepted and is dated the day it was
    resolved; the review period runs from that day. A reopened matter is accepted again
    after its old resolution, which is not judged."""
    m = {"received_on": "2026-03-01", "accepted_on": "2026-03-10"}
    assert statute.date_problems(m, {"status": "resolved", "resolved_on": "2026-03-05"}, D(2026, 11, 26)) == [
        ("resolved_on", "date_before", "accepted_on")]
    assert statute.date_problems(m, {"resolved_on": "2026-03-10"}, D(2026, 11, 26)) == []
    reopened = {**m, "resolved_on": "2026-04-01", "status": "reopened"}
    assert statute.date_problems(reopened, {"accepted_on": "2026-06-01", "status": "accepted"}, D(2026, 11, 26)) == []
    assert statute.date_problems({**reopened, "accepted_on": "2026-06-01"}, {"resolved_on": "2026-05-20"},
                                 D(2026, 11, 26)) == [("resolved_on", "date_before", "accepted_on")]


# --- 倒排 milestones tick ----------------------------------------------------------------------

def test_milestones_tick_as_their_steps_are_done():
    ms = rules.milestones(D(2026, 11, 1), D(2026, 12, 31))
    m = {"consulted_on": "2026-11-05"}
    got = statute.milestone_progress(m, ms, has_progress=False, today=D(2026, 12, 5))
    assert [(x["key"], x["done"], x["late"]) for x in got] == [
        ("plan", True, False), ("action", False, True), ("resolve", False, False), ("reply", False, False)]
    done = statute.milestone_progress({**m, "resolved_on": "2026-12-20"}, ms, True, D(2027, 1, 5))
    assert all(x["done"] and not x["late"] for x in done)


def test_a_matter_taken_up_again_has_its_new_milestones_to_do_not_done():
    """Reopened after an unsatisfied callback, it kept the first round's consultation and
    resolution: its fresh 60 days read 会商研判（已完成） and 化解办结（已完成）."""
    import datetime as dt

    from sync import rules, statute
    today = dt.date(2026, 11, 28)
    case = {"accepted_on": "2026-11-28", "deadline": "2027-01-27", "consulted_on": "2026-09-03",
            "resolved_on": "2026-10-20", "status": "reopened"}
    steps = statute.milestone_progress(case, rules.milestones(dt.date(2026, 11, 28), dt.date(2027, 1, 27)),
                                       False, today)
    assert [s["done"] for s in steps] == [False] * len(steps)
    case["consulted_on"] = "2026-11-30"     # consulted anew in this period
    steps = statute.milestone_progress(case, rules.milestones(dt.date(2026, 11, 28), dt.date(2027, 1, 27)),
                                       False, today)
    assert {s["key"]: s["done"] for s in steps}["plan"] is True


# --- a phone whose date was ahead: its times moved back (DeviceReplica._restamp_ahead) -------

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=CST)
SYNCED = dt.datetime(2026, 11, 28, 18, 0, tzinfo=CST)    # the last sync
LIMIT = NOW + dt.timedelta(minutes=10)
YEAR_MS, DAY_MS = 365 * 86_400_000, 86_400_000


def moved(entity, fields, by_ms, earliest=SYNCED):
    return statute.moved_back(entity, fields, by_ms, earliest, NOW, LIMIT, 367)


def test_the_times_of_what_happened_move_back_and_nothing_typed_for_later_does():
    case = {"reported_at": "2027-11-29T09:00:00+08:00", "resolved_on": "2027-11-29",
            "higher_deadline": "2027-03-01", "deadline": "2027-12-01", "title": "宅基地纠纷"}
    assert moved("case", case, -YEAR_MS) == {**case, "reported_at": "2026-11-29T09:00:00+08:00",
                                             "resolved_on": "2026-11-29"}
    assert case["reported_at"] == "2027-11-29T09:00:00+08:00"          # the change given is left as it was


def test_a_time_that_cannot_have_been_goes_to_now_never_before_the_last_sync():
    assert moved("visit", {"visited_at": "2027-11-29T09:00:00+08:00"}, -3_600_000)["visited_at"] == (
        "2026-11-29T10:00:00+08:00")                                     # still ahead of now: now
    assert moved("visit", {"visited_at": "2026-12-01T09:00:00+08:00"}, -4 * DAY_MS)["visited_at"] == (
        "2026-11-29T10:00:00+08:00")                                     # before the last sync: now
    assert moved("visit", {"visited_at": "2026-12-01T09:00:00+08:00"}, None)["visited_at"] == (
        "2026-11-29T10:00:00+08:00")                                     # the offset unknown: now
    assert moved("case_event", {"at": "2026-11-30T01:00:00Z"}, -DAY_MS)["at"] == "2026-11-29T09:00:00+08:00"


def test_a_day_ahead_of_today_moves_with_its_change_and_never_past_today():
    """A leader resolving with the phone's date reading tomorrow: the day it was resolved
    is today, as the timeline entry's time is (a day after today is no day a phone on
    the right date writes)."""
    assert moved("case", {"resolved_on": "2026-11-30"}, -DAY_MS) == {"resolved_on": "2026-11-29"}
    assert moved("case", {"resolved_on": "2026-11-30"}, -3_600_000) == {"resolved_on": "2026-11-29"}
    assert moved("case", {"resolved_on": "2026-11-29"}, -DAY_MS) == {"resolved_on": "2026-11-29"}


def test_times_already_within_reach_and_unreadable_ones_stay():
    fine = {"visited_at": "2026-11-29T10:05:00+08:00"}
    assert moved("visit", fine, -YEAR_MS) == fine
    odd = {"visited_at": "下午三点", "seen": "x"}
    assert moved("visit", odd, -YEAR_MS) == odd
    assert moved("visit", {"visited_at": None}, -YEAR_MS) == {"visited_at": None}


def test_a_households_next_visit_moves_only_when_no_reckoning_from_today_reaches_it():
    assert moved("household", {"next_visit_due": "2027-12-06"}, -YEAR_MS) == {"next_visit_due": "2026-12-06"}
    assert moved("household", {"next_visit_due": "2027-12-06"}, None) == {"next_visit_due": "2026-11-29"}
    assert statute.moved_back("household", {"next_visit_due": "2028-02-27"}, 0, SYNCED, NOW, LIMIT, 367,
                              stamp_by_ms=-YEAR_MS) == {"next_visit_due": "2027-02-27"}   # the date put right first
    # reckoned from the last visit (a need added while the date was ahead): left as it is
    assert moved("household", {"next_visit_due": "2026-12-06"}, -YEAR_MS) == {"next_visit_due": "2026-12-06"}


def test_only_work_that_says_or_shows_something_ticks_the_plans_work():
    """An empty progress entry (a phone that skipped its form) had ticked 落实化解措施;
    work of the earlier period, or a routine household visit, does not either."""
    import datetime as dt

    from sync import statute
    since = dt.date(2026, 11, 1)
    event = {"type": "event", "at": "2026-11-03T10:00:00+08:00", "kind": "progress", "text": ""}
    assert not statute.counts_as_progress(event, since)
    assert not statute.counts_as_progress({**event, "text": "  \n"}, since)
    assert statute.counts_as_progress({**event, "text": "已协调双方签订调解协议"}, since)
    assert statute.counts_as_progress({**event, "attachments": [{"hash": "a" * 64, "kind": "photo", "size": 9}]},
                                      since)
    assert statute.counts_as_progress({**event, "kind": "visit", "text": "入户了解情况"}, since)
    assert not statute.counts_as_progress({**event, "kind": "note", "text": "备注"}, since)
    assert not statute.counts_as_progress({**event, "at": "2026-10-30T10:00:00+08:00", "text": "上一轮"}, since)
    visit = {"type": "visit", "at": "2026-11-04T10:00:00+08:00", "kind": "home", "text": ""}
    assert statute.counts_as_progress(visit, since)                       # a 下访 is work done, words or not
    assert not statute.counts_as_progress({**visit, "kind": "household"}, since)


def test_the_review_windows_run_from_the_receipt_and_a_receipt_of_an_earlier_opinion_is_not_used():
    m = {"status": "resolved", "resolved_on": "2026-03-02"}
    assert statute.review_window(m) == (D(2026, 3, 2), D(2026, 4, 1))
    assert statute.review_window({**m, "opinion_received_on": "2026-03-10"}) == (D(2026, 3, 2), D(2026, 4, 9))
    # resolved anew on 03-02 after a first opinion received in January: from the new one
    assert statute.review_window({**m, "opinion_received_on": "2026-01-20"}) == (D(2026, 3, 2), D(2026, 4, 1))
    assert statute.may_request(m, "review", D(2026, 4, 5), D(2026, 4, 5)) == "window_closed"
    assert statute.may_request(m, "review", D(2026, 4, 5), D(2026, 4, 5), received=D(2026, 3, 10)) is None
    r = {**m, "review_requested_on": "2026-03-10", "review_answered_on": "2026-04-01"}
    assert statute.recheck_window({**r, "review_answer_received_on": "2026-04-08"}) == (D(2026, 4, 1), D(2026, 5, 8))
