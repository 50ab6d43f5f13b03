"""Health under load: /api/v1/health latency while the server processes one
5,000-change push and, at the same moment, a wave of 200 simultaneous sign-ins (real
scrypt password checks), against the real server process on loopback.

A store is seeded beforehand through the library (grids, 50 grid workers and one
pushing phone's account). The server (`gridbook serve`) runs in a subprocess with
`--trusted-proxy 127.0.0.1`, and each sign-in carries its own X-Forwarded-For
address, as 200 phones behind a reverse proxy would: the sign-in throttle then keys
on those addresses. The sign-ins reuse the 50 accounts with distinct device ids; a
few carry a wrong password (spread over accounts, below every throttle allowance).

A separate prober process (forked before any load) opens a fresh connection to
/api/v1/health every 10 ms, as a monitor or a load balancer would, and times each
answer; its figures are not distorted by the load generator's own threads. The load
(the push, gzip level 1 like the phone's client, and the 200 sign-ins) comes from
one asyncio loop in this process; the push body is built and compressed before the
clock starts. The CPU time of the load generator, of the prober and of the server
during the load is reported, so a busy client is seen.

Prints one JSON line. Usage: python bench/health_bench.py [--changes 5000]
[--signins 200] [--accounts 50] [--wrong 10] [--interval 0.01]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time

import httpx

from sync import changes, clock
from sync.server.central import CentralStore
from township_process import TownshipServer

PASSWORD = "bench-password"
PROTO = {"X-Gridbook-Protocol": str(changes.PROTOCOL_VERSION)}
PUSH_GRID = "bench-push"


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy (not idle or waiting on I/O), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def household_fields(grid: str, n: int) -> dict:
    """As tests/integration/conftest.py's household_fields."""
    return {"grid_id": grid, "head_name": f"王建国{n}", "address": f"金山镇白鹤村{n % 12 + 1}组{n}号",
            "lat": 29.07, "lon": 119.64}


def seed(db: str, accounts: int) -> list[str]:
    st = CentralStore(db)
    st.add_grid(PUSH_GRID, "白鹤村第1网格", "白鹤村", "金山镇", 29.07, 119.64)
    st.add_account("pusher", "推送网格员", "grid_worker", PASSWORD, [PUSH_GRID])
    names = []
    for i in range(accounts):
        grid, name = f"bench-{i:02d}", f"worker-{i:02d}"
        st.add_grid(grid, f"白鹤村第{i + 2}网格", "白鹤村", "金山镇", 29.07, 119.64)
        st.add_account(name, f"网格员{i}", "grid_worker", PASSWORD, [grid])
        names.append(name)
    st.close()
    return names


# --- the prober: its own process, a fresh connection per probe ------------------------

