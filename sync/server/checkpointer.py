"""The central store's WAL checkpoints, on a thread of their own beside the writer.

SQLite checkpoints inside the COMMIT that takes the WAL past its threshold: the writer
that made the commit then copies the whole WAL into the database file and waits for its
fsync before the next group of pushes can begin. On the county store that checkpoint was
half of the time spent writing a wave's rows (bench/county_bench.py, "floor"). Here the
commit only appends to the WAL (and fsyncs it: a push is still answered only once it is
durable) and this thread copies the WAL into the database meanwhile, in SQLite's C code,
without the GIL: the second core does it.

Bounds, so the WAL cannot grow without limit when this thread is slow or not nudged
(writes that do not go through the group writer): the write connection keeps SQLite's
own checkpoint, at `SAFETY_FACTOR` times the threshold. Under Litestream neither runs:
Litestream checkpoints after it has copied the WAL (backup.py).
"""

from __future__ import annotations

import os
import sqlite3
import threading

from ..replica import existing

# SQLite checkpoints in the commit past this many times our threshold (a net, not the path)
SAFETY_FACTOR = 4
# the thread ends after this long without a nudge, as the writer does (writer.py)
IDLE_S = 30.0


class Checkpointer:
    def __init__(self, path: str, threshold_bytes: int, name: str = "gridbook-checkpoint"):
        self.path, self.wal = path, path + "-wal"
        self.threshold = threshold_bytes
        self.name = name
        self._nudged = threading.Event()
        self._guard = threading.Lock()
        self._alive = False
        self._closed = False
        self.runs = 0  # for the benchmarks and the tests: checkpoints made

    def nudge(self) -> None:
        """A commit was made: checkpoint if the WAL is past the threshold."""
        self._nudged.set()
        with self._guard:
            if self._alive or self._closed:
                return
            self._alive = True
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def close(self) -> None:
        with self._guard:
            self._closed = True
            alive = self._alive
        self._nudged.set()
        if alive:
            self._thread.join(timeout=10)

    def _wal_bytes(self) -> int:
        try:
            return os.path.getsize(self.wal)
        except OSError:
            return 0

    def _run(self) -> None:
        conn = sqlite3.connect(existing(self.path), uri=True, isolation_level=None, check_same_thread=False)
        try:
            # FULL: the copied pages are fsynced before the WAL may be reused
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=0")  # another checkpoint running: skip this one
            while True:
                if not self._nudged.wait(IDLE_S):
                    with self._guard:
                        if not self._nudged.is_set():
                            self._alive = False
                            return
                self._nudged.clear()
                if self._closed:
                    with self._guard:
                        self._alive = False
                    return
                if self._wal_bytes() > self.threshold:
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                        self.runs += 1
                    except sqlite3.OperationalError:
                        pass  # busy (a TRUNCATE by compaction, a backup): the next nudge retries
        finally:
            conn.close()
