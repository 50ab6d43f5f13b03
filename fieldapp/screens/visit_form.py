"""Recording a visit: a household visit (走访) or a leader's home visit (下访)."""

from __future__ import annotations

import flet as ft

from sync import codes
from sync.device import ValidationError

from .position import PositionPicker
from .widgets import TOUCH, appbar


def open_visit_form(ctx, household: dict | None = None, case: dict | None = None) -> None:
    home_visit = case is not None
    picker = PositionPicker(ctx, household)
    seen = ft.TextField(label=ctx.t("seen"), multiline=True, min_lines=3, max_length=4000)
    requests = ft.TextField(label=ctx.t("requests"), multiline=True, min_lines=2, max_length=4000)
    needs = {code: ft.Checkbox(label=row[ctx.lang]) for code, row in codes.NEEDS.items()}
    message = ft.Text(color=ft.Colors.RED_700)
    fields_by_name = {"seen": seen, "requests": requests}

    async def save(e) -> None:
        loc, ok = picker.fields()
        for f in fields_by_name.values():
            f.error = None
        if not ok:
            message.value = ctx.t("fix_errors")
            ctx.page.update()
            return
        record = {**loc, "seen": (seen.value or "").strip(), "requests": (requests.value or "").strip(),
                  "needs_found": [c for c, box in needs.items() if box.value]}
        if home_visit:
            record.update(kind="home", case_id=case["id"], grid_id=case["grid_id"],
                          household_id=case.get("household_id"))
        else:
            record.update(kind="household", household_id=household["id"], grid_id=household["grid_id"])
        try:
            ctx.ws.record_visit(record)
        except ValidationError as err:
            for fe in err.errors:
                if fe.field in fields_by_name:
                    fields_by_name[fe.field].error = fe.message(ctx.lang)
            message.value = ctx.t("fix_errors") + "：" + "；".join(
                f"{ctx.t(fe.field) if fe.field in ('seen', 'requests', 'lat', 'lon') else fe.field} {fe.message(ctx.lang)}"
                for fe in err.errors)
            ctx.page.update()
            return
        ctx.wrote()
        ctx.pop()
        ctx.snack(ctx.t("saved_pending"))

    who = (case.get("title") or case.get("description", "")[:20]) if home_visit else household["head_name"]
    controls = [
        ft.Text(f"{ctx.t('household') if not home_visit else ctx.t('tab_cases')}：{who}", size=16),
        picker.control, seen, requests,
    ]
    if not home_visit:
        controls += [ft.Text(ctx.t("needs_found"), weight=ft.FontWeight.BOLD),
                     ft.Row(list(needs.values()), wrap=True)]
    controls += [message, ft.FilledButton(ctx.t("save"), icon=ft.Icons.SAVE, on_click=save, height=TOUCH)]
    view = ft.View(route="/visit", padding=16, scroll=ft.ScrollMode.AUTO, controls=controls,
                   appbar=appbar(ctx, ctx.t("home_visit_title" if home_visit else "visit_title")))
    ctx.push(view)
    ctx.page.run_task(picker.locate)
