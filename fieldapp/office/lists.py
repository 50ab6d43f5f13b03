"""The callback queue (评) and the leader supervision ledger (领导包案督办台账)."""

from __future__ import annotations

import flet as ft

from sync import codes, rules

from ..worklist import today_cst
from .ledger import header_row, matter_row


def callbacks_panel(ctx) -> ft.Control:
    from .matter import open_matter
    names = ctx.ws.staff_names()
    queue = ctx.ws.callback_queue()
    rows = [matter_row(ctx, c, names, lambda cid: open_matter(ctx, cid)) for c in queue]
    return ft.Column([ft.Text(f"{ctx.t('nav_callbacks')}（{len(queue)}）", size=18, weight=ft.FontWeight.BOLD),
                      header_row(ctx),
                      ft.ListView(rows or [ft.Text(ctx.t("callback_queue_empty"), color=ft.Colors.GREY_700)],
                                  expand=True)], expand=True)


def supervision_panel(ctx) -> ft.Control:
    from .matter import open_matter
    names = ctx.ws.staff_names()
    owned = ctx.ws.supervision()
    items: list[ft.Control] = []
    for leader in sorted({c["owner"] for c in owned}):
        mine = [c for c in owned if c["owner"] == leader]
        items.append(ft.Text(f"{names.get(leader, leader)}（{len(mine)}）", size=16, weight=ft.FontWeight.BOLD))
        for c in mine:
            dl = rules.days_left(c["deadline"], today_cst()) if c.get("deadline") else None
            progress = [it for it in ctx.ws.timeline(c["id"]) if it["kind"] in ("progress", "home", "resolution")]
            items.append(ft.ListTile(
                title=ft.Text(f"{c.get('ref') or ''} {c.get('title') or c['description'][:20]} · "
                              f"{ctx.code(codes.CASE_STATUSES, c['status'])}"),
                subtitle=ft.Text(
                    f"{ctx.t('departments')}：{'、'.join(c.get('departments') or []) or '—'}；"
                    f"{ctx.t('plan')}：{c.get('plan') or '—'}；{ctx.t('deadline')}：{c.get('deadline') or '—'}"
                    + (f"（{ctx.t('days_left', n=dl) if dl >= 0 else ctx.t('overdue', n=-dl)}）" if dl is not None else "")
                    + (f"\n{progress[-1]['at'][:10]} {progress[-1]['text']}" if progress else "")),
                is_three_line=True, on_click=lambda e, cid=c["id"]: open_matter(ctx, cid)))
    if not items:
        items.append(ft.Text(ctx.t("supervision_empty"), color=ft.Colors.GREY_700))
    return ft.ListView(items, expand=True, spacing=4)
