"""The base map's tiles: the arithmetic, the import of MBTiles (TMS rows flipped) and
PMTiles v3 into the store beside the central store, what is refused, and the phone's
own tile store and local server."""

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sync import tiles as T
from sync.server import tiles as ST
from sync.server.central import CentralStore
from tiles_fixture import TOWNSHIP_BOX, make_mbtiles, make_pmtiles, png

REPO = Path(__file__).resolve().parents[1]


def test_tile_numbers_match_the_slippy_map_formula():
    # Berlin at z 13: x = floor((13.405 + 180) / 360 * 2^13) = 4401, y from the Mercator row
    assert T.tile_xy(52.52, 13.405, 13) == (4401, 2686)
    assert T.tile_xy(85.0, -180.0, 3) == (0, 0) and T.tile_xy(-85.0, 179.99, 3) == (7, 7)
    assert T.tile_xy(0.0, 0.0, 1) == (1, 1)
    s, w, n, e = T.tile_bounds(13, 4401, 2686)
    assert s < 52.52 < n and w < 13.405 < e


def test_covering_a_box_and_counting():
    x0, y0, x1, y1 = T.covering(TOWNSHIP_BOX, 14)
    assert x0 <= x1 and y0 <= y1
    assert T.count_tiles(TOWNSHIP_BOX, range(14, 15)) == (x1 - x0 + 1) * (y1 - y0 + 1)
    assert T.count_tiles(TOWNSHIP_BOX, range(12, 16)) > T.count_tiles(TOWNSHIP_BOX, range(12, 15))


def test_padded_box_adds_room_all_round():
    s, w, n, e = T.padded_box([(29.07, 119.64), (29.08, 119.65)], pad_m=500)
    assert s == pytest.approx(29.07 - 500 / 111_320)
    assert n == pytest.approx(29.08 + 500 / 111_320)
    assert w < 119.64 - 0.004 and e > 119.65 + 0.004
    assert T.padded_box([]) is None


def test_link_allows():
    assert T.link_allows(["wifi"], True)
    assert T.link_allows(["ethernet"], True)
    assert not T.link_allows(["mobile"], True)
    assert T.link_allows(["mobile"], False)
    assert not T.link_allows(["none"], False)
    assert not T.link_allows([], False)


def test_mbtiles_import_flips_rows_and_records_what_it_holds(tmp_path):
    db = str(tmp_path / "township.db")
    CentralStore(db).close()
    src = tmp_path / "base.mbtiles"
    # one odd tile, to tell the rows apart: XYZ (14, x0, y0), the north-west corner
    x0, y0, _, _ = T.covering(TOWNSHIP_BOX, 14)
    odd = png((10, 200, 30))
    tiles = [((14, x0, y0), odd), ((14, x0, y0 + 1), png())]
    make_mbtiles(src, zooms=range(14, 15), tiles=tiles)
    info = ST.import_file(str(src), db)
    assert info["tiles"] == 2 and info["format"] == "png" and info["min_zoom"] == info["max_zoom"] == 14
    assert info["bounds"] == [119.58, 29.03, 119.72, 29.12] and info["crs"] == "wgs84"
    path = ST.tiles_path(db)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    st = T.TileStore(path)
    assert st.get(14, x0, y0) == odd          # the north-west tile is where a map asks for it
    assert st.get(14, x0, y0 + 1) == png()
    assert T.store_info(st)["bounds"] == [119.58, 29.03, 119.72, 29.12]


def test_reimport_replaces_the_map_and_sets_the_crs(tmp_path):
    db = str(tmp_path / "township.db")
    CentralStore(db).close()
    make_mbtiles(tmp_path / "a.mbtiles", zooms=range(12, 14))
    first = ST.import_file(str(tmp_path / "a.mbtiles"), db)
    make_mbtiles(tmp_path / "b.mbtiles", zooms=range(13, 14))
    second = ST.import_file(str(tmp_path / "b.mbtiles"), db, crs="gcj02")
    assert second["min_zoom"] == 13 and second["tiles"] < first["tiles"] and second["crs"] == "gcj02"
    st = CentralStore(db)
    assert st.settings()["tiles_crs"] == "gcj02"
    assert any(r[0] == "tiles_import" for r in st.conn.execute("SELECT action FROM audit"))
    assert T.TileStore(ST.tiles_path(db)).zoom_range() == (13, 13)


