"""The township server: the sync API over the central store (FastAPI on uvicorn).

Server-only: phones never import this package (it needs FastAPI).

Every answer that is not a success has one shape, `{"error": code, "message": words}`,
and every route documents its answers in /openapi.json (models in api_models.py), so a
schema-driven fuzzer reaches every operation. The event loop never waits on SQLite or
on a password hash: store work runs on threads (the phones' pushes and pulls on a
small pool of their own, the rest in Starlette's), a push is awaited on the loop while
the store's writer commits it with others (writer.py; under `gridbook serve` in a
process of its own, write_process.py), and so is a pull's audit row.
Password checks run on threads of their own, a few at a time (LOGIN_SLOTS), with at
most LOGIN_QUEUE more waiting (503 and Retry-After beyond), so a wave of sign-ins
cannot starve the syncs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import errno
import gzip
import json
import os
import re
import sqlite3
import threading
import time

import orjson
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from .. import changes, clock
from ..access import Principal
from . import api_models as m
from . import blobs, metrics, petitioner_phones, tiles
from .central import CentralStore, precheck
from .events import Hub, arrived
from .fastpath import SyncFastPath, headers_of, query_of
from .downloads import EXPORTS, BadParams, NotAllowed, Tickets, build_document, build_export, disposition
from .http import MAX_BODY, BodyLimitAndGunzip, SecurityHeaders, ServerTime, TIME_HEADER  # noqa: F401
from .throttle import SignInThrottle
from .write_process import WriteProcess, WriterGone

PROTOCOL_HEADER = "X-Gridbook-Protocol"
REOFFER_HEADER = "X-Gridbook-Reoffer"  # "1": changes offered again after a restore
DEVICE_HEADER = "X-Gridbook-Device"
MAX_BATCH = 5000                 # changes per push
MAX_PAGE = 5000                  # changes per pull page
# Password checks at once: scrypt takes ~16 MB and ~70 ms each (outside the GIL and
# outside every store lock); more at a time than cores only queues them in memory and
# takes the CPU from the syncs, so one core is always left to them.
LOGIN_SLOTS = max(1, min(4, (os.cpu_count() or 1) - 1))
# Sign-ins waiting for a slot, at most: a wave beyond it is answered at once with 503
# and Retry-After (the app tries again), rather than held open until it times out,
# each waiting request holding its body, its connection and a task.
LOGIN_QUEUE = 32
LOGIN_RETRY_S = 2
WRITER_RETRY_S = 1   # after the write process ended (write_process.py), a new one is up at once
# After a write failed for a full disk: the phones wait this long, and the health check
# answers 503 until a write goes through again, or this long after the last failure.
DISK_FULL_RETRY_S = 60
DISK_FULL_HEALTH_S = 300


def disk_full(exc: BaseException) -> bool:
    """A write that failed for want of space (SQLite's SQLITE_FULL, or the OS's ENOSPC)."""
    return ((isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc))
            or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC))
# Threads for the phones' pushes and pulls, apart from Starlette's pool of forty (the
# office, exports, files). Their work holds the GIL but for SQLite's reads and zlib:
# forty threads taking turns at it spent half again the CPU of four on a wave of 1,000
# phones, and answered it later (docs/performance.md, "County").
SYNC_THREADS = 2 * (os.cpu_count() or 1)
# A push's answer is made on the event loop up to this many changes (well under a
# millisecond); a larger one on a sync thread.
INLINE_ANSWER = 200
# The sync routes' headers and the pull's query, as their declarations in create_app
# accept them (fastpath.py: anything else goes to those declarations).
SYNC_HEADERS = (b"x-gridbook-protocol", b"authorization", b"x-gridbook-device")
MAX_AUTHORIZATION, MAX_DEVICE = 200, 64  # characters of those two headers
CURSOR_PATTERN = r"^[0-9]{1,18}(\.[0-9a-f]{0,16})?$"
ACKED_PATTERN = r"^[A-Za-z0-9_.:-]{0,64}$"   # a change id (model.ID_RE), or "" for none
ACKED_RE = re.compile(ACKED_PATTERN)
ACKED_HEADER = b"x-gridbook-acked"
PULL_QUERY = {"cursor": re.compile(CURSOR_PATTERN), "limit": re.compile(r"[1-9][0-9]{0,3}"),
              "acked": re.compile(ACKED_PATTERN)}
# [0-9], not \d: the document's patterns are JSON Schema's (ASCII digits), and the check
# must be the same (pydantic's \d also takes other scripts' digits, such as ٢٠٢٦).
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


@dataclasses.dataclass(frozen=True)
class RouteDeps:
    """What a module's routes need from the app (sync/server/blobs.py, tiles.py)."""
    store: object
    protocol: object      # Depends(...) on the protocol header
    principal: object     # Depends(...) on the signed-in device
    error: type           # ApiError: raise error(status, code, message)
    client_address: object
    hub: object


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, **extra):
        self.status, self.error, self.message, self.extra = status, error, message, extra


