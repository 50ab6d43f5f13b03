"""Scope keys: who sees what (who may write what: tests/test_permissions.py)."""

from sync.access import PUBLIC, Principal, record_keys

WORKER = Principal("w1", "grid_worker", frozenset({"g1"}))
LEADER = Principal("lead1", "leader")
OFFICE = Principal("xinfang", "office")

CASE_G1 = {"id": "case-1", "grid_id": "g1", "status": "reported"}
OWNED = {**CASE_G1, "owner": "lead1"}


def test_record_keys_of_a_household_is_its_grid():
    assert record_keys("household", {"grid_id": "g1"}) == {"g:g1"}


def test_record_keys_of_a_case_include_its_owner():
    assert record_keys("case", CASE_G1) == {"g:g1"}
    assert record_keys("case", OWNED) == {"g:g1", "u:lead1"}


def test_record_keys_of_a_child_carry_its_case_keys():
    assert record_keys("case_event", {"case_id": "case-1"}, OWNED) == {"g:g1", "u:lead1"}
    assert record_keys("visit", {"grid_id": "g2", "case_id": "case-1"}, OWNED) == {"g:g1", "g:g2", "u:lead1"}


def test_record_keys_of_directory_records_are_public_and_of_nothing_empty():
    assert record_keys("grid", {"name": "一网格"}) == {PUBLIC}
    assert record_keys("staff", {"username": "w1"}) == {PUBLIC}
    assert record_keys("case", None) == frozenset()