def test_pmtiles_v3_import(tmp_path):
    db = str(tmp_path / "township.db")
    CentralStore(db).close()
    n = make_pmtiles(tmp_path / "base.pmtiles", zooms=range(12, 14))
    info = ST.import_file(str(tmp_path / "base.pmtiles"), db)
    assert info["tiles"] == n and info["source"] == "pmtiles" and info["format"] == "png"
    x0, y0, _, _ = T.covering(TOWNSHIP_BOX, 13)
    assert T.TileStore(ST.tiles_path(db)).get(13, x0, y0) == png()


def test_vector_tiles_and_junk_are_refused_and_the_old_map_stays(tmp_path):
    db = str(tmp_path / "township.db")
    CentralStore(db).close()
    make_mbtiles(tmp_path / "good.mbtiles", zooms=range(12, 13))
    ST.import_file(str(tmp_path / "good.mbtiles"), db)
    import gzip
    make_mbtiles(tmp_path / "vector.mbtiles", zooms=range(12, 13), fmt="pbf",
                 tiles=[((12, 3400, 1700), gzip.compress(b"\x1a\x00vector"))])
    with pytest.raises(ST.Unreadable, match="no raster tile.*pbf"):
        ST.import_file(str(tmp_path / "vector.mbtiles"), db)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ST.Unreadable, match="neither MBTiles"):
        ST.import_file(str(tmp_path / "notes.txt"), db)
    with pytest.raises(ST.Unreadable, match="cannot be read"):
        ST.import_file(str(tmp_path / "missing.mbtiles"), db)
    sqlite3.connect(str(tmp_path / "other.db")).execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(ST.Unreadable, match="without a 'tiles' table"):
        ST.import_file(str(tmp_path / "other.db"), db)
    assert T.TileStore(ST.tiles_path(db)).count() > 0          # the imported map is untouched
    assert not os.path.exists(ST.tiles_path(db) + ".part")


def test_the_command_prints_one_json_line_and_fails_plainly(tmp_path):
    db = str(tmp_path / "township.db")
    make_mbtiles(tmp_path / "base.mbtiles", zooms=range(12, 14))
    r = subprocess.run([sys.executable, "-m", "township", "tiles", "import", str(tmp_path / "base.mbtiles"),
                        "--db", db, "--crs", "gcj02"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["crs"] == "gcj02" and out["min_zoom"] == 12 and out["max_zoom"] == 13
    (tmp_path / "junk.mbtiles").write_bytes(b"not a map")
    r = subprocess.run([sys.executable, "-m", "township", "tiles", "import", str(tmp_path / "junk.mbtiles"),
                        "--db", db], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "neither MBTiles (SQLite) nor PMTiles" in r.stderr


def test_office_key_dies_with_the_sign_in(tmp_path):
    st = CentralStore(str(tmp_path / "township.db"))
    st.add_account("xinfang", "信访办", "office", "pw-123456")
    token, device = st.open_session("xinfang")
    key = ST.office_key(st, device)
    assert ST.key_is_live(st, key)
    assert not ST.key_is_live(st, key[:-1] + ("0" if key[-1] != "0" else "1"))   # forged
    assert not ST.key_is_live(st, "office-x." + "0" * 32)
    st.close_session(token)
    assert not ST.key_is_live(st, key)


def test_phone_store_and_its_local_server(tmp_path):
    path = str(tmp_path / "phone" / T.TILES_FILE)
    st = T.TileStore(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert T.TileStore.open_existing(path) is None          # no tiles yet: nothing to draw
    st.put_many([(14, 13637, 6797, png()), (14, 13637, 6798, None)])
    assert st.held(14, 13637, 6797, 13637, 6798) == {(13637, 6797), (13637, 6798)}
    assert st.count() == 1
    assert T.local_tile(path, "/_tiles/14/13637/6797.png") == (png(), "image/png")
    assert T.local_tile(path, "/_tiles/14/13637/6798.png")[0] == b""
    assert T.local_tile(path, "/_tiles/../../etc/passwd")[0] == b""
    srv = T.LocalTileServer(path)
    try:
        url = srv.url_template.format(z=14, x=13637, y=6797)
        r = httpx.get(url)
        assert r.status_code == 200 and r.content == png() and r.headers["content-type"] == "image/png"
        host = url.split(srv.prefix)[0]
        assert httpx.get(f"{host}/14/13637/6797.png").status_code == 404   # without the prefix
    finally:
        srv.close()
