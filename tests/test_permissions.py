"""The write rules (sync/permissions.py) as plain functions: who may create and change
what, where, in which state of the case."""

import pytest

from sync import permissions
from sync.access import Principal
from sync.permissions import check

WORKER = Principal("w1", "grid_worker", frozenset({"g1"}), "d1")
LEADER = Principal("lead1", "leader", frozenset(), "d2")
OFFICE = Principal("xinfang", "office", frozenset(), "d3")
ADMIN = Principal("root", "admin", frozenset(), "d4")

STAFF = {"staff-lead1": {"username": "lead1", "role": "leader", "active": True},
         "staff-w1": {"username": "w1", "role": "grid_worker", "active": True}}
HOUSEHOLDS = {"hh-1": {"id": "hh-1", "grid_id": "g1"}, "hh-2": {"id": "hh-2", "grid_id": "g2"}}
GRIDS = {"g1": {"id": "g1"}, "g2": {"id": "g2"}}


def case(**over):
    return {"id": "c1", "grid_id": "g1", "status": "reported", "reported_by": "w1", "owner": None, **over}


def lookup_with(cases=()):
    table = {"case": {c["id"]: c for c in cases}, "staff": STAFF, "household": HOUSEHOLDS, "grid": GRIDS}
    return lambda entity, rid: table.get(entity, {}).get(rid)


def rules(errors):
    return {(e.field, e.rule) for e in errors}


REPORT = {"grid_id": "g1", "kind": "dispute", "channel": "grid", "category": "02", "description": "漏水",
          "status": "reported", "reported_by": "w1", "reported_at": "2026-11-26T09:00:00+08:00"}


def test_check_a_worker_reports_in_their_grid_and_nowhere_else():
    assert check(WORKER, "case", None, REPORT, lookup_with()) == []
    assert ("record", "forbidden") in rules(check(WORKER, "case", None, {**REPORT, "grid_id": "g2"}, lookup_with()))


def test_check_a_new_case_starts_as_reported_whoever_writes_it():
    for who in (WORKER, OFFICE):
        got = rules(check(who, "case", None, {**REPORT, "status": "closed", "reported_by": who.username},
                          lookup_with()))
        assert ("status", "initial_status") in got


def test_check_reporting_in_another_name_is_refused():
    assert ("reported_by", "author") in rules(check(WORKER, "case", None, {**REPORT, "reported_by": "w2"},
                                                    lookup_with()))


def test_check_a_worker_edits_their_own_report_only_while_unaccepted():
    assert check(WORKER, "case", case(), {"description": "更正"}, lookup_with()) == []
    assert ("record", "state") in rules(check(WORKER, "case", case(status="accepted"), {"description": "x"},
                                              lookup_with()))
    assert ("record", "forbidden") in rules(check(WORKER, "case", case(reported_by="w2"), {"description": "x"},
                                                  lookup_with()))


@pytest.mark.parametrize("field, value", [("status", "closed"), ("deadline", "2099-01-01"),
                                          ("accepted_on", "2026-01-01"), ("extended_days", 30),
                                          ("merged_into", "c2"), ("owner", "lead1"), ("grid_id", "g1")])
def test_check_workflow_fields_are_not_a_workers(field, value):
    assert (field, "field_forbidden") in rules(check(WORKER, "case", case(), {field: value}, lookup_with()))


def test_check_fields_set_once_and_server_fields_are_nobodys_after_creation():
    for who in (WORKER, OFFICE, ADMIN):
        got = rules(check(who, "case", case(), {"reported_by": who.username, "ref": "金山-2026-0001"},
                          lookup_with()))
        assert {("reported_by", "set_once"), ("ref", "server_assigned")} <= got


