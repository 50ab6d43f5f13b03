"""The office's rules: statutory deadlines, the case state machine, grading, rates."""

import datetime as dt

import pytest

from sync import codes, rules
from sync.rules import RuleError

D = dt.date


# --- deadlines --------------------------------------------------------------------------

def test_register_by_runs_15_calendar_days_across_a_month_end():
    assert rules.register_by(D(2026, 1, 31)) == D(2026, 2, 15)


def test_register_by_counts_the_29th_of_february_in_a_leap_year():
    assert rules.register_by(D(2028, 2, 20)) == D(2028, 3, 6)
    assert rules.register_by(D(2027, 2, 20)) == D(2027, 3, 7)


def test_handle_by_crosses_the_year_end():
    assert rules.handle_by(D(2026, 12, 15)) == D(2027, 2, 13)


def test_handle_by_adds_the_extension_granted():
    assert rules.handle_by(D(2026, 3, 1), extended_days=30) == D(2026, 5, 30)
    assert rules.handle_by(D(2026, 3, 1), 0) == D(2026, 4, 30)


def test_extend_once_gives_the_new_extended_days():
    days = rules.extend(D(2026, 3, 1), 0, 20, "需会同县自然资源局核实地界")
    assert days == 20
    assert rules.handle_by(D(2026, 3, 1), days) == D(2026, 5, 20)


def test_extend_a_second_time_is_refused_naming_the_article():
    with pytest.raises(RuleError) as e:
        rules.extend(D(2026, 3, 1), 20, 5, "还需时间")
    assert e.value.code == "extended_already"
    assert "第三十四条" in e.value.message("zh") and "once" in e.value.message("en")


@pytest.mark.parametrize("days", [31, 0, -3])
def test_extend_outside_1_to_30_days_is_refused(days):
    with pytest.raises(RuleError) as e:
        rules.extend(D(2026, 3, 1), 0, days, "理由充分")
    assert e.value.code == "extension_days"
    assert str(days) in e.value.message("zh")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_extend_without_a_reason_is_refused(reason):
    with pytest.raises(RuleError) as e:
        rules.extend(D(2026, 3, 1), 0, 10, reason)
    assert e.value.code == "extension_reason"


def test_an_extension_is_granted_while_the_period_runs_not_once_it_has_run_out():
    """Ten days late, an extension took the matter off the overdue list and out of last
    month's 办理超期."""
    assert rules.extend(D(2026, 3, 1), 0, 30, "补充调查", D(2026, 4, 30), D(2026, 4, 30)) == 30
    with pytest.raises(RuleError) as e:
        rules.extend(D(2026, 3, 1), 0, 30, "补充调查", D(2026, 4, 30), D(2026, 5, 1))
    assert e.value.code == "extension_late"
    assert e.value.message("zh") == "办理期限已于2026-04-30届满：延期须在期限届满前办理（第三十四条）"


def test_extend_before_acceptance_is_refused():
    with pytest.raises(RuleError) as e:
        rules.extend(None, 0, 10, "理由")
    assert e.value.code == "not_accepted"


def test_days_left_is_zero_on_the_day_and_negative_after():
    assert rules.days_left("2026-05-01", D(2026, 4, 28)) == 3
    assert rules.days_left(D(2026, 5, 1), D(2026, 5, 1)) == 0
    assert rules.days_left("2026-05-01", D(2026, 5, 4)) == -3


def test_an_open_case_is_overdue_only_after_its_deadline_day():
    case = {"status": "in_progress", "deadline": "2026-05-01"}
    assert not rules.is_overdue(case, D(2026, 5, 1))
    assert rules.is_overdue(case, D(2026, 5, 2))


def test_a_resolved_or_deadline_less_case_is_never_overdue():
    assert not rules.is_overdue({"status": "resolved", "deadline": "2026-05-01"}, D(2026, 6, 1))
    assert not rules.is_overdue({"status": "in_progress", "deadline": None}, D(2026, 6, 1))


def test_due_within_a_week_excludes_overdue_and_later_cases():
    today = D(2026, 5, 1)
    assert rules.due_within({"status": "assigned", "deadline": "2026-05-08"}, today)
    assert rules.due_within({"status": "reopened", "deadline": "2026-05-01"}, today)
    assert not rules.due_within({"status": "assigned", "deadline": "2026-05-09"}, today)
    assert not rules.due_within({"status": "assigned", "deadline": "2026-04-30"}, today)
    assert not rules.due_within({"status": "closed", "deadline": "2026-05-03"}, today)
    assert rules.due_within({"status": "assigned", "deadline": "2026-05-15"}, today, days=14)


def _assert_ordered_within(steps, accepted, deadline):
    days = [d for _, _, d in steps]
    assert days == sorted(days)
    assert all(accepted <= d <= deadline for d in days)


