"""Recording a visit: a household visit (走访) or a leader's home visit (下访); or
correcting a visit the server refused (the form prefilled with the refused values)."""

from __future__ import annotations

import flet as ft

from sync import codes
from sync.device import ValidationError

from .. import i18n
from .attachments import AttachmentEditor
from .position import PositionPicker
from .widgets import ERROR_LINES, appbar, refusal_text, guard_form, save_button, say_when_full


def parse_cards(text: str | None) -> tuple[int | None, bool]:
    """(the number of 明白卡 handed out, ok): empty is none; a whole number 0-1000."""
    text = (text or "").strip()
    if not text:
        return None, True
    try:
        n = int(text)
    except ValueError:
        return None, False
    return (n, True) if 0 <= n <= 1000 else (None, False)


def open_visit_form(ctx, household: dict | None = None, case: dict | None = None,
                    correcting: dict | None = None) -> None:
    """`correcting`: a refused visit (an item of ws.quarantined()): its values fill the
    form, its position stays as recorded, and saving gives it up for the corrected one."""
    refused = (correcting or {}).get("change", {}).get("fields", {})
    home_visit = case is not None
    picker = PositionPicker(ctx, household, recorded=refused if correcting else None)
    # a refusal under its field wraps (ERROR_LINES): an empty visit's, in English, ran off
    # a 360 px phone after its first line
    seen = ft.TextField(label=ctx.t("seen"), multiline=True, min_lines=3, max_length=4000,
                        value=refused.get("seen") or "", error_max_lines=ERROR_LINES)
    requests = ft.TextField(label=ctx.t("requests"), multiline=True, min_lines=2, max_length=4000,
                            value=refused.get("requests") or "", error_max_lines=ERROR_LINES)
    for box in (seen, requests):
        say_when_full(ctx, box)
    needs = {code: ft.Checkbox(label=row[ctx.lang], value=code in (refused.get("needs_found") or []))
             for code, row in codes.NEEDS.items()}
    cards = ft.TextField(label=ctx.t("cards"), width=220, keyboard_type=ft.KeyboardType.NUMBER,
                         error_max_lines=ERROR_LINES,
                         value=str(refused["cards"]) if refused.get("cards") is not None else "")
    message = ft.Text(color=ft.Colors.RED_700)
    photos = AttachmentEditor(ctx, refused.get("attachments"))  # photos and voice notes, shown at once
    fields_by_name = {"seen": seen, "requests": requests, "cards": cards}

    def show_errors(errors) -> None:
        """Each rule broken, next to its field when the form has it, and named by its
        label in the message under the form."""
        for fe in errors:
            if fe.field in fields_by_name:
                fields_by_name[fe.field].error = fe.message(ctx.lang)
        message.value = i18n.labelled(ctx.t("fix_errors"), i18n.clauses(
            (i18n.labelled(i18n.field_label(fe.field, ctx.lang), fe.message(ctx.lang), ctx.lang) for fe in errors),
            ctx.lang), ctx.lang)

    if correcting:  # why the server refused it, next to the fields it names
        for err in correcting.get("errors") or []:
            text = refusal_text(ctx, correcting["entity"], err)
            if err.get("field") in fields_by_name:
                fields_by_name[err["field"]].error = text
        message.value = i18n.labelled(ctx.t('refused_because'), i18n.clauses(
            (i18n.labelled(i18n.field_label(e.get('field', ''), ctx.lang), refusal_text(ctx, correcting['entity'], e),
                           ctx.lang) for e in correcting.get("errors") or []),
            ctx.lang), ctx.lang) if correcting.get("errors") else correcting.get("reason") or ""

    async def save(e) -> None:
        for f in fields_by_name.values():
            f.error = None
        message.value = ""
        n_cards, cards_ok = parse_cards(cards.value)
        loc, ok = await picker.fields_for_save()
        if not cards_ok:
            cards.error = ctx.t("whole_number")
        if not ok or not cards_ok:
            message.value = ctx.t("fix_errors")
            ctx.page.update()
            return
        record = {**loc, "seen": (seen.value or "").strip(), "requests": (requests.value or "").strip(),
                  # correcting, an emptied list is said (else the refused photos came back)
                  **({"attachments": photos.value} if photos.value or correcting else {})}
        if home_visit:
            record.update(kind="home", case_id=case["id"], grid_id=case["grid_id"],
                          household_id=case.get("household_id"))
        else:
            record.update(kind="household", household_id=household["id"], grid_id=household["grid_id"],
                          needs_found=[c for c, box in needs.items() if box.value], cards=n_cards)
        try:
            if correcting:
                ctx.ws.correct(correcting["change_id"], record)
            else:
                ctx.ws.record_visit(record)
        except ValidationError as err:
            show_errors(err.errors)
            ctx.page.update()
            return
        ctx.wrote()
        ctx.close_screen(view)
        ctx.snack(ctx.t("correction_queued" if correcting else "saved_pending"))
        return True

    who = (case.get("title") or case.get("description", "")[:20]) if home_visit else household["head_name"]
    controls = [
        ft.Text(i18n.labelled(ctx.t('household') if not home_visit else ctx.t('tab_cases'), who, ctx.lang), size=16),
        picker.control, seen, requests, photos.control,  # photos of what was seen, next to the words
    ]
    if not home_visit:
        controls += [ft.Text(ctx.t("needs_found"), weight=ft.FontWeight.BOLD),
                     ft.Row(list(needs.values()), wrap=True), cards]
    saver = save_button(ctx, save)
    controls += [message, saver]
    title = ctx.t("correct_title") if correcting else ctx.t("home_visit_title" if home_visit else "visit_title")
    view = ft.View(route="/visit", padding=16, scroll=ft.ScrollMode.AUTO, controls=controls,
                   appbar=appbar(ctx, title))
    ctx.push(view)
    photos.follow(view)
    guard_form(ctx, view, [seen, requests, *([] if home_visit else [cards, *needs.values()])], photos, saver)
    if not picker.recorded:
        ctx.page.run_task(picker.locate)
    ctx.page.run_task(picker.keep_age_current, view)
