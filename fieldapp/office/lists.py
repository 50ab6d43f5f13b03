"""The callback queue (评) and the leader supervision ledger (领导包案督办台账)."""

from __future__ import annotations

import flet as ft

from sync import codes, rules

from ..worklist import today_cst
from .ledger import header_row, matter_row, wide


def callbacks_panel(ctx) -> ft.Control:
    from .matter import open_matter
    names = ctx.ws.staff_names()
    queue, waiting = ctx.ws.callback_queue(), ctx.ws.callbacks_waiting()
    rows = [matter_row(ctx, c, names, lambda cid: open_matter(ctx, cid)) for c in queue]
    if waiting > len(queue):   # the longest waiting are listed; the rest are counted
        rows.append(ft.Text(ctx.t("callbacks_more", n=waiting - len(queue)), color=ft.Colors.GREY_700))
    # the ledger's columns, so the ledger's sideways scroll: at 1,024 px 办理期限 and 状态
    # were cut off with no way to see them
    return ft.Column([ft.Text(f"{ctx.t('nav_callbacks')}（{waiting}）", size=18, weight=ft.FontWeight.BOLD),
                      wide(header_row(ctx),
                           ft.ListView(rows or [ft.Text(ctx.t("callback_queue_empty"), color=ft.Colors.GREY_700)],
                                       expand=True))], expand=True)


def supervision_panel(ctx) -> ft.Control:
    """Each leader's matters, the most pressing first: overdue in red, the days left only
    while the clock runs, the latest progress."""
    from .matter import open_matter
    names = ctx.ws.staff_names()
    owned = ctx.ws.supervision()
    today = today_cst()
    items: list[ft.Control] = []
    for leader in sorted({c["owner"] for c in owned}, key=lambda u: names.get(u, u)):
        mine = [c for c in owned if c["owner"] == leader]
        late_n = sum(1 for c in mine if rules.is_overdue(c, today))
        items.append(ft.Text(f"{names.get(leader, leader)}（{len(mine)}"
                             + (f"，{ctx.t('n_overdue', n=late_n)}" if late_n else "") + "）",
                             size=16, weight=ft.FontWeight.BOLD))
        for c in mine:
            running = c.get("status") in rules.OPEN_STATUSES
            dl = rules.days_left(c.get("deadline"), today) if running else None
            late = dl is not None and dl < 0
            progress = [it for it in ctx.ws.timeline(c["id"]) if it["kind"] in ("progress", "home", "resolution")]
            parts = [f"{ctx.t('departments')}：{'、'.join(c.get('departments') or []) or '—'}",
                     f"{ctx.t('plan')}：{(c.get('plan') or '—').rstrip('。；;')}",
                     f"{ctx.t('deadline')}：{c.get('deadline') or '—'}"
                     + (f"（{ctx.t('days_left', n=dl) if dl >= 0 else ctx.t('overdue', n=-dl)}）" if dl is not None else "")]
            latest = f"\n{progress[-1]['at'][:10]} {progress[-1]['text']}" if progress else ""
            items.append(ft.ListTile(
                title=ft.Text(f"{c.get('ref') or ''} {c.get('title') or c['description'][:20]} · "
                              f"{ctx.code(codes.CASE_STATUSES, c['status'])}",
                              color=ft.Colors.RED_700 if late else None),
                subtitle=ft.Text("；".join(parts) + latest, color=ft.Colors.RED_700 if late else None),
                is_three_line=True, on_click=lambda e, cid=c["id"]: open_matter(ctx, cid)))
    if not items:
        items.append(ft.Text(ctx.t("supervision_empty"), color=ft.Colors.GREY_700))
    return ft.ListView(items, expand=True, spacing=4)
