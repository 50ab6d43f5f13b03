"""Households: search by name, address or need, or the nearest ones first; a household
found in the field added here. Archived ones (moved out, head deceased) stay findable,
marked as such."""

from __future__ import annotations

import flet as ft

from sync import codes, households

from .. import i18n
from ..geo import format_distance
from .widgets import ERROR_LINES, TOUCH, KeptTiles, empty, row_key

PAGE = 50


def households_panel(ctx) -> ft.Control:
    from .household import open_household, status_words
    from .household_form import open_household_form
    from .position import current_fix

    state = {"text": "", "need": None, "offset": 0, "near": None}
    results = ft.ListView(expand=True, spacing=0, padding=ft.Padding.only(bottom=80))  # clear of the add button
    more = ft.TextButton(ctx.t("load_more"), visible=False, height=TOUCH)
    note = ft.Text(color=ft.Colors.GREY_700, size=12)

    kept = KeptTiles()

    def tile(h: dict, dist: float | None = None) -> ft.Control:
        return kept.get(row_key(h, dist), lambda: make_tile(h, dist))

    def make_tile(h: dict, dist: float | None) -> ft.Control:
        tags = i18n.listed((ctx.code(codes.NEEDS, t) for t in (h.get("tags") or [])), ctx.lang)
        gone = households.archived(h)
        sub = h["address"] + (f" · {tags}" if tags else "") + (f" · {status_words(ctx, h)}" if gone else "")
        return ft.ListTile(
            leading=ft.Icon(ft.Icons.ARCHIVE_OUTLINED if gone else ft.Icons.HOME_OUTLINED),
            title=ft.Text(h["head_name"], color=ft.Colors.GREY_600 if gone else None),
            subtitle=ft.Text(sub, max_lines=2),
            trailing=ft.Text(format_distance(dist), size=12) if dist is not None else None,
            on_click=lambda e, hid=h["id"]: open_household(ctx, hid), min_height=TOUCH + 16)

    def load(reset: bool) -> None:
        if reset:
            state["offset"] = 0
            kept.keep_only(results.controls)
            results.controls.clear()
        if state["near"]:
            lat, lon = state["near"]
            rows = ctx.ws.nearest_households(lat, lon, PAGE)
            results.controls.extend(tile(h, d) for d, h in rows)
            more.visible = False
        else:
            rows = ctx.ws.search_households(state["text"], state["need"], PAGE + 1, state["offset"])
            more.visible = len(rows) > PAGE
            rows = rows[:PAGE]
            state["offset"] += len(rows)
            results.controls.extend(tile(h) for h in rows)
        if not results.controls:
            results.controls.append(empty(ctx.t("no_households") if state["text"] or state["need"]
                                          else ctx.t("hh_none_phone")))

    def on_search(e) -> None:
        state["text"], state["near"] = e.control.value or "", None
        load(True)
        ctx.page.update()

    def on_need(code):
        def handler(e):
            state["need"] = code if e.control.selected else None
            for c in chips.controls:
                c.selected = c.data == state["need"]
            state["near"] = None
            load(True)
            ctx.page.update()
        return handler

    async def near_me(e) -> None:
        note.value = ctx.t("locating")
        ctx.page.update()
        fix, why = await current_fix(ctx)
        if fix is None:
            note.value = ctx.t("no_fix", why=why)
        else:
            note.value = ""
            state["near"] = (fix.lat, fix.lon)
            load(True)
        ctx.page.update()

    more.on_click = lambda e: (load(False), ctx.page.update())
    search = ft.TextField(label=ctx.t("tab_households"), hint_text=ctx.t("search_hint"),
                          prefix_icon=ft.Icons.SEARCH, on_change=on_search, dense=True, expand=True,
                          error_max_lines=ERROR_LINES)
    chips = ft.Row([ft.Chip(label=ft.Text(row[ctx.lang]), data=code, on_select=on_need(code))
                    for code, row in codes.NEEDS.items()], scroll=ft.ScrollMode.AUTO)
    load(True)
    column = ft.Column([
        ft.Container(ft.Row([search, ft.OutlinedButton(ctx.t("near_me"), icon=ft.Icons.NEAR_ME,
                                                        on_click=near_me, height=TOUCH)]),
                     padding=ft.Padding.only(left=12, right=12, top=8)),
        ft.Container(chips, padding=ft.Padding.symmetric(horizontal=12)),
        ft.Container(note, padding=ft.Padding.symmetric(horizontal=16)),
        results, more], expand=True, spacing=4)

    def refresh() -> None:
        """Records arrived (the first sync after a sign-in, a roster the office imported):
        the list again, as far down as it was, with the words typed and the need ticked
        kept; a list sorted by distance stays as the person asked for it."""
        if state["near"]:
            return
        shown = state["offset"]
        load(True)
        while more.visible and state["offset"] < shown:
            load(False)

    panel: ft.Control = column
    if ctx.ws.grids and ctx.ws.may("household", None, {"grid_id": ctx.ws.grids[0]}):
        # a household found in the field (a new arrival): registered here, in one of the person's grids
        add = ft.FloatingActionButton(content=ft.Text(ctx.t("hh_add")), icon=ft.Icons.ADD,
                                      on_click=lambda e: open_household_form(ctx))
        panel = ft.Stack([column, ft.Container(add, right=16, bottom=16)], expand=True)
    panel.data = refresh   # the shell calls it when a sync brings records (shell.py)
    return panel
