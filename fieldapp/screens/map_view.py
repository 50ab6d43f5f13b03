"""The map: households (grey) and cases coloured by risk, over the township's base map
when the phone has downloaded it (me → 下载离线地图, sync/tiles.py). With no tiles the
markers still show on a plain background, so the map works with no network at all.

flet-map 1.0.5 draws tiles only from a URL (flutter_map's network tile provider), so
the phone's own tiles are served to its map on this device: by the app's own address
in the browser-run app (fieldapp/webserve.LocalTiles, /_tiles/...), and by a small
server on 127.0.0.1 in a packaged app (sync.tiles.LocalTileServer). Positions are kept
as GPS gives them (WGS-84) and shifted only when drawn over GCJ-02 tiles (sync/gcj02.py)."""

from __future__ import annotations

import statistics

import flet as ft
import flet_map as fm

from sync import gcj02
from sync import tiles as phone_tiles

from ..geo import placed
from .widgets import risk_colour

MAX_MARKERS = 1500  # beyond this a phone's map stutters; the nearest-first list is the tool then


def map_points(ws) -> tuple[list[dict], list[dict]]:
    """(cases, households) that have a position, open cases first; when there are more
    households than the map takes, the ones nearest its centre (a grid worker's map is
    of their grid: thousands of households placed far off must not push theirs out)."""
    cases = [c for c in ws.cases(open_only=True, limit=MAX_MARKERS) if placed(c)]
    if ws.role == "leader":
        return [c for c in ws.cases(owner=ws.username, limit=MAX_MARKERS) if placed(c)], []
    room = MAX_MARKERS - len(cases)
    households = [h for h in ws.search_households("", limit=room + 1) if placed(h)]
    if len(households) > room:
        lat, lon = centre(cases, households, ws.grid_list())
        households = [h for _, h in ws.nearest_households(lat, lon, limit=room) if placed(h)]
    return cases, households


def centre(cases: list[dict], households: list[dict], grids: list[dict]) -> tuple[float, float]:
    """Where the map opens: on the person's grids when the office placed them, else in
    the middle of what it shows. The median, not the mean: one point put at the pole
    opened the map on empty ground."""
    pts = [(g["lat"], g["lon"]) for g in grids if placed(g)] or [(p["lat"], p["lon"]) for p in cases + households]
    if not pts:
        return 29.07, 119.65
    return statistics.median_low(p[0] for p in pts), statistics.median_low(p[1] for p in pts)


def local_url_template(page_url: str | None, web: bool, store_path: str) -> str:
    """Where this device's map fetches the downloaded tiles: the browser-run app's own
    address, or the packaged app's server on 127.0.0.1."""
    if web:
        return phone_tiles.origin_of(page_url) + phone_tiles.LOCAL_PREFIX + "{z}/{x}/{y}.png"
    return phone_tiles.local_server(store_path).url_template


def bounds_of(wsen: list[float] | None) -> fm.MapLatitudeLongitudeBounds | None:
    """The tiles' extent (west, south, east, north): the map asks for nothing outside it."""
    if not wsen or len(wsen) != 4:
        return None
    w, s, e, n = wsen
    return fm.MapLatitudeLongitudeBounds(fm.MapLatitudeLongitude(s, w), fm.MapLatitudeLongitude(n, e))


def map_panel(ctx) -> ft.Control:
    from .case_detail import open_case
    from .household import open_household
    cases, households = map_points(ctx.ws)
    local = phone_tiles.phone_tiles(ctx.phone.data_dir)
    crs = local["crs"] if local else ctx.phone.township().get("tiles_crs", "wgs84")

    def at(lat, lon):
        return fm.MapLatitudeLongitude(*gcj02.for_map(lat, lon, crs))
    lat, lon = centre(cases, households, ctx.ws.grid_list())
    markers = [fm.Marker(coordinates=at(h["lat"], h["lon"]), width=14, height=14,
                         content=ft.Container(width=10, height=10, border_radius=5, bgcolor=ft.Colors.GREY_600,
                                              on_click=lambda e, hid=h["id"]: open_household(ctx, hid)))
               for h in households]
    markers += [fm.Marker(coordinates=at(c["lat"], c["lon"]), width=28, height=28,
                          content=ft.Container(
                              ft.Icon(ft.Icons.REPORT, color=ft.Colors.WHITE, size=16), width=26, height=26,
                              border_radius=13, bgcolor=risk_colour(c.get("risk")),
                              alignment=ft.Alignment.CENTER,
                              on_click=lambda e, cid=c["id"]: open_case(ctx, cid)))
                for c in cases]
    layers = []
    notes = [ctx.t("map_legend")]
    url = (ctx.phone.settings.tile_url or "").strip()
    if local:
        layers.append(fm.TileLayer(
            url_template=local_url_template(ctx.page.url, bool(ctx.page.web), local["path"]),
            min_native_zoom=local["min_zoom"], max_native_zoom=local["max_zoom"],
            tile_bounds=bounds_of(local["bounds"]), user_agent_package_name="org.gridbook.app",
            # no fading: the map is complete at once offline, and a screenshot is stable
            display_mode=fm.InstantaneousTileDisplay(),
            evict_error_tile_strategy=fm.TileLayerEvictErrorTileStrategy.DISPOSE))
        notes.insert(0, ctx.t("map_offline_tiles", lo=local["min_zoom"], hi=local["max_zoom"]))
    elif url:
        layers.append(fm.TileLayer(url_template=url, max_zoom=19))
    else:
        notes.insert(0, ctx.t("map_no_tiles"))
    layers.append(fm.MarkerLayer(markers=markers))
    return ft.Column([
        ft.Container(ft.Text(" · ".join(notes), size=12, color=ft.Colors.GREY_800),
                     padding=ft.Padding.symmetric(horizontal=12, vertical=4)),
        fm.Map(expand=True, initial_center=at(lat, lon), initial_zoom=14,
               bgcolor=ft.Colors.BLUE_GREY_50, layers=layers),
    ], expand=True, spacing=0)