def probe_once(port: int, timeout: float) -> tuple[float, float, int]:
    """(start, seconds, HTTP status or -1 for an error / timeout)."""
    req = (f"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           "Connection: close\r\n\r\n").encode()
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(max(0.001, timeout - (time.monotonic() - t0)))
            s.sendall(req)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else -1
        if status == 200 and b'"status":"ok"' not in data:
            status = -1
    except (OSError, ValueError, IndexError):
        status = -1
    return t0, time.monotonic() - t0, status


def prober(port: int, interval: float, timeout: float, stop, conn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    samples = []
    next_t = time.monotonic()
    while not stop.is_set():
        samples.append(probe_once(port, timeout))
        next_t += interval
        pause = next_t - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            next_t = time.monotonic()  # late: probe again at once, don't catch up in a burst
    conn.send(samples)
    conn.close()


# --- the load ------------------------------------------------------------------------

def push_body(changes_n: int, device: str, author: str) -> bytes:
    ms = clock.wall_ms()
    chs = []
    for i in range(changes_n):
        # The stamp's node is the device; the counter rises within the millisecond.
        stamp = clock.encode(ms, i, device)
        chs.append(changes.make("household", f"hh-{device}-{i}", household_fields(PUSH_GRID, i),
                                stamp, device, author))
    return json.dumps({"changes": chs}, ensure_ascii=False, separators=(",", ":")).encode()


async def run_load(url: str, token: str, device: str, body_gz: bytes, names: list[str],
                   signins: int, wrong: set[int], push_delay: float) -> dict:
    limits = httpx.Limits(max_connections=signins + 10, max_keepalive_connections=signins + 10)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120.0)) as http:
        out: dict = {"signin": [], "push": None}

        async def push():
            if push_delay:
                await asyncio.sleep(push_delay)
            t = time.monotonic()
            try:
                r = await http.post(url + "/api/v1/sync/push", content=body_gz, headers={
                    **PROTO, "Authorization": f"Bearer {token}", "X-Gridbook-Device": device,
                    "Content-Encoding": "gzip", "Content-Type": "application/json"})
                status, counts = r.status_code, r.json().get("counts")
            except (httpx.HTTPError, ValueError) as e:
                status, counts = -1, repr(e)
            out["push"] = (t, time.monotonic(), status, counts)

        async def signin(i: int):
            name = names[i % len(names)]
            headers = {**PROTO, "X-Forwarded-For": f"10.{i // 250}.{i % 250}.{1 + i % 200}"}
            t = time.monotonic()
            try:
                r = await http.post(url + "/api/v1/auth/login", headers=headers, json={
                    "username": name, "password": PASSWORD + ("-typo" if i in wrong else ""),
                    "device_id": f"wave-phone-{i:04d}"})
                status = r.status_code
                if status == 200 and not r.json().get("token"):
                    status = -2
            except httpx.HTTPError:
                status = -1
            out["signin"].append((t, time.monotonic(), status, i in wrong))

        await asyncio.gather(push(), *(signin(i) for i in range(signins)))
        return out


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(-(-q * len(s) // 100)) - 1))]


def summary(lat: list[float]) -> dict:
    if not lat:
        return {"n": 0}
    return {"n": len(lat), "p50_s": round(pct(lat, 50), 4), "p95_s": round(pct(lat, 95), 4),
            "p99_s": round(pct(lat, 99), 4), "max_s": round(max(lat), 4),
            "mean_s": round(statistics.fmean(lat), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=5000, help="changes in the one push")
    ap.add_argument("--signins", type=int, default=200, help="simultaneous sign-ins")
    ap.add_argument("--accounts", type=int, default=50, help="seeded accounts they reuse")
    ap.add_argument("--wrong", type=int, default=10, help="sign-ins with a wrong password")
    ap.add_argument("--interval", type=float, default=0.01, help="seconds between health probes")
    ap.add_argument("--idle", type=float, default=2.0, help="seconds of probes before the load")
    ap.add_argument("--push-delay", type=float, default=0.0, help="start the push this late")
    ap.add_argument("--probe-timeout", type=float, default=5.0)
    args = ap.parse_args()
    # Wrong passwords spread over the requests, so over accounts and addresses: with the
    # defaults every 20th from the 8th, two per account at most (5 are free per account).
    step = max(1, args.signins // max(1, args.wrong))
    wrong = set(range(min(7, step - 1), args.signins, step)[:args.wrong])

    tmp = tempfile.mkdtemp(prefix="gridbook-health-bench-")
    server = prober_proc = None
    try:
        t = time.perf_counter()
        names = seed(os.path.join(tmp, "central.db"), args.accounts)
        seed_s = time.perf_counter() - t
        server = TownshipServer(os.path.join(tmp, "central.db"), os.path.join(tmp, "server.log"),
                                extra=("--trusted-proxy", "127.0.0.1")).start()

        # The pushing phone signs in before anything is measured; its body is ready.
        device = "bench-phone-1"
        r = httpx.post(server.url + "/api/v1/auth/login", headers=PROTO, timeout=30,
                       json={"username": "pusher", "password": PASSWORD, "device_id": device})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        raw = push_body(args.changes, device, "pusher")
        body_gz = gzip.compress(raw, 1)

        ctx = mp.get_context("fork")
        stop = ctx.Event()
        recv, send = ctx.Pipe(duplex=False)
        prober_proc = ctx.Process(target=prober, args=(server.port, args.interval, args.probe_timeout,
                                                       stop, send), daemon=True)
        prober_proc.start()
        send.close()
        time.sleep(args.idle)

        pids = {"server": server.proc.pid, "prober": prober_proc.pid, "bench": os.getpid()}
        cpu0 = {k: cpu_s(p) for k, p in pids.items()}
        busy0 = machine_busy_s()
        t_load = time.monotonic()
        load = asyncio.run(run_load(server.url, token, device, body_gz, names,
                                    args.signins, wrong, args.push_delay))
        t_end = time.monotonic()
        cpu = {k: round(cpu_s(p) - cpu0[k], 2) for k, p in pids.items()}
        # Whatever else ran on the machine meanwhile (other processes' work is noise here).
        other = machine_busy_s() - busy0 - sum(cpu.values())
        server_rss = rss_mb(server.proc.pid)
        time.sleep(0.3)  # a few probes after, then stop the prober
        stop.set()
        samples = recv.recv()
        prober_proc.join(10)

        idle = [s for s in samples if s[0] < t_load]
        under = [s for s in samples if t_load <= s[0] < t_end]
        health_errors = sum(1 for s in under + idle if s[2] != 200)
        lat_under = [s[1] for s in under if s[2] == 200]

        p_start, p_end, p_status, p_counts = load["push"]
        si = load["signin"]
        codes = {"200": 0, "401": 0, "429": 0, "other": 0}
        for _, _, status, _ in si:
            key = str(status) if str(status) in codes else "other"
            codes[key] += 1
        unexpected = sum(1 for _, _, status, bad in si if status != (401 if bad else 200))
        si_lat = [e - s for s, e, _, _ in si]
        log = server.output()
        server_log_errors = log.count("Traceback") + log.count("ERROR")
        push_ok = p_status == 200 and isinstance(p_counts, dict) and p_counts.get("applied") == args.changes

        h = summary(lat_under)
        during_push = summary([s[1] for s in under if p_start <= s[0] < p_end and s[2] == 200])
        print(json.dumps({
            "health_p50_s": h.get("p50_s"), "health_p95_s": h.get("p95_s"),
            "health_p99_s": h.get("p99_s"), "health_max_s": h.get("max_s"),
            "health_samples": h["n"], "health_errors": health_errors,
            "health_p95_within_0_1": h.get("p95_s") is not None and h["p95_s"] <= 0.1,
            "idle_health_p50_s": summary([s[1] for s in idle if s[2] == 200]).get("p50_s"),
            "idle_health_p95_s": summary([s[1] for s in idle if s[2] == 200]).get("p95_s"),
            "health_during_push_p95_s": during_push.get("p95_s"),
            "health_during_push_max_s": during_push.get("max_s"), "health_during_push_n": during_push["n"],
            "push_changes": args.changes, "push_s": round(p_end - p_start, 3), "push_status": p_status,
            "push_applied": p_counts.get("applied") if isinstance(p_counts, dict) else p_counts,
            "push_body_kb": round(len(raw) / 1024), "push_gzip_kb": round(len(body_gz) / 1024),
            "signins": len(si),
            "signin_wave_s": round(max(e for _, e, _, _ in si) - min(s for s, _, _, _ in si), 3) if si else None,
            "signin_200": codes["200"], "signin_401": codes["401"], "signin_429": codes["429"],
            "signin_other": codes["other"], "signin_wrong_sent": len(wrong), "signin_unexpected": unexpected,
            "signin_p50_s": round(pct(si_lat, 50), 3) if si else None,
            "signin_max_s": round(max(si_lat), 3) if si else None,
            "load_s": round(t_end - t_load, 3),
            "cpu_s_server": cpu["server"], "cpu_s_loadgen": cpu["bench"], "cpu_s_prober": cpu["prober"],
            "cpu_s_other_processes": round(max(0.0, other), 2),
            "server_rss_mb": round(server_rss, 1), "server_log_errors": server_log_errors,
            "errors": health_errors + unexpected + (0 if push_ok else 1) + server_log_errors,
            "accounts": args.accounts, "seed_s": round(seed_s, 1), "cores": os.cpu_count()}))
    finally:
        if prober_proc is not None and prober_proc.is_alive():
            prober_proc.terminate()
            prober_proc.join(5)
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
