"""Signing in: once, online; afterwards the phone works offline."""

from __future__ import annotations

import asyncio

import flet as ft

from sync.errors import AuthRequired, OthersWork, ProtocolMismatch, SyncError, Unreachable, UpdateRequired

from .. import i18n
from .widgets import ERROR_LINES, TOUCH, appbar, password_field


def login_view(ctx, on_done, again: dict | None = None) -> ft.View:
    """The sign-in. `again`: the account whose sign-in the server no longer takes (the
    phone revoked, the account disabled and enabled again): the same person signs in
    again over the screen they were on, and what the phone holds unsent goes out after
    (signing out first was refused while anything waited, and no other way back existed)."""
    server = ft.TextField(label=ctx.t("server"), value=ctx.phone.settings.server,
                          keyboard_type=ft.KeyboardType.URL, error_max_lines=ERROR_LINES)
    # the server's limits (api_models.LoginRequest), counted as typed
    user = ft.TextField(label=ctx.t("username"), autofocus=again is None, max_length=40,
                        value=(again or {}).get("username"), read_only=again is not None, error_max_lines=ERROR_LINES)
    pw = password_field(ctx, max_length=200, autofocus=again is not None)
    message = ft.Text(color=ft.Colors.RED_700)
    busy = ft.ProgressRing(visible=False, width=24, height=24)

    async def submit(e=None):
        message.value = ""
        for f in (server, user, pw):
            f.error = None if (f.value or "").strip() else ctx.t("required_field")
        if any(f.error for f in (server, user, pw)):
            return
        busy.visible, button.disabled = True, True
        ctx.page.update()
        try:
            await asyncio.to_thread(ctx.phone.sign_in, server.value.strip(), user.value.strip(), pw.value)
        except AuthRequired:
            message.value = ctx.t("bad_credentials")
        except OthersWork as err:
            message.value = ctx.t("others_work", name=err.name or err.username, user=err.username, n=err.count)
        except Unreachable:
            message.value = ctx.t("unreachable")
        except UpdateRequired:
            message.value = ctx.t("update_required")
        except ProtocolMismatch:
            message.value = ctx.t("outdated")
        except SyncError as err:
            # the server's own words are English: a refused sign-in is said in the person's
            message.value = i18n.wait_words(err.retry_after_s, ctx.lang) if err.status == 429 else (
                ctx.t("account_disabled") if err.status == 403 else
                ctx.t("sign_in_refused") if err.status in (400, 422) else err.message)
        else:
            pw.value = ""
            on_done()
            return
        finally:
            busy.visible, button.disabled = False, False
        ctx.page.update()

    pw.on_submit = submit
    button = ft.FilledButton(ctx.t("sign_in"), on_click=submit, height=TOUCH, expand=True)
    if again is not None:
        unsent = ctx.phone.replica.pending_count()
        return ft.View(route="/login-again", padding=24, scroll=ft.ScrollMode.AUTO, controls=[
            ft.Text(ctx.t("sign_in_again_hint"), color=ft.Colors.GREY_800),
            *([ft.Text(ctx.t("sign_in_again_kept", n=unsent), color=ft.Colors.ORANGE_900)] if unsent else []),
            server, user, pw, ft.Row([button, busy]), message,
        ], appbar=appbar(ctx, ctx.t("sign_in_again")))
    return ft.View(route="/login", padding=24, scroll=ft.ScrollMode.AUTO, controls=[
        ft.Text(ctx.t("app_title"), size=28, weight=ft.FontWeight.BOLD),
        ft.Text(ctx.t("sign_in_hint"), color=ft.Colors.GREY_700),
        server, user, pw,
        ft.Row([button, busy]),
        message,
    ])
