"""GET /metrics: the server's activity in Prometheus's text format (prometheus-client).

What is counted (since the process started): sync requests (push, pull, discard),
changes applied / duplicate / rejected, API errors by their code, sign-ins through the
API (ok, failed, throttled). What is read at each scrape: the store's and its WAL's
size, the log's head, the changes phones brought back after a restore, and, when the
server runs under Litestream (`gridbook serve --backup`), the backup lag.

Who may read it: a caller on the same machine (loopback; behind a reverse proxy on
the same machine the proxied client's own address counts, so a visitor through the
proxy is refused), or anyone presenting `Authorization: Bearer $GRIDBOOK_METRICS_TOKEN`
when that variable is set. The figures reveal activity (how many syncs, sign-in
failures), never personal data: no name, account, device or record is a label.
"""

from __future__ import annotations

import hmac
import json
import os
import re

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

disable_created_metrics()  # no *_created series: the process start is enough
TOKEN_ENV = "GRIDBOOK_METRICS_TOKEN"
_CODE = re.compile(r"^[a-z_]{1,40}\Z")
_SYNC_PATHS = {"/api/v1/sync/push": "push", "/api/v1/sync/pull": "pull", "/api/v1/sync/discard": "discard"}
_LOGIN = "/api/v1/auth/login"
_LOOPBACK = ("127.", "::1", "::ffff:127.")


class Metrics:
    """The counters of one app (each app has its own registry: tests run several)."""

    def __init__(self, store, app):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.syncs = Counter("gridbook_sync_requests", "Sync requests answered, by kind", ["kind"], registry=r)
        self.changes = Counter("gridbook_changes", "Changes pushed, by what became of them", ["result"], registry=r)
        self.errors = Counter("gridbook_api_errors", "API answers that were errors, by their code", ["code"],
                              registry=r)
        self.sign_ins = Counter("gridbook_sign_ins", "Sign-ins through the API, by outcome", ["outcome"], registry=r)
        for kind in _SYNC_PATHS.values():
            self.syncs.labels(kind)
        for result in ("applied", "duplicate", "rejected"):
            self.changes.labels(result)
        for outcome in ("ok", "failed", "throttled"):
            self.sign_ins.labels(outcome)
        r.register(_StoreCollector(store, app))


class _StoreCollector:
    """Figures read at scrape time."""

    def __init__(self, store, app):
        self.store, self.app = store, app

    def describe(self):
        return []

    def collect(self):
        path = os.path.abspath(self.store.path)
        for name, file, what in (("gridbook_store_bytes", path, "Size of the store file"),
                                 ("gridbook_wal_bytes", path + "-wal", "Size of the store's write-ahead log")):
            g = GaugeMetricFamily(name, what)
            g.add_metric([], os.path.getsize(file) if os.path.exists(file) else 0)
            yield g
        g = GaugeMetricFamily("gridbook_log_head", "The change log's last sequence number")
        g.add_metric([], self.store.log_head())
        yield g
        rec = self.store.recovered()
        c = CounterMetricFamily("gridbook_recovered_changes", "Changes phones offered again after a restore "
                                "that the restored store lacked")
        c.add_metric([], rec["total"])
        yield c
        writes = getattr(self.app.state, "writes", None)
        if writes is not None:
            g = GaugeMetricFamily("gridbook_writes_waiting", "Pushes and audit rows handed to the write "
                                  "process and not yet answered (growing: the writer is stuck or behind)")
            g.add_metric([], writes.waiting())
            yield g
            c = CounterMetricFamily("gridbook_writer_starts", "Write processes started (more than one: a "
                                    "writer ended and was replaced)")
            c.add_metric([], writes.starts)
            yield c
        watcher = getattr(self.app.state, "backup", None)
        g = GaugeMetricFamily("gridbook_backup_configured", "1 when the server runs under Litestream")
        g.add_metric([], 1 if watcher else 0)
        yield g
        if watcher is not None:
            lag = watcher.lag_s
            g = GaugeMetricFamily("gridbook_backup_lag_seconds", "Seconds since the replica last held everything "
                                  "the store has (-1: the replica holds nothing yet)")
            g.add_metric([], -1 if lag is None else lag)
            yield g
            g = GaugeMetricFamily("gridbook_backup_error", "1 when the last backup check failed")
            g.add_metric([], 1 if watcher.error else 0)
            yield g
            c = CounterMetricFamily("gridbook_backup_attachments_copied", "Attachments copied to the replica "
                                    "folder by this process")
            c.add_metric([], watcher.blobs_copied)
            yield c


class _Watch:
    """ASGI middleware counting what the API answers (inside the gzip layer: error
    bodies are read as sent, and they are small)."""

    def __init__(self, app, metrics: Metrics, fastapi_app):
        self.app, self.m, self.fastapi_app = app, metrics, fastapi_app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        state = {"status": 0, "body": bytearray(), "error": None}

        async def watch(msg):
            if msg["type"] == "http.response.start":
                state["status"] = msg["status"]
            elif msg["type"] == "http.response.body" and state["status"] >= 400 and len(state["body"]) < 4096:
                state["body"].extend(msg.get("body", b"")[:4096])
            await send(msg)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._count(path, method, state)

    def _count(self, path: str, method: str, state: dict) -> None:
        status = state["status"]
        kind = _SYNC_PATHS.get(path)
        if kind and status < 500:
            self.m.syncs.labels(kind).inc()
        if path == _LOGIN:
            outcome = {200: "ok", 401: "failed", 429: "throttled"}.get(status)
            if outcome:
                self.m.sign_ins.labels(outcome).inc()
        if status >= 400:
            code = None
            try:
                code = json.loads(bytes(state["body"])).get("error")
            except (ValueError, AttributeError):
                pass
            if code is not None or status >= 500:
                self.m.errors.labels(code if isinstance(code, str) and _CODE.match(code) else f"http_{status}").inc()
        elif "/blobs/" in path and method in ("PUT", "POST", "PATCH"):
            watcher = getattr(self.fastapi_app.state, "backup", None)
            if watcher is not None:  # an attachment arrived: copy it to the replica now
                watcher.wake()


def count_changes(app, counts: dict) -> None:
    m = getattr(app.state, "metrics", None)
    if m is not None:
        for result, n in counts.items():
            if n:
                m.changes.labels(result).inc(n)


def allowed(request) -> bool:
    token = os.environ.get(TOKEN_ENV)
    if token:
        given = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
    host = request.client.host if request.client else ""
    return host == "localhost" or host.startswith(_LOOPBACK)


def install(app, store) -> None:
    """The counters, the middleware that feeds them, and the route."""
    metrics = Metrics(store, app)
    app.state.metrics = metrics
    app.add_middleware(_Watch, metrics=metrics, fastapi_app=app)

    @app.get("/metrics", include_in_schema=False)
    def scrape(request: Request):
        if not allowed(request):
            return JSONResponse({"error": "forbidden", "message": "metrics are served to this machine only, or "
                                 f"with the token in ${TOKEN_ENV}"}, status_code=403)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
