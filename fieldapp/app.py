"""The Flet app: one `main(page)` per open window, sharing one Phone per process."""

from __future__ import annotations

import os
from pathlib import Path

import flet as ft

from .context import Context
from .navigation import apply_locale
from .phone import Phone

ASSETS = str(Path(__file__).resolve().parent.parent / "assets")
FONT = "fonts/NotoSansSC-GBK.otf"


def make_main(phone: Phone):
    async def main(page: ft.Page) -> None:
        page.title = "网格台账"
        # The CJK font ships with the app: offline, Flutter's CDN fallback fonts are
        # out of reach and Chinese would render as boxes.
        page.fonts = {"cjk": FONT}
        page.theme = ft.Theme(font_family="cjk", color_scheme_seed=ft.Colors.BLUE_800,
                              visual_density=ft.VisualDensity.STANDARD)
        page.padding = 0
        ctx = Context(page, phone)
        apply_locale(page, ctx.lang)
        try:
            import flet_geolocator as fg
            ctx.geolocator = fg.Geolocator(configuration=fg.GeolocatorConfiguration(
                accuracy=fg.GeolocatorPositionAccuracy.HIGH, time_limit=ft.Duration(seconds=15)))
        except Exception:  # a platform without location services: manual positions only
            ctx.geolocator = None

        def root() -> ft.View:
            from .screens.login import login_view
            from .screens.shell import shell_view
            ctx.ws = phone.workspace()
            if ctx.ws is None:
                return login_view(ctx, on_done=lambda: (ctx.show_root(), phone.runner.request()))
            return shell_view(ctx)

        ctx.root = root
        page.on_view_pop = lambda e: ctx.pop()
        page.on_close = lambda e: ctx.close()
        phone.runner.start()
        ctx.show_root()

    return main


def asgi_app(phone: Phone):
    """The app as an ASGI app served to a browser (demo, tests, the office)."""
    from .webserve import served
    os.environ.setdefault("FLET_WEB_NO_CDN", "1")
    from sync.tiles import TILES_FILE
    return served(ft.run(make_main(phone), export_asgi_app=True, assets_dir=ASSETS, no_cdn=True), mounted=False,
                  fonts={"cjk": FONT}, tiles=os.path.join(phone.data_dir, TILES_FILE))


def run_phone() -> None:
    """Entry point of the packaged phone app: data in the app's storage folder."""
    from .phone import default_data_dir
    phone = Phone(default_data_dir(), os.environ.get("GRIDBOOK_SERVER"))
    ft.run(make_main(phone), assets_dir=ASSETS)
