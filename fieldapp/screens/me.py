"""Me: the account, the sync in detail, records that need a look, the settings."""

from __future__ import annotations

import flet as ft

from sync import codes

from .. import i18n
from . import attachments
from ..navigation import apply_locale
from ..worklist import span_words
from .widgets import (ERROR_LINES, TOUCH, appbar, empty, header, last_sync_text, refusal_text, shown_value, status_text,
                      until_saved)


def clock_off_text(ctx, offset_min: int) -> str:
    """How far off the phone's clock is, as a person says it (快1天, 落后3小时): the server's
    time minus the phone's, in minutes, was shown raw ("相差 -1440 分钟")."""
    return ctx.t("clock_ahead" if offset_min < 0 else "clock_behind", span=span_words(ctx.lang, offset_min))


def entity_words(ctx, entity: str) -> str:
    return ctx.t(f"entity_{entity}") if f"entity_{entity}" in i18n.STRINGS else entity


def refused_summary(ctx, item: dict) -> str:
    """What a refused change was about: the kind of record and its head, title or words.
    An edit of a matter or a household that holds none of them is named by the record
    as the phone has it, and a matter's move by the move: a leader's refused 办结 read
    "上报事项 · case-1", a report they never made, by an id nobody knows."""
    f = item["change"]["fields"]
    what = f.get("head_name") or f.get("title") or f.get("seen") or f.get("text") or f.get("description") \
        or f.get("requests")
    kind = entity_words(ctx, item["entity"])
    if item["entity"] in ("case", "household") and item["change"].get("base"):
        held = (ctx.ws.case if item["entity"] == "case" else ctx.ws.household)(item["record"]) or {}
        what = what or held.get("title") or held.get("ref") or held.get("head_name")
        if item["entity"] == "case":
            move = shown_value(ctx, "case", "status", f["status"]) if f.get("status") else ""
            kind = ctx.t("refused_case_edit", move=i18n.aside(move, ctx.lang) if move else "")
    return f"{kind} · {str(what or item['record'])[:24]}"


def refused_reasons(ctx, item: dict) -> str:
    """Why the server refused it, each rule in the person's words, naming the field; a
    record placed in a grid the person no longer holds says so (the office moved them:
    "outside your permissions" alone sent them looking for a fault in what they typed)."""
    errs = item.get("errors") or []
    if not errs:
        return item.get("reason") or ""
    said = i18n.clauses((i18n.labelled(i18n.field_label(e.get('field', ''), ctx.lang),
                                       refusal_text(ctx, item['entity'], e), ctx.lang) for e in errs), ctx.lang)
    grid = _grid_not_held(ctx, item) if any(e.get("rule") == "forbidden" for e in errs) else None
    if grid is not None:
        said += ("。" if ctx.lang != "en" else ". ") + ctx.t("refused_grid_not_held", grid=grid)
        if item.get("entity") in ("household", "case") and ctx.ws.correctable(item):
            said += ctx.t("refused_grid_correct")   # its form offers the person's own grids
    return said


def _grid_not_held(ctx, item: dict) -> str | None:
    """The name of the grid a refused record is in, when it is not one of the person's."""
    if ctx.ws.role != "grid_worker":
        return None
    gid = (item.get("change") or {}).get("fields", {}).get("grid_id")
    if gid is None and item.get("entity") in ("household", "case"):
        rec = ctx.ws.household(item["record"]) if item["entity"] == "household" else ctx.ws.case(item["record"])
        gid = (rec or {}).get("grid_id")
    if not gid or gid in ctx.ws.grids:
        return None
    return ctx.ws.grid_names().get(gid, gid)


def open_correction(ctx, item: dict, refresh) -> None:
    """The record's own form, prefilled with the refused values."""
    from .case_detail import progress_dialog
    from .case_form import open_case_form
    from .household_form import open_household_form
    from .visit_form import open_visit_form
    f = item["change"]["fields"]
    if item["entity"] == "household":
        open_household_form(ctx, correcting=item)
    elif item["entity"] == "visit":
        case = ctx.ws.case(f["case_id"]) if f.get("case_id") and f.get("kind") == "home" else None
        hh = ctx.ws.household(f["household_id"]) if f.get("household_id") else None
        open_visit_form(ctx, household=hh, case=case, correcting=item)
    elif item["entity"] == "case":
        open_case_form(ctx, correcting=item)
    else:
        progress_dialog(ctx, f.get("case_id"), refresh, correcting=item)


def can_open_correction(ctx, item: dict) -> bool:
    f = item["change"]["fields"]
    if not ctx.ws.correctable(item):
        return False
    if item["entity"] == "visit":
        return bool(ctx.ws.case(f["case_id"]) if f.get("kind") == "home" and f.get("case_id")
                    else f.get("household_id") and ctx.ws.household(f["household_id"]))
    return True


