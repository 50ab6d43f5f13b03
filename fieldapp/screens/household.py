"""One household: who lives there (ID and phone masked), its needs, when it is next
due, whether it is still in the registry, its visits; and the way to change it."""

from __future__ import annotations

import flet as ft

from sync import codes, households

from .. import i18n
from ..geo import format_distance
from ..privacy import mask_id, mask_phone
from .widgets import TOUCH, appbar, call_button, empty, header, info_row, long_row


def member_lines(ctx, hh: dict) -> str:
    """"李小明（子，3307**********1234）": each member with the relation, the number masked."""
    out = []
    for m in hh.get("members") or []:
        if not isinstance(m, dict):
            continue
        extra = ("，" if ctx.lang != "en" else ", ").join(
            x for x in (m.get("relation"), mask_id(m.get("id_number")), m.get("note")) if x)
        out.append(m.get("name", "") + (i18n.aside(extra, ctx.lang) if extra else ""))
    return "\n".join(out)


def status_words(ctx, hh: dict) -> str:
    """"已迁出（已存档）" for an archived household; "在册" otherwise."""
    word = ctx.code(codes.HOUSEHOLD_STATUSES, hh.get("status") or "active")
    return word + i18n.aside(ctx.t('hh_archived'), ctx.lang) if households.archived(hh) else word


def open_household(ctx, hid: str) -> None:
    from .household_form import open_household_form
    from .visit_form import open_visit_form
    h = ctx.ws.household(hid)
    if h is None:
        ctx.snack(ctx.t("no_households"), error=True)
        return
    body = ft.ListView(expand=True, padding=ft.Padding.only(bottom=24))
    from . import attachments
    board = attachments.StateBoard(ctx)  # the photos' states, kept current as the sync moves them
    title = ft.Text(h["head_name"])

    def fill() -> None:
        hh = ctx.ws.household(hid) or h
        title.value = hh["head_name"]
        names = ctx.ws.staff_names()
        tags = i18n.listed((ctx.code(codes.NEEDS, t) for t in (hh.get("tags") or [])), ctx.lang) or "—"
        archived = households.archived(hh)
        more = (ctx.t("show_all"), ctx.t("show_less"))   # a long note or family folds to six lines
        may_edit = ctx.ws.may("household", hh, {"head_name": hh["head_name"]})
        # the buttons first: a family of thirty, a long note and ten photos put 记录走访
        # two screens down (the case page keeps its buttons first for the same reason)
        body.controls = [
            *([ft.Container(ft.Container(ft.Text(status_words(ctx, hh), color=ft.Colors.WHITE,
                                                 weight=ft.FontWeight.W_500),
                                         bgcolor=ft.Colors.GREY_700, border_radius=4,
                                         padding=ft.Padding.symmetric(horizontal=8, vertical=4)),
                            padding=ft.Padding.only(left=16, right=16, top=12))] if archived else []),
            ft.Container(ft.Row([
                ft.FilledButton(ctx.t("record_visit"), icon=ft.Icons.EDIT_NOTE, height=TOUCH,
                                on_click=lambda e: open_visit_form(ctx, household=ctx.ws.household(hid) or hh)),
                *([call_button(ctx, hh["phone"])] if hh.get("phone") else []),
                *([ft.OutlinedButton(ctx.t("hh_edit"), icon=ft.Icons.EDIT, height=TOUCH,
                                     on_click=lambda e: open_household_form(ctx, ctx.ws.household(hid) or hh))]
                  if may_edit else [])], wrap=True),
                padding=ft.Padding.only(left=16, right=16, top=12)),
            ft.Container(ft.Column([
                info_row(ctx.t("head"), hh["head_name"]),
                info_row(ctx.t("id_number"), mask_id(hh.get("id_number")) or "—"),
                info_row(ctx.t("phone"), mask_phone(hh.get("phone")) or "—"),
                info_row(ctx.t("address"), hh["address"]),
                long_row(ctx.t("members"), member_lines(ctx, hh) or "—", more),
                info_row(ctx.t("needs"), tags),
                info_row(ctx.t("hh_next_due"), "—" if archived else hh.get("next_visit_due") or ctx.t("hh_never_due")),
                info_row(ctx.t("hh_status"), status_words(ctx, hh)),
                *([long_row(ctx.t("hh_note"), hh["note"], more)] if hh.get("note") else []),
            ], spacing=8), padding=16),
            header(ctx.t("visits")),
        ]
        board.clear()
        own = attachments.strip(ctx, hh.get("attachments"), board)
        if own is not None:  # the household's own photos, under its facts
            body.controls.insert(len(body.controls) - 1,   # before the visits' header
                                 ft.Container(own, padding=ft.Padding.symmetric(horizontal=16)))
        vs = ctx.ws.household_visits(hid)
        if not vs:
            body.controls.append(empty(ctx.t("no_visits")))
        for v in vs:
            flags = []
            if v.get("far_from_home"):
                flags.append("⚠ " + ctx.t("far_from_home", d=format_distance(v.get("distance_m") or 0),
                                          limit=round(ctx.phone.far_m)))
            if households.unplaced(v):
                flags.append("⚠ " + ctx.t("visit_unplaced"))
            body.controls.append(ft.ListTile(
                title=ft.Text(f"{v['visited_at'][:16].replace('T', ' ')} · "
                              f"{names.get(v['visitor'], v['visitor'])}"),
                subtitle=ft.Text("\n".join(x for x in (v.get("seen"), v.get("requests"), *flags) if x)
                                 or "—"),
                is_three_line=True))
            photos = attachments.strip(ctx, v.get("attachments"), board)
            if photos is not None:
                body.controls.append(ft.Container(photos, padding=ft.Padding.only(left=16, right=16, bottom=8)))

    fill()
    view = ft.View(route=f"/household/{hid}", padding=0, controls=[body], appbar=appbar(ctx, title))
    view.data = fill
    ctx.push(view)
    board.follow(view)
