"""The township's base map in the browser: imported on the server, drawn under the
office's map; downloaded by a grid worker's phone (size shown first), drawn by its map,
and still drawn with the server stopped. Each screenshot's pixels are checked for the
test tiles' colour, so a map without its base layer fails."""

from __future__ import annotations

import contextlib
import re
import time

from sync.server import tiles as ST
from tiles_fixture import make_mbtiles, ochre_share

from .conftest import seed
from .harness import DESKTOP, app_process, server_process
from .test_field_app import GPS, sign_in
from .test_office import office_sign_in

DRAWN = 0.15   # share of the screenshot in the tiles' colour: a map drawn with its base layer


def drawn(app, name: str, share: float, timeout_s: float = 30):
    """The screenshot once the map shows its base layer (tiles arrive a moment after the
    map): its path, or a failure naming the share seen at the deadline."""
    deadline = time.time() + timeout_s
    while True:
        shot = app.shot(name)
        seen = ochre_share(shot)
        if seen > share:
            return shot
        if time.time() > deadline:
            raise AssertionError(f"{name}: the map shows no base layer ({seen:.1%} of the screen in the"
                                 f" tiles' colour, {share:.0%} expected); see {shot}")


def test_office_and_phone_draw_the_base_map_and_the_phone_keeps_it_offline(tmp_path, browser):
    db = str(tmp_path / "township.db")
    seed(db)
    make_mbtiles(tmp_path / "base.mbtiles", zooms=range(12, 16))
    assert ST.import_file(str(tmp_path / "base.mbtiles"), db)["tiles"] > 100
    server = server_process(db, tmp_path).start()
    phone = None
    try:
        office = browser(server.url, viewport=DESKTOP)
        office_sign_in(office)
        office.open_tab("统计")
        office.shows("未办结事项分布")
        drawn(office, "map-tiles-01-office", 0.05)    # the map fills the bottom of the page
        tiles_seen = [u for u in office.requests if "/api/v1/tiles/" in u]
        assert tiles_seen and all("key=" in u for u in tiles_seen), tiles_seen[:3]

        phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "map").start()
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        app.text("已全部同步", timeout_s=90)     # sign-in and the first sync (a loaded machine is slow)
        app.tap("地图", role="tab")
        # nothing downloaded yet; the map's first frame, drawn in software, is slow on a loaded
        # machine (once over 30 s, the text then on screen)
        app.text("未配置地图底图", timeout_s=90)
        assert ochre_share(app.shot("map-tiles-02-phone-before")) < 0.01
        app.tap("我的", role="tab")
        app.tap("下载离线地图")
        app.shows("张图块，约", timeout_s=60)               # the size, before anything is fetched
        size = re.search(r"共 (\d+) 张图块，约 ([\d.]+ [KMG]?B)", app.aria())
        assert size and int(size.group(1)) > 0, app.aria()
        app.shot("map-tiles-03-phone-confirm")
        app.tap("开始下载")
        # done when the phone's own tile file holds every tile of the plan it was shown
        want = int(size.group(1))
        tiles_file = tmp_path / "phone" / "tiles.mbtiles"
        deadline = time.time() + 120
        while _held(tiles_file) < want:
            assert time.time() < deadline, f"{_held(tiles_file)} of {want} tiles after 120 s"
            app.page.wait_for_timeout(500)
        # the dialog closes by itself, and then a snack bar (shown for a few seconds: waited
        # for in the page, not between two looks) says how many tiles the phone holds
        app.text(f"离线地图已下载：{want} 张图块", timeout_s=90)
        assert "正在下载地图" not in app.aria()
        app.tap("地图", role="tab")
        app.shows("离线底图")
        drawn(app, "map-tiles-04-phone-map", DRAWN)

        # the server goes away: the phone's map still draws its tiles, from the phone alone
        server.stop()
        app.requests.clear()
        app.reload()
        app.tap("地图", role="tab")
        app.shows("离线底图")
        drawn(app, "map-tiles-05-phone-offline", DRAWN)
        asked = [u for u in app.requests if "/_tiles/" in u]
        assert asked and all(u.startswith(phone.url) for u in asked)
        assert not any(f":{server.port}" in u for u in app.requests)
    finally:
        if phone is not None:
            phone.stop()
        server.stop()


def _held(path) -> int:
    """Tiles with data in the phone's tile file (0 before it exists)."""
    import sqlite3
    if not path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT count(*) FROM tiles WHERE data IS NOT NULL").fetchone()[0]
    except sqlite3.Error:  # created but its table not yet there
        return 0