def _error(status: int, error: str, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status)


def client_address(request: Request) -> str:
    """The caller's address as uvicorn gives it (the proxy's header when the proxy is
    trusted: `gridbook serve --trusted-proxy`)."""
    return request.client.host if request.client else ""


class NotServed:
    """Under /api only the API answers: a path it does not have, or a method a path does
    not take, is an error in the one shape (not the screens' page, nor their
    {"detail": ...}). An ASGI app, so that its route takes every method."""

    def __init__(self, routes: list):
        self.routes = routes

    async def __call__(self, scope, receive, send):
        allow = sorted({meth for r in self.routes if r.matches(scope)[0] is not Match.NONE
                        for meth in r.methods})
        if allow:
            answer = JSONResponse({"error": "method_not_allowed",
                                   "message": f"this path takes {', '.join(allow)}, not {scope['method'][:20]}"},
                                  status_code=405, headers={"Allow": ", ".join(allow)})
        else:
            answer = _error(404, "not_found", "no such API route: see /openapi.json")
        await answer(scope, receive, send)


def create_app(db_path: str, *, max_body: int = MAX_BODY, ui=None, write_process: bool = False) -> FastAPI:
    """The township server. `ui`, when given, builds the office's screens as an ASGI
    app from (db_path, tickets, throttle, hub); it is mounted at / on the same port. The
    caller composes the two (township.py): this package never imports the screens.
    `write_process`: the phones' pushes and the pulls' audit rows are written by a
    process of its own (write_process.py; `gridbook serve` does), else by this one's
    writer thread."""
    store = CentralStore(db_path)
    petitioner_phones.fill(store)   # a store from before the matter held the petitioner's number
    writes = WriteProcess(db_path) if write_process else None
    audit_later = writes.audit if writes else store.audit_later

    def push_later(p: Principal, batch: list, raw: bytes, address: str) -> concurrent.futures.Future:
        checked = precheck(batch)   # here, on the sync thread: the writer keeps only what needs the store
        if writes is None:
            return store.push_later(p, batch, address=address, checked=checked)
        return writes.push(p, raw, checked, address)   # the body as sent, parsed again over there

    tickets = Tickets()
    throttle = SignInThrottle()
    hub = Hub()  # the office's open screens listen: they refresh when phones sync
    # Password checks run on threads of their own, LOGIN_SLOTS of them: scrypt's 16 MB
    # is then held by at most that many threads' malloc arenas. In the shared pool (40
    # threads) each thread's arena kept its 16 MB after a wave of sign-ins (glibc raises
    # its mmap threshold after the first free), and the server stayed hundreds of MB larger.
    login_pool = concurrent.futures.ThreadPoolExecutor(LOGIN_SLOTS, thread_name_prefix="gridbook-login")
    login_waiting = [0]  # sign-ins holding or waiting for a slot (the event loop's own count)
    sync_pool = concurrent.futures.ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="gridbook-sync")
    lifespans = []

    def check_store() -> None:
        """SQLite's quick check of the whole file, once, beside the serving (11 s cold on a
        2 GB county store: not before it): a store damaged by a disk error was served as
        healthy, and took pushes the phones then dropped."""
        import logging

        from .doctor import sqlite_check
        try:
            rows = sqlite_check(db_path)
        except sqlite3.DatabaseError as e:
            rows = [str(e)]
        if rows != ["ok"]:
            damaged.extend(rows)
            logging.getLogger("gridbook").error("the store is damaged (%s): pushes are refused; stop the server"
                                                " and restore (gridbook doctor says how)", "; ".join(rows)[:300])
        checked.append(True)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with contextlib.AsyncExitStack() as stack:
            threading.Thread(target=check_store, name="gridbook-check", daemon=True).start()
            if writes is not None:
                writes.start()
                stack.push_async_callback(run_in_threadpool, writes.close)
            for ls in lifespans:  # the mounted screens' own start-up (Flet's session sweeper)
                await stack.enter_async_context(ls())
            yield

    app = FastAPI(title="Gridbook township server", version="0.2.0", lifespan=lifespan,
                  # the interactive pages load their scripts from a CDN: nothing may
                  # leave the server, so only the description itself is served
                  docs_url=None, redoc_url=None,
                  description="Sync API for Gridbook phones (protocol version "
                              f"{changes.PROTOCOL_VERSION}); see docs/sync-protocol.md. Every error is "
                              "answered as {\"error\": code, \"message\": words}.")
    app.state.store = store
    app.state.lock = store.lock
    app.state.throttle = throttle
    app.state.tickets = tickets
    app.state.hub = hub
    app.state.writes = writes
    full_at = [None]   # when a write last failed for a full disk (monotonic), until one goes through
    damaged = []       # what SQLite's check found wrong with the store at start (empty: nothing)
    checked = []       # holds True once that check is done

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return _error(exc.status, exc.error, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        problems = []
        for e in exc.errors()[:10]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "header"))
            msg = str(e.get("msg")).removeprefix("Value error, ")   # pydantic's words for our own rules
            problems.append(f"{where or 'body'}: {msg}")
        return _error(422, "invalid_request", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request, exc: Exception):  # a bug: said plainly, never a stack trace
        import logging
        if disk_full(exc):
            # not a bug, and the phone can do nothing but wait: said so, and to the monitor
            full_at[0] = time.monotonic()
            logging.getLogger("gridbook").error("the disk is full: %s on %s was not stored", exc, request.url.path)
            return JSONResponse({"error": "disk_full", "message": "the server's disk is full: nothing of this was"
                                 " stored; the phone keeps it and tries again"}, status_code=503,
                                headers={"Retry-After": str(DISK_FULL_RETRY_S)})
        logging.getLogger("gridbook").exception("unexpected error on %s", request.url.path)
        return _error(500, "internal", "the server failed on this request; it has been logged")

    async def protocol(x_gridbook_protocol: str | None = Header(
            default=None, max_length=10, description="the sync protocol the app speaks",
            json_schema_extra={"enum": [str(changes.PROTOCOL_VERSION)]})) -> int:
        want = str(changes.PROTOCOL_VERSION)
        if x_gridbook_protocol is None or not x_gridbook_protocol.strip():
            raise ApiError(400, "protocol_missing", f"send the header {PROTOCOL_HEADER}: {want}")
        if x_gridbook_protocol.isdecimal() and int(x_gridbook_protocol) < changes.PROTOCOL_VERSION:
            # an app older than the server: the person can fix that, so say how
            raise ApiError(426, "update_required",
                           f"please update the app: it speaks sync protocol {int(x_gridbook_protocol)}, "
                           f"this server speaks {want}; install the township's current version of the app, "
                           "then sync again (what the phone holds and has not sent is kept)",
                           supported=[changes.PROTOCOL_VERSION])
        if x_gridbook_protocol != want:
            raise ApiError(426, "protocol_unsupported",
                           f"this server speaks sync protocol {want}, the app speaks "
                           f"{x_gridbook_protocol[:10]}: update the app or the server",
                           supported=[changes.PROTOCOL_VERSION])
        return changes.PROTOCOL_VERSION

    def authenticate(cred: tuple[str | None, str | None]) -> Principal:
        authorization, device = cred
        token = (authorization or "").removeprefix("Bearer ").strip()
        p = store.authenticate(token, device) if token and device else None
        if p is None:
            raise ApiError(401, "unauthorized", "sign in again: this device's token is missing, unknown or revoked")
        return p

    async def credentials(authorization: str | None = Header(default=None, max_length=MAX_AUTHORIZATION),
                          x_gridbook_device: str | None = Header(default=None, max_length=MAX_DEVICE)
                          ) -> tuple[str | None, str | None]:
        """The headers `principal` checks, not yet checked: the sync routes check them on
        the thread that does their store work (one hop to a thread per request, not two)."""
        return authorization, x_gridbook_device

    def principal(cred: tuple = Depends(credentials)) -> Principal:
        return authenticate(cred)

    async def on_sync_thread(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(sync_pool, fn, *args)

    def store_missing() -> bool:
        """The store file is gone from its path (moved or deleted under the running
        server): what is open still answers, but no write process can start and the
        office cannot open it again; the check a monitor sees first."""
        return not os.path.isfile(db_path)

    def unwell() -> JSONResponse | None:
        """What keeps the server from storing the phones' work, as the monitor's answer."""
        if store_missing():
            # the path stays out of an answer anyone may ask for: the log and doctor name it
            return JSONResponse({"error": "store_missing", "message": "the store file is not in its place on the"
                                 " server any more: put it back, or stop the service and restore"}, status_code=503)
        if damaged:
            return store_damaged()
        if full_at[0] is not None and time.monotonic() - full_at[0] < DISK_FULL_HEALTH_S:
            return JSONResponse({"error": "disk_full", "message": "the server's disk is full: pushes are refused"
                                 " until there is room"}, status_code=503)
        if writes is not None and writes.failing():
            return JSONResponse({"error": "writer_failing", "message": "the server's write process keeps ending"
                                 " before it stores anything (a full disk, a damaged store?): pushes are refused"
                                 " until it stays up; the server's log says why"}, status_code=503)
        return None

    @app.get("/api/v1/health", response_model=m.Health, responses=m.errors(503), tags=["service"])
    async def health():
        return unwell() or {"status": "ok", "protocol": changes.PROTOCOL_VERSION, "server_time": clock.wall_ms(),
                            "store_check": "ok" if checked else "running"}

    @app.head("/api/v1/health", include_in_schema=False)
    async def health_head():
        """Uptime monitors and load balancers often ask with HEAD: the same answer, no body
        (405 made a healthy server look down)."""
        return Response(status_code=503 if unwell() else 200, media_type="application/json")

    def store_damaged() -> Response:
        return JSONResponse({"error": "store_damaged", "message": "the server's store is damaged: nothing is"
                             " stored until it is restored from the backup (gridbook doctor says how); the"
                             " phones keep their work"}, status_code=503, headers={"Retry-After": "300"})

    def writer_gone() -> Response:
        """The write process ended (a crash) before this push or this reading was on
        disk: nothing of it is acknowledged, and the next request starts a new one."""
        return JSONResponse({"error": "writer_restarting", "message": "the server's writer restarted before "
                             f"this was stored: try again in {WRITER_RETRY_S} second(s)"}, status_code=503,
                            headers={"Retry-After": str(WRITER_RETRY_S)})

    @app.post("/api/v1/auth/login", response_model=m.LoginAnswer, tags=["sync"],
              responses=m.errors(400, 401, 403, 413, 422, 426, 429, 503))
    async def login(req: m.LoginRequest, request: Request, _: int = Depends(protocol)):
        address = client_address(request)
        if login_waiting[0] >= LOGIN_SLOTS + LOGIN_QUEUE:
            return JSONResponse({"error": "busy", "message": "many people are signing in: the app tries again"
                                 f" in {LOGIN_RETRY_S} seconds"}, status_code=503,
                                headers={"Retry-After": str(LOGIN_RETRY_S)})
        login_waiting[0] += 1
        try:
            # the owner's phone proves itself with the sign-in it holds (its token), never by
            # its device id alone
            proof = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()[:MAX_AUTHORIZATION]
            trusted = await run_in_threadpool(store.device_is_live, req.username, req.device_id, proof or None)
            wait = throttle.wait_s(req.username, address, trusted)
            if wait:
                if throttle.first_slowed(address):
                    await run_in_threadpool(lambda: store.audit(store.as_audited(req.username), "login_slowed",
                                                                f"wait {wait} s", device=req.device_id, address=address))
                raise ApiError(429, "too_many_attempts",
                               f"too many failed sign-ins: try again in "
                               + (f"{wait} seconds" if wait < 60 else f"{-(-wait // 60)} minutes"), retry_after_s=wait)
            acct, ok, disabled = await asyncio.get_running_loop().run_in_executor(
                login_pool, store.verify_password, req.username, req.password)
            # the token's row is written from the shared pool: the login threads only hash
            got = await run_in_threadpool(store.finish_login, req.username, acct, ok, req.device_id, address,
                                          disabled)
        finally:
            login_waiting[0] -= 1
        if disabled:
            # said only to one who knows the password: they stop guessing and ask the office
            raise ApiError(403, "account_disabled", "this account is disabled: ask the township office to enable it")
        if got is None:
            throttle.failed(req.username, address)
            # Same words whether the name or the password was wrong.
            raise ApiError(401, "bad_credentials", "wrong username or password")
        throttle.succeeded(req.username, address)
        token, p, name = got
        return {"token": token, "server_time": clock.wall_ms(),
                "account": {"username": p.username, "name": name, "role": p.role, "grids": sorted(p.grids)}}

    def _take_push(cred: tuple, raw: bytes, address: str,
                   acked: str | None = None) -> tuple[Principal, list, concurrent.futures.Future, bool]:
        """On a sync thread: who is pushing, the batch, its place in the writer's next
        group (the envelopes and values are checked here, off the event loop and the
        writer), and whether the phone is behind what the store took from it (`acked`,
        its X-Gridbook-Acked header)."""
        p = authenticate(cred)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise ApiError(400, "malformed_json", f"body is not valid JSON: {e}")
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
            raise ApiError(422, "invalid_request", "changes: must be a list of change objects")
        if set(body) != {"changes"}:
            raise ApiError(422, "invalid_request", "body: only \"changes\" may be sent")
        batch = body["changes"]
        if len(batch) > MAX_BATCH:
            raise ApiError(413, "batch_too_large", f"changes: at most {MAX_BATCH} per push")
        # read before this push is taken: the store's state the phone should have known
        behind = acked is not None and store.last_change(p) != acked
        return p, batch, push_later(p, batch, raw, address), behind

    def _answer_push(batch: list, res, p: Principal, address: str, reoffer: bool, behind: bool = False) -> Response:
        metrics.count_changes(app, res.counts)
        if reoffer:  # a phone offering again what it pushed before a restore (backup.py)
            store.note_recovered(p.username, p.device, [ch["hlc"] for ch, r in zip(batch, res.results)
                                                        if r["status"] == "applied"], address)
        event = arrived(batch, res.results, p.username)
        if event:
            hub.publish(event)
        return Response(orjson.dumps({"results": res.results, "counts": res.counts,
                                      "server_time": clock.wall_ms(), **({"behind": True} if behind else {})}),
                        status_code=res.http_status, media_type="application/json")

    @app.post("/api/v1/sync/push", tags=["sync"], response_model=m.PushAnswer,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": m.PUSH_BODY_SCHEMA}}}},
              responses={**m.errors(400, 401, 413, 422, 426, 503),
                         403: {"model": m.PushAnswer,
                               "description": "some change was forbidden to the caller; results say which"},
                         422: {"model": m.PushAnswer | m.ErrorBody,
                               "description": "some change was refused (results say which and why), "
                                              "or the body as a whole was not a push"}})
    async def push(request: Request, _: int = Depends(protocol), cred: tuple = Depends(credentials),
                   x_gridbook_acked: str | None = Header(
                       default=None, max_length=64, pattern=ACKED_PATTERN,
                       description="the last of this phone's changes it knows the server took (\"\" for none),"
                                   " sent with a sync's first push: a phone put back from an older copy is"
                                   " answered \"behind\" (a header, which a server from before ignores)")):
        if damaged:   # acknowledged into a damaged file, the phones would drop work that may be lost
            return store_damaged()
        raw = await request.body()
        address, reoffer = client_address(request), request.headers.get(REOFFER_HEADER) == "1"
        p, batch, committed, behind = await on_sync_thread(_take_push, cred, raw, address, x_gridbook_acked)
        # Awaited here, not in a thread: a push waiting for its group commit holds no thread
        # of the pool (the pulls have them), and the groups grow with the wave.
        try:
            res = await asyncio.wrap_future(committed)
        except WriterGone:
            return writer_gone()
        full_at[0] = None   # a push went through: there is room again
        if reoffer or len(batch) > INLINE_ANSWER:
            return await on_sync_thread(_answer_push, batch, res, p, address, reoffer, behind)
        return _answer_push(batch, res, p, address, reoffer, behind)

    @app.get("/api/v1/sync/pull", tags=["sync"], response_model=m.PullPage,
             responses=m.errors(400, 401, 422, 426, 503))
    async def pull(request: Request,
                   cursor: str | None = Query(default=None, max_length=40, pattern=CURSOR_PATTERN,
                                              description="the cursor the previous page gave"),
                   limit: int = Query(default=1000, ge=1, le=MAX_PAGE),
                   acked: str | None = Query(default=None, max_length=64, pattern=ACKED_PATTERN,
                                             description="the last of this phone's changes it knows the server"
                                                         " took (\"\" for none): a phone put back from an"
                                                         " older copy then gets its own later changes back"),
                   _: int = Depends(protocol), cred: tuple = Depends(credentials)):
        answer, audit = await on_sync_thread(_pull, request, cred, cursor, limit, acked)
        if audit:  # the reading is on record before anything of it leaves
            try:
                await asyncio.wrap_future(audit_later(*audit))
            except WriterGone:
                return writer_gone()
        return answer

    def _pull(request: Request, cred: tuple, cursor: str | None, limit: int,
              acked: str | None = None) -> tuple[Response, tuple | None]:
        p = authenticate(cred)
        page = store.pull(p, cursor, limit, address=client_address(request), acked=acked)
        gen = store.generation()  # after the page: its head is at least the page's cursor
        # The bodies are stored as JSON text: splice them rather than parse and re-dump.
        text = ('{"changes":[' + ",".join(page["bodies"]) + '],"exits":' + json.dumps(page["exits"])
                + ',"household_exits":' + json.dumps(page["household_exits"])
                + ',"refs":' + json.dumps(page["refs"], ensure_ascii=False)
                + ',"reset":' + ("true" if page["reset"] else "false")
                + ',"erasures":' + json.dumps(page.get("erasures") or [])
                + ',"cursor":' + json.dumps(page["cursor"])
                + ',"more":' + ("true" if page["more"] else "false")
                + ',"settings":' + json.dumps(store.settings())
                + ',"generation":' + json.dumps(gen["generation"]) + ',"generation_seq":' + str(gen["since"])
                + ',"head":' + str(store.log_head())
                + (',"lost":true' if page.get("lost") else "")
                + ',"server_time":' + str(clock.wall_ms()) + "}")
        return _json_page(text, request), page["audit"]

    def _json_page(text: str, request: Request) -> Response:
        """Gzipped here, on the request's worker thread (zlib lets go of the GIL), when
        the phone takes it: the GZip middleware would do it on the event loop, which
        then serves no one else meanwhile (a tenth of the loop's time in a wave of
        syncs); it passes a body that already has its encoding."""
        data = text.encode()
        if len(data) >= 1024 and "gzip" in request.headers.get("accept-encoding", ""):
            return Response(gzip.compress(data, 5), media_type="application/json",
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(data, media_type="application/json")

    def plain_credentials(request: Request) -> tuple[str | None, str | None] | None:
        """What `protocol` and `credentials` give a sync route, when neither would raise
        (the protocol spoken, the headers within their lengths); else None."""
        h = headers_of(request.scope, SYNC_HEADERS)
        if h is None or h.get(b"x-gridbook-protocol") != str(changes.PROTOCOL_VERSION):
            return None
        authorization, device = h.get(b"authorization"), h.get(b"x-gridbook-device")
        if len(authorization or "") > MAX_AUTHORIZATION or len(device or "") > MAX_DEVICE:
            return None
        return authorization, device

    async def answered(route) -> Response:
        """The route's answer, or its refusal as the exception handler would say it."""
        try:
            return await route
        except ApiError as exc:
            return _error(exc.status, exc.error, exc.message, **exc.extra)

    async def fast_push(request: Request) -> Response | None:
        cred = plain_credentials(request)
        if cred is None or request.scope["query_string"]:  # a push has no query
            return None
        acked = headers_of(request.scope, (ACKED_HEADER,))
        if acked is None or not ACKED_RE.fullmatch(acked.get(ACKED_HEADER, "")):
            return None   # the framework says what is wrong with it
        return await answered(push(request, changes.PROTOCOL_VERSION, cred, acked.get(ACKED_HEADER)))

    async def fast_pull(request: Request) -> Response | None:
        cred, query = plain_credentials(request), query_of(request.scope, PULL_QUERY)
        limit = int(query.get("limit", 1000)) if query is not None else 0
        if cred is None or not 1 <= limit <= MAX_PAGE:
            return None
        return await answered(pull(request, query.get("cursor"), limit, query.get("acked"),
                                   _=changes.PROTOCOL_VERSION, cred=cred))

    @app.post("/api/v1/sync/discard", tags=["sync"], response_model=m.DiscardAnswer,
              responses=m.errors(400, 401, 413, 422, 426))
    def discard(req: m.DiscardRequest, request: Request, _: int = Depends(protocol),
                p: Principal = Depends(principal)):
        """The phone gives up a refused change: audited; answers the record's accepted
        changes the caller may see (as a pull would), to rebuild it from."""
        from .records import discard as give_up
        got = give_up(store, p, req.change_id, req.entity.value, req.record, client_address(request))
        return {**got, "server_time": clock.wall_ms()}

    def refused_file(p: Principal, kind: str, address: str) -> None:
        """An attempt at a file one may not take is on the trail as a taking is."""
        store.audit(p.username, "download_refused", f"{kind}: not this account's", device=p.device, address=address)

    def _file(p: Principal, kind: str, params: dict, address: str) -> Response:
        name = None
        try:
            if kind == "document" and p.sees_all:
                data, name = build_document(store, p, params.get("case") or "", params.get("document") or "", address)
            else:
                data = build_export(store, p, kind, params, address)
        except KeyError:
            raise ApiError(404, "unknown_export", f"no export named {kind}: one of {', '.join(EXPORTS)}")
        except BadParams as e:
            raise ApiError(422, "invalid_request", str(e))
        except NotAllowed:
            refused_file(p, kind, address)
            raise ApiError(403, "forbidden", f"{kind} is not this account's to take")
        return Response(data, **disposition(kind, name))

    @app.get("/api/v1/export/{ticket}", tags=["office"], response_class=Response,
             responses={200: m.FILE_CONTENT, **m.errors(401, 404, 422)})
    def export_by_ticket(request: Request, ticket: str = Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")):
        got = tickets.redeem(ticket)
        if got is None:
            raise ApiError(404, "unknown_ticket", "this download link has expired or was used: ask again")
        p, kind, params, session = got
        address = client_address(request)
        if session is not None and store.authenticate(*session) is None:
            store.audit(p.username, "download_refused", f"{kind}: the sign-in ended", device=p.device, address=address)
            raise ApiError(401, "unauthorized", "the sign-in this download link was made for has ended: sign in again")
        return _file(p, kind, params, address)

    @app.get("/api/v1/ledger/{kind}", tags=["office"], response_class=Response,
             responses={200: m.FILE_CONTENT, **m.errors(400, 401, 403, 404, 422, 426)})
    def export_with_token(request: Request, kind: m.ExportKind,
                          start: str | None = Query(default=None, max_length=10, pattern=DAY_PATTERN,
                                                    description="ledgers: first day, YYYY-MM-DD (default 1 January)"),
                          end: str | None = Query(default=None, max_length=10, pattern=DAY_PATTERN,
                                                  description="ledgers: last day, YYYY-MM-DD (default 31 December)"),
                          year: int | None = Query(default=None, ge=2000, le=2100, description="monthly report"),
                          month: int | None = Query(default=None, ge=1, le=12, description="monthly report"),
                          _: int = Depends(protocol), p: Principal = Depends(principal)):
        if p.role not in ("office", "admin"):
            refused_file(p, kind.value, client_address(request))
            raise ApiError(403, "forbidden", "the ledger is for the township office")
        params = {k: v for k, v in (("start", start), ("end", end), ("year", year), ("month", month)) if v is not None}
        return _file(p, kind.value, params, client_address(request))

    # Routes that live in modules of their own (attachments, the township's map): the same
    # dependencies, the same error shape.
    deps = RouteDeps(store=store, protocol=protocol, principal=principal, error=ApiError,
                     client_address=client_address, hub=hub)
    for module in (blobs, tiles):
        module.add_routes(app, deps)

    # The two routes of a wave of syncs, past the framework when plainly well formed
    # (fastpath.py); inside the metrics' middleware, which counts them as before.
    app.add_middleware(SyncFastPath, routes={("POST", "/api/v1/sync/push"): fast_push,
                                             ("GET", "/api/v1/sync/pull"): fast_pull})

    # After the API's routes and before the screens' mount: the rest of /api is answered
    # by the API, not by the screens.
    metrics.install(app, store)  # GET /metrics (sync/server/metrics.py)

    not_served = NotServed([r for r in app.routes if r.path.startswith("/api/")])
    for path in ("/api", "/api/{rest:path}"):
        app.router.routes.append(Route(path, not_served, include_in_schema=False))

    if ui is not None:
        screens = ui(db_path, tickets, throttle, hub)
        lifespans.extend(getattr(screens, "lifespans", ()))
        app.mount("/", screens)

    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.add_middleware(ServerTime)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimitAndGunzip, limit=max_body)
    return app

