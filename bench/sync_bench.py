"""Sync benchmark: push 10,000 new cases, pull them into an empty phone, then a sync
with nothing new against a central store holding 1,000,000 changes.

Runs the real server (`gridbook serve`) in a subprocess on loopback. Prints one
JSON line. Usage: python bench/sync_bench.py [--n 10000] [--log 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from sync.server.central import CentralStore
from sync.client import SyncClient
from sync.device import DeviceReplica

PASSWORD = "bench-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, db: str):
        self.db, self.port, self.proc = db, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "township", "serve", "--db", self.db, "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def case_fields(i: int, grid: str, author: str) -> dict:
    return {"grid_id": grid, "kind": "dispute", "channel": "grid", "category": "02",
            "title": f"邻里纠纷 {i}", "parties": [f"当事人甲{i}", f"当事人乙{i}"],
            "place": f"金山镇白鹤村{i % 12 + 1}组{i % 60 + 1}号", "lat": 29.07 + (i % 100) / 10000,
            "lon": 119.64 + (i % 97) / 10000, "accuracy_m": 12.5, "location_source": "gps",
            "mocked": False, "description": "两户因排水沟堵塞互相指责，网格员现场了解情况。" * 2,
            "risk": "yellow", "status": "reported", "reported_by": author,
            "reported_at": "2026-11-26T10:00:00+08:00"}


def fill_log(store: CentralStore, total: int, batch: int = 2000) -> None:
    """Other grids' changes, through the real push path, until the log holds `total`."""
    from sync import changes
    from sync.access import Principal
    office = Principal("office", "office", device="filler")
    i = store.log_count()
    stamp_ms = int(time.time() * 1000) - 86_400_000
    while i < total:
        chs = []
        for _ in range(min(batch, total - i)):
            stamp = f"{stamp_ms + i:013d}-00000-filler"
            chs.append(changes.make("case", f"fill-{i}", case_fields(i, f"other-{i % 50:02d}", "office"),
                                    stamp, "filler", "office"))
            i += 1
        res = store.push(office, chs)
        assert res.counts["applied"] == len(chs), res.results[:3]


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="gridbook-bench-")
    try:
        run(tmp)
    finally:  # a full-size run leaves 1.7 GB behind otherwise
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: str) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--log", type=int, default=1_000_000)
    ap.add_argument("--noop-runs", type=int, default=30)
    args = ap.parse_args()
    db = os.path.join(tmp, "central.db")
    store = CentralStore(db)
    store.add_grid("bench-01", "白鹤村第1网格", "白鹤村", "金山镇")
    for g in range(50):
        store.add_grid(f"other-{g:02d}", f"其他网格{g}", "高山村", "金山镇")
    store.add_account("worker", "网格员", "grid_worker", PASSWORD, ["bench-01"])
    store.add_account("office", "信访办", "office", PASSWORD)
    store.close()

    phone = DeviceReplica(os.path.join(tmp, "phone.db"))
    with phone.transaction():
        for i in range(args.n):
            phone.create("case", case_fields(i, "bench-01", "worker"), "worker")
    server = Server(db).start()
    try:
        client = SyncClient(phone, server.url, batch=5000)
        client.login("worker", PASSWORD)
        client.pull()  # the directory (grids, staff), as after a first sign-in
        t = time.perf_counter()
        pushed = client.push()
        push_s = time.perf_counter() - t
        assert pushed.pushed == args.n and phone.pending_count() == 0, pushed

        empty = DeviceReplica(os.path.join(tmp, "empty.db"))
        c2 = SyncClient(empty, server.url, page=5000)
        c2.login("worker", PASSWORD)
        t = time.perf_counter()
        pulled = c2.pull()
        pull_s = time.perf_counter() - t
        assert empty.count("case") == args.n, empty.count("case")
        rss_after_sync = server.rss_mb()
    finally:
        server.stop()

    t = time.perf_counter()
    store = CentralStore(db)
    fill_log(store, args.log)
    log_total = store.log_count()
    store.close()
    fill_s = time.perf_counter() - t

    server.start()  # same port: the phones know this address
    try:
        c2.sync()  # nothing new for this worker, but warm the connection
        runs = []
        for _ in range(args.noop_runs):
            t = time.perf_counter()
            rep = c2.sync()
            runs.append(time.perf_counter() - t)
            assert rep.pulled == 0 and rep.pushed == 0
        noop_s = statistics.median(runs)
        rss = server.rss_mb()
    finally:
        server.stop()
    print(json.dumps({
        "n": args.n, "push_s": round(push_s, 3), "pull_s": round(pull_s, 3),
        "noop_s": round(noop_s, 4), "noop_max_s": round(max(runs), 4),
        "log_changes": log_total, "server_rss_mb": round(rss, 1),
        "server_rss_after_push_pull_mb": round(rss_after_sync, 1), "fill_s": round(fill_s, 1),
        "pulled": pulled.pulled}))


if __name__ == "__main__":
    main()
