"""Serving a Flet app to a browser from this machine alone (the office's screens, and
the phone app run in a browser for the demo and the tests).

- `OfflineRive`: flet-web 1.0.5's client loads the Rive runtime from cdn.jsdelivr.net at
  start-up, whatever `no_cdn` says (the URL is compiled into main.dart.js and
  main.dart.wasm). The app uses no Rive animation: the two files are served with the
  URL pointed here (same length, so the wasm binary stays valid), and the runtime's
  script is a stub that says "not available", which the client takes calmly.
- `SessionBinding`: Flet resumes a session for any browser that presents its session
  id (kept in the tab's sessionStorage) from the same address and user agent. An
  HttpOnly cookie, which page scripts cannot read, is folded into the user agent Flet
  hashes into its session key: a copied session id alone resumes nothing.
- `flet_lifespan`: a Flet app mounted inside another FastAPI app does not get its own
  start-up run, so nothing would ever expire its sessions; the host app runs this.

Imports flet_web only when called: the phone's package never serves pages.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from http.cookies import CookieError, SimpleCookie

RIVE_CDN = b"https://cdn.jsdelivr.net/npm/@rive-app/flutter-native-wasm@44.0.0/"
_LOCAL = b"/_offline/rive-app/flutter-native-wasm@44.0.0/"
# The "./" segments vanish when the browser resolves the URL; they keep the length.
RIVE_LOCAL = _LOCAL + b"./" * ((len(RIVE_CDN) - len(_LOCAL)) // 2)
assert len(RIVE_LOCAL) == len(RIVE_CDN)
RIVE_STUBS = {(_LOCAL + b"wasm/rive_native.js").decode(), (_LOCAL + b"wasm_compatibility/rive_native.js").decode()}
RIVE_STUB = (b"// The Rive runtime is not served here: the app uses no Rive animation.\n"
             b"window.RiveNative = function () { return Promise.reject(new Error('Rive is not available')); };\n")
BIND_COOKIE = "gridbook_bind"
# Flutter asks for Noto Sans SC fallback slices here even when the page's font covers
# the text: each is answered with the characters the screens use (assets/fonts/make_fallback.py).
FALLBACK_PREFIX = "/assets/fonts/notosanssc/"
FONTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "fonts")
FALLBACK_FONT = os.path.join(FONTS, "ui-fallback.woff2")
# The scripts of China's minority names that the page's font lacks: Flutter asks for these
# fallbacks when a name holds them (Uyghur and Kazakh in Arabic script, Mongolian, Tibetan,
# Yi). Unanswered, offline, such a name showed as nothing at all on every screen.
SCRIPT_FALLBACKS = {f"/assets/fonts/{family}/": os.path.join(FONTS, name) for family, name in (
    ("notosansarabic", "NotoSansArabic-Regular.woff2"), ("notosansmongolian", "NotoSansMongolian-Regular.woff2"),
    ("notoseriftibetan", "NotoSerifTibetan-Regular.woff2"), ("notosansyi", "NotoSansYi-Regular.woff2"))}


def _patched_client(folder: str | None = None) -> dict[str, str]:
    """Copies of the client's two entry points with the CDN address replaced: url -> file.
    A flet-web build without exactly one such address fails here, loudly.

    The copies depend only on the flet-web build, so they are kept once per build, named
    by its files' hash, in a folder private to this user: every start reuses them. (A
    new folder per start left 17 MB behind each time, never removed: some 3,900 folders
    and 69 GB in a developer's /tmp after days of test runs.)"""
    import flet_web
    web = flet_web.get_package_web_dir()
    folder = folder or client_cache()
    out = {}
    for name in ("main.dart.js", "main.dart.wasm"):
        with open(os.path.join(web, name), "rb") as f:
            data = f.read()
        if data.count(RIVE_CDN) != 1:
            raise RuntimeError(f"flet-web {name}: expected the Rive CDN address once, found {data.count(RIVE_CDN)}")
        path = os.path.join(folder, f"{hashlib.sha256(data).hexdigest()[:16]}-{name}")
        patched = data.replace(RIVE_CDN, RIVE_LOCAL)
        if not _holds(path, patched):
            # several servers may start at once (the tests): none serves a half-written copy
            write_atomic(path, patched)
        out["/" + name] = path
    return out


