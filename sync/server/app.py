"""The township server: the sync API over the central store (FastAPI on uvicorn).

Server-only: phones never import this module (it needs FastAPI).
"""

from __future__ import annotations

import datetime as dt
import json
import zlib

import orjson

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import changes, clock
from ..access import Principal
from .central import CentralStore


PROTOCOL_HEADER = "X-Gridbook-Protocol"
DEVICE_HEADER = "X-Gridbook-Device"
TIME_HEADER = "X-Gridbook-Server-Time"
MAX_BODY = 8 * 1024 * 1024       # bytes after decompression
MAX_BATCH = 5000                 # changes per push
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


class Tickets:
    """One-time links for the office's downloads: a browser tab cannot add a token
    header to a download, so the screen asks for a ticket bound to the person, the
    file and a few minutes, and opens /api/v1/export/<ticket>."""

    TTL_MS = 5 * 60 * 1000

    def __init__(self):
        self._tickets: dict[str, tuple] = {}

    def issue(self, principal: Principal, kind: str, params: dict) -> str:
        import secrets
        now = clock.wall_ms()
        self._tickets = {k: v for k, v in self._tickets.items() if v[3] > now}
        ticket = secrets.token_urlsafe(24)
        self._tickets[ticket] = (principal, kind, dict(params), now + self.TTL_MS)
        return ticket

    def redeem(self, ticket: str):
        got = self._tickets.pop(ticket, None)
        if got is None or got[3] < clock.wall_ms():
            return None
        return got[:3]


EXPORTS = {  # kind -> (media type, file name)
    "ledger.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "信访事项台账.xlsx"),
    "ledger.csv": ("text/csv; charset=utf-8", "信访事项台账.csv"),
    "supervision.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "领导包案督办台账.xlsx"),
    "monthly.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "信访工作月报.xlsx"),
}


def build_export(store: CentralStore, p: Principal, kind: str, params: dict) -> bytes:
    """The bytes of one of the office's files, for what this person may see."""
    import io
    from . import export, stats
    from ..queries import Scope
    scope = None if p.sees_all else Scope(frozenset(p.grids), p.username)
    out = io.BytesIO()
    with store.lock:
        if kind in ("ledger.xlsx", "ledger.csv"):
            start = dt.date.fromisoformat(params.get("start") or f"{dt.date.today().year}-01-01")
            end = dt.date.fromisoformat(params.get("end") or f"{dt.date.today().year}-12-31")
            rows = export.ledger_rows(store.conn, start, end, scope)
            if kind.endswith(".csv"):
                export.write_csv(rows, out)
            else:
                export.write_xlsx(rows, out)
        elif kind == "supervision.xlsx":
            export.write_xlsx(export.supervision_rows(store.conn, scope), out, title="领导包案督办台账")
        elif kind == "monthly.xlsx":
            year, month = int(params.get("year") or dt.date.today().year), int(params.get("month") or dt.date.today().month)
            export.monthly_report_xlsx(stats.monthly_figures(store.conn, year, month), out, f"{year}年{month}月")
        else:
            raise ApiError(404, "unknown_export", f"no export named {kind}: one of {', '.join(EXPORTS)}")
        store.audit(p.username, "export", f"{kind} {json.dumps(params, ensure_ascii=False)}")
    return out.getvalue()


def _file(kind: str, data: bytes) -> Response:
    from urllib.parse import quote
    media, name = EXPORTS[kind]
    return Response(data, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{kind}\"; filename*=UTF-8''{quote(name)}"})


class LoginThrottle:
    """Slows down password guessing: after MAX failures for one username within WINDOW,
    further attempts are refused for the rest of the window, whether or not the name
    exists (the answer tells nothing about which names are real)."""

    MAX, WINDOW_MS = 5, 15 * 60 * 1000

    def __init__(self):
        self._failures: dict[str, list[int]] = {}

    def wait_s(self, username: str) -> int:
        now = clock.wall_ms()
        recent = [t for t in self._failures.get(username.lower(), []) if now - t < self.WINDOW_MS]
        self._failures[username.lower()] = recent
        return 0 if len(recent) < self.MAX else (recent[0] + self.WINDOW_MS - now) // 1000 + 1

    def failed(self, username: str) -> None:
        self._failures.setdefault(username.lower(), []).append(clock.wall_ms())

    def succeeded(self, username: str) -> None:
        self._failures.pop(username.lower(), None)


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)
    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def create_app(db_path: str, *, max_body: int = MAX_BODY, ui=None) -> FastAPI:
    """The township server. `ui`, when given, builds the office's screens as an ASGI
    app from (db_path, tickets, throttle); it is mounted at / on the same port. The
    caller composes the two (township.py): this package never imports the screens."""
    store = CentralStore(db_path)
    tickets = Tickets()
    throttle = LoginThrottle()
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
        wait = throttle.wait_s(req.username)
        if wait:
            raise ApiError(429, "too_many_attempts",
                           f"too many failed sign-ins for this account: try again in {wait // 60 + 1} minutes",
                           retry_after_s=wait)
        with lock:
            got = store.login(req.username, req.password, req.device_id)
        if got is None:
            throttle.failed(req.username)
            # Same words whether the name or the password was wrong.
            raise ApiError(401, "bad_credentials", "wrong username or password")
        throttle.succeeded(req.username)
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
        text = ('{"changes":[' + ",".join(page["bodies"]) + '],"exits":' + json.dumps(page["exits"])
                + ',"refs":' + json.dumps(page["refs"], ensure_ascii=False)
                + ',"reset":' + ("true" if page["reset"] else "false")
                + ',"cursor":' + json.dumps(page["cursor"])
                + ',"more":' + ("true" if page["more"] else "false")
                + ',"server_time":' + str(clock.wall_ms()) + "}")
        return Response(text, media_type="application/json")

    @app.get("/api/v1/export/{ticket}")
    def export_by_ticket(ticket: str):
        got = tickets.redeem(ticket)
        if got is None:
            raise ApiError(404, "unknown_ticket", "this download link has expired or was used: ask again")
        p, kind, params = got
        return _file(kind, build_export(store, p, kind, params))

    @app.get("/api/v1/ledger/{kind}")
    def export_with_token(kind: str, start: str | None = None, end: str | None = None,
                          year: int | None = None, month: int | None = None,
                          _: int = Depends(protocol), p: Principal = Depends(principal)):
        if kind not in EXPORTS:
            raise ApiError(404, "unknown_export", f"no export named {kind}: one of {', '.join(EXPORTS)}")
        if p.role not in ("office", "admin"):
            raise ApiError(403, "forbidden", "the ledger is for the township office")
        for name, value in (("start", start), ("end", end)):
            if value is not None:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ApiError(422, "invalid_request", f"{name}: must be a date written YYYY-MM-DD")
        params = {k: v for k, v in (("start", start), ("end", end), ("year", year), ("month", month)) if v}
        return _file(kind, build_export(store, p, kind, params))

    if ui is not None:
        app.mount("/", ui(db_path, tickets, throttle))

    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.add_middleware(ServerTime)
    app.add_middleware(BodyLimitAndGunzip, limit=max_body)
    return app
