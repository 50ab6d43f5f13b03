"""Concurrent edits, settled at the office: the matters and households where two people
changed the same item at once, each value with who wrote it and when; the clerk picks
the one that holds, and every phone shows it at its next sync (a write that replaces
every concurrent value: merge.py)."""

from __future__ import annotations

import datetime as dt

import flet as ft

from sync import clock, codes
from sync.model import ENTITIES

from ..i18n import field_label

CST = dt.timezone(dt.timedelta(hours=8))
TABLES = {"status": codes.CASE_STATUSES, "risk": codes.RISK_LEVELS, "outcome": codes.OUTCOMES,
          "urgency": codes.URGENCY, "category": codes.CATEGORIES, "channel": codes.CHANNELS}


def shown(ctx, field: str, value) -> str:
    """A value as a person reads it: a code by its label, a list joined, nothing as —."""
    if value is None or value == "" or value == []:
        return "—"
    if field in TABLES:
        return ctx.code(TABLES[field], value)
    if field == "owner":
        return ctx.ws.staff_names().get(value, value)
    if isinstance(value, list):
        return ctx.listed(shown(ctx, field, v) if not isinstance(v, dict) else v.get("name", "") for v in value)
    return str(value)


def when(stamp: str) -> str:
    return dt.datetime.fromtimestamp(clock.physical_ms(stamp) / 1000, CST).strftime("%Y-%m-%d %H:%M")


def heads(versions: dict, row: dict, field: str) -> list[tuple[str, object, str]]:
    """(stamp, value, author) of every concurrent value of a field, the shown one first."""
    st = versions.get(field)
    if not st or len(st) <= 2:
        return []
    return [(st[0], row.get(field), st[1])] + [(stamp, v[0], v[1]) for stamp, v in sorted(st[3].items())]


def conflicts_panel(ctx) -> ft.Control:
    body = ft.ListView(expand=True, spacing=8)

    def fill() -> None:
        ctx.touch()
        names = ctx.ws.staff_names()
        body.controls = [ft.Text(ctx.t("nav_conflicts"), size=18, weight=ft.FontWeight.BOLD),
                         ft.Text(ctx.t("conflicts_office_help"), color=ft.Colors.GREY_700)]
        found = ctx.ws.conflicted_records()
        if not found:
            body.controls.append(ft.Text(ctx.t("conflicts_none"), color=ft.Colors.GREY_700))
        for entity, row in found:
            versions = ctx.ws.replica.versions(entity, row["id"])
            if entity == "household":  # its concurrent ID numbers and phones show whole (as in its dialog)
                ctx.store.audit(ctx.ws.username, "view", f"household {row['id']}",
                                device=ctx.session[1] if ctx.session else "", address=ctx.address)
            title = (f"{row.get('ref') or ''} {row.get('title') or (row.get('description') or '')[:20]}"
                     if entity == "case" else f"{row.get('head_name')} · {row.get('address')}")
            card = [ft.Text(ctx.labelled(ctx.t('office_entity_' + entity), title), weight=ft.FontWeight.BOLD)]
            for field in sorted(versions):
                options = heads(versions, row, field)
                if not options:
                    continue
                choice = ft.RadioGroup(value="0", content=ft.Column([
                    ft.Radio(value=str(i), label=ctx.t("conflict_value", value=shown(ctx, field, value),
                                                        who=names.get(author, author), at=when(stamp))
                             + (ctx.aside(ctx.t('conflict_shown')) if i == 0 else ""))
                    for i, (stamp, value, author) in enumerate(options)], spacing=0))

                def settle(e, entity=entity, rid=row["id"], field=field, options=options, choice=choice):
                    value = options[int(choice.value or 0)][1]
                    if ctx.act(ctx.ws.resolve_conflict, entity, rid, field, value, done=ctx.t("conflict_settled")):
                        fill()
                    ctx.page.update()
                card += [ft.Text(field_label(field, ctx.lang), color=ft.Colors.GREY_800), choice,
                         ft.FilledButton(ctx.t("conflict_keep"), on_click=settle, height=40)]
            body.controls.append(ft.Container(ft.Column(card, spacing=4), padding=12, border_radius=8,
                                              border=ft.Border.all(1, ft.Colors.ORANGE_200)))

    fill()
    return body


__all__ = ["conflicts_panel", "ENTITIES"]
