"""The township's base map as tiles: the store both sides keep them in, the arithmetic
of which tiles cover an area, and the phone's download of the tiles covering its grids.

- `TileStore`: one SQLite file of raster tiles in XYZ numbering (the server's beside
  its central store, the phone's in its data folder), with a little metadata (format,
  bounds, zoom range, coordinate system). Created 0600.
- `covering`/`count_tiles`: the tiles of a (south, west, north, east) box at each zoom
  (Web Mercator, as every raster tile source numbers them).
- `plan`/`download`: the phone asks the server what covering its grids would cost
  (tiles and bytes, shown before anything is fetched), then fetches the tiles it does
  not hold yet, committing as it goes: a download cut off continues where it stopped.
- `LocalTileServer`: on a packaged phone the map (flutter_map's network tile provider,
  the only one flet-map 1.0.5 exposes) draws tiles from a URL, so the phone serves its
  own file on 127.0.0.1; in the browser-run app fieldapp/webserve.py serves the same
  file from the app's own address instead.

Pure Python (sqlite3, http.server): no server imports.
"""

from __future__ import annotations

import math
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from typing import Callable

from .files import private_dir
from .replica import private_file

TILES_FILE = "tiles.mbtiles"         # in the phone's data folder
LOCAL_PREFIX = "/_tiles/"            # the browser-run app's route to them (fieldapp/webserve.py)
FORMATS = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
MAX_LAT = 85.0511287798              # Web Mercator's edge
PAD_M = 500.0                        # room around a grid's households on the phone's map
MAX_PHONE_TILES = 20_000             # a township's grids at z17 are a few thousand: more is a mistake


# --- the arithmetic -------------------------------------------------------------------
def tile_xy(lat: float, lon: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a WGS-84 (or, for GCJ-02 tiles, GCJ-02) position at zoom z."""
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a tile."""
    n = 1 << z

    def lat(yy):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))
    return lat(y + 1), x / n * 360.0 - 180.0, lat(y), (x + 1) / n * 360.0 - 180.0


def covering(box: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), inclusive, of the tiles covering box (south, west, north, east)."""
    s, w, n, e = box
    x0, y0 = tile_xy(n, w, z)
    x1, y1 = tile_xy(s, e, z)
    return x0, y0, x1, y1


def count_tiles(box, zooms: range) -> int:
    total = 0
    for z in zooms:
        x0, y0, x1, y1 = covering(box, z)
        total += (x1 - x0 + 1) * (y1 - y0 + 1)
    return total


def padded_box(points: list[tuple[float, float]], pad_m: float = PAD_M):
    """The (south, west, north, east) box of the points with pad_m all round; None for none."""
    pts = [(la, lo) for la, lo in points if la is not None and lo is not None]
    if not pts:
        return None
    s, n = min(p[0] for p in pts), max(p[0] for p in pts)
    w, e = min(p[1] for p in pts), max(p[1] for p in pts)
    dlat = pad_m / 111_320.0
    dlon = pad_m / (111_320.0 * max(0.05, math.cos(math.radians((s + n) / 2))))
    return (max(-MAX_LAT, s - dlat), max(-180.0, w - dlon), min(MAX_LAT, n + dlat), min(180.0, e + dlon))


def sniff_format(data: bytes) -> str | None:
    """png, jpg or webp from a tile's first bytes; None for anything else (vector tiles,
    gzip, junk)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# --- the store ------------------------------------------------------------------------
