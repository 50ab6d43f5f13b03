"""A small base map made in the test: solid-colour PNG tiles with a darker edge (so a
screenshot shows a grid of them), over the demo township's area, as MBTiles (TMS rows,
as the format numbers them) or PMTiles v3."""

from __future__ import annotations

import io
import sqlite3

from sync import tiles as T

TILE_RGB = (222, 160, 70)          # an ochre no screen of the app uses
EDGE_RGB = (150, 95, 30)
# 金山镇 (sync/server/demo.py): its villages lie between these.
TOWNSHIP_BOX = (29.03, 119.58, 29.12, 119.72)   # south, west, north, east


def png(rgb=TILE_RGB, edge=EDGE_RGB) -> bytes:
    from PIL import Image, ImageDraw
    im = Image.new("RGB", (256, 256), rgb)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 255, 255], outline=edge, width=3)
    out = io.BytesIO()
    im.save(out, "PNG", optimize=True)
    return out.getvalue()


def township_tiles(zooms=range(12, 16), box=TOWNSHIP_BOX):
    """((z, x, y) in XYZ, data) covering box."""
    data = png()
    for z in zooms:
        x0, y0, x1, y1 = T.covering(box, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                yield (z, x, y), data


def make_mbtiles(path, zooms=range(12, 16), box=TOWNSHIP_BOX, fmt="png", tiles=None) -> int:
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    s, w, n, e = box
    conn.executemany("INSERT INTO metadata VALUES (?,?)",
                     [("name", "金山镇测试底图"), ("format", fmt), ("bounds", f"{w},{s},{e},{n}"),
                      ("minzoom", str(min(zooms))), ("maxzoom", str(max(zooms)))])
    rows = [(z, x, (1 << z) - 1 - y, d) for (z, x, y), d in (tiles or township_tiles(zooms, box))]
    conn.executemany("INSERT INTO tiles VALUES (?,?,?,?)", rows)
    conn.commit()
    conn.close()
    return len(rows)


def make_pmtiles(path, zooms=range(12, 14), box=TOWNSHIP_BOX) -> int:
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer
    s, w, n, e = box
    items = sorted((zxy_to_tileid(z, x, y), d) for (z, x, y), d in township_tiles(zooms, box))
    with open(path, "wb") as f:
        wr = Writer(f)
        for tid, d in items:
            wr.write_tile(tid, d)
        wr.finalize({"tile_type": TileType.PNG, "tile_compression": Compression.NONE,
                     "min_zoom": min(zooms), "max_zoom": max(zooms),
                     "min_lon_e7": int(w * 1e7), "min_lat_e7": int(s * 1e7),
                     "max_lon_e7": int(e * 1e7), "max_lat_e7": int(n * 1e7),
                     "center_zoom": min(zooms), "center_lon_e7": int((w + e) / 2 * 1e7),
                     "center_lat_e7": int((s + n) / 2 * 1e7)}, {"name": "测试底图"})
    return len(items)


def ochre_share(png_path, box=None) -> float:
    """The share of a screenshot's pixels (in box: left, top, right, bottom) that are the
    tiles' colour, within a little tolerance (scaling blends edges)."""
    from PIL import Image
    im = Image.open(png_path).convert("RGB")
    if box:
        im = im.crop(box)
    colours = im.getcolors(maxcolors=im.width * im.height) or []
    hit = sum(n for n, (r, g, b) in colours if abs(r - TILE_RGB[0]) < 12 and abs(g - TILE_RGB[1]) < 12
              and abs(b - TILE_RGB[2]) < 12)
    return hit / max(1, im.width * im.height)
