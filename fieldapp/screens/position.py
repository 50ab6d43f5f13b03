"""Getting a position: GPS with its accuracy and age, or a manual position marked as such.

A form takes a fresh fix when it opens and on "重新定位", never a cached one: a browser
would otherwise answer with a position up to five minutes old (Flet's geolocator asks
for `maximumAge` 5 min on the web), and a phone may answer with its last known one
(refused when its own stamp says it is over a minute old). A fix older than a minute
(geo.MAX_FIX_AGE_S) is not used for a record: saving takes a new one, and keeps the
newer if the phone has moved (geo.stale_reason).
"""

from __future__ import annotations

import asyncio

import flet as ft

from ..geo import (Fix, distance_m, fix_age_s, format_distance, now_ms, parse_manual, placed, position_time_ms,
                   stale_reason, visit_location_fields)
from .widgets import ERROR_LINES, TOUCH

TICK_S = 5  # how often the shown age of the fix is brought up to date


def _configuration(ctx):
    """Ask for a position taken now: on the web, a cached one is refused (maximumAge of
    1 ms: Flet's own default for a single fix is 5 minutes)."""
    import flet_geolocator as fg
    common = dict(accuracy=fg.GeolocatorPositionAccuracy.HIGH, time_limit=ft.Duration(seconds=15))
    if getattr(ctx.page, "web", False):
        return fg.GeolocatorWebConfiguration(**common, maximum_age=ft.Duration(milliseconds=1))
    return fg.GeolocatorConfiguration(**common)


def failure_words(ctx, e: Exception) -> str:
    """Why the location service gave no position, and what to do, in the person's
    language: the plugin's and the browser's own words are English ("Location permission
    denied: User denied Geolocation."), which a grid worker cannot act on."""
    text = str(e).lower()
    if "denied" in text or "permission" in text:
        return ctx.t("fix_why_denied")
    if "disabled" in text or "service" in text or "turned off" in text:
        return ctx.t("fix_why_off")
    return ctx.t("fix_why_none")


async def current_fix(ctx, timeout_s: float = 20) -> tuple[Fix | None, str]:
    """A fresh fix from the phone's (or browser's) location service, or why there is none.
    A fix the platform took over a minute ago (its cached last position) is asked again
    once, then refused with its age."""
    geo = ctx.geolocator
    if geo is None:
        return None, ctx.t("fix_why_service")
    try:
        config = _configuration(ctx)
    except Exception:  # no flet_geolocator: the service object came from elsewhere
        config = None
    # On the web the browser is told to take a new position (maximumAge ~0), so what it
    # answers is where the phone is now: its age counts from its arrival (a browser's
    # own stamp may be older: an emulated position keeps the moment it was set). A
    # phone's location service gives no such promise: its stamp says how old a fix is.
    web = bool(getattr(ctx.page, "web", False))
    why = ctx.t("fix_why_none")
    for _ in range(2):
        try:
            pos = await asyncio.wait_for(geo.get_current_position(config), timeout_s)
        except asyncio.TimeoutError:
            return None, ctx.t("fix_why_timeout")
        except Exception as e:  # permission refused, service off: said in the person's words
            return None, failure_words(ctx, e)
        if pos is None or pos.latitude is None or pos.longitude is None:
            return None, ctx.t("fix_why_none")
        received = now_ms()
        fix = Fix(float(pos.latitude), float(pos.longitude),
                  float(pos.accuracy) if pos.accuracy is not None else None,
                  "gps", bool(pos.mocked),
                  received if web else position_time_ms(getattr(pos, "timestamp", None), received))
        if stale_reason(fix, received) is None:
            return fix, ""
        why = ctx.t("fix_refused_old", age=age_words(ctx, fix_age_s(fix, received)))
    return None, why


