"""The ledger (台账): every matter, whatever its channel, with its state at a glance."""

from __future__ import annotations

import flet as ft

from sync import codes, rules, statute
from sync.queries import OPEN_STATUSES

from ..screens.widgets import ERROR_LINES, named, risk_colour
from ..worklist import today_cst

PAGE = 100


def _filters(ctx):
    ws = ctx.ws
    return [("filter_all", lambda q, n, o: ws.cases(search=q, limit=n, offset=o)),
            ("filter_new", lambda q, n, o: ws.acceptance_queue(search=q, limit=n, offset=o)),
            ("filter_open", lambda q, n, o: ws.cases(open_only=True, search=q, limit=n, offset=o)),
            ("filter_overdue", lambda q, n, o: ws.overdue(search=q)[o:o + n]),
            ("filter_due7", lambda q, n, o: ws.due_soon(search=q)[o:o + n]),
            ("filter_resolved", lambda q, n, o: ws.cases(status="resolved", search=q, limit=n, offset=o))]


def limit_text(ctx, c: dict) -> tuple[str, bool]:
    """The deadline cell: the day, or the limit passed (登记超期, 告知超期 …)."""
    reasons = statute.overdue_reasons(c, today_cst())
    text = c.get("deadline") or (statute.register_due(c).isoformat() if c.get("status") == "reported"
                                 and statute.register_due(c) else "")
    if reasons:
        text = ctx.listed(ctx.t(f"late_{r}") for r in reasons) + (
            f" {statute.handling_due(c)}" if "handling" in reasons else "")
    return text, bool(reasons)


# The columns' widths, the header's and the rows' alike.
WIDTHS = {"col_ref": 130, "col_date": 90, "col_channel": 80, "col_parties": 130, "col_category": 80,
          "col_summary": 220, "col_owner": 110, "col_deadline": 150, "col_status": 70}


def matter_row(ctx, c: dict, names: dict, on_open) -> ft.Control:
    deadline, late = limit_text(ctx, c)
    cells = {
        # the day it entered the ledger, as the exported ledger and the figures date it (a
        # letter registered today as received last month read today's date on screen)
        "col_ref": c.get("ref") or ctx.t("no_ref_yet"), "col_date": str(statute.received(c) or ""),
        "col_channel": ctx.code(codes.CHANNELS, c.get("channel")), "col_parties": ctx.listed(c.get("parties") or []),
        "col_category": ctx.code(codes.CATEGORIES, c.get("category")),
        "col_summary": c.get("title") or (c.get("description") or "")[:24],
        "col_owner": names.get(c.get("owner"), c.get("owner") or ""), "col_deadline": deadline,
        "col_status": ctx.code(codes.CASE_STATUSES, c.get("status")),
    }

    def cell(col: str, value: str) -> ft.Text:
        # every limit passed is said, on two lines if need be ("告知超期、办理超期 2026-12-31"
        # was cut to "告知超期、办…")
        limit = col == "col_deadline"
        return ft.Text(value, width=WIDTHS[col], max_lines=2 if limit else 1, overflow=ft.TextOverflow.ELLIPSIS,
                       color=ft.Colors.RED_700 if limit and late else None)
    return ft.Container(ft.Row(
        [ft.Container(width=10, height=28, bgcolor=risk_colour(c.get("risk")), border_radius=2)] +
        [cell(col, v) for col, v in cells.items()], spacing=8),
        padding=ft.Padding.symmetric(vertical=8, horizontal=4), on_click=lambda e: on_open(c["id"]),
        border=ft.Border.only(bottom=ft.BorderSide(1, ft.Colors.GREY_200)), ink=True)


def header_row(ctx) -> ft.Control:
    return ft.Container(ft.Row([ft.Container(width=10)] + [ft.Text(ctx.t(h), width=w, weight=ft.FontWeight.BOLD)
                                                          for h, w in WIDTHS.items()], spacing=8),
                        padding=ft.Padding.symmetric(vertical=6, horizontal=4), bgcolor=ft.Colors.GREY_100)


