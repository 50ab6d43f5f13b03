"""What 今日 lists under 有更新 (sync/updates.py): the rule, in plain Python."""

from __future__ import annotations

from sync import updates

OLD, SEEN, LATER = "0001000000000-0000-srv", "0002000000000-0000-srv", "0003000000000-0000-srv"


def versions(*writes: tuple[str, str]) -> dict:
    """A record's versions: one field per (stamp, author)."""
    return {f"f{i}": [stamp, author] for i, (stamp, author) in enumerate(writes)}


def test_a_matter_changed_by_someone_else_after_the_person_looked_is_an_update():
    assert updates.is_update(LATER, SEEN, starting=False)


def test_a_matter_unchanged_since_the_person_looked_is_not_an_update():
    assert not updates.is_update(SEEN, SEEN, starting=False)
    assert not updates.is_update(OLD, SEEN, starting=False)


def test_a_matter_given_to_the_person_after_their_first_sync_is_news():
    assert updates.is_update(LATER, None, starting=False)


def test_nothing_is_an_update_while_the_first_sync_since_a_fresh_sign_in_is_not_through():
    """The first sync brought 40 matters and 今日 said the office had changed all 40."""
    assert not updates.is_update(LATER, None, starting=True)
    assert not updates.is_update(LATER, SEEN, starting=True)


def test_a_matter_only_the_person_wrote_to_is_not_an_update():
    assert updates.newest_stamp(versions((LATER, "l1"), (OLD, "office1")), exclude_author="l1") == OLD
    assert updates.newest_stamp(versions((LATER, "l1")), exclude_author="l1") == ""
    assert not updates.is_update("", None, starting=False)


def test_a_person_follows_what_they_reported_and_a_leader_what_they_own():
    assert updates.follows({"reported_by": "w1", "owner": "l1"}, "w1", "grid_worker")
    assert updates.follows({"reported_by": "office1", "owner": "l1"}, "l1", "leader")
    assert not updates.follows({"reported_by": "office1", "owner": "w1"}, "w1", "grid_worker")
    assert not updates.follows({"reported_by": "office1", "owner": "l2"}, "l1", "leader")


def test_a_sign_in_starts_afresh_on_a_new_phone_or_one_another_person_held_not_for_the_same_person():
    assert updates.starts_afresh(None, "l1")                       # new, reinstalled phone
    assert updates.starts_afresh({"username": "w1"}, "l1")         # handed on: nothing of w1's read is kept
    assert not updates.starts_afresh({"username": "l1"}, "l1")     # signed out and in again


def test_the_starting_point_is_each_followed_matter_as_it_stands_and_nothing_of_others():
    cases = [({"id": "mine", "owner": "l1", "reported_by": "office1"}, versions((OLD, "office1"), (LATER, "w1"))),
             ({"id": "reported", "owner": None, "reported_by": "l1"}, versions((SEEN, "l1"))),
             ({"id": "theirs", "owner": "l2", "reported_by": "office1"}, versions((LATER, "office1")))]
    assert updates.starting_point(cases, "l1", "leader") == {"mine": LATER, "reported": SEEN}
