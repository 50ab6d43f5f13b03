"""Sync benchmark beside its peer (PouchDB), on the peer's own records. Prints one JSON line.

    .venv/bin/python bench/sync_bench.py                          # 10,000 records
    .venv/bin/python bench/sync_bench.py --n 10000,50000,100000   # the three sizes in one run
    .venv/bin/python bench/sync_bench.py --n 10000 --runs 3 --no-peer

For each N, in this order and in the same run:
- **the records**: `node ../shared/peers/pouchdb/records.js N` (the peer's generator)
  prints them; each becomes one of the phone's cases (title, category, parties,
  description, risk, place, position and time as the peer has them; the grid is the
  phone's own, as a grid worker reports in their grid; the report time is moved back
  120 days, so that no record is dated after today).
- **the floor**: plain sqlite3 `executemany` of the same rows (id and JSON body) into a
  WAL database with `synchronous=FULL`, one transaction: what the machine does with no
  sync at all.
- **ours**, for each batch size (`--batch`, default 5000, and 500, the phone app's and
  the peer's): a fresh township store behind the real server (`gridbook serve`) on
  loopback; the phone holding the N records pushes them (`push_s`); then an empty phone
  of the same grid worker pulls them (`pull_s`, pages of the same size). The phone's
  replica, just written, is flushed to disk before the push starts (`os.sync`,
  `phone_sync_s`), so the push's fsyncs do not wait behind its write-back.
- **the peer**: `../shared/peers/pouchdb/run.sh N` (PouchDB 9 to an express-pouchdb
  server on loopback, batches of 500), and the ratios peer ÷ ours.

`--runs R` repeats ours (and the floor) R times and gives each figure as median and
range. `--log L` adds the no-op sync against a store of L changes (the earlier bench's
third part). The temporary folder is removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from township_process import TownshipServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sync import codes  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from sync.device import DeviceReplica  # noqa: E402
from sync.server.central import CentralStore  # noqa: E402

PASSWORD = "bench-password"
PEER = os.path.join(os.path.dirname(ROOT), "shared", "peers", "pouchdb")
GRID = "bench-01"
_CATEGORY = {v["zh"]: k for k, v in codes.CATEGORIES.items()}
CST = dt.timezone(dt.timedelta(hours=8))


def peer_records(n: int) -> list[dict]:
    out = subprocess.run(["node", os.path.join(PEER, "records.js"), str(n)], capture_output=True, text=True,
                         check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def case_fields(rec: dict) -> dict:
    """The peer's record as the phone's case (see the module's docstring)."""
    at = dt.datetime.fromisoformat(rec["reported_at"].replace("Z", "+00:00")) - dt.timedelta(days=120)
    return {"grid_id": GRID, "kind": "dispute", "channel": "grid", "category": _CATEGORY.get(rec["category"], "99"),
            "title": rec["title"], "parties": rec["parties"], "place": rec["village"],
            "description": rec["description"], "risk": rec["severity"], "status": "reported",
            "reported_by": "worker", "reported_at": at.astimezone(CST).replace(microsecond=0).isoformat(),
            "lat": rec["lat"], "lon": rec["lon"], "accuracy_m": float(rec["accuracy"]), "location_source": "gps"}


def floor_s(tmp: str, records: list[dict]) -> float:
    """The machine's floor: the same rows into plain SQLite, one executemany, FULL sync."""
    path = os.path.join(tmp, "floor.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE cases (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
    rows = [(r["id"], json.dumps(r, ensure_ascii=False)) for r in records]
    t = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO cases VALUES (?,?)", rows)
    conn.execute("COMMIT")
    took = time.perf_counter() - t
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return took


def ours(tmp: str, records: list[dict], batch: int) -> dict:
    db = os.path.join(tmp, "central.db")
    store = CentralStore(db)
    store.add_grid(GRID, "白鹤村第1网格", "白鹤村", "金山镇")
    store.add_account("worker", "网格员", "grid_worker", PASSWORD, [GRID])
    store.close()
    phone = DeviceReplica(os.path.join(tmp, "phone.db"))
    with phone.transaction():
        for rec in records:
            phone.create("case", case_fields(rec), "worker", record_id=rec["id"])
    server = TownshipServer(db).start()
    empty = None
    try:
        client = SyncClient(phone, server.url, batch=batch)
        client.login("worker", PASSWORD)
        client.pull()  # the directory (grids, staff), as after a first sign-in
        # The phone's replica was just written (200 MB at 100k): without this the kernel
        # writes it back during the push, and the server's fsyncs wait behind it (as the
        # county bench found with its copy of the store).
        s = time.perf_counter()
        os.sync()
        sync_s = time.perf_counter() - s
        t = time.perf_counter()
        pushed = client.push()
        push_s = time.perf_counter() - t
        assert pushed.pushed == len(records) and phone.pending_count() == 0, pushed
        empty = DeviceReplica(os.path.join(tmp, "empty.db"))
        c2 = SyncClient(empty, server.url, page=batch)
        c2.login("worker", PASSWORD)
        t = time.perf_counter()
        c2.pull()
        pull_s = time.perf_counter() - t
        assert empty.count("case") == len(records), empty.count("case")
        rss = server.rss_mb()
    finally:
        server.stop()
        for r in (phone, empty):
            if r is not None:
                r.close()
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    return {"push_s": push_s, "pull_s": pull_s, "server_rss_mb": rss, "sync_s": sync_s}


def peer(n: int) -> dict | None:
    got = subprocess.run(["sh", os.path.join(PEER, "run.sh"), str(n)], capture_output=True, text=True,
                         timeout=3600)
    lines = [line for line in got.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if got.returncode == 0 and lines else None


def spread(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3)}


def noop(tmp: str, log: int) -> dict:
    """The earlier bench's third part: a caught-up phone syncs with nothing new against a
    store of `log` changes of other grids (median of 30)."""
    from sync import changes
    from sync.access import Principal
    db = os.path.join(tmp, "noop.db")
    store = CentralStore(db)
    store.add_grid(GRID, "白鹤村第1网格", "白鹤村", "金山镇")
    store.add_grid("other", "其他网格", "高山村", "金山镇")
    store.add_account("worker", "网格员", "grid_worker", PASSWORD, [GRID])
    filler = Principal("filler", "admin", device="filler")
    store.conn.execute("INSERT INTO accounts VALUES ('filler','filler','admin','[]','x',1,0)")
    recs = peer_records(min(log, 100_000))
    i, stamp_ms = 0, int(time.time() * 1000) - 86_400_000
    while i < log:
        chs = []
        for _ in range(min(2000, log - i)):
            f = dict(case_fields(recs[i % len(recs)]), grid_id="other", reported_by="filler")
            chs.append(changes.make("case", f"fill-{i}", f, f"{stamp_ms + i:013d}-00000-filler", "filler", "filler"))
            i += 1
        assert store.push(filler, chs).counts["applied"] == len(chs)
    store.close()
    phone = DeviceReplica(os.path.join(tmp, "noop-phone.db"))
    server = TownshipServer(db).start()
    try:
        c = SyncClient(phone, server.url)
        c.login("worker", PASSWORD)
        c.sync()
        runs = []
        for _ in range(30):
            t = time.perf_counter()
            rep = c.sync()
            runs.append(time.perf_counter() - t)
            assert rep.pulled == 0 and rep.pushed == 0
    finally:
        server.stop()
    return {"log_changes": log, "noop_s": round(statistics.median(runs), 4), "noop_max_s": round(max(runs), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="10000", help="record counts, comma-separated (10000,50000,100000)")
    ap.add_argument("--batch", type=int, default=5000, help="the bench's batch and page size (also 500)")
    ap.add_argument("--runs", type=int, default=1, help="runs of ours per size and batch")
    ap.add_argument("--no-peer", action="store_true", help="skip PouchDB")
    ap.add_argument("--log", type=int, default=0, help="also the no-op sync against a store of this many changes")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gridbook-bench-")
    try:
        print(json.dumps(run(tmp, args), ensure_ascii=False))
    finally:  # a full-size run leaves gigabytes behind otherwise
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: str, args) -> dict:
    out = {"cores": os.cpu_count(), "runs": args.runs, "sizes": {}}
    batches = sorted({args.batch, 500}, reverse=True)
    for n in [int(x) for x in args.n.split(",")]:
        records = peer_records(n)
        assert len(records) == n
        size = {"floor_s": spread([floor_s(tmp, records) for _ in range(args.runs)])}
        for b in batches:
            got = [ours(tmp, records, b) for _ in range(args.runs)]
            push, pull = [g["push_s"] for g in got], [g["pull_s"] for g in got]
            size[f"batch_{b}"] = {"push_s": spread(push), "pull_s": spread(pull),
                                  "push_us_per_record": round(statistics.median(push) / n * 1e6),
                                  "pull_us_per_record": round(statistics.median(pull) / n * 1e6),
                                  "push_over_floor": round(statistics.median(push) / size["floor_s"]["median"], 1),
                                  "server_rss_mb": round(max(g["server_rss_mb"] for g in got)),
                                  "phone_sync_s": round(max(g["sync_s"] for g in got), 2)}
        if not args.no_peer:
            p = peer(n)
            size["peer"] = p
            if p:
                for b in batches:
                    mine = size[f"batch_{b}"]
                    mine["push_ratio"] = round(p["push_s"] / mine["push_s"]["median"], 2)
                    mine["pull_ratio"] = round(p["pull_s"] / mine["pull_s"]["median"], 2)
        out["sizes"][str(n)] = size
    if args.log:
        out["noop"] = noop(tmp, args.log)
    return out


if __name__ == "__main__":
    main()
