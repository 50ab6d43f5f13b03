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


def test_a_restart_is_told_by_the_boot_id_once_the_boot_clock_has_run_past_the_anchors_reading():
    """The boot clock alone took a phone restarted hours ago for the same boot, once its
    uptime passed the one read at the last sync: its visits dated from the last sync on,
    by the time the new boot's clock had run."""
    wall, boot, boot_id = [1_000_000], [50_000], ["boot-1"]
    h = HLC("phone", now=lambda: wall[0], boot=lambda: boot[0], boot_id=lambda: boot_id[0])
    h.anchor(2_000_000)
    boot_id[0], boot[0] = "boot-2", 90_000   # restarted, and up longer than at the sync
    wall[0] += 200_000
    assert not h.anchored()
    assert decode(h.tick())[0] == 2_200_000  # its date and the last offset, not the boot clock
    # a platform that does not say which boot it is: the boot clock as before
    h2 = HLC("phone", now=lambda: wall[0], boot=lambda: boot[0], boot_id=lambda: None)
    h2.anchor(2_000_000)
    boot[0] += 1_000
    assert h2.anchored()


SYNCED = 1_795_600_000_000   # 2026-11-24 09:06:40 +08:00: the phone's last sync
H, DAY = 3_600_000, 86_400_000


def _restarted_phone(tmp_path, name: str = "p"):
    """A phone that synced at SYNCED, with its date, boot clock and boot id in the test's
    hands; returns (replica, workspace, a household of it, clocks dict)."""
    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    t = {"wall": SYNCED, "boot": 50_000, "id": "boot-1"}
    replica = DeviceReplica(str(tmp_path / f"{name}.db"), now=lambda: t["wall"], boot=lambda: t["boot"],
                            boot_id=lambda: t["id"])
    replica.learn_server_time(SYNCED)
    ws = DeviceWorkspace(replica, {"username": "w1", "role": "grid_worker", "grids": ["g1"]})
    hid = ws.add_household({"grid_id": "g1", "head_name": "王建国", "address": "白鹤村1组1号"})
    return replica, ws, hid, t


def _sent(replica, entity: str) -> list[dict]:
    import json
    return [json.loads(b) for b, in replica.conn.execute("SELECT body FROM outbox WHERE entity=? ORDER BY seq",
                                                         (entity,))]


def _ms(iso: str) -> int:
    import datetime as dt
    return int(dt.datetime.fromisoformat(iso).timestamp() * 1000)


def test_a_visit_written_after_a_restart_with_the_date_days_behind_is_dated_when_it_was_made(tmp_path):
    """Restarted with its date three days behind, offline five days since its sync: the
    visit was dated at the last sync (the floor) and stamped there, so the household's
    note lost to an edit made days earlier on another phone. Dated now by the boot clock
    since the restart: when it was made, and stamped then."""
    replica, ws, hid, t = _restarted_phone(tmp_path)
    t.update(id="boot-2", boot=10_000)                  # the restart, day 4
    restart = SYNCED + 4 * DAY
    t["wall"] = restart - 3 * DAY                        # its date three days behind
    t["boot"] += 1 * DAY
    t["wall"] += 1 * DAY                                 # a day later (day 5) she visits
    made = restart + 1 * DAY
    vid = ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "老人独居"})
    ws.edit_household(hid, {"note": "第五天写的"})
    assert abs(_ms(replica.get("visit", vid)["visited_at"]) - made) > DAY   # as the phone knew it
    t["boot"] += 2 * H
    t["wall"] += 2 * H
    replica.learn_server_time(made + 2 * H)              # the sync, two hours later
    [visit] = _sent(replica, "visit")
    assert abs(_ms(visit["fields"]["visited_at"]) - made) <= 1000
    assert replica.get("visit", vid)["visited_at"] == visit["fields"]["visited_at"]
    note = [ch for ch in _sent(replica, "household") if "note" in ch["fields"]][-1]
    assert abs(clock.physical_ms(note["hlc"]) - made) <= 1000     # stamped when it was made
    _, versions = replica._load("household", [hid])[hid]
    assert versions["note"][0] == note["hlc"]            # the phone's table stamped alike
    assert not replica.undated_waiting()


def test_a_restart_with_the_right_date_dates_a_visit_now_not_by_the_boot_clock(tmp_path):
    """Restarted with the right date, the boot clock up longer than at the last sync: the
    visit was dated the last sync plus that uptime (49 hours early in the helper's run)."""
    replica, ws, hid, t = _restarted_phone(tmp_path)
    t.update(id="boot-2", boot=50_000 + 10 * H, wall=SYNCED + 3 * DAY)
    vid = ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "老人独居"})
    assert abs(_ms(replica.get("visit", vid)["visited_at"]) - (SYNCED + 3 * DAY)) <= 1000