def test_check_a_leader_works_and_resolves_owned_cases_with_an_outcome():
    owned = case(owner="lead1", status="assigned")
    assert check(LEADER, "case", owned, {"status": "in_progress"}, lookup_with()) == []
    assert ("outcome", "outcome_needed") in rules(check(LEADER, "case", owned, {"status": "resolved"}, lookup_with()))
    # with the day it was resolved: what the figures, the deadlines and the written opinion count from
    assert ("resolved_on", "resolved_on_needed") in rules(check(LEADER, "case", owned,
                                                                {"status": "resolved", "outcome": "mediation"},
                                                                lookup_with()))
    # and with what was done (办理情况): the ledger's and the written opinion's words
    assert ("method", "method_needed") in rules(check(LEADER, "case", owned,
                                                      {"status": "resolved", "outcome": "mediation",
                                                       "resolved_on": "2026-11-20", "method": "  "}, lookup_with()))
    assert check(LEADER, "case", owned, {"status": "resolved", "outcome": "mediation", "resolved_on": "2026-11-20",
                                         "method": "现场调解，双方签字"}, lookup_with()) == []
    # a case resolved before the rule, without its day, is not refused its later edits
    assert check(OFFICE, "case", case(owner="lead1", status="resolved", outcome="mediation"),
                 {"title": "更正"}, lookup_with()) == []
    assert ("status", "transition") in rules(check(LEADER, "case", owned, {"status": "closed"}, lookup_with()))
    assert ("record", "forbidden") in rules(check(LEADER, "case", case(owner="lead2", status="assigned"),
                                                  {"status": "in_progress"}, lookup_with()))
    assert ("grid_id", "field_forbidden") in rules(check(LEADER, "case", owned, {"grid_id": "g2"}, lookup_with()))


def test_check_the_office_walks_the_state_machine_and_nothing_else():
    assert check(OFFICE, "case", case(), {"status": "accepted"}, lookup_with()) == []
    assert ("status", "transition") in rules(check(OFFICE, "case", case(), {"status": "closed"}, lookup_with()))
    assert check(OFFICE, "case", case(status="resolved"), {"status": "called_back"}, lookup_with()) == []


def test_check_the_owner_must_be_a_leaders_account():
    assert check(OFFICE, "case", case(), {"owner": "lead1"}, lookup_with()) == []
    assert ("owner", "not_leader") in rules(check(OFFICE, "case", case(), {"owner": "w1"}, lookup_with()))
    assert ("owner", "not_leader") in rules(check(OFFICE, "case", case(), {"owner": "ghost"}, lookup_with()))


def test_check_a_merge_names_another_case_that_exists():
    other = case(id="c2")
    assert check(OFFICE, "case", case(), {"merged_into": "c2"}, lookup_with([other])) == []
    assert ("merged_into", "merged_self") in rules(check(OFFICE, "case", case(), {"merged_into": "c1"},
                                                         lookup_with([other])))
    assert ("merged_into", "unknown_record") in rules(check(OFFICE, "case", case(), {"merged_into": "c9"},
                                                            lookup_with([other])))


def test_check_a_visit_is_at_a_household_of_its_grid_in_the_workers_reach():
    visit = {"grid_id": "g1", "household_id": "hh-1", "kind": "household", "visitor": "w1",
             "visited_at": "2026-11-26T09:00:00+08:00"}
    assert check(WORKER, "visit", None, visit, lookup_with()) == []
    assert ("grid_id", "household_grid") in rules(check(WORKER, "visit", None, {**visit, "household_id": "hh-2"},
                                                        lookup_with()))
    assert ("kind", "role_value") in rules(check(WORKER, "visit", None, {**visit, "kind": "reception"},
                                                 lookup_with()))


def test_check_a_leader_visits_the_household_of_an_owned_case_outside_their_grids():
    owned = case(id="c5", grid_id="g2", owner="lead1", status="assigned", household_id="hh-2")
    visit = {"grid_id": "g2", "household_id": "hh-2", "case_id": "c5", "kind": "home", "visitor": "lead1",
             "visited_at": "2026-11-26T09:00:00+08:00"}
    assert check(LEADER, "visit", None, visit, lookup_with([owned])) == []
    stranger = case(id="c6", grid_id="g2", owner="lead2", status="assigned")
    assert ("record", "forbidden") in rules(check(LEADER, "visit", None, {**visit, "case_id": "c6"},
                                                  lookup_with([owned, stranger])))