class TileStore:
    """Tiles by (z, x, y) in XYZ numbering. A tile fetched and found missing at the
    source is kept as a row with no data, so a resumed download does not ask again."""

    def __init__(self, path: str, readonly: bool = False):
        self.path = path
        if readonly:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            private_dir(os.path.dirname(os.path.abspath(path)))
            private_file(path)
            self.conn = sqlite3.connect(path, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("CREATE TABLE IF NOT EXISTS tiles (z INTEGER NOT NULL, x INTEGER NOT NULL,"
                              " y INTEGER NOT NULL, data BLOB, PRIMARY KEY (z, x, y)) WITHOUT ROWID")
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.conn.commit()
        self.lock = threading.Lock()

    @classmethod
    def open_existing(cls, path: str) -> "TileStore | None":
        """The store if its file exists and holds tiles, else None (never creates it)."""
        if not os.path.exists(path):
            return None
        try:
            st = cls(path, readonly=True)
            if st.count() == 0:
                st.close()
                return None
            return st
        except sqlite3.Error:
            return None

    def close(self) -> None:
        self.conn.close()

    def get(self, z: int, x: int, y: int) -> bytes | None:
        with self.lock:
            row = self.conn.execute("SELECT data FROM tiles WHERE z=? AND x=? AND y=?", (z, x, y)).fetchone()
        return row[0] if row and row[0] is not None else None

    def held(self, z: int, x0: int, y0: int, x1: int, y1: int) -> set[tuple[int, int]]:
        """(x, y) of the tiles at z in the range already asked for (found or not)."""
        with self.lock:
            return {(x, y) for x, y in self.conn.execute(
                "SELECT x, y FROM tiles WHERE z=? AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?",
                (z, x0, x1, y0, y1))}

    def put_many(self, rows: list[tuple[int, int, int, bytes | None]]) -> None:
        with self.lock:
            self.conn.executemany("INSERT OR REPLACE INTO tiles VALUES (?,?,?,?)", rows)
            self.conn.commit()

    def count(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT count(*) FROM tiles WHERE data IS NOT NULL").fetchone()[0]

    def size_in(self, box, zooms: range) -> tuple[int, int]:
        """(tiles, bytes) held in box over the zooms."""
        tiles = size = 0
        with self.lock:
            for z in zooms:
                x0, y0, x1, y1 = covering(box, z)
                n, b = self.conn.execute(
                    "SELECT count(*), coalesce(sum(length(data)), 0) FROM tiles WHERE z=? AND x BETWEEN ? AND ?"
                    " AND y BETWEEN ? AND ? AND data IS NOT NULL", (z, x0, x1, y0, y1)).fetchone()
                tiles, size = tiles + n, size + b
        return tiles, size

    def meta(self) -> dict:
        with self.lock:
            return dict(self.conn.execute("SELECT key, value FROM meta"))

    def set_meta(self, **values) -> None:
        with self.lock:
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?,?)",
                                  [(k, None if v is None else str(v)) for k, v in values.items()])
            self.conn.commit()

    def zoom_range(self) -> tuple[int, int] | None:
        with self.lock:
            lo, hi = self.conn.execute("SELECT min(z), max(z) FROM tiles WHERE data IS NOT NULL").fetchone()
        return None if lo is None else (lo, hi)


def store_info(store: TileStore) -> dict:
    """What a map needs to draw a store: format, zoom range, bounds (west, south, east,
    north, MBTiles' order), coordinate system."""
    m = store.meta()
    zr = store.zoom_range() or (0, 0)
    bounds = None
    if m.get("bounds"):
        try:
            bounds = [float(v) for v in m["bounds"].split(",")]
        except ValueError:
            bounds = None
    return {"format": m.get("format", "png"), "min_zoom": zr[0], "max_zoom": zr[1], "bounds": bounds,
            "crs": m.get("crs", "wgs84"), "tiles": store.count()}


# --- the phone's download -------------------------------------------------------------
@dataclass
class Plan:
    """What covering the phone's grids would take (from GET /api/v1/tiles/meta)."""
    box: tuple[float, float, float, float]   # south, west, north, east
    min_zoom: int
    max_zoom: int
    tiles: int          # tiles the server holds in the box at those zooms
    bytes: int          # their total size
    format: str
    crs: str
    have: int = 0       # of them, already on this phone

    @property
    def zooms(self) -> range:
        return range(self.min_zoom, self.max_zoom + 1)


class NoMap(Exception):
    """The township has not imported a base map, or the phone's grids have no positions."""


def link_allows(kinds: list[str], wifi_only: bool) -> bool:
    """Whether the download may go over the present link: with "Wi-Fi only", only Wi-Fi
    or a cable; otherwise any link that is up. `kinds` are flet's ConnectivityType
    values ("wifi", "mobile", "ethernet", "none", ...)."""
    up = [k for k in kinds if k != "none"]
    if not up:
        return False
    if not wifi_only:
        return True
    return any(k in ("wifi", "ethernet") for k in up)


def plan(client, store: TileStore | None = None) -> Plan:
    """Ask the server what the tiles covering this account's grids weigh. Raises NoMap,
    or the client's SyncError (offline, signed out)."""
    r = client._request("GET", "/api/v1/tiles/meta")
    info = r.json()
    if not info.get("available") or not info.get("area"):
        raise NoMap(info.get("message") or "no base map")
    a = info["area"]
    p = Plan(box=tuple(a["box"]), min_zoom=a["min_zoom"], max_zoom=a["max_zoom"], tiles=a["tiles"],
             bytes=a["bytes"], format=info["format"], crs=info["crs"])
    if store is not None:
        p.have = store.size_in(p.box, p.zooms)[0]
    return p