def open_map_download(ctx) -> None:
    """The offline map's download: the size first (asked of the server), then, once
    confirmed, the tiles covering this account's grids, Wi-Fi only unless unticked.
    The network work runs in a thread; what it shows is done on the page's own loop.
    A download cut off continues where it stopped."""
    import asyncio
    import os
    import threading

    from sync.errors import SyncError
    status = ft.Text(ctx.t("map_download_asking"))
    wifi = ft.Checkbox(label=ctx.t("map_download_wifi"), value=True)
    go = ft.FilledButton(ctx.t("map_download_start"), disabled=True)
    state: dict = {"plan": None, "stop": False, "running": False}
    path = os.path.join(ctx.phone.data_dir, phone_tiles.TILES_FILE)

    def on_page(fn, *args):
        """Run fn on the page's loop (from the download's thread)."""
        async def call():
            try:
                fn(*args)
            except Exception:  # run_task keeps a task's error to itself: say it in the log
                import traceback
                traceback.print_exc()
        try:
            ctx.page.run_task(call)
        except Exception:  # the window went away: the download goes on without it
            pass

    def say(text: str, ready: bool | None = None) -> None:
        if state.get("closed"):  # a progress line arriving after the end must not bring the dialog back
            return
        status.value = text
        if ready is not None:
            go.disabled = not ready
        ctx.page.update()

    def close() -> None:
        # this dialog, not whatever is on top (pop_dialog would take a snack bar shown since)
        state["closed"] = True
        dialog.open = False
        dialog.update()

    def finished(n: int) -> None:
        state["done"] = n
        close()

    def dismissed(e) -> None:
        # The screens are rebuilt (the map with its new base layer) once Flutter says the
        # dialog is gone: rebuilt at the moment it closed, the dialog's route went with
        # the old screens and it stayed drawn, at "12/12", over the new ones.
        if state.get("done") is not None:
            ctx.show_root()
            ctx.snack(ctx.t("map_download_done", n=state["done"]))

    def ask():
        try:
            client = ctx.phone._sync_client()
            store = phone_tiles.TileStore(path)
            try:
                p = phone_tiles.plan(client, store)
            finally:
                store.close()
            state["plan"] = p
            on_page(say, ctx.t("map_download_size", n=p.tiles, size=phone_tiles.human_size(p.bytes),
                               have=p.have), True)
        except phone_tiles.NoMap:
            on_page(say, ctx.t("map_download_none"))
        except SyncError as e:
            on_page(say, ctx.t("map_download_failed", why=e.message))

    def run(p) -> int | None:
        """The download, off the page's loop: the tiles held at the end, or None when it
        failed (said in the dialog) or was cancelled."""
        last = {"shown": -1}

        def progress(done, total):
            if done - last["shown"] >= max(1, total // 20) or done == total:
                last["shown"] = done
                on_page(say, ctx.t("map_download_progress", done=done, total=total))
        store = phone_tiles.TileStore(path)
        try:
            phone_tiles.download(ctx.phone._sync_client(), store, p, progress=progress,
                                 should_stop=lambda: state["stop"])
            n = store.count()
        except SyncError as e:
            on_page(say, ctx.t("map_download_failed", why=e.message), True)
            return None
        except Exception as e:  # never a dialog stuck at "12/12": say it, and offer the button again
            import traceback
            traceback.print_exc()  # tile numbers and paths only: no personal data
            on_page(say, ctx.t("map_download_failed", why=type(e).__name__), True)
            return None
        finally:
            store.close()
            state["running"] = False
        return None if state["stop"] else n

    async def start(e):
        p = state["plan"]
        if p is None or state["running"]:
            return
        try:
            conn = getattr(ctx, "map_connectivity", None) or ft.Connectivity()
            ctx.map_connectivity = conn  # kept: a service no one holds is unregistered
            kinds = [k.value for k in await conn.get_connectivity()]
        except Exception:  # a platform that cannot tell: the person's tick decides
            kinds = ["wifi"] if wifi.value else ["other"]
        if not phone_tiles.link_allows(kinds, bool(wifi.value)):
            say(ctx.t("map_download_not_wifi"))
            return
        state["running"] = True
        say(ctx.t("map_download_progress", done=0, total=p.tiles), False)
        # the end is handled here, on the page's loop, not handed back from the thread
        n = await asyncio.to_thread(run, p)
        if n is not None:
            finished(n)

    def cancel(e):
        state["stop"] = True
        close()

    go.on_click = start
    dialog = ft.AlertDialog(
        title=ft.Text(ctx.t("map_download")),
        content=ft.Column([ft.Text(ctx.t("map_download_help"), size=13, color=ft.Colors.GREY_800), status, wifi],
                          tight=True, spacing=8),
        actions=[ft.TextButton(ctx.t("cancel"), on_click=cancel), go], on_dismiss=dismissed)
    ctx.page.show_dialog(dialog)
    threading.Thread(target=ask, daemon=True, name="map-plan").start()
