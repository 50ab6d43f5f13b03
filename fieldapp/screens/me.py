"""Me: the account, the sync in detail, records that need a look, the settings."""

from __future__ import annotations

import flet as ft

from sync import codes

from .widgets import TOUCH, appbar, empty, header, last_sync_text, status_text


def problems_controls(ctx, refresh) -> list[ft.Control]:
    out = [header(ctx.t("quarantine_title"))]
    q = ctx.ws.quarantined()
    if not q:
        out.append(empty(ctx.t("no_problems")))
    else:
        out.append(ft.Container(ft.Text(ctx.t("quarantine_help"), size=12, color=ft.Colors.GREY_800),
                                padding=ft.Padding.symmetric(horizontal=16)))
    for item in q:
        ch = item["change"]
        what = ch["fields"].get("head_name") or ch["fields"].get("title") or ch["fields"].get("seen") or item["record"]

        def retry(e, cid=item["change_id"]):
            ctx.ws.retry_quarantined(cid)
            ctx.wrote()
            refresh()
        out.append(ft.ListTile(
            leading=ft.Icon(ft.Icons.ERROR, color=ft.Colors.RED_700),
            title=ft.Text(f"{item['entity']} · {str(what)[:24]}"),
            subtitle=ft.Text(item["reason"] or ""),
            trailing=ft.TextButton(ctx.t("retry"), on_click=retry, height=TOUCH)))
    conflicted = ctx.ws.conflicted()
    out.append(header(ctx.t("conflicts_title")))
    if not conflicted:
        out.append(empty(ctx.t("no_problems")))
    else:
        out.append(ft.Container(ft.Text(ctx.t("conflicts_help"), size=12, color=ft.Colors.GREY_800),
                                padding=ft.Padding.symmetric(horizontal=16)))
    for entity, rec in conflicted:
        for x in ctx.ws.conflicts(entity, rec["id"]):
            out.append(ft.ListTile(
                leading=ft.Icon(ft.Icons.CALL_SPLIT, color=ft.Colors.ORANGE_800),
                title=ft.Text(rec.get("title") or rec.get("head_name") or rec["id"]),
                subtitle=ft.Text(ctx.t("conflict_row", field=x["field"], value=x["value"], author=x["author"]))))
    return out


def open_problems(ctx) -> None:
    body = ft.ListView(expand=True)

    def fill():
        body.controls = problems_controls(ctx, lambda: (fill(), ctx.page.update()))
    fill()
    view = ft.View(route="/problems", padding=0, controls=[body], appbar=appbar(ctx, ctx.t("today_problems")))
    view.data = fill
    ctx.push(view)


def me_panel(ctx) -> ft.Control:
    acct = ctx.ws.account
    st = ctx.phone.runner.status
    words, colour = status_text(ctx, st)
    s = ctx.phone.settings
    far = ft.TextField(label=ctx.t("far_limit"), value=str(int(s.far_m)), width=200,
                       keyboard_type=ft.KeyboardType.NUMBER)
    tiles = ft.TextField(label=ctx.t("tile_url"), value=s.tile_url, hint_text="https://…/{z}/{x}/{y}.png")
    lang = ft.RadioGroup(value=s.lang, content=ft.Row([ft.Radio(value="zh", label="中文"),
                                                        ft.Radio(value="en", label="English")]))

    def save(e) -> None:
        try:
            far_m = float(far.value)
            if not 10 <= far_m <= 100_000:
                raise ValueError
        except (TypeError, ValueError):
            far.error = ctx.t("out_of_range") + "（10–100000）"
            ctx.page.update()
            return
        far.error = None
        s.far_m, s.tile_url, s.lang = far_m, (tiles.value or "").strip(), lang.value
        ctx.phone.save_settings()
        ctx.snack(ctx.t("settings_saved"))
        ctx.show_root()

    def sign_out(e) -> None:
        n = ctx.ws.pending_count()
        if n:
            ctx.snack(ctx.t("sign_out_blocked", n=n), error=True)
            return
        ctx.phone.sign_out()
        ctx.show_root()

    offset_min = round(ctx.phone.replica.clock.offset_ms / 60000)
    body: list[ft.Control] = [
        header(ctx.t("account")),
        ft.Container(ft.Column([
            ft.Text(f"{acct.get('name', acct['username'])}（{acct['username']}）· "
                    f"{ctx.code(codes.ROLES, acct['role'])}"),
            ft.Text(" ".join(acct.get("grids") or []), color=ft.Colors.GREY_700),
            ft.Text(f"{ctx.t('device')}: {ctx.phone.replica.device_id}", size=12, color=ft.Colors.GREY_700),
            ft.Text(f"{ctx.t('server')}: {s.server}", size=12, color=ft.Colors.GREY_700),
        ], spacing=4), padding=ft.Padding.symmetric(horizontal=16)),
        header(ctx.t("sync_now")),
        ft.Container(ft.Column([
            ft.Text(words, color=colour), ft.Text(last_sync_text(ctx, st), color=ft.Colors.GREY_700),
            *([ft.Text(ctx.t("clock_off", m=offset_min), color=ft.Colors.ORANGE_900)] if abs(offset_min) >= 2 else []),
            ft.FilledButton(ctx.t("sync_now"), icon=ft.Icons.SYNC, height=TOUCH,
                            on_click=lambda e: ctx.phone.runner.request()),
        ], spacing=6), padding=ft.Padding.symmetric(horizontal=16)),
        ft.TextButton(f"{ctx.t('today_problems')} →", on_click=lambda e: open_problems(ctx), height=TOUCH),
        header(ctx.t("settings")),
        ft.Container(ft.Column([ft.Text(ctx.t("language")), lang, far, tiles,
                                ft.FilledButton(ctx.t("save"), on_click=save, height=TOUCH)], spacing=8),
                     padding=ft.Padding.symmetric(horizontal=16)),
        ft.Container(ft.OutlinedButton(ctx.t("sign_out"), icon=ft.Icons.LOGOUT, on_click=sign_out, height=TOUCH),
                     padding=16),
    ]
    return ft.ListView(body, expand=True, padding=ft.Padding.only(bottom=24))
