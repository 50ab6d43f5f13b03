"""App benchmark: the reads behind the phone's screens, over a full device replica.

Builds a device replica holding 10,000 households (four grids around lat 29.07,
lon 119.65, Chinese names and addresses) and 10,000 cases, as if pulled from the
township server; then times, through DeviceWorkspace, what a person waits for when
opening a screen: the case list (grid worker), a leader's own cases, a household
search by a one-character name fragment, and the 50 nearest households. Each figure
is the median of several runs after one warm-up. Target: each at most 0.1 s.

Prints one JSON line. Usage: python bench/app_bench.py [--households 10000] [--cases 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import tempfile
import time

from sync import changes, clock
from sync.device import DeviceReplica
from sync.workspace import DeviceWorkspace

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "建国秀英志强丽华伟明桂芳海燕春梅玉兰文军红霞永平金凤德胜美玲小龙晓东淑珍立新国庆"
VILLAGES = [("g1", "白鹤村"), ("g2", "青山村"), ("g3", "溪口村"), ("g4", "新塘社区")]
CENTRES = {"g1": (29.070, 119.650), "g2": (29.085, 119.630), "g3": (29.055, 119.675),
           "g4": (29.078, 119.668)}
NEEDS = ["dibao", "elderly_alone", "serious_illness", "left_behind_child", "disability"]
CATEGORIES = ["01", "02", "03", "05", "07", "08", "09", "10", "99"]
STATUSES = ["reported", "accepted", "assigned", "in_progress", "resolved", "called_back", "closed"]
LEADERS = [f"l{i}" for i in range(1, 21)]
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
CST = dt.timezone(dt.timedelta(hours=8))


def name(rng: random.Random) -> str:
    n = 1 if rng.random() < 0.4 else 2
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(n))


def households(rng: random.Random, n: int) -> list[tuple[str, dict]]:
    out = []
    for i in range(n):
        grid, village = VILLAGES[i % len(VILLAGES)]
        clat, clon = CENTRES[grid]
        f = {"grid_id": grid, "head_name": name(rng),
             "address": f"{village}{rng.randint(1, 12)}组{rng.randint(1, 99)}号",
             "phone": f"13{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}",
             "id_number": f"330702{rng.randint(1940, 2005)}{rng.randint(1, 12):02d}"
                          f"{rng.randint(1, 28):02d}{rng.randint(0, 9999):04d}",
             "lat": round(clat + rng.uniform(-0.012, 0.012), 6),
             "lon": round(clon + rng.uniform(-0.012, 0.012), 6),
             "next_visit_due": (dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 180))).isoformat()}
        if rng.random() < 0.5:
            f["members"] = [{"name": name(rng), "relation": rng.choice(["配偶", "子", "女", "父", "母"])}
                            for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.2:
            f["tags"] = sorted(set(rng.sample(NEEDS, rng.randint(1, 2))))
        out.append((f"h{i:05d}", f))
    return out


def cases(rng: random.Random, n: int, hh: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    out = []
    for i in range(n):
        hid, h = rng.choice(hh)
        at = dt.datetime(2026, 1, 1, tzinfo=CST) + dt.timedelta(minutes=rng.randint(0, 180 * 24 * 60))
        f = {"grid_id": h["grid_id"], "kind": rng.choice(["dispute", "petition"]),
             "channel": rng.choice(["grid", "visit", "phone", "letter", "screening"]),
             "category": rng.choice(CATEGORIES), "household_id": hid,
             "parties": [h["head_name"], name(rng)], "place": h["address"],
             "description": "双方因宅基地边界发生争执，要求村委会协调处理。" * rng.randint(1, 3),
             "risk": rng.choice(["red", "orange", "yellow", "blue"]),
             "status": rng.choice(STATUSES), "reported_by": f"w{rng.randint(1, 8)}",
             "reported_at": at.isoformat()}
        if rng.random() < 0.6:
            f["owner"] = rng.choice(LEADERS)
            f["deadline"] = (at.date() + dt.timedelta(days=rng.randint(15, 90))).isoformat()
        out.append((f"c{i:05d}", f))
    return out


def build(path: str, n_households: int, n_cases: int) -> DeviceReplica:
    rng = random.Random(20260101)
    replica = DeviceReplica(path, device_id="dbench")
    hh = households(rng, n_households)
    cs = cases(rng, n_cases, hh)
    pulled = []
    for k, (entity, rid, f) in enumerate([("household", r, f) for r, f in hh]
                                         + [("case", r, f) for r, f in cs]):
        stamp = clock.encode(T0 + k, 0, "server")
        pulled.append(changes.make(entity, rid, f, stamp, "server", "office"))
    for start in range(0, len(pulled), 1000):  # the client pulls pages of 1,000
        replica.apply_pulled(pulled[start:start + 1000], cursor=str(start + 1000))
    return replica


def median_s(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=10_000)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        replica = build(f"{tmp}/gridbook.db", a.households, a.cases)
        build_s = time.perf_counter() - t
        worker = DeviceWorkspace(replica, {"username": "w1", "role": "grid_worker",
                                           "grids": ["g1", "g2", "g3", "g4"]})
        leader = DeviceWorkspace(replica, {"username": "l1", "role": "leader", "grids": []})
        lat, lon = CENTRES["g1"]
        checks = {
            "case_list_s": lambda: worker.cases(limit=50),
            "owned_cases_s": lambda: leader.cases(owner="l1"),
            "search_s": lambda: worker.search_households("王", limit=50),
            "nearest50_s": lambda: worker.nearest_households(lat, lon, 50),
        }
        sizes = {"case_list_rows": len(checks["case_list_s"]()),
                 "owned_cases_rows": len(checks["owned_cases_s"]()),
                 "search_rows": len(checks["search_s"]()),
                 "nearest50_rows": len(checks["nearest50_s"]())}
        out = {"households": replica.count("household"), "cases": replica.count("case"),
               **{k: median_s(fn, a.runs) for k, fn in checks.items()},
               "build_s": round(build_s, 2), **sizes}
        out["target_s"] = 0.1
        out["all_within_target"] = all(out[k] <= 0.1 for k in checks)
        replica.close()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