def download(client, store: TileStore, p: Plan, *, progress: Callable[[int, int], None] | None = None,
             should_stop: Callable[[], bool] = lambda: False, batch: int = 64) -> dict:
    """Fetch the tiles of the plan that this phone does not hold yet, committing every
    `batch` tiles (a cut-off download resumes where it stopped). Returns
    {"fetched": n, "skipped": n, "missing": n, "stopped": bool}."""
    s, w, n, e = p.box
    store.set_meta(format=p.format, crs=p.crs, bounds=",".join(f"{v:.6f}" for v in (w, s, e, n)),
                   min_zoom=p.min_zoom, max_zoom=p.max_zoom)
    total = count_tiles(p.box, p.zooms)
    done = fetched = skipped = missing = 0
    pending: list = []
    stopped = False
    for z in p.zooms:
        x0, y0, x1, y1 = covering(p.box, z)
        held = store.held(z, x0, y0, x1, y1)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                done += 1
                if (x, y) in held:
                    skipped += 1
                    continue
                if should_stop():
                    stopped = True
                    break
                r = client._request("GET", f"/api/v1/tiles/{z}/{x}/{y}.{p.format}", ok=(200, 404))
                if r.status_code == 404:
                    pending.append((z, x, y, None))
                    missing += 1
                else:
                    pending.append((z, x, y, r.content))
                    fetched += 1
                if len(pending) >= batch:
                    store.put_many(pending)
                    pending = []
                if progress:
                    progress(done, total)
            if stopped:
                break
        if stopped:
            break
    if pending:
        store.put_many(pending)
    if progress:
        progress(done, total)
    return {"fetched": fetched, "skipped": skipped, "missing": missing, "stopped": stopped}


# --- serving the phone's own tiles to its map -------------------------------------------
def tile_path(path: str) -> tuple[int, int, int] | None:
    """(z, x, y) from ".../{z}/{x}/{y}.{ext}"; None when it is not one."""
    parts = path.rsplit("/", 3)
    if len(parts) != 4:
        return None
    y = parts[3].split(".", 1)[0]
    try:
        z, x, y = int(parts[1]), int(parts[2]), int(y)
    except ValueError:
        return None
    if not (0 <= z <= 24 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        return None
    return z, x, y


class LocalTileServer:
    """The phone's tiles over HTTP on 127.0.0.1, for the map of a packaged app. The
    address carries a random prefix, so another app on the phone cannot guess it."""

    def __init__(self, path: str):
        import http.server
        self.path = path
        self.prefix = "/" + secrets.token_urlsafe(12)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body, media = outer.answer(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=86400")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # no logging of what the map asks for
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True, name="local-tiles").start()

    @property
    def url_template(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{self.prefix}/{{z}}/{{x}}/{{y}}.png"

    def answer(self, path: str) -> tuple[bytes, str]:
        if not path.startswith(self.prefix + "/"):
            return b"", "text/plain"
        return local_tile(self.path, path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


_OPEN: dict[str, TileStore] = {}
_OPEN_LOCK = threading.Lock()


def local_tile(store_path: str, path: str) -> tuple[bytes, str]:
    """(bytes, media type) of the tile a URL path names, from the phone's store; (b"", …)
    when there is none. The store is opened once and kept (the map asks for dozens)."""
    zxy = tile_path(path)
    if zxy is None:
        return b"", "text/plain"
    with _OPEN_LOCK:
        st = _OPEN.get(store_path)
        if st is None:
            st = TileStore.open_existing(store_path)
            if st is None:
                return b"", "text/plain"
            _OPEN[store_path] = st
    data = st.get(*zxy)
    if data is None:
        return b"", "text/plain"
    return data, FORMATS.get(sniff_format(data) or "png", "image/png")


_SERVERS: dict[str, LocalTileServer] = {}


def local_server(store_path: str) -> LocalTileServer:
    """One local tile server per store, started at first use."""
    with _OPEN_LOCK:
        srv = _SERVERS.get(store_path)
        if srv is None:
            srv = _SERVERS[store_path] = LocalTileServer(store_path)
        return srv


def phone_tiles(data_dir: str) -> dict | None:
    """What the phone's map needs of the tiles it downloaded (store_info, and the file's
    path), or None when it has none."""
    path = os.path.join(data_dir, TILES_FILE)
    st = TileStore.open_existing(path)
    if st is None:
        return None
    try:
        return {**store_info(st), "path": path}
    finally:
        st.close()


def human_size(n: int) -> str:
    """Bytes as a person reads them on the download's confirm: 0.4 MB, 12 MB, 1.2 GB."""
    if n < 100_000:
        return f"{max(n, 0) / 1000:.0f} KB" if n >= 1000 else f"{n} B"
    if n < 1_000_000_000:
        mb = n / 1_000_000
        return f"{mb:.1f} MB" if mb < 10 else f"{mb:.0f} MB"
    return f"{n / 1_000_000_000:.1f} GB"


def origin_of(page_url: str | None) -> str:
    """scheme://host:port of the page a browser shows, for absolute tile URLs (flutter's
    image loader does not resolve a relative one against the page). Flet gives the
    page's websocket address: ws/wss become http/https. "" when unknown."""
    from urllib.parse import urlsplit
    parts = urlsplit(page_url or "")
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{scheme}://{parts.netloc}"