def discard_dialog(ctx, item: dict, refresh) -> None:
    """Say what a discard does (and takes with it) before it is done."""
    plan = ctx.ws.discard_plan(item["change_id"])
    lines = [ctx.t("discard_body")]
    if plan["gone"]:
        lines.append(ctx.t("discard_gone"))
    if plan["later"]:
        lines.append(ctx.t("discard_later", n=len(plan["later"])))
    if plan["dependents"]:
        lines.append(ctx.t("discard_dependents", n=len(plan["dependents"])))
    lines.append(ctx.t("discard_offline"))

    def ok(e) -> bool:
        ctx.ws.discard(item["change_id"])
        ctx.close_dialog(dlg)
        ctx.wrote()  # the sync that finishes it starts now, if there is a network
        refresh()
        ctx.snack(ctx.t("discard_queued"))
        return True
    dlg = ft.AlertDialog(
        title=ft.Text(ctx.t("discard_title")),
        content=ft.Column([ft.Text(refused_summary(ctx, item), weight=ft.FontWeight.BOLD),
                           *(ft.Text(x) for x in lines)], tight=True, spacing=8),
        actions=[ft.TextButton(ctx.t("cancel"), on_click=lambda e: ctx.close_dialog(dlg)),
                 ft.FilledButton(ctx.t("discard"), on_click=until_saved(ok))])
    ctx.show_dialog(dlg, key=f"discard:{item['change_id']}")


def problems_controls(ctx, refresh) -> list[ft.Control]:
    out = [header(ctx.t("quarantine_title"))]
    q = ctx.ws.quarantined()
    if not q:
        out.append(empty(ctx.t("no_problems")))
    else:
        out.append(ft.Container(ft.Text(ctx.t("quarantine_help"), size=12, color=ft.Colors.GREY_800),
                                padding=ft.Padding.symmetric(horizontal=16)))
    for item in q:
        if item["state"] == "discarding":
            out.append(ft.ListTile(
                leading=ft.Icon(ft.Icons.HOURGLASS_TOP, color=ft.Colors.GREY_700),
                title=ft.Text(refused_summary(ctx, item)),
                subtitle=ft.Text(ctx.t("correction_waiting" if item.get("correction") else "discard_waiting"))))
            continue

        def retry(e, cid=item["change_id"]):
            ctx.ws.retry_quarantined(cid)
            ctx.wrote()
            refresh()
        buttons = [] if ctx.ws.retry_futile(item) else [ft.TextButton(ctx.t("retry"), on_click=retry, height=TOUCH)]
        if can_open_correction(ctx, item):
            buttons.append(ft.TextButton(ctx.t("correct"), height=TOUCH,
                                         on_click=lambda e, it=item: open_correction(ctx, it, refresh)))
        buttons.append(ft.TextButton(ctx.t("discard"), height=TOUCH,
                                     on_click=lambda e, it=item: discard_dialog(ctx, it, refresh)))
        out.append(ft.Container(ft.Column([
            ft.Row([ft.Icon(ft.Icons.ERROR, color=ft.Colors.RED_700),
                    ft.Text(refused_summary(ctx, item), weight=ft.FontWeight.W_500, expand=True)]),
            ft.Text(refused_reasons(ctx, item), color=ft.Colors.RED_700, size=13),
            ft.Row(buttons, wrap=True, spacing=0),
        ], spacing=2), padding=ft.Padding.only(left=16, right=16, top=8)))
    conflicted = ctx.ws.conflicted()
    names = ctx.ws.staff_names()
    out.append(header(ctx.t("conflicts_title")))
    if not conflicted:
        out.append(empty(ctx.t("no_problems")))
    else:
        out.append(ft.Container(ft.Text(ctx.t("conflicts_help"), size=12, color=ft.Colors.GREY_800),
                                padding=ft.Padding.symmetric(horizontal=16)))
    for entity, rec in conflicted:
        for x in ctx.ws.conflicts(entity, rec["id"]):
            out.append(ft.ListTile(
                leading=ft.Icon(ft.Icons.CALL_SPLIT, color=ft.Colors.ORANGE_800),
                title=ft.Text(rec.get("title") or rec.get("head_name") or rec["id"]),
                subtitle=ft.Text(ctx.t("conflict_row", field=i18n.field_label(x["field"], ctx.lang),
                                       value=shown_value(ctx, entity, x["field"], x["value"], names),
                                       author=names.get(x["author"], x["author"])))))
    return out


