"""Read connections of the central store: one per thread, beside the one writer.

SQLite in WAL mode lets any number of readers work while one connection writes: a
reader sees the store as of the last commit when its read transaction began, never a
half-applied push. The API's threads (pulls, sign-in checks, exports) each read on
their own connection, so reads neither wait for the writer's lock nor for each other.

Each connection is opened once per thread (the server's thread pool is bounded: about
40 threads) and kept; `query_only` makes a write through it an error rather than a
second writer. Pages are shared through a memory map of the file rather than copied
into every connection's own cache.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading

from ..replica import existing

# Per connection: a small private cache (the map serves the rest); 1 GB of the file
# mapped (address space, not memory: the pages are the OS's page cache, shared).
CACHE_KIB = 8 * 1024
MMAP_BYTES = 1024 * 1024 * 1024


class ReadPool:
    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self.closed = False

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.closed:
                raise sqlite3.ProgrammingError("the store is closed")
            conn = sqlite3.connect(existing(self.path), uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._guard:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def snapshot(self):
        """One read transaction: every query inside sees the same committed state (a
        pull's log page and the references it names)."""
        conn = self.connection()
        if conn.in_transaction:  # re-entrant: the outer snapshot holds
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._guard:
            self.closed = True
            conns, self._all = self._all, []
        for c in conns:
            with contextlib.suppress(sqlite3.Error):
                c.close()
