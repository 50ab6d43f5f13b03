"""The root screen: the sync bar on top, the person's tabs at the bottom."""

from __future__ import annotations

import flet as ft

from . import attachments, cases, households, map_view, me, today
from .widgets import sync_bar


def tabs_for(role: str) -> list[tuple[str, str, object]]:
    """(label key, icon, builder) of the tabs a role works with."""
    if role == "leader":
        return [("tab_my_cases", ft.Icons.ASSIGNMENT_IND, cases.owned_cases),
                ("tab_today", ft.Icons.TODAY, today.today_panel),
                ("tab_map", ft.Icons.MAP, map_view.map_panel),
                ("tab_me", ft.Icons.PERSON, me.me_panel)]
    return [("tab_today", ft.Icons.TODAY, today.today_panel),
            ("tab_households", ft.Icons.HOME, households.households_panel),
            ("tab_cases", ft.Icons.ASSIGNMENT, cases.reported_cases),
            ("tab_map", ft.Icons.MAP, map_view.map_panel),
            ("tab_me", ft.Icons.PERSON, me.me_panel)]


def shell_view(ctx, selected: int = 0) -> ft.View:
    tabs = tabs_for(ctx.ws.role)
    body = ft.Container(expand=True)
    state = {"i": selected}

    def show(i: int) -> None:
        state["i"] = i
        body.content = tabs[i][2](ctx)
        nav.selected_index = i

    def changed(e) -> None:
        show(int(e.control.selected_index))
        ctx.page.update()

    seen = {"received": ctx.phone.runner.status.received}

    def synced(st) -> None:
        """New records arrived: redraw what shows them, but never a half-filled form."""
        if st.received == seen["received"]:
            return
        seen["received"] = st.received
        top = ctx.page.views[-1] if ctx.page.views else None
        if top is view and tabs[state["i"]][0] == "tab_map":
            show(state["i"])
        elif top is view and callable(getattr(body.content, "data", None)):
            # in place: a search box keeps what was typed, and a tile on its way to a tap
            # stays (a list of new tiles dropped the tap)
            body.content.data()
        elif top is not view and callable(getattr(top, "data", None)):
            top.data()

    ctx.on_status(synced)  # the root lives as long as the window
    nav = ft.NavigationBar(
        destinations=[ft.NavigationBarDestination(icon=icon, label=ctx.t(key)) for key, icon, _ in tabs],
        on_change=changed)
    show(selected)
    view = ft.View(route="/", padding=0, spacing=0, navigation_bar=nav, controls=[
        ft.SafeArea(ft.Column([sync_bar(ctx), attachments.photos_waiting(ctx), body], spacing=0, expand=True),
                    expand=True)])
    view.data = lambda: show(state["i"])  # refreshed when a pushed screen closes
    attachments.follow_connectivity(ctx, view)  # photos may wait for Wi-Fi (我的 → 仅在Wi-Fi下上传照片)
    return view