def open_problems(ctx) -> None:
    body = ft.ListView(expand=True)
    seen = {"state": None}

    def fill():
        body.controls = problems_controls(ctx, lambda: (fill(), ctx.page.update()))
        seen["state"] = _outbox_state(ctx)
    fill()
    view = ft.View(route="/problems", padding=0, controls=[body], appbar=appbar(ctx, ctx.t("today_problems")))
    view.data = fill

    def synced(st) -> None:
        """A sync finished a discard (or quarantined something new): show the list anew."""
        if st.state != "syncing" and _outbox_state(ctx) != seen["state"]:
            fill()
    ctx.on_status(synced, owner=view)
    ctx.push(view)


def _outbox_state(ctx) -> tuple:
    return tuple((q["change_id"], q["state"]) for q in ctx.ws.quarantined())


def me_panel(ctx) -> ft.Control:
    acct = ctx.ws.account
    st = ctx.phone.runner.status
    words, colour = status_text(ctx, st)
    s = ctx.phone.settings
    far = ft.Text(ctx.t("far_township", m=round(ctx.phone.far_m)), color=ft.Colors.GREY_800)
    tiles = ft.TextField(label=ctx.t("tile_url"), value=s.tile_url, hint_text="https://…/{z}/{x}/{y}.png",
                         error_max_lines=ERROR_LINES)
    lang = ft.RadioGroup(value=s.lang, content=ft.Row([ft.Radio(value="zh", label="中文"),
                                                        ft.Radio(value="en", label="English")]))

    def save(e) -> None:
        s.tile_url, s.lang = (tiles.value or "").strip(), lang.value
        ctx.phone.save_settings()
        apply_locale(ctx.page, s.lang)
        ctx.snack(ctx.t("settings_saved"))
        ctx.show_root()

    def sign_out(e) -> None:
        n = ctx.ws.pending_count()
        if n:
            ctx.snack(ctx.t("sign_out_blocked", n=n), error=True)
            return
        ctx.phone.sign_out()
        ctx.show_root()

    offset_min = round(ctx.phone.replica.clock.offset_ms / 60000)
    body: list[ft.Control] = [
        header(ctx.t("account")),
        ft.Container(ft.Column([
            ft.Text(acct.get('name', acct['username']) + i18n.aside(acct['username'], ctx.lang)
                    # a full-width bracket holds its own space
                    + (" · " if ctx.lang == "en" else "· ") + ctx.code(codes.ROLES, acct['role'])),
            ft.Text(ctx.listed(ctx.ws.grid_names().get(g, g) for g in acct.get("grids") or []),
                    color=ft.Colors.GREY_700),
            ft.Text(f"{ctx.t('device')}: {ctx.phone.replica.device_id}", size=12, color=ft.Colors.GREY_700),
            ft.Text(f"{ctx.t('server')}: {s.server}", size=12, color=ft.Colors.GREY_700),
        ], spacing=4), padding=ft.Padding.symmetric(horizontal=16)),
        header(ctx.t("sync_now")),
        ft.Container(ft.Column([
            ft.Text(words, color=colour), ft.Text(last_sync_text(ctx, st), color=ft.Colors.GREY_700),
            *([ft.Text(clock_off_text(ctx, offset_min), color=ft.Colors.ORANGE_900)] if abs(offset_min) >= 2 else []),
            ft.FilledButton(ctx.t("sync_now"), icon=ft.Icons.SYNC, height=TOUCH,
                            on_click=lambda e: ctx.phone.runner.request()),
        ], spacing=6), padding=ft.Padding.symmetric(horizontal=16)),
        ft.TextButton(f"{ctx.t('today_problems')} →", on_click=lambda e: open_problems(ctx), height=TOUCH),
        ft.Container(ft.OutlinedButton(ctx.t("map_download"), icon=ft.Icons.MAP, height=TOUCH,
                                       on_click=lambda e: _open_map_download(ctx)),
                     padding=ft.Padding.symmetric(horizontal=16)),
        header(ctx.t("settings")),
        ft.Container(ft.Column([ft.Text(ctx.t("language")), lang, far, attachments.wifi_switch(ctx), tiles,
                                ft.FilledButton(ctx.t("save"), on_click=save, height=TOUCH)], spacing=8),
                     padding=ft.Padding.symmetric(horizontal=16)),
        ft.Container(ft.OutlinedButton(ctx.t("sign_out"), icon=ft.Icons.LOGOUT, on_click=sign_out, height=TOUCH),
                     padding=16),
    ]
    return ft.ListView(body, expand=True, padding=ft.Padding.only(bottom=24))


def _open_map_download(ctx) -> None:
    from .map_view import open_map_download  # the offline map's download (issue 9)
    open_map_download(ctx)
