"""The central store's one writer: pushes waiting are committed together (group commit).

A push's cost on a small server is mostly its commit: with `synchronous=FULL` in WAL
mode every COMMIT waits for an fsync of the log, and a thousand phones pushing at once
would wait for a thousand fsyncs in a row. Here the pushes that arrive while a commit
is under way wait in a queue; the writer thread then opens one transaction, applies
each of them inside its own SAVEPOINT, and commits them all with one fsync.

Guarantees, each relied on by the phones (docs/architecture.md, "Server concurrency"):
- a push is answered only after the COMMIT that holds it returned, with FULL sync:
  an acknowledged change survives a crash or a power cut (the phone then drops it
  from its outbox);
- a push that fails (an exception, not a refused change: those are results) is rolled
  back to its savepoint alone; the others of the group stand;
- if the COMMIT itself fails, every push of the group gets the error, none is
  acknowledged, and the phones push again (duplicates are answered as such);
- pushes are applied one after the other, in arrival order, by one thread on one
  connection: the rules see exactly the state a lone push would see.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from concurrent.futures import Future
from typing import Callable

from ..replica import gc_paused

# A group stops growing at this many jobs: the first push of a group waits for the
# whole group's work, so a bound keeps its latency bounded.
MAX_GROUP = 256
# The thread ends after this long without work (and starts again with the next): a
# store that is no longer used keeps no thread, nor its connection, alive.
IDLE_S = 30.0


class _Job:
    __slots__ = ("fn", "future", "durable")

    def __init__(self, fn: Callable, durable: bool):
        self.fn, self.durable = fn, durable
        self.future: Future = Future()


class GroupWriter:
    """Runs write jobs `fn()` on the store's write connection, many per transaction.

    `lock` is the store's write lock (the same connection serves the store's other,
    rarer writes: accounts, settings, the office's verbs), held for a whole group."""

    def __init__(self, conn: sqlite3.Connection, lock, name: str = "gridbook-writer",
                 after_commit: Callable[[], None] | None = None):
        self.conn, self.lock = conn, lock
        self.after_commit = after_commit  # the checkpointer's nudge (checkpointer.py)
        self.name = name
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._alive = False
        self._start_lock = threading.Lock()
        self.groups = 0        # for the benchmarks: commits made
        self.jobs = 0          # and pushes carried
        self.relaxed_groups = 0

    def run(self, fn: Callable, durable: bool = True):
        """Apply `fn` in the next group and return its result once the group's commit
        is on disk (or raise its error, or the commit's). `durable=False`: a write whose
        loss in a power cut costs nothing but a line of the audit trail; a group made of
        such writes alone commits without waiting for the disk (synchronous=NORMAL, as
        `Replica.relaxed_transaction`), one with any push in it with."""
        return self.submit(fn, durable).result()

    def submit(self, fn: Callable, durable: bool = True) -> Future:
        """`run` without waiting: a future resolved after the commit (the API awaits it
        on the event loop, so no thread is held while a push waits for its group)."""
        job = _Job(fn, durable)
        with self._start_lock:  # a job is never left behind by a thread that just ended
            self._queue.put(job)
            if not self._alive:
                self._alive = True
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        return job.future

    def close(self) -> None:
        with self._start_lock:
            alive = self._alive
            if alive:
                self._queue.put(None)
        if alive:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_S)
            except queue.Empty:
                with self._start_lock:
                    if self._queue.empty():
                        self._alive = False
                        return
                continue
            if first is None:
                self._end()
                return
            group = [first]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            self._apply(group)
            if stop:
                self._end()
                return

    def _end(self) -> None:
        """Closed: whatever is still queued is answered with an error, never left waiting."""
        with self._start_lock:
            self._alive = False
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    return
                if job is not None:
                    job.future.set_exception(sqlite3.ProgrammingError("the store was closed"))

    @contextlib.contextmanager
    def _sync(self, relaxed: bool):
        if not relaxed:
            yield
            return
        self.conn.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self.conn.execute("PRAGMA synchronous=FULL")

    def _apply(self, group: list[_Job]) -> None:
        done: list[tuple[_Job, object, BaseException | None]] = []
        x = self.conn.execute
        relaxed = not any(job.durable for job in group)
        try:
            with self.lock, gc_paused(), self._sync(relaxed):
                x("BEGIN IMMEDIATE")
                try:
                    for job in group:
                        x("SAVEPOINT push")
                        try:
                            result = job.fn()
                        except BaseException as e:  # this push alone is undone
                            if not self.conn.in_transaction:
                                # SQLite undid the whole transaction itself (a full disk, an
                                # I/O error): the group's pushes all fail, for this cause
                                raise e
                            x("ROLLBACK TO push")
                            x("RELEASE push")
                            done.append((job, None, e))
                        else:
                            x("RELEASE push")
                            done.append((job, result, None))
                    x("COMMIT")  # the one fsync of the group
                except BaseException:
                    if self.conn.in_transaction:
                        x("ROLLBACK")
                    raise
        except BaseException as e:
            for job in group:
                if not job.future.done():
                    job.future.set_exception(e)
            return
        if self.after_commit is not None:
            self.after_commit()
        self.groups += 1
        self.jobs += len(group)
        self.relaxed_groups += relaxed
        for job, result, err in done:
            if err is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(err)
