"""The audit trail, for the administrator: who signed in or failed to, who read which
matter, what each phone pulled, what was exported, which changes were refused.
Filters by account, action and days; the filtered trail exports to CSV."""

from __future__ import annotations

import datetime as dt

import flet as ft

from sync.server import audit

from ..screens.widgets import ERROR_LINES, named
from ..worklist import today_cst
from .forms import parse_date as _date

PAGE = 100


def audit_panel(ctx) -> ft.Control:
    today = today_cst()
    accounts = [a["username"] for a in ctx.store.accounts()]
    user = ft.Dropdown(label=ctx.t("audit_user"), width=200, value="", options=[
        ft.DropdownOption(key="", text=ctx.t("filter_all"))] + [ft.DropdownOption(key=a, text=a) for a in accounts])
    action = ft.Dropdown(label=ctx.t("audit_action"), width=200, value="", options=[
        ft.DropdownOption(key="", text=ctx.t("filter_all"))] + [
        ft.DropdownOption(key=k, text=audit.label(k, ctx.lang)) for k in audit.ACTIONS])
    since = ft.TextField(label=ctx.t("period_start"), width=170, dense=True,
                         value=(today - dt.timedelta(days=30)).isoformat(), error_max_lines=ERROR_LINES)
    until = ft.TextField(label=ctx.t("period_end"), width=170, dense=True, value=today.isoformat(),
                         error_max_lines=ERROR_LINES)
    rows = ft.ListView(expand=True, spacing=0)
    count = ft.Text(color=ft.Colors.GREY_700)
    more = ft.TextButton(ctx.t("load_more"), visible=False)
    state = {"offset": 0}

    def period():
        start, end = _date(since.value or ""), _date(until.value or "")
        since.error = None if start else ctx.t("date_format")
        until.error = None if end else ctx.t("date_format")
        if start and end and end < start:
            until.error = ctx.t("end_before_start")
        return (start, end) if not (since.error or until.error) else None

    def load(reset: bool) -> None:
        ctx.touch()
        got = period()
        if got is None:
            ctx.page.update()
            return
        if reset:
            state["offset"] = 0
            rows.controls.clear()
        with ctx.store.lock:
            found = audit.query(ctx.store.conn, user=user.value or None, action=action.value or None,
                                since=got[0], until=got[1], limit=PAGE + 1, offset=state["offset"])
        more.visible = len(found) > PAGE
        found = found[:PAGE]
        state["offset"] += len(found)
        rows.controls.extend(ft.Container(ft.Row([
            ft.Text(r["at"].strftime("%Y-%m-%d %H:%M:%S"), width=150),
            ft.Text(r["username"], width=110, max_lines=1, overflow=ft.TextOverflow.ELLIPSIS),
            ft.Text(audit.label(r["action"], ctx.lang), width=130),
            ft.Text(r["detail"], width=360, max_lines=2, overflow=ft.TextOverflow.ELLIPSIS),
            ft.Text(r["device"], width=150, max_lines=1, overflow=ft.TextOverflow.ELLIPSIS),
            ft.Text(r["address"], width=110)], spacing=8),
            padding=ft.Padding.symmetric(vertical=6, horizontal=4),
            border=ft.Border.only(bottom=ft.BorderSide(1, ft.Colors.GREY_200))) for r in found)
        if not rows.controls:
            rows.controls.append(ft.Text(ctx.t("audit_empty"), color=ft.Colors.GREY_700))
        count.value = ctx.t("n_entries", n=f"{state['offset']}{'+' if more.visible else ''}")
        ctx.page.update()

    def export(e) -> None:
        got = period()
        if got is None:
            ctx.page.update()
            return
        ctx.download("audit.csv", start=got[0].isoformat(), end=got[1].isoformat(),
                     user=user.value or "", action=action.value or "")

    user.on_select = action.on_select = lambda e: load(True)
    more.on_click = lambda e: load(False)
    heads = [("audit_at", 150), ("audit_user", 110), ("audit_action", 130), ("audit_detail", 360),
             ("audit_device", 150), ("audit_address", 110)]
    load(True)
    return ft.Column([
        ft.Text(ctx.t("nav_audit"), size=18, weight=ft.FontWeight.BOLD),
        ft.Row([named(user), named(action), since, until, ft.OutlinedButton(ctx.t("audit_search"), on_click=lambda e: load(True)),
                ft.OutlinedButton(ctx.t("export_audit"), icon=ft.Icons.DOWNLOAD, on_click=export), count],
               wrap=True),
        ft.Container(ft.Row([ft.Text(ctx.t(k), width=w, weight=ft.FontWeight.BOLD) for k, w in heads], spacing=8),
                     padding=ft.Padding.symmetric(vertical=6, horizontal=4), bgcolor=ft.Colors.GREY_100),
        rows, more], expand=True, spacing=8)