def test_check_a_home_visit_is_in_its_matters_grid_and_every_grid_named_exists():
    owned = case(id="c5", grid_id="g2", owner="lead1", status="assigned")
    visit = {"grid_id": "g2", "case_id": "c5", "kind": "home", "visitor": "lead1",
             "visited_at": "2026-11-26T09:00:00+08:00"}
    assert check(LEADER, "visit", None, visit, lookup_with([owned])) == []
    # the leader owns the matter, not every grid: the visit would show in another grid's figures
    assert rules(check(LEADER, "visit", None, {**visit, "grid_id": "g1"}, lookup_with([owned]))) == \
        {("grid_id", "case_grid")}
    assert ("grid_id", "unknown_record") in rules(check(LEADER, "visit", None, {**visit, "grid_id": "zz-99"},
                                                        lookup_with([owned])))
    assert rules(check(OFFICE, "case", None, {**REPORT, "grid_id": "zz-99", "reported_by": "xinfang"},
                       lookup_with())) == {("grid_id", "unknown_record")}
    # a phone, which may not hold every grid, leaves that to the server
    assert check(LEADER, "visit", None, {**visit, "grid_id": "zz-99"}, lambda e, r: owned if e == "case" else None,
                 complete=False) == [permissions._err("grid_id", "case_grid")]


def test_a_result_is_written_with_the_resolution_not_on_a_matter_in_progress():
    """A leader's change of outcome and resolved_on alone was taken: the ledger read 办理中
    beside 调解协议, and the plan marked 办结 done."""
    owned = case(owner="lead1", status="in_progress")
    for who in (LEADER, OFFICE):
        got = rules(check(who, "case", owned, {"outcome": "mediation", "resolved_on": "2026-10-01"}, lookup_with()))
        assert {("outcome", "result_without_resolution"), ("resolved_on", "result_without_resolution")} <= got
    # corrected on a matter resolved, or taken up again with the old result kept: allowed
    assert check(OFFICE, "case", case(owner="lead1", status="resolved", outcome="explained", resolved_on="2026-10-01",
                                      method="解释"), {"outcome": "mediation"}, lookup_with()) == []
    assert check(OFFICE, "case", case(owner="lead1", status="reopened", outcome="explained"), {"plan": "再调解"},
                 lookup_with()) == []
    # a conflict between two results settled on a matter taken up again (the office's 冲突)
    assert check(OFFICE, "case", case(owner="lead1", status="reopened", outcome="explained",
                                      resolved_on="2026-10-01"), {"outcome": "mediation"}, lookup_with()) == []


def test_check_callbacks_are_the_offices_once_resolved():
    resolved = case(status="resolved")
    cb = {"case_id": "c1", "at": "2026-11-26T09:00:00+08:00", "by": "xinfang", "method": "phone",
          "answer": "satisfied"}
    assert check(OFFICE, "callback", None, cb, lookup_with([resolved])) == []
    assert ("record", "state") in rules(check(OFFICE, "callback", None, cb, lookup_with([case()])))
    assert ("record", "create_forbidden") in rules(check(WORKER, "callback", None, {**cb, "by": "w1"},
                                                         lookup_with([resolved])))


def test_check_a_phone_leaves_references_it_cannot_see_to_the_server():
    unknown = {"grid_id": "g1", "kind": "dispute", "channel": "grid", "category": "02", "description": "x",
               "status": "reported", "reported_by": "w1", "reported_at": "2026-11-26T09:00:00+08:00",
               "household_id": "hh-unknown"}
    assert check(WORKER, "case", None, unknown, lookup_with(), complete=False) == []
    assert ("household_id", "unknown_record") in rules(check(WORKER, "case", None, unknown, lookup_with()))


def test_fields_of_reads_the_table():
    assert "status" not in permissions.fields_of("case", "update", "grid_worker")
    assert permissions.fields_of("case", "update", "leader") == {"status", "outcome", "method", "resolved_on"}
    assert "ref" not in permissions.fields_of("case", "create", "office")
    assert permissions.fields_of("callback", "create", "leader") == frozenset()
    assert permissions.fields_of("visit", "update", "office") == frozenset()


def test_every_role_may_walk_only_moves_of_the_state_machine():
    from sync.rules import TRANSITIONS
    machine = {(a, b) for a, nxt in TRANSITIONS.items() for b in nxt}
    for role, moves in permissions.TRANSITIONS.items():
        assert moves <= machine, role
    assert permissions.TRANSITIONS["grid_worker"] == frozenset()
