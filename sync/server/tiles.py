"""The township's base map on the server: `gridbook tiles import FILE` loads an MBTiles or
PMTiles extract; the tiles are served to the office and to signed-in phones.
(Issue 9; `add_routes` is called by app.py, `import_command` by the CLI.)

The tiles live in their own SQLite file beside the central store (`<db>.tiles.mbtiles`,
XYZ numbering, 0600: sync/tiles.py's TileStore), so a re-import replaces the file at
once (written aside, then renamed) and the store's backups are not inflated by a map
that can be imported again.

Who may have a tile: any live sign-in. A phone sends its token (Authorization: Bearer,
X-Gridbook-Device). An office tab cannot put a header on the images its map fetches, so
its map's URLs carry `key`: its session's device id and an HMAC of it under a secret
kept in the store. The key is worth nothing beyond tiles and dies with the sign-in
(sign-out, `gridbook user revoke`, `gridbook user disable`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading

from typing import Literal

from fastapi import Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from .. import tiles as T
from ..replica import existing
from . import api_models as m

TILE_TYPES = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp"}
KEY_SECRET = "tiles_key_secret"      # server_meta row
CACHE_S = 7 * 24 * 3600              # a browser keeps a tile a week (the ETag changes with each import)


def tiles_path(db_path: str) -> str:
    return f"{db_path}.tiles.mbtiles"


# --- import ---------------------------------------------------------------------------
class Unreadable(ValueError):
    """The file is not a raster MBTiles or PMTiles v3 extract: the message says why."""


def _mbtiles_rows(path: str):
    """((z, x, y) in XYZ, data) of an MBTiles file, and its metadata."""
    try:
        conn = sqlite3.connect(existing(path, "ro"), uri=True)
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')")}
    except sqlite3.DatabaseError as e:
        raise Unreadable(f"{os.path.basename(path)}: not an MBTiles file ({e})")
    if "tiles" not in names:
        raise Unreadable(f"{os.path.basename(path)}: an SQLite file without a 'tiles' table: not MBTiles")
    meta = {}
    if "metadata" in names:
        meta = {str(k): str(v) for k, v in conn.execute("SELECT name, value FROM metadata")}

    def rows():
        try:
            for z, x, tms_y, data in conn.execute(
                    "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
                # MBTiles numbers rows from the south (TMS); maps number them from the north
                yield (int(z), int(x), (1 << int(z)) - 1 - int(tms_y)), bytes(data or b"")
        except sqlite3.DatabaseError as e:
            raise Unreadable(f"{os.path.basename(path)}: its tiles table cannot be read ({e})")
        finally:
            conn.close()
    return rows(), meta


def _pmtiles_rows(path: str):
    """((z, x, y), data) of a PMTiles v3 file, and its metadata (bounds from the header)."""
    from pmtiles.reader import MmapSource, all_tiles
    from pmtiles.tile import Compression, deserialize_header
    f = open(path, "rb")
    try:
        get = MmapSource(f)
        header = deserialize_header(get(0, 127))
    except Exception as e:  # a truncated or foreign file: said plainly
        f.close()
        raise Unreadable(f"{os.path.basename(path)}: not a PMTiles v3 file ({type(e).__name__})")
    if header["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN):
        f.close()
        raise Unreadable(f"{os.path.basename(path)}: its tiles are compressed ({header['tile_compression'].name}):"
                         " vector tiles cannot be drawn by the map; give a raster extract (png, jpg or webp)")
    meta = {"bounds": ",".join(str(header[k] / 1e7) for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7"))}

    def rows():
        try:
            for (z, x, y), data in all_tiles(get):
                yield (z, x, y), bytes(data)
        finally:
            f.close()
    return rows(), meta


def import_file(src: str, db_path: str, crs: str | None = None, now_ms: int | None = None) -> dict:
    """Load an extract into the tile store beside the central store; returns what was
    loaded. Raises Unreadable when nothing can be drawn from it."""
    from .. import clock
    from .central import CentralStore
    try:
        with open(src, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise Unreadable(f"{src}: cannot be read ({e.strerror})")
    if head.startswith(b"SQLite format 3\0"):
        rows, meta, kind = *_mbtiles_rows(src), "mbtiles"
    elif head.startswith(b"PMTiles"):
        if head[7] != 3:
            raise Unreadable(f"{os.path.basename(src)}: PMTiles version {head[7]}: only version 3 is read"
                             " (convert it with 'pmtiles convert')")
        rows, meta, kind = *_pmtiles_rows(src), "pmtiles"
    else:
        raise Unreadable(f"{os.path.basename(src)}: neither MBTiles (SQLite) nor PMTiles")

    dest = tiles_path(db_path)
    part = dest + ".part"
    for p in (part, part + "-wal", part + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    out = T.TileStore(part)
    fmt, refused, batch, n = None, 0, [], 0
    zs, top = set(), {}
    try:
        for (z, x, y), data in rows:
            if not (0 <= z <= 24 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
                refused += 1
                continue
            got = T.sniff_format(data)
            if got is None or (fmt is not None and got != fmt):
                refused += 1   # a vector tile, a gzip, a different image format: not drawn
                continue
            fmt = fmt or got
            batch.append((z, x, y, data))
            n += 1
            zs.add(z)
            if z not in top:
                top[z] = [x, y, x, y]
            else:
                b = top[z]
                b[0], b[1], b[2], b[3] = min(b[0], x), min(b[1], y), max(b[2], x), max(b[3], y)
            if len(batch) >= 500:
                out.put_many(batch)
                batch = []
        if batch:
            out.put_many(batch)
        if not n:
            why = f"metadata says format {meta['format']}" if meta.get("format") else "no tile is an image"
            raise Unreadable(f"{os.path.basename(src)}: no raster tile (png, jpg or webp) to draw ({why},"
                             f" {refused} tile(s) refused)")
        bounds = _bounds(meta.get("bounds"))
        if bounds is None:  # from the tiles themselves, at the most detailed zoom
            z = max(zs)
            x0, y0, x1, y1 = top[z]
            s, w, _, _ = T.tile_bounds(z, x0, y1)
            _, _, nn, e = T.tile_bounds(z, x1, y0)
            bounds = (w, s, e, nn)
        store = CentralStore(db_path)
        try:
            if crs:
                store.set_setting("tiles_crs", crs)
            crs = store.settings()["tiles_crs"]
            info = {"tiles": n, "refused": refused, "format": fmt, "min_zoom": min(zs), "max_zoom": max(zs),
                    "bounds": [round(v, 6) for v in bounds], "crs": crs, "source": kind}
            out.set_meta(format=fmt, min_zoom=min(zs), max_zoom=max(zs), crs=crs,
                         bounds=",".join(f"{v:.6f}" for v in bounds),
                         name=meta.get("name", os.path.basename(src))[:200], source=kind,
                         imported_ms=now_ms or clock.wall_ms(), version=secrets.token_hex(6))
            out.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            out.close()
            os.replace(part, dest)   # the server's readers see the whole new map at once
            os.chmod(dest, 0o600)
            store.audit("system", "tiles_import", json.dumps({k: info[k] for k in ("tiles", "format", "min_zoom",
                                                                                   "max_zoom", "crs")}))
        finally:
            store.close()
    finally:
        try:
            out.close()
        except sqlite3.Error:
            pass
        for p in (part, part + "-wal", part + "-shm"):
            if os.path.exists(p):
                os.remove(p)
    return info


def _bounds(text: str | None):
    """MBTiles' "west,south,east,north", checked; None when absent or nonsense."""
    try:
        w, s, e, n = (float(v) for v in (text or "").split(","))
    except ValueError:
        return None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        return None
    return w, s, e, n