def _holds(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def client_cache() -> str:
    """`<temp>/gridbook-web-<uid>`, made private to this user; refused (and a folder of
    this process's own used instead, removed at exit) if someone else made it or can
    write to it: the browser runs what is served from it."""
    import atexit
    import shutil
    import stat
    uid = os.getuid()
    folder = os.path.join(tempfile.gettempdir(), f"gridbook-web-{uid}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    st = os.lstat(folder)
    if stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077:
        sweep_left_behind(os.path.dirname(folder), uid)
        return folder
    own = tempfile.mkdtemp(prefix="gridbook-web-")
    atexit.register(shutil.rmtree, own, True)
    return own


# What the versions before the cache left, one folder per start: tempfile.mkdtemp's
# eight characters after the prefix.
_LEFT_BEHIND = re.compile(r"gridbook-web-[a-z0-9_]{8}")
LEFT_BEHIND_DAYS = 7


def sweep_left_behind(parent: str, uid: int) -> int:
    """Remove the folders earlier versions made at each start and never removed (17 MB
    each): this user's own, none of whose files was written or read for LEFT_BEHIND_DAYS
    (a server of an older version still running serves its client from one, and each
    page load reads it: Linux's relatime keeps that within a day). Returns how many."""
    import shutil
    import time
    cutoff, gone = time.time() - LEFT_BEHIND_DAYS * 86_400, 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            if not _LEFT_BEHIND.fullmatch(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                files = [f.stat(follow_symlinks=False) for f in os.scandir(entry.path)]
                used = max([st.st_mtime] + [t for f in files for t in (f.st_mtime, f.st_atime)])
                if st.st_uid == uid and used < cutoff:
                    shutil.rmtree(entry.path)
                    gone += 1
    return gone


def _font_manifest(fonts: dict[str, str]) -> bytes:
    """Flutter's font manifest with the app's own fonts added: the engine loads those
    before its first frame, so Chinese is never drawn before its font has arrived (text
    drawn early came out as boxes, or as the wrong glyph, and sent the engine asking for
    fallback font files the server does not have)."""
    import json

    import flet_web
    with open(os.path.join(flet_web.get_package_web_dir(), "assets", "FontManifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    # asset paths are relative to /assets/; the app's own assets are served at /
    manifest += [{"family": family, "fonts": [{"asset": f"../{path}"}]} for family, path in fonts.items()]
    return json.dumps(manifest).encode()


class OfflineRive:
    def __init__(self, app, fonts: dict[str, str] | None = None):
        self.app = app
        self.files = _patched_client()
        self.manifest = _font_manifest(fonts) if fonts else None
        import flet_web
        self.roboto = os.path.join(flet_web.get_package_web_dir(), "assets", "fonts", "roboto.woff2")

    def _font(self, path: str) -> str | None:
        """The file answering a fallback font the engine asks for, offline, or None."""
        if path.startswith(FALLBACK_PREFIX):
            return FALLBACK_FONT
        if "/fonts/roboto/" in path:   # the engine's Latin fallback
            return self.roboto
        return next((f for prefix, f in SCRIPT_FALLBACKS.items() if path.startswith(prefix)), None)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            from starlette.responses import FileResponse, Response
            path = scope["path"]
            if path in self.files:
                media = "application/wasm" if path.endswith(".wasm") else "text/javascript"
                return await FileResponse(self.files[path], media_type=media)(scope, receive, send)
            if path in RIVE_STUBS:
                return await Response(RIVE_STUB, media_type="text/javascript")(scope, receive, send)
            if path == "/assets/FontManifest.json" and self.manifest is not None:
                return await Response(self.manifest, media_type="application/json")(scope, receive, send)
            font = self._font(path) if path.endswith(".woff2") else None
            if font is not None:
                return await FileResponse(font, media_type="font/woff2",
                                          headers={"Cache-Control": "max-age=86400"})(scope, receive, send)
        await self.app(scope, receive, send)


def _cookie(scope) -> str | None:
    for k, v in scope.get("headers", []):
        if k == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(v.decode("latin-1"))
            except CookieError:
                return None
            if BIND_COOKIE in jar:
                return jar[BIND_COOKIE].value
    return None


class SessionBinding:
    """See the module's docstring. A websocket without the cookie gets a binding of its
    own that nobody else has: it can start a session, never resume one."""

    def __init__(self, app, ws_path: str = "/ws", secure: bool = False):
        self.app, self.ws_path, self.secure = app, ws_path, secure

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and scope["path"] == self.ws_path:
            tag = hashlib.sha256((_cookie(scope) or secrets.token_urlsafe(32)).encode()).hexdigest()[:24]
            headers = [(k, v) for k, v in scope["headers"] if k != b"user-agent"]
            agent = next((v for k, v in scope["headers"] if k == b"user-agent"), b"")
            headers.append((b"user-agent", agent + b" gridbook-bind/" + tag.encode()))
            return await self.app(dict(scope, headers=headers), receive, send)
        if scope["type"] != "http" or _cookie(scope):
            return await self.app(scope, receive, send)

        async def with_cookie(msg):
            if msg["type"] == "http.response.start" and dict(msg.get("headers", [])).get(
                    b"content-type", b"").startswith(b"text/html"):
                value = (f"{BIND_COOKIE}={secrets.token_urlsafe(32)}; Path=/; HttpOnly; SameSite=Strict"
                         + ("; Secure" if self.secure else ""))
                msg["headers"] = [*msg.get("headers", []), (b"set-cookie", value.encode())]
            await send(msg)

        await self.app(scope, receive, with_cookie)


@contextlib.asynccontextmanager
async def flet_lifespan():
    """Flet's session manager: it expires sessions whose browser went away
    (FLET_SESSION_TIMEOUT seconds later), which closes their pages."""
    from flet_web.fastapi import app_manager
    await app_manager.start()
    try:
        yield
    finally:
        await app_manager.shutdown()


# FastAPI's interactive pages, which Flet's own app serves: they load from a CDN.
CDN_PAGES = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


def _strip_cdn_pages(app) -> None:
    """Flet nests one FastAPI app in another: each has the pages, remove them all."""
    router = getattr(app, "router", None)
    if router is None:
        return
    router.routes = [r for r in router.routes if getattr(r, "path", None) not in CDN_PAGES]
    for r in router.routes:
        if getattr(r, "app", None) is not None and r.app is not app:
            _strip_cdn_pages(r.app)


from sync.files import write_atomic  # noqa: E402
from sync.tiles import LOCAL_PREFIX as LOCAL_TILES  # noqa: E402 (pure Python, no server imports)


class LocalTiles:
    """The phone app run in a browser: its map draws the base map the phone downloaded
    (sync/tiles.py) from /_tiles/{z}/{x}/{y}.png on the app's own address, so it needs
    no network but the page's own. (A packaged phone serves the same file on 127.0.0.1:
    sync.tiles.LocalTileServer.) The tiles are the township's base map, not personal
    data; the phone's records are never served here."""

    def __init__(self, app, store_path: str):
        self.app, self.store_path = app, store_path

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"].startswith(LOCAL_TILES):
            from starlette.concurrency import run_in_threadpool
            from starlette.responses import Response

            from sync.tiles import local_tile
            body, media = await run_in_threadpool(local_tile, self.store_path, scope["path"])
            answer = Response(body, media_type=media, status_code=200 if body else 404,
                              headers={"Cache-Control": "no-cache"} if body else None)
            return await answer(scope, receive, send)
        await self.app(scope, receive, send)


def served(flet_asgi, mounted: bool, fonts: dict[str, str] | None = None, tiles: str | None = None):
    """A Flet ASGI app made to load nothing from outside and to resume sessions only for
    their own browser, its `fonts` loaded before the first frame; `mounted` apps carry
    the lifespan their host must run. `tiles`: the phone's tile store, served to its map."""
    _strip_cdn_pages(flet_asgi)
    inner = OfflineRive(flet_asgi, fonts)
    app = SessionBinding(LocalTiles(inner, tiles) if tiles else inner)
    app.lifespans = [flet_lifespan] if mounted else []
    return app
