"""Office benchmark: the dashboard and the year's ledger export on a township-sized store.

A central store (temp dir) with 100,000 matters and 500,000 visits over 2026 in 5
villages of 4 grids, every category, channel and status, and 30,000 callbacks. Then
the year's dashboard (`dashboard_s`: median of 5 after a warm-up that also builds the
dashboard's indexes, `index_s`) and, when sync/export.py exists, the year's ledger
written to xlsx (`export_s`, `xlsx_mb`). Prints one JSON line.

Then a past month (June 2026) read again after `--changed` matters changed since
(`past_month_s` before, `past_month_changed_s` after, `past_month_unmoved`: every
figure the same; `changed_push_us`: those changes through the push path, a change).

Usage: python bench/office_bench.py [--matters 100000] [--visits 500000]
       [--callbacks 30000] [--visits-via-push] [--changed 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time

from sync import changes, clock, codes, merge
from sync.access import Principal
from sync.server.central import CentralStore
from sync.model import ENTITIES
from sync.replica import TABLES, encode_row, gc_paused
from sync.server.stats import dashboard

BATCH = 5_000
YEAR = dt.date(2026, 1, 1)
VILLAGES = ("白鹤村", "高山村", "石门村", "溪口社区", "新塘村")
GRIDS = [f"g{v}{g}" for v in range(len(VILLAGES)) for g in range(4)]
CATEGORIES, CHANNELS = list(codes.CATEGORIES), list(codes.CHANNELS)
STATUSES, RISKS = list(codes.CASE_STATUSES), list(codes.RISK_LEVELS)
RESOLVED = {"resolved", "called_back", "closed"}
ANSWERS = ("satisfied", "satisfied", "satisfied", "basically", "unsatisfied")
OFFICE = Principal("office", "office", device="bench")


class Stamps:
    """Increasing clock stamps a day in the past (the server refuses stamps ahead)."""

    def __init__(self):
        self.ms, self.n = clock.wall_ms() - 86_400_000, 0

    def next(self) -> str:
        self.n += 1
        return clock.encode(self.ms + self.n // 1000, self.n % 1000, "bench")


def day(i: int) -> dt.date:
    return YEAR + dt.timedelta(days=i % 365)


def case_fields(i: int) -> dict:
    # co-prime strides, so every category meets every channel, status and grid
    reported, status = day(i * 7), STATUSES[i % len(STATUSES)]
    f = {"grid_id": GRIDS[i % len(GRIDS)], "kind": ("dispute", "petition")[i % 2],
         "channel": CHANNELS[i % len(CHANNELS)], "category": CATEGORIES[(i // 3) % len(CATEGORIES)],
         "title": f"事项 {i}", "description": "群众反映邻里排水沟堵塞，网格员现场了解情况。",
         "risk": RISKS[(i // 5) % len(RISKS)], "status": status, "reported_by": "office",
         "reported_at": f"{reported.isoformat()}T{9 + i % 9:02d}:30:00+08:00",
         "received_on": reported.isoformat(),
         "deadline": (reported + dt.timedelta(days=60)).isoformat()}
    if i % 10:   # most matters carry a position for the map
        f.update(lat=29.0 + (i % 1000) / 10_000, lon=119.6 + (i % 997) / 10_000)
    if i % 4 == 0:
        f["owner"] = f"leader{i % 12}"
    if status in RESOLVED:
        f["resolved_on"] = (reported + dt.timedelta(days=5 + i % 70)).isoformat()
    return f


def visit_fields(i: int) -> dict:
    kind = ("household",) * 8 + ("home", "reception")
    return {"grid_id": GRIDS[i % len(GRIDS)], "kind": kind[i % 10], "visitor": f"worker{i % 40}",
            "visited_at": f"{day(i * 11).isoformat()}T{8 + i % 10:02d}:15:00+08:00",
            "seen": "家中老人身体尚可，诉求已记录。", "lat": 29.0 + (i % 500) / 10_000,
            "lon": 119.6 + (i % 499) / 10_000}


def push_all(store: CentralStore, entity: str, prefix: str, n: int, fields, stamps: Stamps) -> None:
    """Through the real push path (the writer, its merge and rows), in batches."""
    for lo in range(0, n, BATCH):
        chs = [changes.make(entity, f"{prefix}{i}", fields(i), stamps.next(), "bench", "office")
               for i in range(lo, min(n, lo + BATCH))]
        res = store.push(OFFICE, chs, server_side=True)   # the store built as an import would write it
        assert res.counts["applied"] == len(chs), res.results[:3]


def insert_visits(store: CentralStore, n: int, stamps: Stamps) -> None:
    """Visits written straight into the materialized table: the rows are the ones a push
    would write (the same merge and encoding), without the change log, which the
    dashboard never reads. Five times quicker to build than pushing 500,000 changes."""
    ent, table = ENTITIES["visit"], TABLES["visit"]
    cols = ["id", *ent.columns, "_versions", "_conflicts"]
    sql = f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
    for lo in range(0, n, BATCH):
        rows = []
        for i in range(lo, min(n, lo + BATCH)):
            ch = changes.make("visit", f"v{i}", visit_fields(i), stamps.next(), "bench", "office")
            row, ver = merge.merge_change(None, {}, ch)
            rows.append((*encode_row(ent, row), merge.dumps(ver), 0))
        with store.relaxed_transaction(), gc_paused():
            store.conn.executemany(sql, rows)


def build(path: str, args) -> CentralStore:
    store = CentralStore(path)
    for v, village in enumerate(VILLAGES):
        for g in range(4):
            store.add_grid(f"g{v}{g}", f"{village}第{g + 1}网格", village, "金山镇")
    stamps = Stamps()
    push_all(store, "case", "m", args.matters, case_fields, stamps)
    resolved = [i for i in range(args.matters) if STATUSES[i % len(STATUSES)] in RESOLVED]

    def callback_fields(k: int) -> dict:
        i = resolved[k % len(resolved)]
        on = dt.date.fromisoformat(case_fields(i)["resolved_on"]) + dt.timedelta(days=3)
        return {"case_id": f"m{i}", "at": f"{on.isoformat()}T10:00:00+08:00", "by": "office",
                "method": "phone", "answer": ANSWERS[k % len(ANSWERS)]}

    push_all(store, "callback", "cb", args.callbacks, callback_fields, stamps)
    if args.visits_via_push:
        push_all(store, "visit", "v", args.visits, visit_fields, stamps)
    else:
        insert_visits(store, args.visits, stamps)
    return store


YEAR_2026 = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def median_s(call, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_dashboard(conn) -> tuple[float, float, float, dict]:
    """(year's dashboard, first call building the indexes, one village's, figures)."""
    t = time.perf_counter()
    figures = dashboard(conn, *YEAR_2026)     # warm-up; builds the indexes once
    index_s = time.perf_counter() - t
    year_s = median_s(lambda: dashboard(conn, *YEAR_2026))
    village_s = median_s(lambda: dashboard(conn, *YEAR_2026, village=VILLAGES[0]))
    return year_s, index_s, village_s, figures


PAST_MONTH = (dt.date(2026, 6, 1), dt.date(2026, 6, 30))


def time_past_month(store: CentralStore, changed: int, stamps: Stamps) -> dict:
    """A month handed in, read again after `changed` of its township's matters changed
    since (a notice recorded today, through the real push path): the figures then read
    those matters as they stood at the month's end (sync/server/standing.py)."""
    plain_s = median_s(lambda: dashboard(store.conn, *PAST_MONTH))
    before = dashboard(store.conn, *PAST_MONTH)
    t = time.perf_counter()
    push_all(store, "case", "m", changed, lambda i: {"notice_sent_on": case_fields(i)["received_on"]}, stamps)
    push_s = time.perf_counter() - t
    after_s = median_s(lambda: dashboard(store.conn, *PAST_MONTH))
    after = dashboard(store.conn, *PAST_MONTH)
    same = all(before[k] == after[k] for k in before if k not in ("open_points",))
    try:
        kept = store.conn.execute("SELECT count(*) FROM case_standing").fetchone()[0]
    except sqlite3.OperationalError:   # a store from before standing.py (a comparison run)
        kept = None
    return {"changed": changed, "changed_push_us": round(push_s / max(changed, 1) * 1e6, 1),
            "standing_rows": kept,
            "past_month_s": round(plain_s, 3), "past_month_changed_s": round(after_s, 3),
            "past_month_unmoved": same}