def import_command(args) -> int:
    """`gridbook tiles import FILE --db PATH [--crs wgs84|gcj02]`: one JSON line."""
    try:
        info = import_file(args.file, args.db, getattr(args, "crs", None))
    except Unreadable as e:
        raise ValueError(str(e))
    print(json.dumps(info))
    return 0


# --- reading the store while serving --------------------------------------------------
class Served:
    """The tile store as the server reads it: opened at first use and again whenever a
    new import has replaced the file."""

    def __init__(self, db_path: str):
        self.path = tiles_path(db_path)
        self._lock = threading.Lock()
        self._store: T.TileStore | None = None
        self._stamp = None
        self._info: dict | None = None

    def current(self) -> T.TileStore | None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                if self._store is not None:
                    self._store.close()
                self._store = T.TileStore.open_existing(self.path) if stamp else None
                self._info = None
                self._stamp = stamp
            return self._store

    def info(self) -> dict | None:
        st = self.current()
        if st is None:
            return None
        with self._lock:
            if self._info is None:
                self._info = {**T.store_info(st), "version": st.meta().get("version", "")}
            return self._info


def key_secret(store) -> bytes:
    """The secret office keys are made with (made at first use, kept in the store)."""
    with store.lock:
        value = store._meta(KEY_SECRET)
        if value is None:
            with store.transaction():
                value = store._meta(KEY_SECRET)
                if value is None:
                    value = secrets.token_hex(32)
                    store._set_meta(KEY_SECRET, value)
    return bytes.fromhex(value)


