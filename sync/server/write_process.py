"""The phones' pushes and the pulls' audit rows, written by a process of their own.

One process cannot use a second core for Python: the GIL lets one thread run it at a
time. In a wave of phones, the writer thread (the rules, the rows, SQLite) and the
threads serving HTTP, tokens and pulls took turns at the one GIL, and the writer, whose
work every push waits for, spent a quarter of its time waiting to get it back
(docs/performance.md, "County"). Here the writer is a second interpreter: `gridbook
serve` hands it each push (the principal and the body as the phone sent it) and each pull's audit
row over a socket, and it runs them on its own CentralStore, in its own group commits
(writer.py), with its own GIL.

What the store already guarantees across connections holds across processes: SQLite
lets one writer in at a time (BEGIN IMMEDIATE, with a busy timeout), the server's clock
and the references' counters are read back from the store inside every write
transaction (`CentralStore._load_clock`, `_ref_counter`), and the office's screens have
always written through connections of their own. The serving process keeps every
other write (sign-ins, the office's verbs), and all its in-memory state (the sign-in
throttle, download tickets, the office's live hub): only the jobs below cross.

Guarantees, as writer.py's: a push is answered after the commit holding it returned
(FULL sync), in the child; if the child dies, every job it had not answered fails (the
phones push again, and get "duplicate" for what had landed) and the next job starts a
new child. The child ends with its parent: when the server ends, however it ends, the
socket closes and the child finishes the group under way, then exits. (Not
PR_SET_PDEATHSIG: Linux sends it when the *thread* that started the child ends, and a
replacement child is started from whichever thread asked first.) Ctrl+C reaches the
whole foreground group; the child ignores it and waits for its server to close it.
"""

from __future__ import annotations

import gc
import itertools
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection

from ..access import Principal
from .central import CentralStore, Precheck, PushResult

# How long close() waits for the child to finish its queue before killing it.
CLOSE_S = 30.0
# Write processes in a row that ended holding jobs and having answered none: from this
# many the writer is failing (health answers 503), not caught once by a crash.
FAILING_AFTER = 2


class WriterGone(RuntimeError):
    """The write process ended before answering (a crash, or the server stopping)."""