def time_export(conn, tmp: str) -> tuple[float | None, float | None]:
    """The year's ledger to xlsx, if sync/export.py has been written (by another hand)."""
    if importlib.util.find_spec("sync.server.export") is None:
        return None, None
    from sync.server.export import ledger_rows, write_xlsx
    path = os.path.join(tmp, "ledger.xlsx")
    t = time.perf_counter()
    write_xlsx(ledger_rows(conn, *YEAR_2026), path)
    return time.perf_counter() - t, os.path.getsize(path) / 1e6


def time_supervision(store: CentralStore) -> dict:
    """The supervision ledger (督办) as the office opens it: each leader's counts, the first
    page of 100 matters being worked and each one's latest progress (its timeline), the
    median of 5 runs after a warm-up. It had drawn every owned matter with its timeline."""
    from sync.server.office import CentralWorkspace
    ws = CentralWorkspace(store, {"username": "bench", "name": "bench", "role": "office", "grids": []})

    def page() -> int:
        counts = ws.supervision_counts("open")
        rows = ws.supervision(which="open", limit=101)
        for c in rows[:100]:
            ws.timeline(c["id"])
        return sum(n for n, _ in counts.values())
    page()
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        working = page()
        runs.append(time.perf_counter() - t)
    return {"supervision_s": round(statistics.median(runs), 3), "supervision_working": working,
            "supervision_owned": sum(n for n, _ in ws.supervision_counts("all").values())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--matters", type=int, default=100_000)
    ap.add_argument("--visits", type=int, default=500_000)
    ap.add_argument("--callbacks", type=int, default=30_000)
    ap.add_argument("--visits-via-push", action="store_true")
    ap.add_argument("--changed", type=int, default=20_000,
                    help="matters changed after the past month measured (0: not measured)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gridbook-office-bench-")
    t = time.perf_counter()
    store = build(os.path.join(tmp, "central.db"), args)
    build_s = time.perf_counter() - t
    dashboard_s, index_s, village_s, figures = time_dashboard(store.conn)
    export_s, xlsx_mb = time_export(store.conn, tmp)
    supervision = time_supervision(store)
    past = time_past_month(store, args.changed, Stamps()) if args.changed else {}
    print(json.dumps({**past, **supervision,
        "matters": store.count("case"), "visits": store.count("visit"),
        "callbacks": store.count("callback"), "build_s": round(build_s, 1),
        "index_s": round(index_s, 2), "dashboard_s": round(dashboard_s, 3),
        "dashboard_village_s": round(village_s, 3),
        "export_s": None if export_s is None else round(export_s, 2),
        "xlsx_mb": None if xlsx_mb is None else round(xlsx_mb, 1),
        "registered": figures["registered"], "resolution_rate": figures["resolution_rate"],
        "satisfaction_rate": figures["satisfaction_rate"],
        "open_points": len(figures["open_points"])}, ensure_ascii=False))
    store.close()
    shutil.rmtree(tmp)   # about a gigabyte at full size


if __name__ == "__main__":
    main()