def office_key(store, device_id: str) -> str:
    """The `key` an office tab's map puts on its tile URLs (its session's device id)."""
    mac = hmac.new(key_secret(store), f"tiles:{device_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{device_id}.{mac}"


def key_is_live(store, key: str) -> bool:
    device, _, mac = key.rpartition(".")
    if not device or len(mac) != 32:
        return False
    want = hmac.new(key_secret(store), f"tiles:{device}".encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(want, mac):
        return False
    with store.lock:
        row = store.conn.execute(
            "SELECT 1 FROM devices d JOIN accounts a ON a.username = d.username WHERE d.device_id=?"
            " AND d.revoked_ms IS NULL AND a.active=1 LIMIT 1", (device,)).fetchone()
    return row is not None


def office_map(store, db_path: str, device_id: str) -> dict | None:
    """What the office's map needs to draw the base layer: the URL template (relative:
    the screens are served by this same process), its options, zooms, the coordinate
    system; None when the township has imported no map."""
    info = _shared(db_path).info()
    if info is None:
        return None
    return {"url_template": "/api/v1/tiles/{z}/{x}/{y}." + info["format"] + "?key={key}&v={v}",
            "options": {"key": office_key(store, device_id), "v": info["version"]},
            "min_zoom": info["min_zoom"], "max_zoom": info["max_zoom"], "crs": store.settings()["tiles_crs"],
            "bounds": info["bounds"]}


_SHARED: dict[str, Served] = {}
_SHARED_LOCK = threading.Lock()


def _shared(db_path: str) -> Served:
    with _SHARED_LOCK:
        s = _SHARED.get(db_path)
        if s is None:
            s = _SHARED[db_path] = Served(db_path)
        return s



# --- what a phone would download ------------------------------------------------------
def area_points(store, p) -> list[tuple[float, float]]:
    """Positions that the phone's map must cover: its grids' households and centres (a
    grid worker's grids; anyone else's map covers the township)."""
    with store.lock:
        if p.role == "grid_worker":
            grids = sorted(p.grids)
            if not grids:
                return []
            marks = ",".join("?" * len(grids))
            pts = store.conn.execute(f"SELECT lat, lon FROM households WHERE grid_id IN ({marks})"
                                     " AND lat IS NOT NULL AND lon IS NOT NULL", grids).fetchall()
            pts += store.conn.execute(f"SELECT lat, lon FROM grids WHERE id IN ({marks})"
                                      " AND lat IS NOT NULL AND lon IS NOT NULL", grids).fetchall()
        else:
            pts = store.conn.execute("SELECT lat, lon FROM households WHERE lat IS NOT NULL AND lon IS NOT NULL"
                                     " UNION ALL SELECT lat, lon FROM grids WHERE lat IS NOT NULL"
                                     " AND lon IS NOT NULL").fetchall()
    return [(float(a), float(b)) for a, b in pts
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and -90 <= a <= 90 and -180 <= b <= 180]


def phone_area(store, served: Served, p) -> dict:
    """The metadata answer: the map's extent and, for this account, what the tiles
    covering its grids weigh at the township's zoom range."""
    info = served.info()
    if info is None:
        return {"available": False, "message": "the township has not imported a base map yet"
                " (gridbook tiles import FILE)"}
    settings = store.settings()
    lo = max(int(settings["tiles_min_zoom"]), info["min_zoom"])
    hi = min(int(settings["tiles_max_zoom"]), info["max_zoom"])
    out = {"available": True, "format": info["format"], "crs": settings["tiles_crs"], "min_zoom": info["min_zoom"],
           "max_zoom": info["max_zoom"], "bounds": info["bounds"], "tiles": info["tiles"], "area": None,
           "message": ""}
    pts = area_points(store, p)
    if settings["tiles_crs"] == "gcj02":
        from ..gcj02 import wgs84_to_gcj02
        pts = [wgs84_to_gcj02(a, b) for a, b in pts]   # the tiles are numbered in their own system
    box = T.padded_box(pts)
    if box is None:
        out["message"] = "no household or grid of this account has a position"
        return out
    if lo > hi:
        out["message"] = (f"the map holds zooms {info['min_zoom']}-{info['max_zoom']}, outside the township's"
                          f" tiles_min_zoom-tiles_max_zoom ({settings['tiles_min_zoom']}-{settings['tiles_max_zoom']})")
        return out
    zooms = range(lo, hi + 1)
    if T.count_tiles(box, zooms) > T.MAX_PHONE_TILES:
        out["message"] = f"more than {T.MAX_PHONE_TILES} tiles: lower tiles_max_zoom"
        return out
    st = served.current()
    n, size = st.size_in(box, zooms) if st is not None else (0, 0)
    out["area"] = {"box": [round(v, 6) for v in box], "min_zoom": lo, "max_zoom": hi, "tiles": n, "bytes": size}
    return out


# --- the routes -----------------------------------------------------------------------
class Area(BaseModel):
    box: list[float]       # south, west, north, east (padded round the grids' positions)
    min_zoom: int
    max_zoom: int
    tiles: int
    bytes: int


class TileMeta(BaseModel):
    available: bool
    message: str = ""
    format: str | None = None
    crs: str | None = None
    min_zoom: int | None = None
    max_zoom: int | None = None
    bounds: list[float] | None = None    # west, south, east, north (MBTiles' order)
    tiles: int | None = None
    area: Area | None = None


def add_routes(app, deps) -> None:
    """The tile routes; `deps` has store, protocol, principal, ApiError, client_address."""
    store, ApiError = deps.store, deps.error
    served = _shared(store.path)

    def signed_in(authorization: str | None = Header(default=None, max_length=200),
                  x_gridbook_device: str | None = Header(default=None, max_length=64),
                  key: str | None = Query(default=None, max_length=120, pattern=r"^[A-Za-z0-9_.\-]+$",
                                          description="an office tab's tile key (its map cannot send headers)")):
        token = (authorization or "").removeprefix("Bearer ").strip()
        if token and x_gridbook_device:
            p = store.authenticate(token, x_gridbook_device)
            if p is not None:
                return p
        elif key and key_is_live(store, key):
            return "office"
        raise ApiError(401, "unauthorized", "sign in again: the map's tiles are for signed-in accounts")

    tile_media = {"image/png", "image/jpeg", "image/webp"}

    @app.get("/api/v1/tiles/meta", response_model=TileMeta, tags=["map"],
             responses=m.errors(401, 403, 422))
    def tiles_meta(p=Depends(signed_in)):
        """The township's base map: its extent, zooms and coordinate system, and for a
        phone what the tiles covering its grids weigh (tiles and bytes) at the township's
        zoom range (settings tiles_min_zoom, tiles_max_zoom)."""
        if p == "office":
            raise ApiError(403, "forbidden", "the download plan is for phones: sign in with a phone")
        return phone_area(store, served, p)

    @app.get("/api/v1/tiles/{z}/{x}/{y}.{ext}", tags=["map"], response_class=Response,
             responses={200: {"description": "the tile", "content": {t: {"schema": {"type": "string",
                                                                                  "format": "binary"}}
                                                                    for t in sorted(tile_media)}},
                        304: {"description": "the tile has not changed since the copy the caller holds"},
                        **m.errors(401, 404, 422)})
    async def tile(request: Request, z: int = Path(ge=0, le=24), x: int = Path(ge=0, le=(1 << 24) - 1),
                   y: int = Path(ge=0, le=(1 << 24) - 1), ext: Literal["png", "jpg", "webp"] = Path(),
                   v: str | None = Query(default=None, max_length=40, description="the map's version (cache key)"),
                   _=Depends(signed_in)):
        if x >= (1 << z) or y >= (1 << z):
            raise ApiError(404, "not_found", f"no tile {z}/{x}/{y}: x and y must be below 2^z")
        st = await run_in_threadpool(served.current)
        info = served.info() if st is not None else None
        if st is None or info is None:
            raise ApiError(404, "not_found", "the township has not imported a base map yet")
        etag = f'"{info["version"]}-{z}-{x}-{y}"'
        caching = {"Cache-Control": f"private, max-age={CACHE_S}", "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=caching)
        data = await run_in_threadpool(st.get, z, x, y)
        if data is None:
            raise ApiError(404, "not_found", f"the map has no tile {z}/{x}/{y}")
        return Response(data, media_type=T.FORMATS[info["format"]], headers=caching)
