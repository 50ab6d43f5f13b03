"""The phone keeps what the server acknowledged (apart from its outbox) for the keeping
time, to offer it again to a server restored from a backup that lacks it; older kept
changes go (docs/sync-protocol.md, "After a restore")."""

from __future__ import annotations

import json

from sync.device import DeviceReplica


def household(n: int) -> dict:
    return {"grid_id": "g1", "head_name": f"王建国{n}", "address": f"白鹤村{n}组"}


def test_acknowledged_changes_are_kept_apart_from_the_outbox(tmp_path):
    rp = DeviceReplica(str(tmp_path / "p.db"))
    chs = [rp.create("household", household(n), "w1") for n in range(3)]
    rp.acknowledge([chs[0]["id"], chs[1]["id"]])
    assert rp.pending_count() == 1 and [cid for cid, _ in rp.pending()] == [chs[2]["id"]]
    kept = rp.pushed()
    assert [cid for _, cid, _ in kept] == [chs[0]["id"], chs[1]["id"]]     # in the order sent
    assert json.loads(kept[0][2]) == chs[0]                                  # the body as pushed
    assert rp.outbox_ids() == {chs[2]["id"]}
    # The server holds the record now: it is not "local only" because a copy is kept.
    assert not rp._local_only(chs[0]["record"])
    assert rp._local_only(chs[2]["record"])
    rp.acknowledge([chs[0]["id"]])          # a repeat answer changes nothing
    assert rp.pushed_count() == 2


def test_the_keeping_time_is_thirty_days_unless_set(tmp_path):
    rp = DeviceReplica(str(tmp_path / "p.db"))
    assert rp.keep_pushed_ms() == 30 * 86_400_000
    rp.set_meta("township_settings", json.dumps({"keep_pushed_days": 7}))
    assert rp.keep_pushed_ms() == 7 * 86_400_000
    rp.set_meta("keep_pushed_days", "2")   # this phone's own choice wins
    assert rp.keep_pushed_ms() == 2 * 86_400_000


def test_kept_changes_older_than_the_keeping_time_go(tmp_path):
    rp = DeviceReplica(str(tmp_path / "p.db"))
    old = rp.create("household", household(1), "w1")
    rp.acknowledge([old["id"]])
    # as if acknowledged 31 days ago
    rp.conn.execute("UPDATE pushed SET acked_ms = acked_ms - ?", (31 * 86_400_000,))
    assert rp.pushed() == []                       # no longer offered
    rp.set_meta("pushed_purged_ms", None)          # an hour on: the next acknowledgement purges
    new = rp.create("household", household(2), "w1")
    rp.acknowledge([new["id"]])
    assert [cid for _, cid, _ in rp.pushed()] == [new["id"]]
    assert rp.pushed_count() == 1


def test_the_keeping_time_runs_on_the_township_time_not_on_a_wrong_date(tmp_path, monkeypatch):
    from sync import clock
    township = clock.wall_ms()
    wall, boot = [township - 400 * 86_400_000], [50_000]    # the phone's date 400 days behind
    monkeypatch.setattr(clock, "wall_ms", lambda: wall[0])  # the phone's own date, wherever it is read
    rp = DeviceReplica(str(tmp_path / "p.db"), now=lambda: wall[0], boot=lambda: boot[0])
    rp.learn_server_time(township)                          # its sync clock follows the server's
    chs = [rp.create("household", household(n), "w1") for n in range(3)]
    rp.acknowledge([ch["id"] for ch in chs])
    wall[0] = township                                      # the date put right
    boot[0] += 60_000
    rp.acknowledge([rp.create("household", household(9), "w1")["id"]])   # a later sync purges old ones
    assert len(rp.pushed()) == 4 and rp.pushed_count() == 4   # all still kept for a restored server


def test_a_new_person_on_the_phone_inherits_none_of_the_last_ones_sent_changes(tmp_path):
    rp = DeviceReplica(str(tmp_path / "p.db"))
    rp.acknowledge([rp.create("household", household(1), "w1")["id"]])
    rp._note_left("c1", "金山-2026-0007", "02", "2026-11-20T09:00:00+08:00")
    rp.hand_over()
    assert rp.pushed_count() == 0 and rp.pushed() == []    # names and addresses gone; never offered as theirs
    assert rp.left_cases() == []                           # nor what left the last one's phone


def test_a_change_taken_back_for_a_record_the_server_lacks_is_offered_again_at_each_sync(tmp_path):
    """Another phone's record it builds on may not be back yet after a restore: taken
    back into the outbox, it is marked to go again at each sync (SyncClient.sync)."""
    rp = DeviceReplica(str(tmp_path / "p.db"))
    made = rp.create("household", household(1), "w1")
    rp.acknowledge([made["id"]])
    errors = [{"field": "household_id", "rule": "unknown_record", "message": "names a household this server"
                                                                               " does not hold"}]
    assert rp.take_back_refused([(made["id"], "invalid", errors)]) == 1
    assert rp.meta("retry_unknown") == "1" and rp.pushed_count() == 0
    assert [q["change_id"] for q in rp.quarantined()] == [made["id"]]
    assert rp.release_unknown_refusals() == 1 and rp.pending_count() == 1


def test_files_of_an_erasure_applied_on_the_phone_go_even_if_the_app_ended_before_deleting_them(
        tmp_path, monkeypatch):
    """The pull that carried an erasure committed it (and the cursor), and the app ended
    before the person's files were deleted: no later pull names them again, and the photo
    and its queue row stayed. They are named in the replica until gone."""
    import hashlib

    import pytest
    from sync.attachments import Attachments
    folder = tmp_path / "phone"
    rp = DeviceReplica.in_folder(str(folder))
    data = b"\xff\xd8 not much of a photo"
    h = hashlib.sha256(data).hexdigest()
    (folder / "attachments").mkdir(exist_ok=True)
    photo = folder / "attachments" / h
    photo.write_bytes(data)
    made = rp.create("household", {**household(1), "attachments": [
        {"hash": h, "kind": "photo", "size": len(data), "name": "户口本.jpg"}]}, "w1")
    rp.acknowledge([made["id"]])

    def app_ends(self, hashes):
        raise KeyboardInterrupt("the app ends here")
    monkeypatch.setattr(DeviceReplica, "_after_erasure", app_ends)
    with pytest.raises(KeyboardInterrupt):
        rp.apply_pulled([], "9.x", erasures=[f"household:{made['record']}"])
    assert photo.exists() and rp.meta("cursor") == "9.x"
    monkeypatch.undo()
    rp.close()
    rp = DeviceReplica.in_folder(str(folder))           # the app starts again
    assert not photo.exists() and rp.meta("erased_files") is None
    assert Attachments.for_replica(rp).path(h) is None
    rp.close()
