"""County benchmark: one township server for a whole county. Prints one JSON line.

    .venv/bin/python bench/county_bench.py                       # the full size
    .venv/bin/python bench/county_bench.py --changes 200000 --phones 200,1000 --signins 200

1. **The store**: `--accounts` grid workers (5,000) over `--grids` grids (500), and
   `--changes` changes (2,000,000: households and visits of those grids). It is built
   straight in SQL in the store's own schema, through the library's own encoders: each
   change is made with `changes.make`, folded with `merge.merge_change`, its row written
   with `Replica._write_rows`, its body and its log rows (`access.record_keys`) inserted
   as `CentralStore._commit` would, 20,000 to a transaction with `synchronous=OFF` (a
   build, not a server). Change ids are made in key order so that the build appends;
   accounts share one scrypt hash (each sign-in is still a full check); the phones'
   sign-ins are device rows with tokens the bench holds, as after a sign-in.
2. **Waves** (`--phones 200,1000,2000`): N phones, each already synced (its cursor at
   the end of the log), start together; each pushes 20 records (10 new households and
   10 visits, gzipped as the app sends them) and pulls until nothing more comes. A
   whole sync is push plus pulls. Figures: p50/p95/p99 of a whole sync, changes/s
   (changes pushed / the wave's wall time), errors, the server's CPU (its utime+stime
   from /proc over the wave's wall time = cores used) and RSS.
3. **Sign-in wave**: `--signins` (500) simultaneous real sign-ins while
   `--syncers` (200) signed-in phones keep syncing (push 5, pull, pause about `--think`
   seconds, again) until the wave is through: the syncers' p95 alone (before the wave)
   and during it, sign-ins answered, told to retry (503, after Retry-After) and timed
   out (no answer within 20 s).
4. **A week offline**: a real phone (DeviceReplica + SyncClient) that was synced a week
   ago writes 500 records (visits with notes, and households), while its colleagues
   wrote 50 changes in its grid; it syncs through a TCP proxy of 50 kbit/s each way and
   300 ms of round trip. Time and bytes per record, both directions together, counted
   at the proxy (headers and all).
5. **The floor** (`--floor 1`), after the server has stopped: each wave's rows written
   by plain sqlite3 into the same store, in the writer's groups, with the same
   durability (WAL, FULL sync) and SQLite's own checkpoint: what no server can go
   below on this machine and store, measured in the same run.

The load generator is a separate process (asyncio with raw HTTP/1.1 streams, one
keep-alive connection per phone);
its own CPU time is in the line (`loadgen_cpu_s`), beside the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import httpx
import orjson

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from sync.changes import PROTOCOL_VERSION  # noqa: E402
from township_process import TownshipServer  # noqa: E402

PROTO = str(PROTOCOL_VERSION)

PASSWORD = "county-pass-2026"
WEEK_MS = 7 * 86_400_000

# --- realistic, non-repetitive text -----------------------------------------------------
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "建国秀英桂兰志强海燕丽娟春梅德福金凤玉珍文华晓明红霞永刚俊杰淑芬国庆明辉雪梅家豪子涵思远佳怡宏伟立新学军月娥小平振华美玲"
VILLAGES = ["白鹤村", "高山村", "丰龙村", "金山社区", "石门村", "杨柳村", "新塘村", "枫树村", "桃源村", "竹林村"]
SEEN = ["屋内整洁，老人精神尚可", "家中无人，邻居说外出务工", "房屋漏雨，已拍照上报", "老人腿脚不便，药快吃完",
        "孩子在县城读书，周末回家", "刚办完低保年审", "院墙有裂缝，建议尽快修补", "与邻居因排水沟有争执",
        "独居，子女每月回来一次", "家里新添了孙子", "田里稻子收完了", "厨房燃气管老化", "门前堆放柴草较多",
        "夫妻二人在家养鸡", "正在翻修老屋", "电动车在屋内充电，已提醒"]
REQUESTS = ["希望帮忙联系医保报销", "问残疾证怎么办理", "想申请危房改造", "要求村里修路灯", "咨询养老保险补缴",
            "希望调解宅基地纠纷", "反映自来水水压低", "请求帮忙找护工", "问农机补贴政策", "无", "想办理临时救助"]


def words(rng: random.Random, pool: list[str], n: int) -> str:
    return "，".join(rng.sample(pool, n)) + f"（{rng.randint(1, 99)}日记）"


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))


def household_fields(rng: random.Random, grid: str) -> dict:
    v = rng.choice(VILLAGES)
    return {"grid_id": grid, "head_name": person(rng), "address": f"{v}{rng.randint(1, 15)}组{rng.randint(1, 120)}号",
            "phone": f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}",
            "lat": round(29.0 + rng.random() / 10, 6), "lon": round(119.6 + rng.random() / 10, 6),
            "note": words(rng, SEEN, 1)}


def visit_fields(rng: random.Random, grid: str, household: str, visitor: str, at_ms: int) -> dict:
    import datetime as dt
    at = dt.datetime.fromtimestamp(at_ms / 1000, dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    return {"grid_id": grid, "household_id": household, "kind": "household", "visited_at": at.isoformat(),
            "visitor": visitor, "seen": words(rng, SEEN, 2), "requests": rng.choice(REQUESTS)}


def stamp(ms: int, n: int, node: str) -> str:
    return f"{ms:013d}-{n % 100000:05d}-{node}"


# --- 1. the store ------------------------------------------------------------------------
def build_store(db: str, args) -> dict:
    from sync import access, merge
    from sync.access import Principal
    from sync.server import auth
    from sync.server.central import CentralStore

    t0 = time.perf_counter()
    rng = random.Random(7)
    store = CentralStore(db)
    conn = store.conn
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    now = int(time.time() * 1000)
    base_ms = now - 60 * 86_400_000
    grids = [f"g{n:04d}" for n in range(args.grids)]
    seq = [0]

    def cid() -> str:  # change ids in key order: the build appends to the b-tree
        seq[0] += 1
        return f"c{seq[0]:012d}{rng.getrandbits(80):020x}"

    def insert(chs: list[dict]) -> None:
        state = {}
        for ch in chs:
            row, ver = merge.merge_change(None, {}, ch)
            state[(ch["entity"], ch["record"])] = (row, ver, False)
        store._write_rows(state)
        conn.executemany("INSERT INTO changes VALUES (?,?,?,?,?,?,?,?,NULL)",
                         [(ch["id"], ch["entity"], ch["record"], ch["hlc"], ch["device"], ch["author"], now,
                           orjson.dumps(ch).decode()) for ch in chs])
        log = []
        for ch in chs:
            keys = sorted(access.record_keys(ch["entity"], state[(ch["entity"], ch["record"])][0])) or ["-"]
            log += [(ch["id"], k, int(n == 0)) for n, k in enumerate(keys)]
        conn.executemany("INSERT INTO log (change_id, scope, origin) VALUES (?,?,?)", log)

    def make(entity, record, fields, ms, device, author):
        return {"id": cid(), "entity": entity, "record": record, "fields": fields,
                "hlc": stamp(ms, seq[0], device), "device": device, "author": author}

    # grids, accounts (one hash for all: a sign-in still costs a full check), staff records
    pw = auth.hash_password(PASSWORD)
    accounts = [(f"w{n:05d}", grids[n % len(grids)]) for n in range(args.accounts)]
    with store.transaction():
        insert([make("grid", g, {"name": f"{g}网格", "village": VILLAGES[i % len(VILLAGES)], "township": "金山镇"},
                     base_ms, "server", "system") for i, g in enumerate(grids)])
        conn.executemany("INSERT INTO accounts VALUES (?,?,?,?,?,1,?)",
                         [(u, person(rng), "grid_worker", json.dumps([g]), pw, now) for u, g in accounts])
        insert([make("staff", f"staff-{u}", {"username": u, "name": u, "role": "grid_worker", "grids": [g],
                                             "active": True}, base_ms, "server", "system") for u, g in accounts])
    # households and visits, oldest first, by the grid's workers
    households: dict[str, list[str]] = {g: [] for g in grids}
    left = args.changes - seq[0]
    batch, made = [], 0
    while made < left:
        u, g = accounts[made % len(accounts)]
        ms = base_ms + made * 2
        if made % 5 < 4 or not households[g]:
            hid = f"h{made:09d}"
            households[g].append(hid)
            batch.append(make("household", hid, household_fields(rng, g), ms, f"d-{u}", u))
        else:
            batch.append(make("visit", f"v{made:09d}", visit_fields(rng, g, rng.choice(households[g]), u, ms),
                              ms, f"d-{u}", u))
        made += 1
        if len(batch) == 20_000 or made == left:
            with store.transaction():
                insert(batch)
            batch = []
    # the phones' sign-ins: device rows, as `login` leaves them
    tokens = {}
    with store.transaction():
        for u, g in accounts:
            tok = auth.new_token()
            tokens[u] = tok
            conn.execute("INSERT INTO devices VALUES (?,?,?,?,NULL,NULL)", (auth.token_hash(tok), u, f"d-{u}", now))
    last = conn.execute("SELECT max(seq) FROM log").fetchone()[0]
    total = conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    phones = []
    for u, g in accounts:
        tag = CentralStore._scope_tag(Principal(u, "grid_worker", frozenset([g]), f"d-{u}"))
        phones.append({"user": u, "grid": g, "device": f"d-{u}", "token": tokens[u], "cursor": f"{last}.{tag}",
                       "households": households[g][-20:]})
    return {"phones": phones, "changes": total, "build_s": round(time.perf_counter() - t0, 1),
            "db_mb": round(os.path.getsize(db) / 2**20)}


# --- the machine's floor -------------------------------------------------------------------
def floor(db: str, phones: list[dict], records: int, seed: int) -> dict:
    """The wave's rows written by plain sqlite3 into the county store, with no server:
    the same records as the wave (same generator, same seed), folded and encoded before
    the clock starts, then inserted with executemany in the writer's groups (one
    BEGIN IMMEDIATE ... COMMIT per `MAX_GROUP` pushes, a SAVEPOINT per push), with the
    server's durability (WAL, synchronous=FULL) and SQLite's own checkpoint in the
    commit, as plain sqlite3 has it. No rules, no HTTP, no JSON: what the disk and
    SQLite's b-trees cost for these rows in this store. The rows are rolled into the
    store for good: run after the server has stopped."""
    import copy
    import sqlite3

    from sync import access, merge
    from sync.replica import row_sql, row_values
    from sync.server.writer import MAX_GROUP

    rng = random.Random(seed)
    phones = copy.deepcopy(phones)
    now = int(time.time() * 1000)
    sqls, pushes = {}, []
    for p in phones:
        ent_rows, ch_rows, log_rows = {}, [], []
        for ch in orjson.loads(gzip.decompress(push_body(rng, p, records, "w")))["changes"]:
            row, ver = merge.merge_change(None, {}, ch)
            sqls.setdefault(ch["entity"], row_sql(ch["entity"]))
            ent_rows.setdefault(ch["entity"], []).append(row_values(ch["entity"], row, ver))
            ch_rows.append((ch["id"], ch["entity"], ch["record"], ch["hlc"], ch["device"], ch["author"], now,
                            orjson.dumps(ch).decode(), None))
            for n, k in enumerate(sorted(access.record_keys(ch["entity"], row)) or ["-"]):
                log_rows.append((ch["id"], k, int(n == 0), ch["device"]))
        pushes.append((ent_rows, ch_rows, log_rows))
    conn = sqlite3.connect(db, isolation_level=None)
    x = conn.execute
    x("PRAGMA journal_mode=WAL")
    x("PRAGMA synchronous=FULL")
    x("PRAGMA cache_size=-65536")  # the writer's cache (central.py)
    commit_s, t0 = 0.0, time.perf_counter()
    for g in range(0, len(pushes), MAX_GROUP):
        x("BEGIN IMMEDIATE")
        for ent_rows, ch_rows, log_rows in pushes[g:g + MAX_GROUP]:
            x("SAVEPOINT push")
            for entity, rows in ent_rows.items():
                conn.executemany(sqls[entity], rows)
            conn.executemany("INSERT INTO changes VALUES (?,?,?,?,?,?,?,?,?)", ch_rows)
            conn.executemany("INSERT INTO log (change_id, scope, origin, device) VALUES (?,?,?,?)", log_rows)
            x("RELEASE push")
        t1 = time.perf_counter()
        x("COMMIT")
        commit_s += time.perf_counter() - t1
    wall = time.perf_counter() - t0
    conn.close()
    changes = sum(len(c) for _, c, _ in pushes)
    return {"phones": len(phones), "changes": changes, "wall_s": round(wall, 3),
            "commit_s": round(commit_s, 3), "changes_per_s": round(changes / wall)}


# --- the server ----------------------------------------------------------------------------
class Server(TownshipServer):
    """The server, started at once, its output kept in a file beside the store."""

    def __init__(self, db: str):
        super().__init__(db, log=db + ".log", start_s=120)
        self.start()

    def errors_logged(self) -> int:
        with open(self.log, errors="replace") as f:
            return sum("Traceback" in line or "ERROR" in line for line in f)


# --- the load generator (its own process) ---------------------------------------------
def push_body(rng: random.Random, phone: dict, n: int, salt: str) -> bytes:
    from sync import changes
    now = int(time.time() * 1000)
    chs = []
    for i in range(n):
        dev, u, g = phone["device"], phone["user"], phone["grid"]
        if i % 2 == 0 or not phone["households"]:
            rid = changes.new_id("h")
            fields = household_fields(rng, g)
            phone["households"].append(rid)
        else:
            rid = changes.new_id("v")
            fields = visit_fields(rng, g, rng.choice(phone["households"]), u, now - 3_600_000)
        chs.append(changes.make("household" if rid[0] == "h" else "visit", rid, fields,
                                stamp(now - 60_000, i, dev), dev, u))
    return gzip.compress(orjson.dumps({"changes": chs}), 1)


def headers(phone: dict) -> dict:
    return {"X-Gridbook-Protocol": PROTO, "X-Gridbook-Device": phone["device"],
            "Authorization": f"Bearer {phone['token']}"}


class HttpError(Exception):
    pass


class Conn:
    """One phone's keep-alive HTTP/1.1 connection, raw asyncio streams. (httpx's async
    pool was measured first: 100 concurrent requests to a server answering "ok" took
    2.5-4 s through it and 0.05 s over raw streams, so it would have measured itself.)"""

    def __init__(self, host: str, port: int, timeout: float = 60):
        self.host, self.port, self.timeout = host, port, timeout
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> tuple[int, dict, bytes]:
        return await asyncio.wait_for(self._request(method, path, headers, body), self.timeout)

    async def _request(self, method, path, headers, body):
        for attempt in (0, 1):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept-Encoding: gzip",
                    f"Content-Length: {len(body)}"] + [f"{k}: {v}" for k, v in headers.items()]
            try:
                self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
                await self.writer.drain()
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:  # a kept connection the server closed: once more on a new one
                    raise
        raise HttpError("unreachable")

    async def _response(self):
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            k, _, v = line.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            data = await self.reader.readexactly(int(hdrs["content-length"]))
        elif hdrs.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            data = b"".join(parts)
        else:
            data = await self.reader.read()
            self.close()
        if hdrs.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        if hdrs.get("connection") == "close":
            self.close()
        return status, hdrs, data

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def sync_once(url: str, phone: dict, body: bytes, out: dict) -> None:
    host, port = url.split("//")[1].split(":")
    conn = phone.setdefault("_conn", Conn(host, int(port)))
    t = time.perf_counter()
    try:
        st, _, data = await conn.request("POST", "/api/v1/sync/push", {
            **headers(phone), "Content-Encoding": "gzip", "Content-Type": "application/json"}, body)
        if st != 200:
            out["errors"].append(f"push {st} {data[:120]!r}")
            return
        out["pushed"] += orjson.loads(data)["counts"]["applied"]
        while True:
            query = f"cursor={phone['cursor']}&limit=1000"
            st, _, data = await conn.request("GET", f"/api/v1/sync/pull?{query}", headers(phone))
            if st != 200:
                out["errors"].append(f"pull {st} {data[:120]!r}")
                return
            page = orjson.loads(data)
            out["pulled"] += len(page["changes"])
            out["own_echoed"] += sum(ch.get("device") == phone["device"] for ch in page["changes"])
            phone["cursor"] = page["cursor"]
            if not page["more"]:
                break
        out["times"].append(time.perf_counter() - t)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, HttpError) as e:
        conn.close()
        out["errors"].append(type(e).__name__)


async def wave(spec: dict) -> dict:
    rng = random.Random(spec["seed"])
    phones = spec["phones"]
    bodies = [push_body(rng, p, spec["records"], "w") for p in phones]
    out = {"times": [], "errors": [], "pushed": 0, "pulled": 0, "own_echoed": 0}
    cpu, t = _cpu(), time.perf_counter()
    await asyncio.gather(*(sync_once(spec["url"], p, b, out) for p, b in zip(phones, bodies)))
    out["wall_s"] = time.perf_counter() - t
    out["loadgen_wave_cpu_s"] = round(_cpu() - cpu, 2)
    for p in phones:
        p.pop("_conn").close()
    return out


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def signin_wave(spec: dict) -> dict:
    rng = random.Random(spec["seed"])
    syncers, signers = spec["syncers"], spec["signers"]
    busy = {"times": [], "errors": [], "pushed": 0, "pulled": 0, "own_echoed": 0}
    res = {"ok": 0, "retry_503": 0, "timeouts": 0, "other": 0, "times": []}
    done = asyncio.Event()
    host, port = spec["url"].split("//")[1].split(":")

    async def keep_syncing(p):
        while not done.is_set():
            await sync_once(spec["url"], p, push_body(rng, p, 5, "s"), busy)
            await asyncio.sleep(spec["think"] * (0.5 + rng.random()))

    async def sign_in(p):
        t = time.perf_counter()
        conn = Conn(host, int(port), timeout=20)  # a phone's sign-in gives up after 20 s
        body = orjson.dumps({"username": p["user"], "password": PASSWORD, "device_id": p["device"] + "-new"})
        try:
            while True:
                try:
                    st, hdrs, _ = await conn.request("POST", "/api/v1/auth/login", {
                        "X-Gridbook-Protocol": PROTO, "Content-Type": "application/json"}, body)
                except asyncio.TimeoutError:
                    res["timeouts"] += 1
                    return
                except (OSError, asyncio.IncompleteReadError, HttpError):
                    res["other"] += 1
                    return
                if st == 503:
                    res["retry_503"] += 1
                    await asyncio.sleep(float(hdrs.get("retry-after", "1")) * (0.5 + rng.random()))
                    continue
                if st == 200:
                    res["ok"] += 1
                    res["times"].append(time.perf_counter() - t)
                else:
                    res["other"] += 1
                return
        finally:
            conn.close()

    bg = [asyncio.create_task(keep_syncing(p)) for p in syncers]
    await asyncio.sleep(spec["think"] * 5)  # the syncers alone first
    alone = list(busy["times"])
    busy["times"].clear()  # from here: during the wave
    t = time.perf_counter()
    await asyncio.gather(*(sign_in(p) for p in signers))
    res["wall_s"] = time.perf_counter() - t
    done.set()
    await asyncio.gather(*bg)
    for p in syncers:
        p.pop("_conn").close()
    return {"signins": res, "syncers": busy, "alone": alone}


def loadgen_main(spec_path: str) -> None:
    spec = json.load(open(spec_path))
    fn = {"wave": wave, "signins": signin_wave}[spec["kind"]]
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    out = asyncio.run(fn(spec))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out["loadgen_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 2)
    sys.stdout.write(json.dumps(out))


def run_loadgen(tmp: str, server: Server, spec: dict) -> dict:
    path = os.path.join(tmp, "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    cpu0, t0, w0 = server.cpu_s(), time.perf_counter(), server.written_mb()
    got = subprocess.run([sys.executable, __file__, "--loadgen", path], capture_output=True, text=True,
                         timeout=1800, cwd=ROOT)
    cpu1, t1 = server.cpu_s(), time.perf_counter()
    if got.returncode != 0:
        raise RuntimeError(got.stderr[-3000:])
    out = json.loads(got.stdout)
    out["server_cpu_s"] = round(cpu1 - cpu0, 2)
    out["server_written_mb"] = round(server.written_mb() - w0, 1)
    out["span_s"] = t1 - t0
    return out


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3)


# --- 4. the week-offline phone over a slow link -----------------------------------------
class SlowLink:
    """A TCP proxy of `kbit` each way with `rtt_ms` of round trip (half each way); counts
    the bytes both ways."""

    def __init__(self, target_port: int, kbit: float, rtt_ms: float):
        self.target_port, self.rate = target_port, kbit * 1000 / 8
        self.delay = rtt_ms / 2000
        self.up = self.down = 0

    async def close(self) -> None:
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer):
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
            await asyncio.gather(self._pipe(reader, up_w, "up"), self._pipe(up_r, writer, "down"))
        except asyncio.CancelledError:  # close() ends the link: not an error to print
            pass

    async def _pipe(self, reader, writer, way: str):
        # bytes leave at the link's rate, and arrive `delay` after they left
        loop = asyncio.get_running_loop()
        free_at = loop.time()
        q: asyncio.Queue = asyncio.Queue()

        async def deliver():
            while True:
                at, data = await q.get()
                if data is None:
                    writer.close()
                    return
                await asyncio.sleep(max(0, at - loop.time()))
                writer.write(data)
                await writer.drain()
        task = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(1460)
                if not data:
                    break
                setattr(self, way, getattr(self, way) + len(data))
                free_at = max(free_at, loop.time()) + len(data) / self.rate
                await q.put((free_at + self.delay, data))
        except ConnectionError:
            pass
        await q.put((0, None))
        await task


def week_offline(tmp: str, server: Server, phone: dict, colleague: dict, records: int) -> dict:
    import threading

    from sync import clock
    from sync.client import SyncClient
    from sync.device import DeviceReplica

    rng = random.Random(11)
    # colleagues' week: 50 changes of the same grid
    body = push_body(rng, dict(colleague, households=list(phone["households"])), 50, "c")
    r = httpx.post(server.url + "/api/v1/sync/push", content=body, timeout=60,
                   headers={**headers(colleague), "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 200, r.text

    replica = DeviceReplica(os.path.join(tmp, "offline-phone.db"), device_id=phone["device"])
    with replica.transaction():
        replica.set_meta("token", phone["token"])
        replica.set_meta("account", json.dumps({"username": phone["user"], "grids": [phone["grid"]]}))
        replica.set_meta("cursor", phone["cursor"])
    now = clock.wall_ms()
    with replica.transaction():
        for i in range(records):
            if i % 5 == 0:
                phone["households"].append(replica.create("household", household_fields(rng, phone["grid"]),
                                                          phone["user"])["record"])
            else:
                at = now - WEEK_MS + i * (WEEK_MS // records)
                replica.create("visit", visit_fields(rng, phone["grid"], rng.choice(phone["households"]),
                                                     phone["user"], at), phone["user"])
    link = SlowLink(server.port, 50, 300)
    loop = asyncio.new_event_loop()
    port = loop.run_until_complete(link.start())
    th = threading.Thread(target=loop.run_forever, daemon=True)
    th.start()
    try:
        client = SyncClient(replica, f"http://127.0.0.1:{port}", timeout_s=120)
        t = time.perf_counter()
        report = client.sync()
        took = time.perf_counter() - t
    finally:
        asyncio.run_coroutine_threadsafe(link.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        th.join(30)
        loop.close()
    return {"records": records, "sync_s": round(took, 2), "pushed": report.pushed, "pulled": report.pulled,
            "bytes_up": link.up, "bytes_down": link.down,
            "bytes_per_record": round((link.up + link.down) / records, 1), "errors": report.errors,
            "pending": replica.pending_count(), "quarantined": replica.quarantined_count()}


# --- main --------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", help=argparse.SUPPRESS)
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--grids", type=int, default=500)
    ap.add_argument("--changes", type=int, default=2_000_000)
    ap.add_argument("--phones", default="200,1000,2000", help="wave sizes, comma-separated")
    ap.add_argument("--records", type=int, default=20, help="records each phone pushes")
    ap.add_argument("--signins", type=int, default=500)
    ap.add_argument("--syncers", type=int, default=200)
    ap.add_argument("--think", type=float, default=1.0,
                    help="the syncers' pause between syncs, seconds (each pause 0.5-1.5 times it)")
    ap.add_argument("--offline", type=int, default=500, help="records of the week-offline phone (0: skip)")
    ap.add_argument("--floor", type=int, default=1,
                    help="1: after the waves, write each wave's rows with plain sqlite3 (the floor)")
    ap.add_argument("--keep", help="build the store here, or reuse the one built here before")
    args = ap.parse_args()
    if args.loadgen:
        return loadgen_main(args.loadgen)
    tmp = tempfile.mkdtemp(prefix="gridbook-county-")
    try:
        print(json.dumps(run(tmp, args)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: str, args) -> dict:
    waves = [int(x) for x in args.phones.split(",") if x.strip()]
    need = max(waves + [0]) + args.syncers + args.signins + 2
    assert args.accounts >= need, f"--accounts must be at least {need}"
    keep = args.keep
    db = os.path.join(keep or tmp, "county.db")
    meta_path = db + ".meta.json"
    if keep and os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        fresh = os.path.join(tmp, "county.db")
        shutil.copy(db, fresh)  # every run starts from the same store
        db = fresh
    else:
        if keep:
            os.makedirs(keep, exist_ok=True)
        meta = build_store(db, args)
        if keep:
            json.dump(meta, open(meta_path, "w"))
            shutil.copy(db, os.path.join(tmp, "county.db"))
            db = os.path.join(tmp, "county.db")
    # The copy (or the build) leaves gigabytes of dirty pages for the kernel to write
    # back: on disk first, so that the wave's fsyncs do not queue behind them (a store
    # in service is not a file written a moment ago).
    t = time.perf_counter()
    os.sync()
    sync_s = round(time.perf_counter() - t, 1)
    phones = meta["phones"]
    out = {"accounts": args.accounts, "grids": args.grids, "changes": meta["changes"], "build_s": meta["build_s"],
           "db_mb": meta["db_mb"], "cores": os.cpu_count(), "store_sync_s": sync_s, "waves": {}}
    server = Server(db)
    try:
        out["server_rss_idle_mb"] = server.rss_mb()
        used = 0
        if args.offline:  # first: its grid holds only its colleagues' week, not the waves' pushes
            colleague = next(p for p in reversed(phones) if p["grid"] == phones[0]["grid"])
            out["week_offline"] = week_offline(tmp, server, phones[0], colleague, args.offline)
            used = 1
        for n in waves:
            group = phones[used:used + n]
            used += n
            got = run_loadgen(tmp, server, {"kind": "wave", "url": server.url, "phones": group,
                                            "records": args.records, "seed": n})
            times = got["times"]
            out["waves"][str(n)] = {
                "p50_s": pct(times, .50), "p95_s": pct(times, .95), "p99_s": pct(times, .99),
                "max_s": pct(times, 1.0), "wall_s": round(got["wall_s"], 2),
                "changes_per_s": round(got["pushed"] / got["wall_s"]), "pushed": got["pushed"],
                "pulled": got["pulled"], "own_echoed": got["own_echoed"], "errors": len(got["errors"]),
                "error_kinds": sorted(set(got["errors"]))[:5],
                "server_cores": round(got["server_cpu_s"] / got["wall_s"], 2),
                "server_cpu_s": got["server_cpu_s"], "server_written_mb": got["server_written_mb"],
                "loadgen_cpu_s": got["loadgen_wave_cpu_s"],
                "loadgen_cpu_total_s": got["loadgen_cpu_s"],
                "server_rss_mb": server.rss_mb(), "server_rss_peak_mb": server.rss_mb("VmHWM")}
        if args.signins:
            syncers = phones[used:used + args.syncers]
            signers = phones[used + args.syncers:used + args.syncers + args.signins]
            used += args.syncers + args.signins
            rss0 = server.rss_mb()
            got = run_loadgen(tmp, server, {"kind": "signins", "url": server.url, "syncers": syncers,
                                            "signers": signers, "seed": 5, "think": args.think})
            s, b = got["signins"], got["syncers"]
            out["signin_wave"] = {
                "signins": len(signers), "ok": s["ok"], "timeouts": s["timeouts"], "retry_503": s["retry_503"],
                "other": s["other"], "wall_s": round(s["wall_s"], 1), "signin_p50_s": pct(s["times"], .5),
                "signin_max_s": pct(s["times"], 1.0), "syncers": len(syncers), "syncs": len(b["times"]),
                "sync_p50_s": pct(b["times"], .5), "sync_p95_s": pct(b["times"], .95),
                "sync_max_s": pct(b["times"], 1.0), "sync_errors": len(b["errors"]),
                "sync_alone_p50_s": pct(got["alone"], .5), "sync_alone_p95_s": pct(got["alone"], .95),
                "think_s": args.think,
                "server_cpu_s": got["server_cpu_s"], "loadgen_cpu_s": got["loadgen_cpu_s"],
                "server_rss_before_mb": rss0, "server_rss_after_mb": server.rss_mb(),
                "server_rss_peak_mb": server.rss_mb("VmHWM")}
        out["server_log_errors"] = server.errors_logged()
    finally:
        server.stop()
    if args.floor:
        used = 0 if not args.offline else 1
        for n in waves:
            out["waves"][str(n)]["floor"] = floor(db, phones[used:used + n], args.records, n)
            used += n
    return out


if __name__ == "__main__":
    main()
