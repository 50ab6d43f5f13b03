"""One household: who lives there (ID and phone masked), its needs, its visits."""

from __future__ import annotations

import flet as ft

from sync import codes

from ..privacy import mask_id, mask_phone
from .widgets import TOUCH, appbar, empty, header, info_row




def open_household(ctx, hid: str) -> None:
    from .visit_form import open_visit_form
    h = ctx.ws.household(hid)
    if h is None:
        ctx.snack(ctx.t("no_households"), error=True)
        return
    body = ft.ListView(expand=True, padding=ft.Padding.only(bottom=24))

    def call(hh: dict) -> None:
        """The number is shown masked; the phone dials it whole."""
        ctx.page.run_task(ctx.launcher.launch_url, f"tel:{hh['phone']}")

    def fill() -> None:
        hh = ctx.ws.household(hid) or h
        names = ctx.ws.staff_names()
        tags = "、".join(ctx.code(codes.NEEDS, t) for t in (hh.get("tags") or [])) or "—"
        members = "、".join(f"{m.get('name', '')}（{m.get('relation', '')}）" for m in (hh.get("members") or []))
        body.controls = [
            ft.Container(ft.Column([
                info_row(ctx.t("head"), hh["head_name"]),
                info_row(ctx.t("id_number"), mask_id(hh.get("id_number")) or "—"),
                info_row(ctx.t("phone"), mask_phone(hh.get("phone")) or "—"),
                info_row(ctx.t("address"), hh["address"]),
                info_row(ctx.t("members"), members or "—"),
                info_row(ctx.t("needs"), tags),
            ], spacing=8), padding=16),
            ft.Container(ft.Row([
                ft.FilledButton(ctx.t("record_visit"), icon=ft.Icons.EDIT_NOTE, height=TOUCH,
                                on_click=lambda e: open_visit_form(ctx, household=hh)),
                *([ft.OutlinedButton(ctx.t("call"), icon=ft.Icons.CALL, height=TOUCH, on_click=lambda e: call(hh))]
                  if hh.get("phone") else [])], wrap=True),
                padding=ft.Padding.symmetric(horizontal=16)),
            header(ctx.t("visits")),
        ]
        vs = ctx.ws.household_visits(hid)
        if not vs:
            body.controls.append(empty(ctx.t("no_visits")))
        for v in vs:
            flags = []
            if v.get("far_from_home"):
                flags.append("⚠ " + ctx.t("far_from_home", d=f"{v.get('distance_m', 0):.0f} m",
                                          limit=round(ctx.phone.far_m)))
            body.controls.append(ft.ListTile(
                title=ft.Text(f"{v['visited_at'][:16].replace('T', ' ')} · "
                              f"{names.get(v['visitor'], v['visitor'])}"),
                subtitle=ft.Text("\n".join(x for x in (v.get("seen"), v.get("requests"), *flags) if x)
                                 or "—"),
                is_three_line=True))

    fill()
    view = ft.View(route=f"/household/{hid}", padding=0, controls=[body],
                   appbar=appbar(ctx, h["head_name"]))
    view.data = fill
    ctx.push(view)
