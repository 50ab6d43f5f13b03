"""The township server as the benchmarks run it: `gridbook serve` in a process of its
own on a free loopback port, started and waited for, its CPU and memory read from /proc.
(Shared by bench/sync_bench.py, attachment_bench.py and county_bench.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TownshipServer:
    """`log`: a file for the server's output (appended), or None to drop it; `extra`:
    more `gridbook serve` options (health_bench.py's `--trusted-proxy`)."""

    def __init__(self, db: str, log: str | None = None, start_s: float = 60, extra: tuple = ()):
        self.db, self.log, self.start_s, self.extra = db, log, start_s, list(extra)
        self.port, self.proc = free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "TownshipServer":
        err = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "township", "serve", "--db", self.db, "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", *self.extra], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=err)
        if err is not subprocess.DEVNULL:
            err.close()   # the child holds its own copy
        deadline = time.time() + self.start_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                r = httpx.get(self.url + "/api/v1/health", timeout=2)
                # measured once the server's one-off check of the store (a read of the whole
                # file, beside the serving) is done
                if r.status_code == 200 and r.json().get("store_check", "ok") == "ok":
                    return self
                time.sleep(0.05)
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def output(self) -> str:
        if not self.log:
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    def pids(self) -> list[int]:
        """The server's process and those it started (its write process), alive now."""
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:   # each thread lists the processes it started
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return out

    def _sum(self, read) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                total += read(pid)
            except (OSError, ValueError):
                pass   # ended meanwhile
        return total

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server (all its threads and processes)."""
        def one(pid):
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
        return self._sum(one)

    def written_mb(self) -> float:
        """Bytes the server has caused to be written to the disk (WAL, store), MB."""
        def one(pid):
            with open(f"/proc/{pid}/io") as f:
                for line in f:
                    if line.startswith("write_bytes:"):
                        return int(line.split()[1])
            return 0
        return round(self._sum(one) / 2**20, 1)

    def rss_mb(self, key: str = "VmRSS") -> float:
        """Resident memory now (VmRSS) or at its peak (VmHWM) of its processes together, MB."""
        def one(pid):
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
            return 0
        return round(self._sum(one) / 1024, 1)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
