"""The township server: the sync API over the central store (FastAPI on uvicorn).

Server-only: phones never import this module (it needs FastAPI).
"""

from __future__ import annotations

import json
import logging

import orjson
import zlib

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import changes, clock
from .access import Principal
from .central import CentralStore

log = logging.getLogger("gridbook.server")

PROTOCOL_HEADER = "X-Gridbook-Protocol"
DEVICE_HEADER = "X-Gridbook-Device"
TIME_HEADER = "X-Gridbook-Server-Time"
MAX_BODY = 8 * 1024 * 1024       # bytes after decompression
MAX_BATCH = 2000                 # changes per push
MAX_PAGE = 5000                  # changes per pull page


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, **extra):
        self.status, self.error, self.message, self.extra = status, error, message, extra


def _error(status: int, error: str, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status)


class BodyLimitAndGunzip:
    """Refuse bodies over the limit (413) and undo a gzip Content-Encoding, checking
    the limit on the inflated size so a small bomb cannot fill memory."""

    def __init__(self, app, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        too_big = _error(413, "body_too_large",
                         f"request body is larger than {self.limit // (1024 * 1024)} MB: send fewer changes per batch")
        length = headers.get(b"content-length")
        if length and length.isdigit() and int(length) > self.limit:
            return await too_big(scope, receive, send)
        body = bytearray()
        more = True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > self.limit:
                return await too_big(scope, receive, send)
        if headers.get(b"content-encoding", b"").lower() == b"gzip":
            d = zlib.decompressobj(wbits=31)
            try:
                raw = d.decompress(bytes(body), self.limit + 1)
            except zlib.error:
                return await _error(400, "bad_encoding", "body is marked gzip but is not gzip data")(
                    scope, receive, send)
            if len(raw) > self.limit or d.unconsumed_tail:
                return await too_big(scope, receive, send)
            body = raw
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"]
                                if k not in (b"content-encoding", b"content-length")]
            scope["headers"].append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


class ServerTime:
    """Every answer says the server's time, so a phone whose clock is wrong can stamp its
    changes with the township's time (a plain ASGI wrapper: no copy of the body)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_time(msg):
            if msg["type"] == "http.response.start":
                msg["headers"] = [*msg.get("headers", []),
                                  (TIME_HEADER.lower().encode(), str(clock.wall_ms()).encode())]
            await send(msg)

        await self.app(scope, receive, with_time)


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)
    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def create_app(db_path: str, *, max_body: int = MAX_BODY) -> FastAPI:
    store = CentralStore(db_path)
    lock = store.lock   # one connection shared by the threads serving requests
    app = FastAPI(title="Gridbook township server", version="0.1.0",
                  description="Sync API for Gridbook phones (protocol version "
                              f"{changes.PROTOCOL_VERSION}); see docs/sync-protocol.md.")
    app.state.store = store
    app.state.lock = lock

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return _error(exc.status, exc.error, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
            problems.append(f"{where or 'body'}: {e.get('msg')}")
        return _error(422, "invalid_request", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        return _error(exc.status_code, "http_error", str(exc.detail))


    def protocol(x_gridbook_protocol: str | None = Header(default=None)) -> int:
        want = str(changes.PROTOCOL_VERSION)
        if x_gridbook_protocol is None:
            raise ApiError(400, "protocol_missing",
                           f"send the header {PROTOCOL_HEADER}: {want}")
        if x_gridbook_protocol != want:
            raise ApiError(426, "protocol_unsupported",
                           f"this server speaks sync protocol {want}, the app speaks "
                           f"{x_gridbook_protocol[:10]}: update the app or the server",
                           supported=[changes.PROTOCOL_VERSION])
        return changes.PROTOCOL_VERSION

    def principal(authorization: str | None = Header(default=None),
                  x_gridbook_device: str | None = Header(default=None)) -> Principal:
        token = (authorization or "").removeprefix("Bearer ").strip()
        p = None
        if token and x_gridbook_device:
            with lock:
                p = store.authenticate(token, x_gridbook_device)
        if p is None:
            raise ApiError(401, "unauthorized",
                           "sign in again: this device's token is missing, unknown or revoked")
        return p

    @app.get("/api/v1/health")
    def health():
        return {"status": "ok", "protocol": changes.PROTOCOL_VERSION, "server_time": clock.wall_ms()}

    @app.post("/api/v1/auth/login")
    def login(req: LoginRequest, _: int = Depends(protocol)):
        with lock:
            got = store.login(req.username, req.password, req.device_id)
        if got is None:
            # Same words whether the name or the password was wrong.
            raise ApiError(401, "bad_credentials", "wrong username or password")
        token, p = got
        acct = store.account(p.username)
        return {"token": token, "server_time": clock.wall_ms(),
                "account": {"username": p.username, "name": acct["name"], "role": p.role,
                            "grids": sorted(p.grids)}}

    @app.post("/api/v1/sync/push", responses={
        403: {"description": "some change is outside the caller's scope; results say which"},
        413: {"description": "body too large"},
        422: {"description": "some change was refused; results say which and why"}})
    async def push(request: Request, _: int = Depends(protocol), p: Principal = Depends(principal)):
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise ApiError(400, "malformed_json", f"body is not valid JSON: {e}")
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
            raise ApiError(422, "invalid_request", "changes: must be a list of change objects")
        batch = body["changes"]
        if len(batch) > MAX_BATCH:
            raise ApiError(413, "batch_too_large", f"changes: at most {MAX_BATCH} per push")
        with lock:
            res = store.push(p, batch)
        return JSONResponse({"results": res.results, "counts": res.counts,
                             "server_time": clock.wall_ms()}, status_code=res.http_status)

    @app.get("/api/v1/sync/pull")
    def pull(cursor: str | None = None, limit: int = 1000,
             _: int = Depends(protocol), p: Principal = Depends(principal)):
        if not 1 <= limit <= MAX_PAGE:
            raise ApiError(422, "invalid_request", f"limit: must be between 1 and {MAX_PAGE}")
        if cursor is not None and len(cursor) > 40:
            raise ApiError(422, "invalid_request", "cursor: not a cursor this server gave")
        with lock:
            page = store.pull(p, cursor, limit)
        # The bodies are stored as JSON text: splice them rather than parse and re-dump.
        text = ('{"changes":[' + ",".join(page["bodies"]) + '],"cursor":' + json.dumps(page["cursor"])
                + ',"more":' + ("true" if page["more"] else "false")
                + ',"server_time":' + str(clock.wall_ms()) + "}")
        return Response(text, media_type="application/json")

    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.add_middleware(ServerTime)
    app.add_middleware(BodyLimitAndGunzip, limit=max_body)
    return app
