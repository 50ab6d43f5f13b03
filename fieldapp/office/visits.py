"""Visits as the office reviews them: how far each was from the household's registered
position, against the township's threshold (a setting of the township, not of a
phone), and whether the phone reported its position as mocked or typed by hand."""

from __future__ import annotations

import flet as ft
from geopy.distance import geodesic

from sync import codes, households

from ..geo import format_distance
from ..worklist import today_cst


def review_visit(visit: dict, household: dict | None, far_m: float) -> dict:
    """{"distance_m": metres or None, "far": bool}: computed at the office from the
    positions themselves, whatever the phone flagged."""
    d = None
    if household and None not in (visit.get("lat"), visit.get("lon"), household.get("lat"), household.get("lon")):
        try:
            d = geodesic((visit["lat"], visit["lon"]), (household["lat"], household["lon"])).meters
        except ValueError:
            d = None
    return {"distance_m": d, "far": d is not None and d > far_m, "unplaced": households.unplaced(visit)}


def visits_panel(ctx) -> ft.Control:
    """The last visits of the township, the doubtful ones (far, mocked, typed) first."""
    far_m = ctx.store.settings()["far_m"]
    names = ctx.ws.staff_names()
    only_doubtful = {"on": True}
    rows = ft.ListView(expand=True, spacing=0)
    count = ft.Text(color=ft.Colors.GREY_700)

    def fill() -> None:
        ctx.touch()
        got = []
        for v in ctx.ws.recent_visits(limit=500):
            hh = ctx.ws.household(v["household_id"]) if v.get("household_id") else None
            r = review_visit(v, hh, far_m)
            doubtful = r["far"] or r["unplaced"] or v.get("mocked") or v.get("location_source") == "manual"
            if doubtful or not only_doubtful["on"]:
                got.append((v, hh, r, doubtful))
        got.sort(key=lambda x: (not x[3], x[0].get("visited_at") or ""), reverse=False)
        rows.controls = [ft.Container(ft.Row([
            ft.Text((v.get("visited_at") or "")[:16].replace("T", " "), width=140),
            ft.Text(names.get(v.get("visitor"), v.get("visitor") or ""), width=110),
            ft.Text(ctx.code(codes.VISIT_KINDS, v.get("kind")), width=70),
            ft.Text((hh or {}).get("address") or "—", width=240, max_lines=1, overflow=ft.TextOverflow.ELLIPSIS),
            ft.Text("—" if r["distance_m"] is None else format_distance(r["distance_m"]), width=90,
                    color=ft.Colors.RED_700 if r["far"] else None),
            ft.Text(ctx.clauses(x for x in (ctx.t("far_flag", limit=round(far_m)) if r["far"] else "",
                                         ctx.t("unplaced_flag") if r["unplaced"] else "",
                                         ctx.t("mocked_flag") if v.get("mocked") else "",
                                         ctx.t("manual_flag") if v.get("location_source") == "manual" else "") if x)
                    or ctx.t("visit_ok"), width=260, color=ft.Colors.RED_700 if doubtful else ft.Colors.GREY_700),
        ], spacing=8), padding=ft.Padding.symmetric(vertical=6, horizontal=4),
            border=ft.Border.only(bottom=ft.BorderSide(1, ft.Colors.GREY_200))) for v, hh, r, doubtful in got]
        if not rows.controls:
            rows.controls.append(ft.Text(ctx.t("visits_none_doubtful" if only_doubtful["on"] else "visits_none"),
                                         color=ft.Colors.GREY_700))
        count.value = ctx.t("n_entries", n=len(got))

    def toggle(e) -> None:
        only_doubtful["on"] = bool(e.control.value)
        fill()
        ctx.page.update()

    fill()
    heads = [("visited_at", 140), ("visitor", 110), ("kind", 70), ("address", 240), ("distance_m", 90),
             ("visit_checks", 260)]
    return ft.Column([
        ft.Text(ctx.t("nav_visits"), size=18, weight=ft.FontWeight.BOLD),
        ft.Row([ft.Switch(label=ctx.t("only_doubtful"), value=True, on_change=toggle), count,
                ft.Text(ctx.t("far_setting", m=round(far_m)), color=ft.Colors.GREY_700)], wrap=True),
        ft.Container(ft.Row([ft.Text(ctx.t(k) if k in ("visit_checks",) else _label(ctx, k), width=w,
                                     weight=ft.FontWeight.BOLD) for k, w in heads], spacing=8),
                     padding=ft.Padding.symmetric(vertical=6, horizontal=4), bgcolor=ft.Colors.GREY_100),
        rows], expand=True, spacing=8)


def _label(ctx, field: str) -> str:
    from ..i18n import field_label
    return field_label(field, ctx.lang)


__all__ = ["review_visit", "visits_panel", "today_cst"]
