"""Reporting a dispute or a petition sign (上报矛盾纠纷) from the field."""

from __future__ import annotations

import flet as ft

from sync import codes
from sync.device import ValidationError

from ..worklist import split_parties
from .position import PositionPicker
from .widgets import TOUCH, appbar, risk_colour


def _choice(ctx, table: codes.Table, value: str | None, label: str) -> ft.RadioGroup:
    return ft.RadioGroup(value=value, content=ft.Row(
        [ft.Radio(value=c, label=row[ctx.lang]) for c, row in table.items()], wrap=True))


def open_case_form(ctx, household: dict | None = None) -> None:
    picker = PositionPicker(ctx, household)
    kind = _choice(ctx, codes.CASE_KINDS, "dispute", ctx.t("case_kind"))
    category = ft.Dropdown(label=ctx.t("category"), expand=True, options=[
        ft.DropdownOption(key=c, text=f"{c} {row[ctx.lang]}") for c, row in codes.CATEGORIES.items()])
    parties = ft.TextField(label=ctx.t("parties"),
                           value=household["head_name"] if household else "")
    place = ft.TextField(label=ctx.t("place"), value=household["address"] if household else "")
    description = ft.TextField(label=ctx.t("description"), multiline=True, min_lines=4, max_length=8000)
    risk = ft.RadioGroup(value="yellow", content=ft.Row([
        ft.Radio(value=c, label=row[ctx.lang], fill_color=risk_colour(c))
        for c, row in codes.RISK_LEVELS.items()], wrap=True))
    message = ft.Text(color=ft.Colors.RED_700)
    by_field = {"category": category, "parties": parties, "place": place, "description": description}

    async def save(e) -> None:
        for f in (parties, place, description):
            f.error = None
        category.error_text = None
        loc, ok = picker.fields()
        grid = (household or {}).get("grid_id") or (ctx.ws.grids[0] if ctx.ws.grids else None)
        record = {**loc, "kind": kind.value, "category": category.value,
                  "parties": split_parties(parties.value or ""), "place": (place.value or "").strip(),
                  "description": (description.value or "").strip(), "risk": risk.value,
                  "grid_id": grid, "household_id": (household or {}).get("id"),
                  "title": (description.value or "").strip()[:20]}
        problems = []
        if not ok:
            problems.append(ctx.t("position"))
        try:
            if problems:
                raise ValidationError([])
            ctx.ws.report_case(record)
        except ValidationError as err:
            for fe in err.errors:
                target = by_field.get(fe.field)
                if isinstance(target, ft.Dropdown):
                    target.error_text = fe.message(ctx.lang)
                elif target is not None:
                    target.error = fe.message(ctx.lang)
                problems.append(f"{ctx.t(fe.field) if fe.field in by_field else fe.field}：{fe.message(ctx.lang)}")
            message.value = ctx.t("fix_errors") + "（" + "；".join(problems) + "）"
            ctx.page.update()
            return
        ctx.wrote()
        ctx.pop()
        ctx.snack(ctx.t("case_saved"))

    view = ft.View(route="/report", padding=16, scroll=ft.ScrollMode.AUTO, controls=[
        ft.Text(ctx.t("case_kind"), weight=ft.FontWeight.BOLD), kind,
        # Flutter gives the dropdown no accessible name of its own: a screen reader
        # (and the browser tests) find it by this label.
        ft.Semantics(label=ctx.t("category"), button=True, content=ft.Row([category])),
        parties, place, description,
        ft.Text(ctx.t("risk"), weight=ft.FontWeight.BOLD), risk,
        picker.control, message,
        ft.FilledButton(ctx.t("save"), icon=ft.Icons.SEND, on_click=save, height=TOUCH),
    ], appbar=appbar(ctx, ctx.t("case_title")))
    ctx.push(view)
    ctx.page.run_task(picker.locate)