class _Child:
    """One write process and what the serving process holds of it."""

    def __init__(self, proc: subprocess.Popen, sock: socket.socket):
        self.proc, self.sock = proc, sock
        self.conn = Connection(os.dup(sock.fileno()))
        self.pending: dict[int, tuple[Future, object]] = {}   # by job id; only under WriteProcess._lock
        self.answered = False   # any job answered (FAILING_AFTER counts those that answered none)
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()  # jobs to send; None: no more

    def reap(self) -> None:
        """Wait for the process to end, killing it after CLOSE_S."""
        try:
            self.proc.wait(timeout=CLOSE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class WriteProcess:
    """The serving process's side: `push` and `audit` return futures resolved with the
    child's answer (the push's results list; None for an audit row)."""

    def __init__(self, db_path: str):
        self.path = os.path.abspath(db_path)
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._child: _Child | None = None
        self._closed = False
        self.starts = 0      # children started (for /metrics)
        self.failed_in_a_row = 0   # children that ended with jobs and no answer (FAILING_AFTER)

    def push(self, p: Principal, raw: bytes, checked: Precheck, address: str = "") -> Future:
        """As CentralStore.push_later, for the push whose body is `raw` (JSON already
        found to be {"changes": [...]}) and `checked` its precheck: a future of the
        PushResult, once on disk. The body goes as the phone sent it and is parsed again
        over there: orjson reads it in the time pickle would take, and nesting that JSON
        allows never meets pickle's recursion limit (the precheck holds no value of the
        body's, only results and field errors)."""
        return self._submit("push", (p, raw, checked, address), PushResult)

    def audit(self, username: str, action: str, detail: str, device: str, address: str) -> Future:
        """As CentralStore.audit_later."""
        return self._submit("audit", (username, action, detail, device, address))

    def start(self) -> "WriteProcess":
        with self._lock:
            if self._child is None and not self._closed:
                self._child = self._spawn()
        return self

    def failing(self) -> bool:
        """The last write processes each ended before answering the jobs it was given (a
        store it cannot open, a full disk, a crash at start): nothing the phones push is
        stored until one stays up. One that answers anything clears it."""
        return self.failed_in_a_row >= FAILING_AFTER

    def waiting(self) -> int:
        """Jobs handed to the child and not yet answered."""
        child = self._child
        return len(child.pending) if child else 0

    def _submit(self, kind: str, args: tuple, convert=None) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._closed:
                fut.set_exception(WriterGone("the server is stopping"))
                return fut
            if self._child is None:
                self._child = self._spawn()
            jid = next(self._ids)
            self._child.pending[jid] = (fut, convert)
            outbox = self._child.outbox
        # Sent by a thread of its own: a caller on the event loop never blocks on a full socket.
        outbox.put((jid, kind, args))
        return fut

    def _spawn(self):
        self.starts += 1
        mine, theirs = socket.socketpair()
        proc = subprocess.Popen([sys.executable, "-m", "sync.server.write_process", self.path,
                                 str(theirs.fileno())], pass_fds=[theirs.fileno()],
                                cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        theirs.close()
        child = _Child(proc, mine)
        threading.Thread(target=self._send, args=(child,), name="gridbook-write-send", daemon=True).start()
        threading.Thread(target=self._receive, args=(child,), name="gridbook-write-recv", daemon=True).start()
        return child

    def _send(self, child: _Child) -> None:
        while True:
            item = child.outbox.get()
            if item is None:
                try:   # the child reads EOF after the last job, finishes them and ends
                    child.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                child.conn.send(item)
            except (OSError, ValueError) as e:  # the child is gone: _receive fails the rest
                self._fail(child, item[0], WriterGone(f"the write process is gone ({e.__class__.__name__})"))
                return
            except Exception as e:  # noqa: BLE001 - this job alone could not be sent (a 500)
                self._fail(child, item[0], e)

    def _fail(self, child: _Child, jid: int, err: BaseException) -> None:
        with self._lock:
            fut, _ = child.pending.pop(jid, (None, None))
        if fut is not None and not fut.done():
            fut.set_exception(err)

    def _receive(self, child: _Child) -> None:
        while True:
            try:
                jid, ok, value = child.conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                fut, convert = child.pending.pop(jid, (None, None))
                child.answered = True
                self.failed_in_a_row = 0
            if fut is None:
                continue
            if ok:
                fut.set_result(convert(value) if convert else value)
            else:
                fut.set_exception(value)
        with self._lock:
            if self._child is child:
                self._child = None   # the next job starts a new one
            if child.pending and not child.answered and not self._closed:
                self.failed_in_a_row += 1
            gone = [fut for fut, _ in child.pending.values()]
            child.pending.clear()
        child.outbox.put(None)
        for fut in gone:
            if not fut.done():
                fut.set_exception(WriterGone("the write process ended before answering"))
        child.reap()

    def close(self) -> None:
        """Stop taking jobs; the child finishes what it was given, then ends."""
        with self._lock:
            self._closed = True
            child, self._child = self._child, None
        if child is None:
            return
        child.outbox.put(None)   # what was queued is sent first; then the child reads EOF
        child.reap()


# --- the child ----------------------------------------------------------------------------
def _child_main(db_path: str, fd: int) -> int:
    import orjson
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the server closes this process itself
    conn = Connection(fd)
    try:
        # never made here: moved aside or deleted under its running server, a new, empty
        # store would take the phones' pushes while the server reads the old one; every
        # push is answered "try again" (503) until the store is back
        store = CentralStore(db_path, create=False)
    except sqlite3.OperationalError as e:
        print(f"gridbook write process: cannot open the store {db_path} ({e}); not making a new one",
              file=sys.stderr)
        return 2
    gc.freeze()   # as `gridbook serve` does: start-up's objects out of the collector's walks
    send_lock = threading.Lock()

    def reply(jid: int, kind: str, fut: Future) -> None:
        err = fut.exception()
        if err is not None:
            msg = (jid, False, err)
        else:  # a push's results; an audit row's cursor stays here
            msg = (jid, True, fut.result().results if kind == "push" else None)
        with send_lock:
            try:
                conn.send(msg)
            except (OSError, ValueError):
                pass  # the server is gone: nothing to tell
            except Exception:  # an error that cannot be pickled: its words instead (a 500, as in-process)
                conn.send((jid, False, RuntimeError(f"{err.__class__.__name__}: {err}")))

    def job(kind: str, args: tuple) -> Future:
        if kind == "push":
            p, raw, checked, address = args
            return store.push_later(p, orjson.loads(raw)["changes"], address, checked)
        if kind == "audit":
            return store.audit_later(*args)
        raise ValueError(f"unknown job {kind!r}")

    try:
        while True:
            try:
                jid, kind, args = conn.recv()
            except (EOFError, OSError):
                break
            try:
                fut = job(kind, args)
            except Exception as e:
                fut = Future()
                fut.set_exception(e)
            fut.add_done_callback(lambda f, jid=jid, kind=kind: reply(jid, kind, f))
    finally:
        store.close()  # the writer finishes its queue first
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1], int(sys.argv[2])))
