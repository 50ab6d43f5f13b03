"""The phones' pushes and pulls, past the framework's per-request machinery.

In a wave of syncs the event loop spent more of its time in FastAPI's and Starlette's
layers for each push and pull (the route table, the dependency solver, the exception
and exit-stack middlewares) than in the routes, and it shares the GIL with the writer.
Here the two sync routes are called straight, with the arguments their dependencies
would have given them, when the request is plainly well formed; anything else (a
missing or old protocol header, an over-long token, an odd query) falls through,
untouched, to the same routes through FastAPI, which answers it as before. The routes'
code is the routes' (app.py): nothing of what they check or answer is repeated here,
only the conditions under which their dependencies would have raised nothing.

It sits inside the server's own middlewares (body limit and gunzip, headers, server
time, gzip, metrics), which apply to it as to every route.
"""

from __future__ import annotations

import re
from typing import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

# A handler answers, or returns None before it has read the body: the request then
# goes on to the framework as if this layer were not there.
Handler = Callable[[Request], Awaitable[Response | None]]


class SyncFastPath:
    def __init__(self, app, routes: dict[tuple[str, str], Handler]):
        self.app, self.routes = app, routes
        self.taken = 0  # for the tests: requests answered here

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            handler = self.routes.get((scope["method"], scope["path"]))
            if handler is not None:
                answer = await handler(Request(scope, receive))
                if answer is not None:
                    self.taken += 1
                    return await answer(scope, receive, send)
        await self.app(scope, receive, send)


def headers_of(scope, names: tuple[bytes, ...]) -> dict[bytes, str] | None:
    """The named headers (lower case), decoded as Starlette decodes them; None when one
    of them is repeated (the framework decides what that means)."""
    out: dict[bytes, str] = {}
    for key, value in scope["headers"]:
        if key in names:
            if key in out:
                return None
            out[key] = value.decode("latin-1")
    return out


def query_of(scope, allowed: dict[str, re.Pattern]) -> dict[str, str] | None:
    """The query's parameters when each is one of `allowed`, given once, and matches its
    pattern in full; None otherwise (the framework says what is wrong)."""
    try:
        pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True,
                          max_num_fields=len(allowed))
    except ValueError:
        return None
    out: dict[str, str] = {}
    for key, value in pairs:
        rule = allowed.get(key)
        if rule is None or key in out or not rule.fullmatch(value):
            return None
        out[key] = value
    return out
