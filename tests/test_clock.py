"""The hybrid logical clock: stamps only move forward, whatever the phone's clock does."""

import pytest
from hypothesis import given, strategies as st

from sync import clock
from sync.clock import HLC, MAX_COUNTER, decode, encode


def wall(*readings):
    """A wall clock that reads the given milliseconds in turn, then stays on the last."""
    it = iter(readings)
    last = [readings[0]]

    def now():
        last[0] = next(it, last[0])
        return last[0]
    return now


def test_tick_keeps_increasing_when_the_wall_clock_goes_backwards():
    h = HLC("phone", now=wall(5_000, 4_000, 4_000, 1_000, 5_000, 6_000))
    stamps = [h.tick() for _ in range(6)]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 6


def test_tick_after_receive_is_later_than_the_received_stamp():
    h = HLC("slow-phone", now=wall(1_000))
    far = encode(9_000_000, 7, "other")
    h.receive(far)
    assert h.tick() > far


def test_tick_after_receive_of_an_equal_stamp_from_another_node_is_later():
    h = HLC("a", now=wall(1_000))
    mine = h.tick()
    theirs = encode(*decode(mine)[:2], "z")   # same time and counter, greater node
    h.receive(theirs)
    assert h.tick() > theirs


def test_receive_of_an_older_stamp_does_not_move_the_clock_back():
    h = HLC("a", now=wall(5_000))
    before = h.tick()
    h.receive(encode(1_000, 0, "b"))
    assert h.tick() > before


def test_tick_applies_offset_ms_to_the_wall_clock():
    h = HLC("phone", offset_ms=3 * 3_600_000, now=wall(1_000))
    assert clock.physical_ms(h.tick()) == 1_000 + 3 * 3_600_000


def test_tick_borrows_the_next_millisecond_when_the_counter_overflows():
    h = HLC("phone", last_ms=1_000, counter=MAX_COUNTER, now=wall(1_000))
    first = h.tick()
    assert decode(first) == (1_001, 0, "phone")
    assert h.tick() > first > encode(1_000, MAX_COUNTER, "phone")


@given(st.integers(0, 10 ** 13 - 1), st.integers(0, MAX_COUNTER),
       st.from_regex(r"[A-Za-z0-9_.:-]{1,30}", fullmatch=True))
def test_decode_returns_what_encode_was_given(p, c, node):
    assert decode(encode(p, c, node)) == (p, c, node)


@given(st.tuples(st.integers(0, 10 ** 13 - 1), st.integers(0, MAX_COUNTER)),
       st.tuples(st.integers(0, 10 ** 13 - 1), st.integers(0, MAX_COUNTER)))
def test_encoded_stamps_sort_as_their_time_and_counter(a, b):
    assert (encode(*a, "n") < encode(*b, "n")) == (a < b)


@pytest.mark.parametrize("garbage", [
    "", "hello", "2026-01-01", "123-00000-n", "0000000001000-0-n", "0000000001000-00000-",
    "000000000100x-00000-n", "0000000001000-0000x-n", " 000000001000-00000-n",
    "١٧٦٤٠٠٠٠٠٠٠٠٠-00000-n",  # Arabic-Indic digits: int() reads them, but they sort after every real stamp
])
def test_decode_rejects_garbage(garbage):
    with pytest.raises(ValueError):
        decode(garbage)


def test_after_a_sync_the_phone_keeps_the_township_time_when_its_date_is_changed():
    wall_now, boot_now = [1_000_000], [50_000]
    h = HLC("phone", now=lambda: wall_now[0], boot=lambda: boot_now[0])
    h.anchor(2_000_000)                      # the server says 2,000,000 at boot 50,000
    wall_now[0] += 3 * 3_600_000             # the person sets the date 3 hours ahead
    boot_now[0] += 60_000                    # one minute really passes
    assert decode(h.tick())[0] == 2_060_000  # stamped with the township's time


def test_after_a_restart_the_phone_falls_back_to_its_date_and_the_last_offset():
    wall_now, boot_now = [1_000_000], [50_000]
    h = HLC("phone", now=lambda: wall_now[0], boot=lambda: boot_now[0])
    h.anchor(2_000_000)                      # offset +1,000,000
    boot_now[0] = 5_000                      # rebooted: the boot clock started again
    wall_now[0] += 10_000
    assert decode(h.tick())[0] == 2_010_000


def test_without_a_boot_clock_the_offset_is_used():
    h = HLC("phone", now=lambda: 1_000, boot=lambda: None)
    h.anchor(5_000)
    assert (h.anchor_server_ms, h.offset_ms) == (None, 4_000)
    assert decode(h.tick())[0] == 5_000


