"""The background sync: one loop per app, whatever the number of open screens.

It syncs soon after each local write, every `interval_s` when idle, and after a
failure retries with a growing pause (up to `max_pause_s`), so a phone that comes
back into signal syncs by itself. A person may always press "sync now". The status
it publishes is plain data; screens turn it into words.

A routine check with nothing to send, which nobody asked for, is quiet: the screen says
"syncing" only if it takes longer than `announce_after_s`, and a status that has not
changed is not published again. Otherwise every check redraws every open screen, and a
finger landing on a list while it redraws can miss its row.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Callable

from sync.client import SyncClient
from sync.errors import AuthRequired, ProtocolMismatch, Refused, ServerTrouble, SyncError, Unreachable, UpdateRequired


@dataclass(frozen=True)
class SyncStatus:
    state: str = "idle"            # idle | syncing | offline | signed_out | outdated | update_required | error
    pending: int = 0
    quarantined: int = 0
    last_sync_ms: int | None = None
    progress: float | None = None  # 0..1 while pushing; None when not known
    detail: str = ""               # the server's own words for an error, if any
    next_try_s: float | None = None
    received: int = 0              # changes pulled since the app started: screens refresh on a rise
    attachments_waiting: int = 0   # photos and voice notes not yet on the server (the sync bar)


def remembered_sync_ms(raw: str | None) -> int | None:
    """The last sync a replica remembers (its meta "last_sync_ms"), or None."""
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def local_trouble(exc: BaseException) -> str | None:
    """"phone_full" when the phone's own storage failed (full, or failing to write), else
    None: the phone, not the server, has to make room, and nothing saved is lost."""
    import errno
    import sqlite3
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("full" in text or "disk i/o" in text):
        return "phone_full"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "phone_full"
    return None


def error_state(exc: SyncError) -> str:
    """The one place a sync failure becomes a state the screens know how to say."""
    if isinstance(exc, ServerTrouble):   # the phone is online: the server could not store it now
        return "server_full" if exc.error == "disk_full" else "server_trouble"
    if isinstance(exc, Unreachable):
        return "offline"
    if isinstance(exc, AuthRequired):
        return "signed_out"
    if isinstance(exc, UpdateRequired):  # the server answered "update_required": this app is too old
        return "update_required"
    if isinstance(exc, ProtocolMismatch):
        return "outdated"
    if isinstance(exc, Refused):
        return "error"
    return "error"


class SyncRunner:
    def __init__(self, make_client: Callable[[], SyncClient], *, interval_s: float = 60,
                 first_pause_s: float = 2, max_pause_s: float = 60,
                 on_wifi: Callable[[], bool] = lambda: True, announce_after_s: float = 1.0,
                 last_sync_ms: int | None = None):
        self.make_client = make_client
        self.on_wifi = on_wifi  # whether the link is Wi-Fi now (photos may wait for it)
        self._attachments = None
        self.interval_s, self.first_pause_s, self.max_pause_s = interval_s, first_pause_s, max_pause_s
        self.announce_after_s = announce_after_s
        self._asked = True   # the first sync is shown: the person has just opened the app
        self.listeners: list[Callable[[SyncStatus], None]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._client: SyncClient | None = None
        # when the phone last synced before this run (its replica remembers): the bar
        # says 上次同步 from the start, without a screen reading the store
        self.status = SyncStatus(last_sync_ms=last_sync_ms)

    # --- for screens ----------------------------------------------------------------
    def subscribe(self, fn: Callable[[SyncStatus], None]) -> Callable[[], None]:
        self.listeners.append(fn)
        return lambda: self.listeners.remove(fn) if fn in self.listeners else None

    def request(self) -> None:
        """Sync as soon as possible (after a local write, or "sync now")."""
        self._asked = True
        if self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self.run_forever())

    # --- the loop -----------------------------------------------------------------
    async def run_forever(self) -> None:
        pause = None
        while True:
            try:
                ok = await self.sync_once()
            except Exception as e:  # opening the replica failed (a full phone): the loop must live on
                ok = self._failed(e)
            if ok:
                pause, wait = None, self.interval_s
            else:
                pause = self.first_pause_s if pause is None else min(pause * 2, self.max_pause_s)
                wait = pause
            self._publish(next_try_s=wait if not ok else None)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def sync_once(self) -> bool:
        loop = asyncio.get_running_loop()
        client = self._client = self._client or self.make_client()
        if not client.signed_in:
            self._publish(state="signed_out")
            return True
        quiet = (not self._asked and self.status.state == "idle"
                 and client.replica.pending_count() == 0)
        self._asked = False
        shown = not quiet   # whether the screens have been told "syncing"

        def announce() -> None:
            nonlocal shown
            shown = True
            self._publish("syncing", 0.0, detail="")

        late = loop.call_later(self.announce_after_s, announce) if quiet else None
        if not quiet:
            announce()

        def progress(p: dict) -> None:
            frac = None
            if p.get("phase") == "push":
                done, left = p.get("pushed", 0), p.get("pending", 0)
                frac = done / (done + left) if done + left else 1.0
            loop.call_soon_threadsafe(moved, frac)

        def moved(frac: float | None) -> None:
            if shown:
                self._publish("syncing", frac)

        try:
            report = await asyncio.to_thread(client.sync, progress)
        except SyncError as e:
            self._publish(state=error_state(e), progress=None, detail=e.message)
            return False
        except Exception as e:  # a bug must not stop the background sync for good: say it, retry later
            return self._failed(e)
        finally:   # (no await above: "syncing" cannot be announced after the outcome)
            if late is not None:
                late.cancel()
        self._publish(state="idle", progress=None, last_sync_ms=int(time.time() * 1000),
                      received=self.status.received + report.pulled + report.exits)
        return await self._send_attachments(client)

    def _failed(self, e: Exception) -> bool:
        """A round that failed other than by the sync's own errors (a bug, a full phone):
        said, logged, and a fresh client (and connection) next time. Returns False."""
        import logging
        logging.getLogger("gridbook.sync").exception("sync failed")
        self._client = None
        self._publish(state=local_trouble(e) or "error", progress=None, detail=type(e).__name__)
        return False

    async def _send_attachments(self, client: SyncClient) -> bool:
        """Photos and voice notes after the records (the records are synced already, and
        said so): each resumes where it stopped; a lost link leaves them waiting."""
        loop = asyncio.get_running_loop()

        def progress(p: dict) -> None:
            loop.call_soon_threadsafe(self._publish, None, None)

        try:
            await asyncio.to_thread(client.send_attachments, self.on_wifi(), progress)
        except SyncError as e:
            self._publish(state=error_state(e), progress=None, detail=e.message)
            return False
        except Exception:
            import logging
            logging.getLogger("gridbook.sync").exception("sending attachments failed")
        self._publish()
        return True

    def _attachments_waiting(self, client: SyncClient) -> int:
        from sync.attachments import Attachments
        try:
            if self._attachments is None or self._attachments[0] is not client.replica:
                self._attachments = (client.replica, Attachments.for_replica(client.replica))
            return self._attachments[1].waiting_count()
        except Exception:  # never let the count stop the status
            return self.status.attachments_waiting

    def _publish(self, state: str | None = None, progress: float | None = None, **kw) -> None:
        client = self._client
        counts = {}
        if client is not None:
            try:
                counts = {"pending": client.replica.pending_count(),
                          "quarantined": client.replica.quarantined_count(),
                          "attachments_waiting": self._attachments_waiting(client)}
            except Exception:  # a replica that cannot be read now (a full phone): the counts as they were
                counts = {}
        status = replace(self.status, **({"state": state} if state else {}),
                         progress=progress, **counts, **kw)
        if status == self.status:
            return
        self.status = status
        for fn in list(self.listeners):
            try:
                fn(self.status)
            except Exception:  # a closed browser tab must not stop the sync
                self.listeners.remove(fn)
