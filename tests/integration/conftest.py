"""Integration fixtures: the REAL township server, started as `gridbook serve` in a
subprocess on loopback, over a store seeded through the real CLI.

Nothing here stands in for the server: tests talk HTTP to the process, kill it with
SIGKILL, restart it on the same file and port, and read the SQLite file afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sync import changes
from sync.replica import TABLES

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "field-pass-123"
PROTO = {"X-Gridbook-Protocol": str(changes.PROTOCOL_VERSION)}

# username, role, grids: every account gets PASSWORD.
ACCOUNTS = [
    ("worker1", "grid_worker", ["g1"]),
    ("worker2", "grid_worker", ["g2"]),
    ("leader1", "leader", []),
    ("office1", "office", []),
    ("admin1", "admin", []),
    ("lostphone", "grid_worker", ["g1"]),
]
GRIDS = [("g1", "白鹤村第1网格", "白鹤村"), ("g2", "高山村第1网格", "高山村")]


# --- the CLI ------------------------------------------------------------------------

def cli(*args: str, env: dict | None = None, check: bool = True, timeout: float = 120):
    """Run `gridbook ...` as a real process (python -m township)."""
    full_env = {**os.environ, **(env or {})}
    r = subprocess.run([sys.executable, "-m", "township", *args], cwd=REPO, env=full_env,
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"gridbook {' '.join(args)} exited {r.returncode}\n"
                             f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group (zombies, waiting to be reaped, are gone)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) "
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(entry))
    return out


# --- the server process --------------------------------------------------------------

class ServerProcess:
    """`gridbook serve` on one db file and one port; can be SIGKILLed and restarted."""

    def __init__(self, db: Path, log: Path, port: int | None = None, args: tuple = ()):
        self.db, self.log_path, self.args = db, log, tuple(args)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._lock = threading.Lock()

    def start(self, deadline_s: float = 30.0, answers: tuple = (200,)) -> "ServerProcess":
        """Started once its health check answers one of `answers` (503 too: a server that
        came up and says what is wrong)."""
        with self._lock:
            assert self.proc is None or self.proc.poll() is not None, "already running"
            self.log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "township", "serve", "--db", str(self.db),
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", *self.args],
                cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
            self.starts += 1
            end = time.monotonic() + deadline_s   # a start-up deadline, not a timing assertion
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
                try:
                    if httpx.get(self.url + "/api/v1/health", timeout=1.0).status_code in answers:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > end:
                    self._terminate(signal.SIGKILL)
                    raise RuntimeError(f"server did not come up:\n{self.output()}")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the server and every process it started (its write process): no
        shutdown handlers, no flush, like a power cut. Returns once none of them is left,
        so the store's files can be handled as an administrator would (a write process
        outliving its server for a moment would still close its connection, and SQLite
        folds the WAL into the store file at that close)."""
        with self._lock:
            p = self.proc
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)   # its own session (start_new_session)
            self._terminate(signal.SIGKILL)
            end = time.monotonic() + 30   # a bound for a busy machine, not a timing assertion
            while p is not None and group_members(p.pid):
                assert time.monotonic() < end, f"a process of the killed server is left: {group_members(p.pid)}"
                time.sleep(0.02)

    def kill_server_only(self) -> None:
        """SIGKILL to the serving process alone: what it started must end by itself."""
        with self._lock:
            self._terminate(signal.SIGKILL)

    def restart(self) -> "ServerProcess":
        self.kill()
        return self.start()

    def stop(self) -> None:
        with self._lock:
            self._terminate(signal.SIGTERM)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _terminate(self, sig) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # --- reading the store the process writes -----------------------------------
    def sql(self, query: str, args=()) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(query, args).fetchall()
        finally:
            conn.close()

    def change_count(self) -> int:
        return self.sql("SELECT count(*) FROM changes")[0][0]

    def fingerprint(self) -> dict:
        """Counts of the change log and a checksum of every entity table."""
        out = {"changes": self.change_count(), "log": self.sql("SELECT count(*) FROM log")[0][0]}
        for table in TABLES.values():
            h = hashlib.sha256()
            for row in self.sql(f"SELECT * FROM {table} ORDER BY id"):
                h.update(repr(row).encode())
            out[table] = h.hexdigest()
        return out


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """A store seeded through the real CLI (`grid add`, `user add --password`)."""
    d = tmp_path_factory.mktemp("template")
    db = d / "gridbook.db"
    for gid, name, village in GRIDS:
        cli("grid", "add", gid, "--db", str(db), "--name", name, "--village", village,
            "--township", "金山镇", "--lat", "29.07", "--lon", "119.64")
    for username, role, grids in ACCOUNTS:
        args = ["user", "add", username, "--db", str(db), "--role", role, "--password", PASSWORD]
        for g in grids:
            args += ["--grid", g]
        cli(*args)
    listed = cli("user", "list", "--db", str(db)).stdout
    assert all(a[0] in listed for a in ACCOUNTS), listed
    # Fold the WAL back into the main file so a plain copy is the whole store.
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