def test_a_phone_restarted_with_its_date_years_back_records_no_earlier_than_it_last_knew(tmp_path):
    import datetime as dt

    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    synced = int(dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
    wall_now, boot_now = [synced], [50_000]
    replica = DeviceReplica(str(tmp_path / "p.db"), now=lambda: wall_now[0], boot=lambda: boot_now[0])
    replica.learn_server_time(synced)       # the last sync, in signal
    ws = DeviceWorkspace(replica, {"username": "w1", "role": "grid_worker", "grids": ["g1"]})
    hid = ws.add_household({"grid_id": "g1", "head_name": "王建国", "address": "白鹤村1组1号"})
    boot_now[0] = 3_000                      # the battery ran flat: a new boot...
    wall_now[0] = synced - 2 * 365 * 86_400_000   # ...and the date reset two years back
    ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "老人独居"})
    (vid,) = replica.conn.execute("SELECT id FROM visits").fetchone()
    visit = replica.get("visit", vid)
    assert visit["visited_at"].startswith("2026-11-28"), visit["visited_at"]   # not 2024
    wall_now[0] = synced + 3_600_000        # the date put right: the time as it is again
    assert ws.now().isoformat().startswith("2026-11-28T18:00")


def test_records_made_after_a_date_that_was_ahead_is_put_right_are_dated_right(tmp_path):
    import datetime as dt

    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    synced = int(dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
    wall, boot = [synced], [50_000]
    replica = DeviceReplica(str(tmp_path / "p.db"), now=lambda: wall[0], boot=lambda: boot[0])
    replica.learn_server_time(synced)
    ws = DeviceWorkspace(replica, {"username": "w1", "role": "grid_worker", "grids": ["g1"]})
    boot[0], wall[0] = 3_000, synced + 365 * 86_400_000       # restarted with the date a year ahead
    ws.add_household({"grid_id": "g1", "head_name": "王建国", "address": "白鹤村1组1号"})   # stamped ahead
    wall[0] = synced + 3_600_000                                # put right, still offline
    assert ws.now().isoformat().startswith("2026-11-28T18:00")  # not a year ahead with the stamp


def test_the_clock_says_whether_it_reads_the_boot_clock_since_its_last_sync():
    wall_now, boot_now = [1_000_000], [50_000]
    h = HLC("phone", now=lambda: wall_now[0], boot=lambda: boot_now[0])
    assert not h.anchored()                  # never synced
    h.anchor(2_000_000)
    boot_now[0] += 60_000
    assert h.anchored()
    boot_now[0] = 5_000                      # rebooted
    assert not h.anchored()
    assert not HLC("phone", now=lambda: 1_000, boot=lambda: None).anchored()


def _visiting_phone(tmp_path, synced):
    import json

    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    wall, boot = [synced], [50_000]
    replica = DeviceReplica(str(tmp_path / "p.db"), now=lambda: wall[0], boot=lambda: boot[0])
    replica.learn_server_time(synced)
    ws = DeviceWorkspace(replica, {"username": "w1", "role": "grid_worker", "grids": ["g1"]})
    hid = ws.add_household({"grid_id": "g1", "head_name": "王建国", "address": "白鹤村1组1号"})

    def outbox():
        return [json.loads(b) for b, in replica.conn.execute("SELECT body FROM outbox ORDER BY seq")]
    return replica, ws, hid, wall, boot, outbox


def test_a_server_answering_behind_the_phones_boot_clock_re_dates_nothing(tmp_path):
    """On the boot clock since its last sync, the phone's times are the township's: a
    server whose own clock was put back hours answers far behind them. Re-dating the
    phone's visit by it would be wrong for good; the visit waits for the server's clock."""
    import datetime as dt
    synced = int(dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
    replica, ws, hid, wall, boot, outbox = _visiting_phone(tmp_path, synced)
    wall[0], boot[0] = synced + 3_600_000, 50_000 + 3_600_000         # an hour later, same boot
    ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "老人独居"})
    before = outbox()
    replica.learn_server_time(synced + 3_600_000 - 8 * 3_600_000)      # the server's clock 8 hours behind
    assert outbox() == before
    assert [ch["fields"]["visited_at"] for ch in before if ch["entity"] == "visit"] == ["2026-11-28T10:00:00+08:00"]


def test_changes_left_waiting_by_the_version_before_are_stamped_again_at_the_first_answer(tmp_path):
    """Under the version before, a visit refused for a date a year ahead waited a year,
    the clock already put back: nothing was ahead of it any more to set a restamp off."""
    import datetime as dt
    synced = int(dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
    replica, ws, hid, wall, boot, outbox = _visiting_phone(tmp_path, synced)
    year = 365 * 86_400_000
    boot[0], wall[0] = 3_000, synced + year                            # restarted a year ahead
    ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "老人独居"})
    [visit] = [ch for ch in outbox() if ch["entity"] == "visit"]
    replica.quarantine(visit["id"], "hlc: is 8760.0 hours ahead", [{"field": "hlc", "rule": "clock_ahead"}])
    replica.set_meta("clock_restamp", None)                           # as the version before left it
    replica.clock.last_ms = synced                                     # ...its clock already put back
    replica._save_clock()
    wall[0] = synced + 7_200_000                                       # the date put right
    replica.learn_server_time(synced + 7_200_000)
    [visit] = [ch for ch in outbox() if ch["entity"] == "visit"]
    assert clock.physical_ms(visit["hlc"]) <= synced + 7_200_000 + 1_000
    assert visit["fields"]["visited_at"] == "2026-11-28T11:00:00+08:00"  # when it synced: the time is unknown
    assert replica.get("visit", visit["record"])["visited_at"] == "2026-11-28T11:00:00+08:00"
    assert replica.release_clock_refusals(synced + 7_200_000, 600_000) == 1
