"""The map: households (grey) and cases coloured by risk. The tile server is a
setting (a township may serve its own tiles); with none, the markers still show on
a plain background, so the map works with no network at all."""

from __future__ import annotations

import flet as ft
import flet_map as fm

from .widgets import risk_colour

MAX_MARKERS = 1500  # beyond this a phone's map stutters; the nearest-first list is the tool then


def map_points(ws) -> tuple[list[dict], list[dict]]:
    """(cases, households) that have a position, open cases first."""
    cases = [c for c in ws.cases(open_only=True, limit=MAX_MARKERS) if c.get("lat") is not None]
    if ws.role == "leader":
        cases = [c for c in ws.cases(owner=ws.username, limit=MAX_MARKERS) if c.get("lat") is not None]
    households = [h for h in ws.search_households("", limit=MAX_MARKERS - len(cases))
                  if h.get("lat") is not None] if ws.role != "leader" else []
    return cases, households


def centre(cases: list[dict], households: list[dict], grids: list[dict]) -> tuple[float, float]:
    pts = [(p["lat"], p["lon"]) for p in cases + households]
    pts = pts or [(g["lat"], g["lon"]) for g in grids if g.get("lat") is not None]
    if not pts:
        return 29.07, 119.65
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


def map_panel(ctx) -> ft.Control:
    from .case_detail import open_case
    from .household import open_household
    cases, households = map_points(ctx.ws)
    lat, lon = centre(cases, households, ctx.ws.grid_list())
    markers = [fm.Marker(coordinates=fm.MapLatitudeLongitude(h["lat"], h["lon"]), width=14, height=14,
                         content=ft.Container(width=10, height=10, border_radius=5, bgcolor=ft.Colors.GREY_600,
                                              on_click=lambda e, hid=h["id"]: open_household(ctx, hid)))
               for h in households]
    markers += [fm.Marker(coordinates=fm.MapLatitudeLongitude(c["lat"], c["lon"]), width=28, height=28,
                          content=ft.Container(
                              ft.Icon(ft.Icons.REPORT, color=ft.Colors.WHITE, size=16), width=26, height=26,
                              border_radius=13, bgcolor=risk_colour(c.get("risk")),
                              alignment=ft.Alignment.CENTER,
                              on_click=lambda e, cid=c["id"]: open_case(ctx, cid)))
                for c in cases]
    layers = []
    url = (ctx.phone.settings.tile_url or "").strip()
    if url:
        layers.append(fm.TileLayer(url_template=url, max_zoom=19))
    layers.append(fm.MarkerLayer(markers=markers))
    notes = [ctx.t("map_legend")]
    if not url:
        notes.insert(0, ctx.t("map_no_tiles"))
    return ft.Column([
        ft.Container(ft.Text(" · ".join(notes), size=12, color=ft.Colors.GREY_800),
                     padding=ft.Padding.symmetric(horizontal=12, vertical=4)),
        fm.Map(expand=True, initial_center=fm.MapLatitudeLongitude(lat, lon), initial_zoom=14,
               bgcolor=ft.Colors.BLUE_GREY_50, layers=layers),
    ], expand=True, spacing=0)
