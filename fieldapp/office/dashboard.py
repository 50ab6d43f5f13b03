"""The figures the township reports (接访, 走访, 化解率, 满意度 ...) for any period, by
village, category and channel, with charts and a map of open matters."""

from __future__ import annotations

import datetime as dt

import flet as ft
import flet_charts as fch
import flet_map as fm

from sync import codes
from sync.server import stats
from sync.rules import format_rate

from ..screens.widgets import risk_colour
from ..worklist import today_cst

PRESETS = ("this_year", "this_month", "last_30")
FIGURES = [("fig_receptions", "receptions"), ("fig_household_visits", "household_visits"),
           ("fig_registered", "registered"), ("fig_resolved", "resolved"),
           ("fig_resolution_rate", "resolution_rate"), ("fig_satisfaction_rate", "satisfaction_rate"),
           ("fig_overdue", "overdue"), ("fig_leader_resolved", "leader_resolved")]


def periods(today: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    month_start = today.replace(day=1)
    return [("this_year", today.replace(month=1, day=1), today.replace(month=12, day=31)),
            ("this_month", month_start, today),
            ("last_30", today - dt.timedelta(days=29), today)]


def card(label: str, value) -> ft.Control:
    text = format_rate(value) if isinstance(value, float) or (value is None) else str(value)
    return ft.Container(ft.Column([ft.Text(label, color=ft.Colors.GREY_700),
                                   ft.Text(text, size=26, weight=ft.FontWeight.BOLD)], spacing=2),
                        width=150, padding=12, border_radius=8, bgcolor=ft.Colors.BLUE_GREY_50)


def bars(ctx, title: str, rows: list[dict], table=None) -> ft.Control:
    """Registered (blue) and resolved (green) side by side, per key."""
    rows = rows[:12]
    top = max([1] + [max(r["registered"], r["resolved"]) for r in rows])
    chart = fch.BarChart(
        groups=[fch.BarChartGroup(x=i, rods=[
            fch.BarChartRod(from_y=0, to_y=r["registered"], width=10, color=ft.Colors.BLUE_600),
            fch.BarChartRod(from_y=0, to_y=r["resolved"], width=10, color=ft.Colors.GREEN_600)])
            for i, r in enumerate(rows)],
        max_y=top * 1.15, width=max(260, 60 * len(rows)), height=220,
        bottom_axis=fch.ChartAxis(label_size=36, labels=[
            fch.ChartAxisLabel(value=i, label=ft.Text((ctx.code(table, r["key"]) if table else r["label"])[:6],
                                                      size=11)) for i, r in enumerate(rows)]),
        left_axis=fch.ChartAxis(label_size=36))
    legend = ft.Row([ft.Container(width=10, height=10, bgcolor=ft.Colors.BLUE_600), ft.Text(ctx.t("fig_registered"), size=11),
                     ft.Container(width=10, height=10, bgcolor=ft.Colors.GREEN_600), ft.Text(ctx.t("fig_resolved"), size=11)],
                    spacing=4)
    return ft.Column([ft.Row([ft.Text(title, weight=ft.FontWeight.BOLD), legend], spacing=12), chart], spacing=4)


def dashboard_panel(ctx) -> ft.Control:
    today = today_cst()
    choices = periods(today)
    state = {"p": 0, "village": None, "category": None, "channel": None}
    body = ft.Column(spacing=12)
    villages = sorted({g["village"] for g in ctx.ws.grid_list()})

    def fill() -> None:
        _, start, end = choices[state["p"]]
        with ctx.store.lock:
            f = stats.dashboard(ctx.store.conn, start, end, state["village"], state["category"],
                                state["channel"], today)
        body.controls = [
            ft.Text(f"{start.isoformat()} — {end.isoformat()}", color=ft.Colors.GREY_700),
            ft.Row([card(ctx.t(label), f.get(key)) for label, key in FIGURES], wrap=True),
            ft.Row([bars(ctx, ctx.t("by_village"), f.get("by_village", [])),
                    bars(ctx, ctx.t("by_category"), f.get("by_category", []), codes.CATEGORIES),
                    bars(ctx, ctx.t("by_channel"), f.get("by_channel", []), codes.CHANNELS)], wrap=True, spacing=24),
            ft.Row([satisfaction_table(ctx.t("sat_by_owner"), f.get("satisfaction_by_owner", [])),
                    satisfaction_table(ctx.t("sat_by_department"), f.get("satisfaction_by_department", []))],
                   wrap=True, spacing=24, vertical_alignment=ft.CrossAxisAlignment.START),
            ft.Text(ctx.t("open_map"), weight=ft.FontWeight.BOLD),
            open_map(f.get("open_points", []), ctx),
        ]

    def pick(i):
        def handler(e):
            state["p"] = i
            for j, c in enumerate(period_chips.controls[:len(PRESETS)]):
                c.selected = j == i
            fill()
            ctx.page.update()
        return handler

    def filt(key):
        def handler(e):
            state[key] = e.control.value or None
            fill()
            ctx.page.update()
        return handler

    period_chips = ft.Row([ft.Chip(label=ft.Text(ctx.t(k)), selected=i == 0, on_select=pick(i))
                           for i, (k, _, _) in enumerate(choices)])
    start_f = ft.TextField(label=ctx.t("period_start"), width=150, dense=True)
    end_f = ft.TextField(label=ctx.t("period_end"), width=150, dense=True)

    def custom(e):
        try:
            start, end = dt.date.fromisoformat(start_f.value.strip()), dt.date.fromisoformat(end_f.value.strip())
            if end < start:
                raise ValueError
        except (AttributeError, ValueError):
            start_f.error = ctx.t("date_hint")
            ctx.page.update()
            return
        start_f.error = None
        choices.append(("custom", start, end))
        state["p"] = len(choices) - 1
        for c in period_chips.controls[:len(PRESETS)]:
            c.selected = False
        fill()
        ctx.page.update()
    period_chips.controls.extend([start_f, end_f, ft.OutlinedButton(ctx.t("apply"), on_click=custom)])
    any_opt = [ft.DropdownOption(key="", text=ctx.t("filter_all"))]
    filters = ft.Row([
        ft.Dropdown(label=ctx.t("village"), width=160, value="", on_select=filt("village"),
                    options=any_opt + [ft.DropdownOption(key=v, text=v) for v in villages]),
        ft.Dropdown(label=ctx.t("category"), width=180, value="", on_select=filt("category"),
                    options=any_opt + [ft.DropdownOption(key=k, text=r[ctx.lang]) for k, r in codes.CATEGORIES.items()]),
        ft.Dropdown(label=ctx.t("channel"), width=180, value="", on_select=filt("channel"),
                    options=any_opt + [ft.DropdownOption(key=k, text=r[ctx.lang]) for k, r in codes.CHANNELS.items()]),
    ], wrap=True)
    fill()
    return ft.ListView([ft.Row([ft.Text(ctx.t("period"), weight=ft.FontWeight.BOLD), period_chips]), filters, body],
                       expand=True, spacing=10, padding=ft.Padding.only(right=16, bottom=24))


def satisfaction_table(title: str, rows: list[dict]) -> ft.Control:
    lines = [ft.Row([ft.Text(r["label"], width=140), ft.Text(str(r["callbacks"]), width=50),
                     ft.Text(format_rate(r["satisfaction_rate"]), width=70)]) for r in rows]
    return ft.Column([ft.Text(title, weight=ft.FontWeight.BOLD), *(lines or [ft.Text("—")])], spacing=2)


def open_map(points: list[dict], ctx) -> ft.Control:
    from .matter import open_matter
    pts = [p for p in points if p.get("lat") is not None][:2000]
    grids = [g for g in ctx.ws.grid_list() if g.get("lat") is not None]
    if pts:
        lat, lon = sum(p["lat"] for p in pts) / len(pts), sum(p["lon"] for p in pts) / len(pts)
    elif grids:
        lat, lon = grids[0]["lat"], grids[0]["lon"]
    else:
        lat, lon = 29.07, 119.65
    markers = [fm.Marker(coordinates=fm.MapLatitudeLongitude(p["lat"], p["lon"]), width=18, height=18,
                         content=ft.Container(width=16, height=16, border_radius=8, bgcolor=risk_colour(p.get("risk")),
                                              on_click=lambda e, cid=p["id"]: open_matter(ctx, cid)))
               for p in pts]
    return ft.Container(fm.Map(initial_center=fm.MapLatitudeLongitude(lat, lon), initial_zoom=13,
                               bgcolor=ft.Colors.BLUE_GREY_50, layers=[fm.MarkerLayer(markers=markers)]),
                        height=360, border_radius=8, clip_behavior=ft.ClipBehavior.HARD_EDGE)