def _server_from(template: Path, folder: Path, args: tuple = ()) -> ServerProcess:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "gridbook.db"
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(template) + suffix)
        if src.exists():
            shutil.copy(src, str(db) + suffix)
    return ServerProcess(db, folder / "server.log", args=args)


@pytest.fixture(scope="session")
def server(template_db, tmp_path_factory):
    """One shared server for the tests that do not kill it."""
    srv = _server_from(template_db, tmp_path_factory.mktemp("shared"))
    try:
        srv.start()
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def fresh_server(template_db, tmp_path):
    """A server of its own (store copied from the seeded template): for tests that kill it."""
    srv = _server_from(template_db, tmp_path / "server")
    try:
        srv.start()
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def proxied_server(template_db, tmp_path):
    """A server of its own behind a pretend reverse proxy on loopback: the client's
    address is what X-Forwarded-For says (gridbook serve --trusted-proxy 127.0.0.1)."""
    srv = _server_from(template_db, tmp_path / "server", args=("--trusted-proxy", "127.0.0.1"))
    try:
        srv.start()
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def server_alive_after(server):
    """Whatever a test sent, the shared server must still answer afterwards."""
    yield server
    assert server.alive, server.output()
    assert httpx.get(server.url + "/api/v1/health", timeout=10).status_code == 200


# --- talking to it -------------------------------------------------------------------

_tokens: dict[tuple, dict] = {}


def auth_headers(srv: ServerProcess, username: str, device: str | None = None) -> dict:
    """Headers of a signed-in device (one login per server start, user and device)."""
    device = device or f"dev-{username}"
    key = (srv.url, srv.starts, username, device)
    if key not in _tokens:
        r = httpx.post(srv.url + "/api/v1/auth/login", headers=PROTO, timeout=30,
                       json={"username": username, "password": PASSWORD, "device_id": device})
        assert r.status_code == 200, r.text
        _tokens[key] = {**PROTO, "X-Gridbook-Device": device,
                        "Authorization": f"Bearer {r.json()['token']}"}
    return dict(_tokens[key])


def now_iso() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0).isoformat()


def case_fields(grid: str, by: str, **extra) -> dict:
    f = {"grid_id": grid, "kind": "dispute", "channel": "grid", "category": "02",
         "title": "宅前排水沟堵塞", "description": "两户因宅前排水沟堵塞互相指责，尚未激化。",
         "status": "reported", "reported_by": by, "reported_at": now_iso(),
         "lat": 29.0712, "lon": 119.6471}
    f.update(extra)
    return f


def household_fields(grid: str, n: int = 0) -> dict:
    return {"grid_id": grid, "head_name": f"王建国{n}", "address": f"金山镇白鹤村{n % 12 + 1}组{n}号",
            "lat": 29.07, "lon": 119.64}


def phone(folder: Path, srv: ServerProcess, username: str | None = None, **client_kw):
    """A device replica in its own data folder and its real sync client, signed in."""
    from sync.client import SyncClient
    from sync.device import DeviceReplica
    replica = DeviceReplica.in_folder(str(folder))
    client = SyncClient(replica, srv.url, **{"backoff_s": 0.05, **client_kw})
    if username:
        client.login(username, PASSWORD)
    return replica, client
