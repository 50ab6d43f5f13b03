"""Case lists: what a grid worker reported or their grids hold; a leader's own cases."""

from __future__ import annotations

import flet as ft

from .widgets import ERROR_LINES, TOUCH, KeptTiles, empty, kept_case_tile

PAGE = 50


def _case_list(ctx, query: dict, empty_text: str, filters: list | None = None) -> ft.Control:
    from .case_detail import open_case
    state = {"offset": 0, "query": dict(query), "search": ""}
    items = ft.ListView(expand=True)
    more = ft.TextButton(ctx.t("load_more"), visible=False, height=TOUCH)
    names: dict = {}   # read at each drawing: a name the office corrected since
    kept = KeptTiles()

    def load(reset: bool) -> None:
        if reset:
            state["offset"] = 0
            names.update(ctx.ws.staff_names())
            kept.keep_only(items.controls)
            items.controls.clear()
        rows = ctx.ws.cases(**state["query"], search=state["search"], limit=PAGE + 1, offset=state["offset"])
        more.visible = len(rows) > PAGE
        rows = rows[:PAGE]
        state["offset"] += len(rows)
        day = ctx.ws.now().date()
        items.controls.extend(kept_case_tile(kept, ctx, c, lambda cid: open_case(ctx, cid), names, day)
                              for c in rows)
        if not items.controls:
            items.controls.append(empty(ctx.t("no_cases_found") if state["search"].strip() else empty_text))

    def on_search(e) -> None:
        state["search"] = e.control.value or ""
        load(True)
        ctx.page.update()

    more.on_click = lambda e: (load(False), ctx.page.update())
    # hundreds of matters in a grid: found by number, title, party or place, as households are
    search = ft.TextField(label=ctx.t("case_search"), hint_text=ctx.t("case_search_hint"), prefix_icon=ft.Icons.SEARCH,
                          on_change=on_search, dense=True, error_max_lines=ERROR_LINES)
    controls = [ft.Container(search, padding=ft.Padding.only(left=12, right=12, top=8))]
    if filters:
        def choose(i):
            def handler(e) -> None:
                state["query"] = {**query, **filters[i][1]}
                for j, chip in enumerate(row.controls):
                    chip.selected = j == i
                load(True)
                ctx.page.update()
            return handler
        row = ft.Row([ft.Chip(label=ft.Text(label), selected=i == 0, on_select=choose(i))
                      for i, (label, _) in enumerate(filters)], scroll=ft.ScrollMode.AUTO)
        state["query"] = {**query, **filters[0][1]}
        controls.append(ft.Container(row, padding=ft.Padding.only(left=12, right=12, top=8)))
    load(True)
    panel = ft.Column([*controls, items, more], expand=True, spacing=0)

    def refresh() -> None:
        """Records arrived (a sync): the list again, as far down as it was, with the
        words typed and the chip chosen kept (rebuilt, the tab emptied the search box
        under the person's finger)."""
        shown = state["offset"]
        load(True)
        while more.visible and state["offset"] < shown:
            load(False)
    panel.data = refresh   # the shell calls it when a sync brings records (shell.py)
    return panel


def reported_cases(ctx) -> ft.Control:
    me = ctx.ws.username
    return _case_list(ctx, {}, ctx.t("no_cases"), filters=[
        (ctx.t("my_reports"), {"reported_by": me}),
        (ctx.t("open_only"), {"open_only": True}),
        (ctx.t("grid_cases"), {}),
    ])


def owned_cases(ctx) -> ft.Control:
    return _case_list(ctx, {"owner": ctx.ws.username}, ctx.t("no_owned_cases"), filters=[
        (ctx.t("open_only"), {"open_only": True}),
        (ctx.t("all_owned"), {}),   # a leader holds no grid: all the cases they own
    ])
