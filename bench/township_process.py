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
                if httpx.get(self.url + "/api/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def output(self) -> str:
        if not self.log:
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server (all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

    def written_mb(self) -> float:
        """Bytes the server has caused to be written to the disk (WAL, store), MB."""
        with open(f"/proc/{self.proc.pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return round(int(line.split()[1]) / 2**20, 1)
        return float("nan")

    def rss_mb(self, key: str = "VmRSS") -> float:
        """Resident memory now (VmRSS) or at its peak (VmHWM), MB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
        return float("nan")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
