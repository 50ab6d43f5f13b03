"""Getting a position: GPS with its accuracy, or a manual position marked as such."""

from __future__ import annotations

import asyncio

import flet as ft

from ..geo import Fix, format_distance, parse_manual, visit_location_fields
from .widgets import TOUCH


async def current_fix(ctx, timeout_s: float = 20) -> tuple[Fix | None, str]:
    """A fix from the phone's (or browser's) location service, or why there is none."""
    geo = ctx.geolocator
    if geo is None:
        return None, "no location service"
    try:
        pos = await asyncio.wait_for(geo.get_current_position(), timeout_s)
    except asyncio.TimeoutError:
        return None, "timeout"
    except Exception as e:  # permission refused, service off: the plugin's own words
        return None, str(e) or type(e).__name__
    if pos is None or pos.latitude is None or pos.longitude is None:
        return None, "no fix"
    return Fix(float(pos.latitude), float(pos.longitude),
               float(pos.accuracy) if pos.accuracy is not None else None,
               "gps", bool(pos.mocked)), ""


class PositionPicker:
    """The position part of a form. `fields()` gives the record's location fields."""

    def __init__(self, ctx, household: dict | None = None):
        self.ctx, self.household, self.fix = ctx, household, None
        self.summary = ft.Text(ctx.t("locating"))
        self.warnings = ft.Column(spacing=2)
        self.lat = ft.TextField(label=ctx.t("lat"), width=150, keyboard_type=ft.KeyboardType.NUMBER)
        self.lon = ft.TextField(label=ctx.t("lon"), width=150, keyboard_type=ft.KeyboardType.NUMBER)
        self.manual = ft.Row([self.lat, self.lon], visible=False, wrap=True)
        self.control = ft.Column([
            ft.Text(ctx.t("position"), weight=ft.FontWeight.BOLD),
            self.summary, self.warnings,
            ft.Row([ft.OutlinedButton(ctx.t("get_position"), icon=ft.Icons.MY_LOCATION,
                                      on_click=self.locate, height=TOUCH),
                    ft.TextButton(ctx.t("manual_position"), on_click=self.show_manual, height=TOUCH)],
                   wrap=True),
            self.manual], spacing=6)

    async def locate(self, e=None) -> None:
        self.summary.value = self.ctx.t("locating")
        self.ctx.page.update()
        fix, why = await current_fix(self.ctx)
        if fix is None:
            self.summary.value = self.ctx.t("no_fix", why=why)
            self.manual.visible = True
        else:
            self.fix = fix
            self.manual.visible = False
        self.render()
        self.ctx.page.update()

    def show_manual(self, e=None) -> None:
        self.manual.visible = True
        self.ctx.page.update()

    def render(self) -> None:
        t, fix = self.ctx.t, self.fix
        self.warnings.controls.clear()
        if fix is None:
            return
        acc = f" · {t('accuracy', m=round(fix.accuracy_m))}" if fix.accuracy_m is not None else ""
        self.summary.value = f"{fix.lat:.6f}, {fix.lon:.6f}{acc}"
        warn = []
        if fix.source == "manual":
            warn.append(t("manual_marked"))
        if fix.poor:
            warn.append(t("poor_accuracy"))
        if fix.mocked:
            warn.append(t("mocked"))
        loc = visit_location_fields(fix, self.household, self.ctx.phone.settings.far_m)
        if loc.get("far_from_home"):
            warn.append(t("far_from_home", d=format_distance(loc["distance_m"]),
                          limit=round(self.ctx.phone.settings.far_m)))
        self.warnings.controls.extend(ft.Text(w, color=ft.Colors.ORANGE_900) for w in warn)

    def fields(self) -> tuple[dict, bool]:
        """(location fields, ok). A typed position wins over a failed or absent fix."""
        if self.manual.visible and ((self.lat.value or "").strip() or (self.lon.value or "").strip()):
            fix, errors = parse_manual(self.lat.value or "", self.lon.value or "")
            self.lat.error = self._msg(errors.get("lat"))
            self.lon.error = self._msg(errors.get("lon"))
            if fix is None:
                return {}, False
            self.fix = fix
            self.render()
        return visit_location_fields(self.fix, self.household, self.ctx.phone.settings.far_m), True

    def _msg(self, rule: str | None) -> str | None:
        return {"number": self.ctx.t("number_needed"), "range": self.ctx.t("out_of_range")}.get(rule)
