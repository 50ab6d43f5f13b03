"""Reporting a dispute or a petition sign (上报矛盾纠纷) from the field; or correcting a
report the server refused (the form prefilled with the refused values)."""

from __future__ import annotations

import flet as ft

from sync import codes
from sync.device import ValidationError

from .. import i18n
from ..worklist import split_parties
from .attachments import AttachmentEditor
from .position import PositionPicker
from .widgets import ERROR_LINES, appbar, refusal_text, risk_colour, guard_form, save_button, say_when_full


def _choice(ctx, table: codes.Table, value: str | None, label: str) -> ft.RadioGroup:
    return ft.RadioGroup(value=value, content=ft.Row(
        [ft.Radio(value=c, label=row[ctx.lang]) for c, row in table.items()], wrap=True))


def open_case_form(ctx, household: dict | None = None, correcting: dict | None = None) -> None:
    """`correcting`: a refused report or edit of one (an item of ws.quarantined()): the
    report as it would have been fills the form; saving gives the refused change up for
    the corrected values."""
    was = {}
    if correcting:
        was = {**(ctx.ws.case(correcting["record"]) or {}), **correcting["change"]["fields"]}
        household = ctx.ws.household(was["household_id"]) if was.get("household_id") else None
    picker = PositionPicker(ctx, household, recorded=was if correcting else None)
    kind = _choice(ctx, codes.CASE_KINDS, was.get("kind") or "dispute", ctx.t("case_kind"))
    category = ft.Dropdown(label=ctx.t("category"), expand=True, value=was.get("category"), options=[
        ft.DropdownOption(key=c, text=f"{c} {row[ctx.lang]}") for c, row in codes.CATEGORIES.items()])
    parties = ft.TextField(label=ctx.t("parties"),
                           value=i18n.listed(was.get("parties") or [], ctx.lang) if correcting else
                           household["head_name"] if household else "", error_max_lines=ERROR_LINES)
    place = ft.TextField(label=ctx.t("place"), value=was.get("place") if correcting else
                         household["address"] if household else "", error_max_lines=ERROR_LINES)
    # the household's number: a leader on a home visit calls the petitioner from the
    # matter's page, and a leader's phone holds no households (docs/security.md)
    phone = ft.TextField(label=ctx.t("petitioner_phone"), keyboard_type=ft.KeyboardType.PHONE, max_length=20,
                         value=was.get("petitioner_phone") or "" if correcting else
                         (household or {}).get("phone") or "", error_max_lines=ERROR_LINES)
    description = ft.TextField(label=ctx.t("description"), multiline=True, min_lines=4, max_length=8000,
                               value=was.get("description") or "", error_max_lines=ERROR_LINES)
    say_when_full(ctx, description)
    risk = ft.RadioGroup(value=was.get("risk") or "yellow", content=ft.Row([
        ft.Radio(value=c, label=row[ctx.lang], fill_color=risk_colour(c))
        for c, row in codes.RISK_LEVELS.items()], wrap=True))
    message = ft.Text(color=ft.Colors.RED_700)
    photos = AttachmentEditor(ctx, was.get("attachments"))  # photos and voice notes, shown at once
    by_field = {"category": category, "parties": parties, "place": place, "description": description,
                "petitioner_phone": phone}

    def mark(name: str, text: str) -> None:
        target = by_field.get(name)
        if isinstance(target, ft.Dropdown):
            target.error_text = text
        elif target is not None:
            target.error = text

    if correcting:  # why the server refused it, next to the fields it names
        said = [(e.get("field", ""), refusal_text(ctx, "case", e)) for e in correcting.get("errors") or []]
        for name, text in said:
            mark(name, text)
        message.value = i18n.labelled(ctx.t('refused_because'), i18n.clauses(
            (i18n.labelled(i18n.field_label(n, ctx.lang), t, ctx.lang) for n, t in said), ctx.lang),
            ctx.lang) if said else correcting.get("reason") or ""

    async def save(e) -> None:
        for f in (parties, place, description, phone):
            f.error = None
        category.error_text = None
        loc, ok = await picker.fields_for_save()
        mine = was.get("grid_id") if was.get("grid_id") in ctx.ws.grids else None  # a grid not theirs: refused
        grid = (household or {}).get("grid_id") or mine or (ctx.ws.grids[0] if ctx.ws.grids else None)
        record = {**loc, "kind": kind.value, "category": category.value,
                  "parties": split_parties(parties.value or ""), "place": (place.value or "").strip(),
                  "description": (description.value or "").strip(), "risk": risk.value,
                  "grid_id": grid, "household_id": (household or {}).get("id"),
                  "petitioner_phone": (phone.value or "").strip(),
                  "title": (description.value or "").strip()[:20],
                  # correcting, an emptied list is said (else the refused photos came back)
                  **({"attachments": photos.value} if photos.value or correcting else {})}
        problems = []
        if not ok:
            problems.append(ctx.t("position"))
        try:
            if problems:
                raise ValidationError([])
            if correcting:
                ctx.ws.correct(correcting["change_id"], record)
            else:
                ctx.ws.report_case(record)
        except ValidationError as err:
            for fe in err.errors:
                # under the field, its label above says what: "必填", not "is required"
                mark(fe.field, ctx.t("required_field") if fe.rule == "required" else fe.message(ctx.lang))
                label = ctx.t(fe.field) if fe.field in by_field else i18n.field_label(fe.field, ctx.lang)
                problems.append(i18n.labelled(label, fe.message(ctx.lang), ctx.lang))
            message.value = ctx.t("fix_errors") + i18n.aside(i18n.clauses(problems, ctx.lang), ctx.lang)
            ctx.page.update()
            return
        ctx.wrote()
        ctx.close_screen(view)
        ctx.snack(ctx.t("correction_queued" if correcting else "case_saved"))
        return True

    view = ft.View(route="/report", padding=16, scroll=ft.ScrollMode.AUTO, controls=[
        ft.Text(ctx.t("case_kind"), weight=ft.FontWeight.BOLD), kind,
        # Flutter gives the dropdown no accessible name of its own: a screen reader
        # (and the browser tests) find it by this label.
        ft.Semantics(label=ctx.t("category"), button=True, content=ft.Row([category])),
        parties, phone, place, description,
        ft.Text(ctx.t("risk"), weight=ft.FontWeight.BOLD), risk,
        picker.control, photos.control, message,
        saver := save_button(ctx, save, icon=ft.Icons.SEND),
    ], appbar=appbar(ctx, ctx.t("correct_title" if correcting else "case_title")))
    ctx.push(view)
    photos.follow(view)
    guard_form(ctx, view, [kind, category, parties, phone, place, description, risk], photos, saver)
    if not picker.recorded:
        ctx.page.run_task(picker.locate)
    ctx.page.run_task(picker.keep_age_current, view)
