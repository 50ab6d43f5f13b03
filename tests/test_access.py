"""Scope keys and who may write what."""

from sync.access import PUBLIC, Principal, may_write, record_keys

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


def test_grid_worker_may_create_and_edit_within_their_grid():
    keys = record_keys("household", {"grid_id": "g1"})
    assert may_write(WORKER, {"grid_id": "g1"}, frozenset(), keys)
    assert may_write(WORKER, {"status": "accepted"}, record_keys("case", OWNED), record_keys("case", OWNED))


def test_grid_worker_may_not_write_outside_their_grid():
    g2 = record_keys("household", {"grid_id": "g2"})
    assert not may_write(WORKER, {"grid_id": "g2"}, frozenset(), g2)
    assert not may_write(WORKER, {"phone": "1"}, g2, g2)


def test_grid_worker_may_not_move_a_record_into_or_out_of_their_grid():
    g1, g2 = record_keys("household", {"grid_id": "g1"}), record_keys("household", {"grid_id": "g2"})
    assert not may_write(WORKER, {"grid_id": "g2"}, g1, g2)
    assert not may_write(WORKER, {"grid_id": "g1"}, g2, g1)


def test_grid_worker_may_not_set_owner_or_ref_even_in_their_grid():
    keys = record_keys("case", CASE_G1)
    assert not may_write(WORKER, {"owner": "w1"}, keys, keys)
    assert not may_write(WORKER, {"ref": "金山-2026-0001", "status": "accepted"}, keys, keys)


def test_leader_may_edit_a_case_they_own_and_not_another():
    assert may_write(LEADER, {"status": "in_progress"}, record_keys("case", OWNED), record_keys("case", OWNED))
    other = record_keys("case", {**CASE_G1, "owner": "lead2"})
    assert not may_write(LEADER, {"status": "in_progress"}, other, other)
    assert not may_write(LEADER, {"status": "in_progress"}, record_keys("case", CASE_G1), record_keys("case", CASE_G1))


def test_leader_may_not_give_away_or_take_a_case_by_setting_owner():
    assert not may_write(LEADER, {"owner": "lead1"}, record_keys("case", CASE_G1), record_keys("case", OWNED))


def test_office_may_do_anything():
    g2 = record_keys("case", {"grid_id": "g2", "owner": "lead2"})
    assert may_write(OFFICE, {"owner": "lead1", "ref": "金山-2026-0001"}, g2, record_keys("case", OWNED))
    assert may_write(OFFICE, {"grid_id": "g9"}, frozenset(), frozenset({"g:g9"}))