def test_milestones_are_worked_back_from_a_60_day_deadline():
    accepted = D(2026, 3, 1)
    deadline = rules.handle_by(accepted)
    steps = rules.milestones(accepted, deadline)
    assert [k for k, _, _ in steps] == ["plan", "action", "resolve", "reply"]
    assert [d for _, _, d in steps] == [D(2026, 3, 11), D(2026, 3, 31), D(2026, 4, 23), deadline]
    assert all(label for _, label, _ in steps)
    _assert_ordered_within(steps, accepted, deadline)


@pytest.mark.parametrize("days", [0, 5, 12, 35, 90])
def test_milestones_of_a_short_or_extended_period_stay_in_order_within_it(days):
    accepted = D(2026, 12, 20)
    deadline = accepted + dt.timedelta(days=days)
    steps = rules.milestones(accepted, deadline)
    _assert_ordered_within(steps, accepted, deadline)
    assert steps[-1][2] == deadline


def test_milestones_refuse_a_deadline_before_acceptance():
    with pytest.raises(RuleError):
        rules.milestones(D(2026, 3, 1), D(2026, 2, 1))


# --- the state machine ------------------------------------------------------------------

def test_the_ordinary_life_of_a_case_is_allowed():
    path = ["reported", "accepted", "assigned", "in_progress", "resolved", "called_back", "closed"]
    for a, b in zip(path, path[1:]):
        rules.check_transition(a, b)


def test_every_status_in_the_table_is_a_known_code():
    for a, nexts in rules.TRANSITIONS.items():
        assert a in codes.CASE_STATUSES and nexts <= set(codes.CASE_STATUSES)
    assert set(rules.TRANSITIONS) == set(codes.CASE_STATUSES)


def test_no_callback_before_resolution():
    assert not rules.can_call_back({"status": "in_progress"})
    assert rules.can_call_back({"status": "resolved"})
    # a duplicate folded into another matter is asked about through that matter
    assert not rules.can_call_back({"status": "resolved", "merged_into": "c1"})
    with pytest.raises(RuleError) as e:
        rules.check_call_back({"status": "resolved", "merged_into": "c1"})
    assert e.value.code == "callback_merged"
    with pytest.raises(RuleError) as e:
        rules.check_call_back({"status": "in_progress"})
    assert "办理中" in e.value.message("zh")
    with pytest.raises(RuleError):
        rules.check_transition("in_progress", "called_back")


def test_an_unsatisfied_callback_reopens_the_case():
    assert rules.after_callback("unsatisfied") == "reopened"
    rules.check_transition("resolved", rules.after_callback("unsatisfied"))


def test_an_unsatisfied_callback_does_not_reopen_a_matter_whose_recheck_has_answered():
    """复核 answered: the same matter is not taken up again; asked and not answered yet,
    the township works on."""
    assert rules.after_callback("unsatisfied", "final") == "called_back"
    assert rules.after_callback("satisfied", "final") == "called_back"
    assert rules.after_callback("unsatisfied", "review") == rules.after_callback("unsatisfied", "recheck") \
        == "reopened"


@pytest.mark.parametrize("answer", ["satisfied", "basically"])
def test_a_satisfied_callback_marks_the_case_called_back(answer):
    assert rules.after_callback(answer) == "called_back"


def test_an_unknown_callback_answer_is_refused():
    with pytest.raises(RuleError):
        rules.after_callback("maybe")


def test_a_reopened_case_goes_back_into_progress():
    rules.check_transition("reopened", "in_progress")


def test_a_declined_matter_may_be_reopened_on_review():
    rules.check_transition("declined", "reopened")


def test_closed_to_in_progress_is_refused_naming_both_states():
    with pytest.raises(RuleError) as e:
        rules.check_transition("closed", "in_progress")
    assert e.value.code == "transition"
    en, zh = e.value.message("en"), e.value.message("zh")
    assert "closed" in en and "in progress" in en
    assert "已结案" in zh and "办理中" in zh
    assert str(e.value) == en


def test_an_unknown_status_is_refused():
    with pytest.raises(RuleError) as e:
        rules.check_transition("reported", "finished")
    assert e.value.code == "unknown_status" and "finished" in e.value.message("zh")


# --- grading ----------------------------------------------------------------------------

def test_risk_order_is_the_code_table_from_lowest_to_highest():
    assert set(rules.RISK_ORDER) == set(codes.RISK_LEVELS)
    assert rules.RISK_ORDER[0] == "blue" and rules.RISK_ORDER[-1] == "red"


def test_no_signal_keeps_the_assessed_grade():
    assert rules.grade("yellow", []) == "yellow"
    assert rules.grade(None, []) == "blue"


@pytest.mark.parametrize("signal", list(codes.SIGNALS))
def test_each_signal_raises_the_grade_one_step(signal):
    assert rules.grade("blue", [signal]) == "yellow"
    assert rules.grade("yellow", [signal]) == "orange"
    assert rules.grade("orange", [signal]) == "red"


