"""The server's ASGI wrappers: what every request and answer goes through, whatever
its route (the sync API and the office's screens alike).

Each is a plain ASGI middleware, so none of them copies an answer's body.
"""

from __future__ import annotations

import json
import zlib

from .. import clock

TIME_HEADER = "X-Gridbook-Server-Time"
MAX_BODY = 8 * 1024 * 1024       # bytes after decompression
MAX_HEADERS = 64                 # header lines per request
MAX_HEADER_BYTES = 32 * 1024     # all of them together


def error_app(status: int, error: str, message: str, **extra):
    """An ASGI app answering one error in the shape every error has: {error, message}."""
    body = json.dumps({"error": error, "message": message, **extra}).encode()

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    return app


class BodyLimitAndGunzip:
    """Refuse bodies over the limit (413) and undo a gzip Content-Encoding, checking
    the limit on the inflated size so a small bomb cannot fill memory; refuse requests
    with too many or too large headers (431)."""

    def __init__(self, app, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        raw_headers = scope["headers"]
        if len(raw_headers) > MAX_HEADERS or sum(len(k) + len(v) for k, v in raw_headers) > MAX_HEADER_BYTES:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1009})
            return await error_app(431, "headers_too_large",
                                   f"a request carries at most {MAX_HEADERS} headers, {MAX_HEADER_BYTES // 1024} KB in all")(
                scope, receive, send)
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        headers = dict(raw_headers)
        too_big = error_app(413, "body_too_large",
                            f"request body is larger than {self.limit // (1024 * 1024)} MB: send fewer changes per batch")
        length = headers.get(b"content-length")
        if length and length.isdigit() and int(length) > self.limit:   # bytes: ASCII digits only
            return await too_big(scope, receive, send)
        body = bytearray()
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > self.limit:
                return await too_big(scope, receive, send)
        if headers.get(b"content-encoding", b"").lower() == b"gzip":
            d = zlib.decompressobj(wbits=31)
            try:
                raw = d.decompress(bytes(body), self.limit + 1)
            except zlib.error:
                return await error_app(400, "bad_encoding", "body is marked gzip but is not gzip data")(
                    scope, receive, send)
            if len(raw) > self.limit or d.unconsumed_tail:
                return await too_big(scope, receive, send)
            if not d.eof:
                return await error_app(400, "bad_encoding", "the gzip body is cut short")(scope, receive, send)
            if d.unused_data:
                # a second gzip member (or anything) after the first: read, it was dropped
                # unsaid, and a phone's changes in it would have been answered for as none
                return await error_app(400, "bad_encoding", "the gzip body goes on after its end: send one"
                                                            " gzip member")(scope, receive, send)
            body = raw
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"]
                                if k not in (b"content-encoding", b"content-length")]
            scope["headers"].append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()  # http.disconnect when the client goes
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


class ServerTime:
    """Every answer says the server's time, so a phone whose clock is wrong can stamp its
    changes with the township's time."""

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


class SecurityHeaders:
    """No page of the server can be framed by another site (clickjacking), no answer is
    sniffed into another type, and no address leaves in a Referer. The office's pages
    are the server's own: the permissive CORS header Flet adds is dropped."""

    HEADERS = [(b"content-security-policy", b"frame-ancestors 'none'"),
               (b"x-frame-options", b"DENY"),
               (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"no-referrer")]
    DROP = {name for name, _ in HEADERS} | {b"access-control-allow-origin"}

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(msg):
            if msg["type"] == "http.response.start":
                msg["headers"] = [(k, v) for k, v in msg.get("headers", [])
                                  if k.lower() not in self.DROP] + self.HEADERS
            await send(msg)

        await self.app(scope, receive, with_headers)
