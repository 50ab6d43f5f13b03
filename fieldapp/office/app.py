"""The office's app in the browser: sign in, then the ledger and its tools."""

from __future__ import annotations

import flet as ft

from sync.server import auth
from sync.server.central import CentralStore
from sync.server.office import CentralWorkspace

from ..app import ASSETS, FONT
from .context import OfficeContext

OFFICE_ROLES = {"office", "admin"}


def make_office_main(db_path: str, tickets, throttle=None):
    store = CentralStore(db_path)  # the screens' own connection to the township's file

    async def main(page: ft.Page) -> None:
        page.title = "信访工作台账"
        page.fonts = {"cjk": FONT}
        page.theme = ft.Theme(font_family="cjk", color_scheme_seed=ft.Colors.BLUE_800)
        page.padding = 0
        ctx = OfficeContext(page, store, tickets)
        ctx.throttle = throttle
        page.on_view_pop = lambda e: ctx.pop()
        page.views.clear()
        page.views.append(login_view(ctx))
        page.update()

    return main


def login_view(ctx: OfficeContext) -> ft.View:
    from .shell import shell_view
    user = ft.TextField(label=ctx.t("username"), width=320, autofocus=True)
    pw = ft.TextField(label=ctx.t("password"), width=320, password=True, can_reveal_password=True)
    msg = ft.Text(color=ft.Colors.RED_700)

    def submit(e=None):
        name = (user.value or "").strip()
        if ctx.throttle and ctx.throttle.wait_s(name):
            msg.value = ctx.t("too_many_attempts")
            ctx.page.update()
            return
        with ctx.store.lock:
            acct = ctx.store.account(name)
            ok = auth.check_password(pw.value or "", acct["password"] if acct else None) and acct["active"]
        if not ok:
            if ctx.throttle:
                ctx.throttle.failed(name)
            msg.value = ctx.t("wrong_login")
            ctx.page.update()
            return
        if ctx.throttle:
            ctx.throttle.succeeded(name)
        if acct["role"] not in OFFICE_ROLES:
            msg.value = ctx.t("office_only")
            ctx.page.update()
            return
        ctx.store.audit(acct["username"], "office_sign_in")
        ctx.ws = CentralWorkspace(ctx.store, {k: acct[k] for k in ("username", "name", "role", "grids")})
        ctx.page.views.clear()
        ctx.page.views.append(shell_view(ctx))
        ctx.page.update()

    pw.on_submit = submit
    return ft.View(route="/", padding=40, controls=[
        ft.Text(ctx.t("office_title"), size=28, weight=ft.FontWeight.BOLD),
        user, pw, ft.FilledButton(ctx.t("sign_in"), on_click=submit, width=320, height=48), msg])


def office_asgi(db_path: str, tickets, throttle=None):
    return ft.run(make_office_main(db_path, tickets, throttle), export_asgi_app=True, assets_dir=ASSETS,
                  no_cdn=True)