def test_a_note_written_with_the_date_ahead_keeps_its_place_before_one_written_once_it_was_put_right(tmp_path):
    """P1 with the date a day ahead, the date put right, P2 an hour later, the sync an hour
    after: P1 was dated at the sync and P2 kept its time, so the timeline read P2, P1."""
    replica, ws, hid, t = _restarted_phone(tmp_path)
    case = ws.report_case({"grid_id": "g1", "kind": "dispute", "category": "10", "description": "两户争水"})
    t.update(id="boot-2", boot=10_000, wall=SYNCED + 2 * DAY + DAY)   # restarted a day ahead
    p1 = ws.add_progress(case, "第一次上门")
    t["wall"] -= DAY                                                # put right
    t["boot"] += H
    t["wall"] += H
    p2 = ws.add_progress(case, "第二次上门")
    t["boot"] += H
    t["wall"] += H
    replica.learn_server_time(t["wall"])
    first, second = (replica.get("case_event", e)["at"] for e in (p1, p2))
    assert _ms(first) < _ms(second)
    assert abs(_ms(first) - (SYNCED + 2 * DAY)) <= 1000 and abs(_ms(second) - (SYNCED + 2 * DAY + H)) <= 1000
    stamps = [ch["hlc"] for ch in _sent(replica, "case_event")]
    assert stamps == sorted(stamps)


def test_a_time_typed_for_another_day_is_left_as_typed_when_its_change_is_dated_again(tmp_path):
    """A visit of yesterday afternoon entered from the notebook is the person's time:
    only what the screen read off the clock moves."""
    replica, ws, hid, t = _restarted_phone(tmp_path)
    t.update(id="boot-2", boot=10_000, wall=SYNCED + DAY - 3 * DAY)   # the date three days behind
    typed = "2026-11-23T15:00:00+08:00"
    vid = ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "补记", "visited_at": typed})
    t["boot"] += H
    replica.learn_server_time(SYNCED + DAY + H)
    assert replica.get("visit", vid)["visited_at"] == typed


def test_written_in_an_earlier_boot_a_change_is_dated_by_its_date_read_with_the_offset_learnt_now(tmp_path):
    """Restarted twice before the sync, the first boot's clock is gone: its change is
    dated by the phone's date then, read with the offset the sync shows (the date as far
    off then as now), never before the last sync, and before what was made after it."""
    replica, ws, hid, t = _restarted_phone(tmp_path)
    t.update(id="boot-2", boot=10_000, wall=SYNCED + 2 * DAY - 5 * H)    # five hours behind
    v1 = ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "第一次"})
    t.update(id="boot-3", boot=20_000, wall=t["wall"] + H)               # restarted again, an hour on
    v2 = ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "第二次"})
    t["boot"] += H
    t["wall"] += H
    replica.learn_server_time(t["wall"] + 5 * H)                          # still five hours behind
    at1, at2 = (_ms(replica.get("visit", v)["visited_at"]) for v in (v1, v2))
    assert abs(at1 - (SYNCED + 2 * DAY)) <= 1000 and abs(at2 - (SYNCED + 2 * DAY + H)) <= 1000


def test_a_phone_updated_from_the_version_before_notes_its_boot_at_the_next_answer(tmp_path):
    """The version before kept its anchor without the boot's id: the next answer, though
    it agrees with the clock to the second, anchors again and names the boot, so a
    restart after the update is told (else the phone stayed on the boot clock alone for
    as long as its syncs agreed with the server)."""
    import json
    replica, ws, hid, t = _restarted_phone(tmp_path)
    c = replica.clock
    replica.set_meta("clock", json.dumps([c.last_ms, c.counter, c.offset_ms, c.anchor_server_ms, c.anchor_boot_ms]))
    replica._load_clock()
    assert replica.clock.anchor_boot_id is None
    t["boot"] += 1_000
    t["wall"] += 1_000
    replica.learn_server_time(SYNCED + 1_000)             # in step with the clock
    replica._load_clock()
    assert replica.clock.anchor_boot_id == "boot-1"
    t.update(id="boot-2", boot=t["boot"] + H, wall=t["wall"] + 2 * H - 36 * H)   # restarted, date 36 h behind
    vid = ws.record_visit({"household_id": hid, "grid_id": "g1", "seen": "老人独居"})
    t["boot"] += 60_000
    replica.learn_server_time(SYNCED + 1_000 + 2 * H + 60_000)
    assert abs(_ms(replica.get("visit", vid)["visited_at"]) - (SYNCED + 1_000 + 2 * H)) <= 1000
