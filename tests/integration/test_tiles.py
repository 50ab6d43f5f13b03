"""The township's base map through the real server: imported by the CLI while the
server runs, served only to live sign-ins (a phone's token, an office tab's key), with
caching headers; a phone downloads the tiles covering its grids, resumably."""

from __future__ import annotations

import httpx
import pytest

from sync import tiles as T
from sync.server import tiles as ST
from sync.server.central import CentralStore
from tiles_fixture import make_mbtiles, png

from .conftest import PROTO, auth_headers, cli, household_fields, phone

pytestmark = pytest.mark.integration


def test_tiles_only_for_live_sign_ins_and_a_phone_downloads_its_grids(fresh_server, tmp_path):
    srv = fresh_server
    worker = auth_headers(srv, "worker1")

    # before any import: the phone is told plainly, a tile is not found
    r = httpx.get(srv.url + "/api/v1/tiles/meta", headers=worker)
    assert r.status_code == 200 and r.json()["available"] is False and "tiles import" in r.json()["message"]

    # a household of g1 away from the grid's centre: the phone's area must reach it
    replica, client = phone(tmp_path / "phone1", srv, "worker1")
    replica.create("household", {**household_fields("g1"), "lat": 29.0795, "lon": 119.6530}, "worker1")
    client.sync()

    # imported beside the running server's store (the command itself: tests/test_tiles.py)
    make_mbtiles(tmp_path / "base.mbtiles", zooms=range(12, 16))
    assert ST.import_file(str(tmp_path / "base.mbtiles"), str(srv.db))["tiles"] > 0

    # the running server sees the new map without a restart
    meta = httpx.get(srv.url + "/api/v1/tiles/meta", headers=worker).json()
    assert meta["available"] and meta["format"] == "png" and meta["crs"] == "wgs84"
    area = meta["area"]
    s, w, n, e = area["box"]
    assert s < 29.07 < n and w < 119.64 < e and s < 29.0795 < n and w < 119.6530 < e
    assert (area["min_zoom"], area["max_zoom"]) == (12, 15)    # the township's 12-17, where the map has tiles
    assert area["tiles"] == T.count_tiles(tuple(area["box"]), range(12, 16)) and area["bytes"] > 0

    x, y = T.tile_xy(29.07, 119.64, 14)
    tile_url = f"{srv.url}/api/v1/tiles/14/{x}/{y}.png"

    # nobody, a made-up token, a stolen token without its device: 401
    for headers in ({}, {**PROTO}, {"Authorization": "Bearer nonsense", "X-Gridbook-Device": "dev-worker1"},
                    {"Authorization": worker["Authorization"], "X-Gridbook-Device": "another-device"}):
        r = httpx.get(tile_url, headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert r.headers["content-type"] == "application/json"
    assert httpx.get(srv.url + "/api/v1/tiles/meta").status_code == 401

    # a grid worker: the tile, cacheable by this browser only, revalidated by its ETag
    r = httpx.get(tile_url, headers=worker)
    assert r.status_code == 200 and r.content == png() and r.headers["content-type"] == "image/png"
    assert "private" in r.headers["cache-control"] and "max-age=" in r.headers["cache-control"]
    again = httpx.get(tile_url, headers={**worker, "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert httpx.get(f"{srv.url}/api/v1/tiles/14/1/1.png", headers=worker).status_code == 404
    assert httpx.get(f"{srv.url}/api/v1/tiles/3/9/1.png", headers=worker).status_code == 404
    assert httpx.get(f"{srv.url}/api/v1/tiles/14/{x}/{y}.gif", headers=worker).status_code == 422

    # a lost phone: served until revoked, then 401
    lost = auth_headers(srv, "lostphone")
    assert httpx.get(tile_url, headers=lost).status_code == 200
    cli("user", "revoke", "lostphone", "--db", str(srv.db))
    assert httpx.get(tile_url, headers=lost).status_code == 401

    # an office tab's key: served while its sign-in lives, 401 after sign-out; forged: 401
    st = CentralStore(str(srv.db))
    try:
        token, device = st.open_session("office1")
        key = ST.office_key(st, device)
        assert httpx.get(tile_url, params={"key": key}).status_code == 200
        assert httpx.get(srv.url + "/api/v1/tiles/meta", params={"key": key}).status_code == 403
        forged = key[:-4] + "0000"
        assert httpx.get(tile_url, params={"key": forged}).status_code == 401
        st.close_session(token)
        assert httpx.get(tile_url, params={"key": key}).status_code == 401
    finally:
        st.close()

    # the phone: the plan first (the size shown before downloading), then a download cut
    # off part way, then resumed: every tile once, none fetched twice
    store = T.TileStore(str(tmp_path / "phone1" / T.TILES_FILE))
    plan = T.plan(client, store)
    assert plan.tiles == area["tiles"] and plan.bytes == area["bytes"] and plan.have == 0
    assert plan.tiles >= 8
    asked, half = {"n": 0}, plan.tiles // 2

    def stop_half_way():
        asked["n"] += 1
        return asked["n"] > half
    first = T.download(client, store, plan, should_stop=stop_half_way, batch=3)
    assert first["stopped"] and first["fetched"] == half
    second = T.download(client, store, plan)
    assert not second["stopped"] and second["skipped"] == half
    assert first["fetched"] + second["fetched"] == plan.tiles and second["missing"] == 0
    assert store.count() == plan.tiles and store.get(14, x, y) == png()
    assert T.plan(client, store).have == plan.tiles
    assert T.store_info(store)["min_zoom"] == 12 and T.store_info(store)["max_zoom"] == 15

    # with the server gone, the phone's tiles are still there for its map
    srv.kill()
    assert T.local_tile(store.path, f"/_tiles/14/{x}/{y}.png") == (png(), "image/png")