def test_several_signals_raise_several_steps_capped_at_red():
    assert rules.grade("blue", ["repeated", "level_skipping"]) == "orange"
    assert rules.grade("yellow", ["repeated", "criminal", "extreme"]) == "red"
    assert rules.grade("red", ["extreme"]) == "red"
    assert rules.grade("blue", list(codes.SIGNALS)) == "red"


def test_a_group_of_more_than_five_counts_as_the_group_signal_once():
    assert rules.grade("blue", [], group_size=6) == "yellow"
    assert rules.grade("blue", [], group_size=5) == "blue"
    assert rules.grade("blue", ["group"], group_size=30) == "yellow"
    assert rules.grade("blue", ["repeated", "repeated"]) == "yellow"


def test_an_unknown_base_grade_is_refused():
    with pytest.raises(RuleError):
        rules.grade("purple", [])


# --- rates ------------------------------------------------------------------------------

def test_resolution_rate_is_resolved_over_due():
    assert rules.resolution_rate(9, 10) == pytest.approx(0.9)
    assert rules.format_rate(rules.resolution_rate(187, 200)) == "93.5%"


def test_resolution_rate_with_nothing_due_is_none_shown_as_a_dash():
    assert rules.resolution_rate(0, 0) is None
    assert rules.format_rate(rules.resolution_rate(0, 0)) == "—"


def test_satisfaction_counts_satisfied_and_basically_satisfied():
    answers = ["satisfied", "basically", "unsatisfied", "satisfied"]
    assert rules.satisfaction_rate(answers) == pytest.approx(0.75)


def test_satisfaction_with_no_callbacks_is_none():
    assert rules.satisfaction_rate([]) is None


# --- a callback that reached no one is not the petitioner's answer --------------------------

def test_a_matter_whose_latest_callback_reached_no_one_awaits_a_callback_called_back_or_closed():
    for status in ("called_back", "closed"):
        assert rules.can_call_back({"status": status}, "unreachable")
        assert "call_back" in rules.office_actions({"status": status}, "unreachable")
        # an answer given is the petitioner's last word
        for answer in ("satisfied", "basically", "unsatisfied"):
            assert not rules.can_call_back({"status": status}, answer)
            assert "call_back" not in rules.office_actions({"status": status}, answer)
            with pytest.raises(RuleError) as e:
                rules.check_call_back({"status": status}, answer)
            assert e.value.code == "callback_answered" and "联系不上" in e.value.message("zh")
    assert rules.office_actions({"status": "closed"}, "unreachable") == ("call_back", "review")
    assert rules.office_actions({"status": "called_back"}, "satisfied") == ("close_case", "review", "notice")
    # resolved (again, after a reopening) it waits for its callback whatever was said before
    assert rules.can_call_back({"status": "resolved"}, "unsatisfied")
    assert not rules.can_call_back({"status": "closed", "merged_into": "c1"}, "unreachable")
    assert not rules.can_call_back({"status": "in_progress"}, "unreachable")


def test_called_back_again_a_matter_stays_where_it_is_unless_the_answer_reopens_it():
    assert rules.after_callback("satisfied", None, "closed") == "closed"
    assert rules.after_callback("basically", None, "called_back") == "called_back"
    assert rules.after_callback("unreachable", None, "closed") == "closed"
    # 不满意 does what a first one does: back to work, unless 复核 has answered
    assert rules.after_callback("unsatisfied", None, "closed") == "reopened"
    assert rules.after_callback("unsatisfied", None, "called_back") == "reopened"
    assert rules.after_callback("unsatisfied", "final", "closed") == "closed"
    for status in ("called_back", "closed"):
        rules.check_transition(status, rules.after_callback("unsatisfied", None, status))


def test_a_try_that_reached_no_one_followed_by_another_callback_is_counted_by_the_later_one():
    assert rules.superseded("unreachable", True)
    assert not rules.superseded("unreachable", False)      # still unreached: counted under 联系不上
    assert not rules.superseded("unsatisfied", True)        # an answer counts, though reopened and asked again


def test_a_matter_not_reached_is_on_the_callback_queue_until_answered_and_closed_ones_leave_it_30_days_after_the_try():
    today, day = dt.date(2026, 11, 29), dt.date(2026, 10, 30)   # the try 30 days ago
    assert rules.retry_listed("called_back", "unreachable", dt.date(2026, 1, 5), today)   # the clerk's to finish
    assert rules.retry_listed("closed", "unreachable", day, today)
    assert not rules.retry_listed("closed", "unreachable", day - dt.timedelta(days=1), today)
    assert rules.can_call_back({"status": "closed"}, "unreachable")   # off the list, his answer still taken
    assert rules.retry_listed("closed", "unreachable", None, today)   # a day no calendar reads: shown, not lost
    for status, answer in (("called_back", "satisfied"), ("closed", "unsatisfied"), ("resolved", "unreachable"),
                           ("reopened", "unreachable"), ("called_back", None)):
        assert not rules.retry_listed(status, answer, day, today)