def ledger_panel(ctx) -> ft.Control:
    from .matter import open_matter
    filters = _filters(ctx)
    state = ctx.ledger_state        # the clerk's filter and search survive a redraw
    state["offset"] = 0
    rows = ft.ListView(expand=True, spacing=0)
    count = ft.Text(color=ft.Colors.GREY_700)
    more = ft.TextButton(ctx.t("load_more"), visible=False)
    names = ctx.ws.staff_names()

    def load(reset: bool) -> None:
        if reset:
            state["offset"] = 0
            rows.controls.clear()
        got = filters[state["f"]][1](state["q"], PAGE + 1, state["offset"])
        more.visible = len(got) > PAGE
        got = got[:PAGE]
        state["offset"] += len(got)
        rows.controls.extend(matter_row(ctx, c, names, lambda cid: open_matter(ctx, cid)) for c in got)
        count.value = ctx.t("n_matters", n=f"{state['offset']}{'+' if more.visible else ''}")
        if not rows.controls:
            rows.controls.append(ft.Text(ctx.t("ledger_empty"), color=ft.Colors.GREY_700))

    chips, box = filter_controls(ctx, [k for k, _ in filters], state, lambda: (load(True), ctx.page.update()))
    more.on_click = lambda e: (load(False), ctx.page.update())
    load(True)
    exports = export_row(ctx)
    return ft.Column([ft.Row([box, count]), chips, exports, wide(header_row(ctx), rows), more],
                     expand=True, spacing=8)


def filter_controls(ctx, words: list[str], state: dict, redraw) -> tuple[ft.Control, ft.Control]:
    """A list of matters' filter chips (one chosen, `state["f"]`) and its search box
    (`state["q"]`): the ledger's and the supervision ledger's. `redraw()` after a change."""
    def choose(i):
        def handler(e):
            state["f"] = i
            for j, chip in enumerate(chips.controls):
                chip.selected = j == i
            redraw()
        return handler

    def search(e):
        state["q"] = e.control.value or ""
        redraw()
    chips = ft.Row([ft.Chip(label=ft.Text(ctx.t(k)), selected=i == state["f"], on_select=choose(i))
                    for i, k in enumerate(words)], wrap=True)
    box = ft.TextField(label=ctx.t("search_matters"), on_change=search, width=360, dense=True,
                       value=state["q"], max_length=100, error_max_lines=ERROR_LINES)
    return chips, box


def export_row(ctx) -> ft.Control:
    """The files a clerk hands in, of the period chosen: the ledger of a year, the report
    of a month (in January the year gone by is due, early in a month the month gone by:
    the buttons gave only the running ones)."""
    today = today_cst()
    chosen = ctx.ledger_state.setdefault("export", {"year": today.year, "month": (today.year, today.month)})
    months, (y, m) = [], (today.year, today.month)
    for _ in range(24):
        months.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    if chosen["month"] not in months:
        chosen["month"] = months[0]

    def pick(key, read):
        def handler(e):
            chosen[key] = read(e.control.value)
        return handler
    year = named(ft.Dropdown(label=ctx.t("export_year"), width=130, dense=True, value=str(chosen["year"]),
                             on_select=pick("year", int),
                             options=[ft.DropdownOption(key=str(y), text=ctx.t("year_n", n=y)) for y in ctx.ws.ledger_years()]))
    month = named(ft.Dropdown(label=ctx.t("export_month"), width=176, dense=True,   # "2026年11月" and its arrow
                              value=f"{chosen['month'][0]}-{chosen['month'][1]:02d}",
                              on_select=pick("month", lambda v: (int(v[:4]), int(v[5:]))),
                              options=[ft.DropdownOption(key=f"{y}-{m:02d}", text=ctx.t("month_n", y=y, m=m))
                                       for y, m in months]))

    def ledger(kind):
        return lambda e: ctx.download(kind, start=f"{chosen['year']}-01-01", end=f"{chosen['year']}-12-31")
    return ft.Row([
        year,
        ft.OutlinedButton(ctx.t("export_xlsx"), icon=ft.Icons.DOWNLOAD, on_click=ledger("ledger.xlsx")),
        ft.OutlinedButton(ctx.t("export_csv"), on_click=ledger("ledger.csv")),
        month,
        ft.OutlinedButton(ctx.t("export_monthly"), on_click=lambda e: ctx.download(
            "monthly.xlsx", year=chosen["month"][0], month=chosen["month"][1])),
        ft.OutlinedButton(ctx.t("export_supervision"), on_click=lambda e: ctx.download("supervision.xlsx")),
    ], wrap=True, vertical_alignment=ft.CrossAxisAlignment.CENTER)


# The header and the rows side by side: about 1,150 px
ROW_WIDTH = sum(WIDTHS.values()) + 8 * len(WIDTHS) + 10 + 8


def wide(header: ft.Control, rows: ft.Control, width: int = ROW_WIDTH) -> ft.Control:
    """The table scrolls sideways in a window narrower than its columns (a 1,024 px
    screen cut 办理期限 and 状态 off, with no way to see them); the rows scroll down
    inside it, under a header that stays."""
    return ft.Row([ft.Container(ft.Column([header, rows], spacing=0, expand=True), width=width)],
                  scroll=ft.ScrollMode.AUTO, expand=True, vertical_alignment=ft.CrossAxisAlignment.STRETCH)