def age_words(ctx, seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return ctx.t("fix_age_s", n=int(seconds))
    return ctx.t("fix_age_min", n=int(seconds // 60))


class PositionPicker:
    """The position part of a form. `fields_for_save()` gives the record's location
    fields, with a fix fit to be used now. `recorded`: the location fields of a record
    being corrected (its position as recorded: not taken again unless asked)."""

    def __init__(self, ctx, household: dict | None = None, recorded: dict | None = None):
        self.ctx, self.household, self.fix = ctx, household, None
        self.recorded = False
        self._asking = 0
        self.summary = ft.Text(ctx.t("locating"))
        self.warnings = ft.Column(spacing=2)
        self.error = ft.Text(color=ft.Colors.RED_700, visible=False)
        self.note = ft.Text(color=ft.Colors.ORANGE_900, visible=False)
        self.lat = ft.TextField(label=ctx.t("lat"), width=150, keyboard_type=ft.KeyboardType.NUMBER,
                                error_max_lines=ERROR_LINES)
        self.lon = ft.TextField(label=ctx.t("lon"), width=150, keyboard_type=ft.KeyboardType.NUMBER,
                                error_max_lines=ERROR_LINES)
        self.manual = ft.Row([self.lat, self.lon], visible=False, wrap=True)
        self.control = ft.Column([
            ft.Text(ctx.t("position"), weight=ft.FontWeight.BOLD),
            self.summary, self.warnings, self.note, self.error,
            ft.Row([ft.OutlinedButton(ctx.t("refresh_position"), icon=ft.Icons.MY_LOCATION,
                                      on_click=self.locate, height=TOUCH),
                    ft.TextButton(ctx.t("manual_position"), on_click=self.show_manual, height=TOUCH)],
                   wrap=True),
            self.manual], spacing=6)
        if recorded and placed(recorded):
            self.fix = Fix(recorded["lat"], recorded["lon"], recorded.get("accuracy_m"),
                           recorded.get("location_source") or "gps", bool(recorded.get("mocked")))
            self.recorded = True
            self.render()

    async def locate(self, e=None) -> Fix | None:
        """Take a fresh fix (on opening the form, and on "重新定位"); the latest ask wins."""
        self._asking += 1
        mine = self._asking
        self.summary.value = self.ctx.t("locating")
        self.error.visible = False
        self.ctx.page.update()
        fix, why = await current_fix(self.ctx)
        if mine != self._asking:  # a later ask is under way
            return fix
        if fix is None:
            self.summary.value = self.ctx.t("no_fix", why=why)
            self.manual.visible = True
            if not self.recorded:
                self.fix = None  # an old fix is never kept as if it were current
        else:
            self.fix, self.recorded = fix, False
            self.manual.visible = False
        self.render()
        self.ctx.page.update()
        return fix

    async def keep_age_current(self, view: ft.View) -> None:
        """Bring the fix's age on screen up to date while the form is open."""
        while view in self.ctx.page.views:
            await asyncio.sleep(TICK_S)
            if self.fix is not None and self.fix.taken_ms is not None and view in self.ctx.page.views:
                self.render()
                try:
                    self.ctx.page.update()
                except Exception:  # the window closed
                    return

    def show_manual(self, e=None) -> None:
        self.manual.visible = True
        self.ctx.page.update()

    def render(self) -> None:
        t, fix = self.ctx.t, self.fix
        self.warnings.controls.clear()
        if fix is None:
            return
        parts = [f"{fix.lat:.6f}, {fix.lon:.6f}"]
        if fix.accuracy_m is not None:
            parts.append(t("accuracy", m=round(fix.accuracy_m)))
        age = fix_age_s(fix)
        if age is not None:
            parts.append(age_words(self.ctx, age))
        self.summary.value = " · ".join(parts)
        warn = []
        if self.recorded:
            warn.append(t("recorded_position"))
        elif stale_reason(fix) == "old":
            warn.append(t("fix_old"))
        if fix.source == "manual":
            warn.append(t("manual_marked"))
        if fix.poor:
            warn.append(t("poor_accuracy"))
        if fix.mocked:
            warn.append(t("mocked"))
        loc = visit_location_fields(fix, self.household, self.ctx.phone.far_m)
        if loc.get("far_from_home"):
            warn.append(t("far_from_home", d=format_distance(loc["distance_m"]),
                          limit=round(self.ctx.phone.far_m)))
        self.warnings.controls.extend(ft.Text(w, color=ft.Colors.ORANGE_900) for w in warn)

    def _typed(self) -> tuple[Fix | None, bool]:
        """(the typed position, ok); (None, True) when nothing is typed."""
        if not (self.manual.visible and ((self.lat.value or "").strip() or (self.lon.value or "").strip())):
            return None, True
        fix, errors = parse_manual(self.lat.value or "", self.lon.value or "")
        self.lat.error = self._msg(errors.get("lat"))
        self.lon.error = self._msg(errors.get("lon"))
        return fix, fix is not None

    def fields(self) -> tuple[dict, bool]:
        """(location fields, ok) as the form stands. A typed position wins over a failed
        or absent fix."""
        typed, ok = self._typed()
        if not ok:
            return {}, False
        if typed is not None:
            self.fix, self.recorded = typed, False
            self.render()
        return visit_location_fields(self.fix, self.household, self.ctx.phone.far_m), True

    async def fields_for_save(self) -> tuple[dict, bool]:
        """(location fields, ok) fit for a record made now: a GPS fix over a minute old is
        replaced by a new one (the newer kept, wherever the phone now is); if none can be
        had, the form says so next to the position and nothing is saved."""
        self.error.visible = False
        typed, ok = self._typed()
        if not ok:
            return {}, False
        if typed is None and not self.recorded and stale_reason(self.fix) == "old":
            old = self.fix
            fresh = await self.locate()
            if fresh is None:
                self.fix = None
                self.error.value = self.ctx.t("fix_stale_save")
                self.error.visible = True
                self.manual.visible = True
                self.ctx.page.update()
                return {}, False
            if stale_reason(old, here=fresh, max_age_s=float("inf")) == "moved":
                self.note.value = self.ctx.t("fix_moved", d=format_distance(distance_m(old, fresh.lat, fresh.lon)))
                self.note.visible = True
        return self.fields()

    def _msg(self, rule: str | None) -> str | None:
        return {"number": self.ctx.t("number_needed"), "range": self.ctx.t("out_of_range")}.get(rule)
