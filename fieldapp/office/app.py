"""The office's app in the browser: sign in, then the ledger and its tools.

A sign-in here is kept in the store like a phone's (a device row, `office-…`), so
`gridbook user revoke` and `gridbook user disable` end it; the tab checks it every few
seconds and at every action, and signs out after a spell of doing nothing."""

from __future__ import annotations

import asyncio
import os
import threading

import flet as ft

from sync.server.central import CentralStore
from sync.server.office import CentralWorkspace

from .. import i18n
from ..app import ASSETS, FONT
from ..navigation import apply_locale
from ..screens.widgets import ERROR_LINES, password_field
from ..webserve import served
from .context import OfficeContext

OFFICE_ROLES = {"office", "admin"}
# Password checks at once from office tabs (each ~70 ms and ~16 MB of scrypt).
_CHECKS = threading.BoundedSemaphore(2)
WATCH_S = float(os.environ.get("GRIDBOOK_OFFICE_WATCH_S", 2))


def make_office_main(db_path: str, tickets, throttle=None, hub=None):
    store = CentralStore(db_path)  # the screens' own connection to the township's file

    async def main(page: ft.Page) -> None:
        page.title = "信访工作台账"
        # the CJK font is in Flutter's font manifest (webserve.served): loaded before
        # the first frame, not registered again here
        page.theme = ft.Theme(font_family="cjk", color_scheme_seed=ft.Colors.BLUE_800)
        page.padding = 0
        ctx = OfficeContext(page, store, tickets)
        ctx._lang = await chosen_language(ctx)
        apply_locale(page, ctx.lang)
        ctx.throttle = throttle
        ctx.hub = hub
        page.on_view_pop = lambda e: ctx.pop()
        page.on_keyboard_event = lambda e: ctx.escape() if e.key == "Escape" else None
        page.on_close = lambda e: ctx.end_session("closed")
        page.views.clear()
        page.views.append(login_view(ctx))
        page.update()

        async def watch():
            """Ends the session here as soon as the account is disabled or its sign-ins
            revoked elsewhere, or when the person has been idle too long."""
            while True:
                await asyncio.sleep(WATCH_S)
                if ctx.session is None:
                    continue
                reason = await asyncio.get_running_loop().run_in_executor(None, ctx.session_problem)
                if reason:
                    ctx.sign_out(reason)
                    try:
                        page.update()
                    except Exception:  # the tab is gone: its session ends with it
                        return
        page.run_task(watch)

    return main


LANG_KEY = "gridbook.office.lang"   # the browser's own storage: the choice outlives a reload


async def chosen_language(ctx: OfficeContext) -> str:
    """The office's language at first: the one last chosen in this browser; else English
    for a browser that prefers English, else Chinese (the clerk switches at the sign-in
    page or at the top of every page)."""
    try:
        kept = await asyncio.wait_for(ctx.prefs.get(LANG_KEY), 5)
        if kept in ("zh", "en"):
            return kept
        info = await asyncio.wait_for(ctx.page.get_device_info(), 5)
    except Exception:   # an old browser, a slow first answer: the township's language
        return "zh"
    first = (getattr(info, "language", None) or "").lower()
    return "en" if first.startswith("en") else "zh"


def language_button(ctx: OfficeContext, redraw) -> ft.Control:
    """The other language, named in itself."""
    def switch(e) -> None:
        ctx._lang = "en" if ctx.lang == "zh" else "zh"
        ctx.page.run_task(ctx.prefs.set, LANG_KEY, ctx.lang)
        apply_locale(ctx.page, ctx.lang)
        redraw()
        ctx.page.update()
    return ft.TextButton("English" if ctx.lang == "zh" else "中文", on_click=switch)


def login_view(ctx: OfficeContext, notice: str = "", typed: str = "") -> ft.View:
    from .shell import shell_view
    user = ft.TextField(label=ctx.t("username"), width=320, autofocus=True, max_length=40, value=typed,
                        error_max_lines=ERROR_LINES)
    pw = password_field(ctx, width=320, max_length=200)
    msg = ft.Text(notice, color=ft.Colors.RED_700)

    def submit(e=None):
        name = (user.value or "").strip()[:40]
        address = ctx.page.client_ip or ""
        user.error = ctx.t("required_field") if not name else None
        pw.error = ctx.t("required_field") if not pw.value else None
        if user.error or pw.error:
            ctx.page.update()
            return
        wait = ctx.throttle.wait_s(name, address) if ctx.throttle else 0
        if wait:
            msg.value = i18n.wait_words(wait, ctx.lang)
            ctx.store.audit(ctx.store.as_audited(name), "office_sign_in_slowed", f"wait {wait} s", address=address)
            ctx.page.update()
            return
        with _CHECKS:
            acct, ok, disabled = ctx.store.verify_password(name, pw.value or "")
        if disabled:   # the right password: no guess to slow down, and the clerk learns whom to ask
            ctx.store.audit(name, "office_sign_in_disabled", "", address=address)
            msg.value = ctx.t("office_account_disabled")
            pw.value = ""
            ctx.page.update()
            return
        if not ok:
            if ctx.throttle:
                ctx.throttle.failed(name, address)
            ctx.store.audit(ctx.store.as_audited(name), "office_sign_in_failed", "", address=address)
            msg.value = ctx.t("wrong_login")
            pw.value = ""
            ctx.page.update()
            return
        if ctx.throttle:
            ctx.throttle.succeeded(name, address)
        if acct["role"] not in OFFICE_ROLES:
            msg.value = ctx.t("office_only")
            pw.value = ""   # a shared office computer: the next person must not find it
            ctx.page.update()
            return
        ctx.start_session(acct, address)
        ctx.page.views.clear()
        ctx.page.views.append(shell_view(ctx))
        ctx.page.update()

    pw.on_submit = submit
    ctx.show_login = lambda notice="": (ctx.page.views.clear(), ctx.page.views.append(login_view(ctx, notice)))
    def redraw() -> None:   # the name typed stays; the password is typed again
        ctx.page.views.clear()
        ctx.page.views.append(login_view(ctx, "", user.value or ""))
    return ft.View(route="/", padding=40, scroll=ft.ScrollMode.AUTO, controls=[
        ft.Row([ft.Text(ctx.t("office_title"), size=28, weight=ft.FontWeight.BOLD), language_button(ctx, redraw)],
               wrap=True),
        user, pw, ft.FilledButton(ctx.t("sign_in"), on_click=submit, width=320, height=48), msg])


def office_asgi(db_path: str, tickets, throttle=None, hub=None):
    flet_app = ft.run(make_office_main(db_path, tickets, throttle, hub), export_asgi_app=True, assets_dir=ASSETS,
                      no_cdn=True)
    return served(flet_app, mounted=True, fonts={"cjk": FONT})
