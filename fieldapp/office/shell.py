"""The office's frame: a rail of tools on the left, the chosen one on the right."""

from __future__ import annotations

import flet as ft

from . import audit, conflicts, dashboard, households, ledger, lists, register, roster, visits


RAIL_ROW_PX = 72   # a destination with its icon and a label on two lines (English)


def shell_view(ctx, selected: int = 0) -> ft.View:
    from .app import language_button
    tools = [("nav_ledger", ft.Icons.TABLE_ROWS, ledger.ledger_panel),
             ("nav_register", ft.Icons.POST_ADD, register.register_panel),
             ("nav_callbacks", ft.Icons.PHONE_CALLBACK, lists.callbacks_panel),
             ("nav_supervision", ft.Icons.SUPERVISOR_ACCOUNT, lists.supervision_panel),
             ("nav_dashboard", ft.Icons.INSIGHTS, dashboard.dashboard_panel),
             ("nav_visits", ft.Icons.WHERE_TO_VOTE, visits.visits_panel),
             ("nav_households", ft.Icons.HOME_WORK, households.households_panel),
             ("nav_import", ft.Icons.UPLOAD_FILE, roster.roster_panel),
             ("nav_conflicts", ft.Icons.CALL_SPLIT, conflicts.conflicts_panel)]
    if ctx.ws.role == "admin":  # the trail of who read and changed what is the admin's to review
        tools.append(("nav_audit", ft.Icons.POLICY, audit.audit_panel))
    body = ft.Container(expand=True, padding=ft.Padding.only(left=16, right=16, top=8))
    state = {"i": 0}

    def show(i: int) -> None:
        state["i"] = i
        rail.selected_index = i
        body.content = tools[i][2](ctx)

    def changed(e) -> None:
        ctx.touch()
        show(int(e.control.selected_index))
        ctx.page.update()

    rail = ft.NavigationRail(
        label_type=ft.NavigationRailLabelType.ALL, min_width=88,
        destinations=[ft.NavigationRailDestination(icon=icon, label=ctx.t(key)) for key, icon, _ in tools],
        on_change=changed)
    # a rail does not scroll: on a small window (a laptop zoomed to 200 %) the last tools
    # were below its edge, out of reach. Given its own height, in a column that scrolls.
    rail_box = ft.Column([ft.Container(rail, height=RAIL_ROW_PX * len(tools) + 16)],
                         scroll=ft.ScrollMode.AUTO, spacing=0)
    ctx.show_main = lambda i: (show(i), ctx.page.update())
    show(selected)
    who = ctx.ws.account

    def redraw() -> None:
        ctx.page.views.clear()
        ctx.page.views.append(shell_view(ctx, state["i"]))

    view = ft.View(route="/", padding=0, spacing=0, controls=[
        ft.Container(ft.Row([ft.Text(ctx.t("office_title"), size=18, weight=ft.FontWeight.BOLD),
                             ft.Row([ft.Text((who.get('name') or who['username']) + ctx.aside(who['username']),
                                             color=ft.Colors.GREY_700),
                                     language_button(ctx, redraw),
                                     ft.OutlinedButton(ctx.t("sign_out"), icon=ft.Icons.LOGOUT,
                                                       on_click=lambda e: ctx.sign_out(ctx.t("signed_out")))])],
                            alignment=ft.MainAxisAlignment.SPACE_BETWEEN),
                     padding=ft.Padding.symmetric(horizontal=16, vertical=8), bgcolor=ft.Colors.BLUE_GREY_50),
        ft.Row([rail_box, ft.VerticalDivider(width=1), body], expand=True, spacing=0,
               vertical_alignment=ft.CrossAxisAlignment.START)])
    view.data = lambda: show(state["i"])
    return view
