"""The background sync as the screens hear it, against the real server: a routine check
that has nothing to send and that nobody asked for leaves the screen alone (a list
redrawn under a finger loses the tap); a write, a "sync now", the first sync after
opening the app and a check that takes long are all shown."""

import asyncio

from fieldapp.syncer import SyncRunner

from .conftest import household_fields, phone


def states(heard) -> list[str]:
    return [s.state for s in heard]


def listened_to(server, tmp_path, **runner_kw):
    """A signed-in phone's background sync, and the list of what the screens heard."""
    replica, client = phone(tmp_path / "w1", server, "worker1")
    runner = SyncRunner(lambda: client, **runner_kw)
    heard = []
    runner.subscribe(heard.append)
    return replica, runner, heard


def test_a_routine_check_with_nothing_to_send_does_not_say_syncing(server, tmp_path):
    replica, runner, heard = listened_to(server, tmp_path, announce_after_s=60)

    async def opened_then_checked():
        assert await runner.sync_once()            # the app was just opened: shown
        opened = list(heard)
        heard.clear()
        assert await runner.sync_once()            # a routine check nobody asked for
        return opened

    opened = asyncio.run(opened_then_checked())
    assert states(opened)[0] == "syncing" and states(opened)[-1] == "idle"
    assert "syncing" not in states(heard)
    assert runner.status.state == "idle" and runner.status.last_sync_ms   # the time of the check moved on


def test_a_write_and_a_sync_now_are_shown(server, tmp_path):
    replica, runner, heard = listened_to(server, tmp_path, announce_after_s=60)

    async def run():
        await runner.sync_once()
        heard.clear()
        replica.create("household", household_fields("g1", 7), "worker1")
        assert await runner.sync_once()            # something to send
        written = list(heard)
        heard.clear()
        runner.request()                           # the person pressed 立即同步
        assert await runner.sync_once()
        return written

    written = asyncio.run(run())
    assert states(written)[0] == "syncing" and runner.status.pending == 0
    assert states(heard)[0] == "syncing"


def test_a_routine_check_that_takes_long_is_announced(server, tmp_path):
    replica, runner, heard = listened_to(server, tmp_path, announce_after_s=0)   # "long": any time at all

    async def run():
        await runner.sync_once()
        heard.clear()
        assert await runner.sync_once()

    asyncio.run(run())
    assert states(heard)[:1] == ["syncing"] and states(heard)[-1] == "idle"


def test_a_status_that_has_not_changed_is_not_published_again(server, tmp_path):
    replica, runner, heard = listened_to(server, tmp_path)
    asyncio.run(runner.sync_once())
    heard.clear()
    runner._publish()
    runner._publish()
    assert heard == []
    replica.create("household", household_fields("g1", 8), "worker1")
    runner._publish()          # a record now waits: the count changed, the screens hear it
    assert [s.pending for s in heard] == [1]
