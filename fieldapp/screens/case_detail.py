"""One case: what it is, who owns it, the plan, its urgency and signals, its deadline and
which limit that is, the review stage, its whole timeline; a leader records home visits,
progress and the resolution here."""

from __future__ import annotations

import flet as ft

from sync import codes, statute
from sync.device import ValidationError
from sync.model import ENTITIES
from sync.workspace import kept_as_progress

from .. import i18n
from ..privacy import mask_phone
from . import attachments
from .widgets import (ERROR_LINES, TOUCH, appbar, call_button, deadline_text, empty, header, info_row, long_row,
                      refusal_text, risk_colour, say_when_full, shown_value, timeline_heading, until_saved)


def deadline_words(ctx, case: dict) -> str:
    """"2027-01-19 剩 12 天 · 法定期限": the day, what is left, and which limit it is
    (statute.deadline_source: the statutory period or the higher body's deadline)."""
    if not case.get("deadline"):
        return ""
    left = deadline_text(ctx, case["deadline"])[0] if case.get("status") in statute.OPEN_STATUSES else ""
    source = statute.deadline_source(case)
    which = ctx.t("deadline_higher" if source == "higher" else "deadline_statute") if source else ""
    return " · ".join(x for x in (f"{case['deadline']} {left}".strip(), which) if x)


def stage_words(ctx, case: dict) -> str:
    """The review stage after the written opinion (statute.stage), or "" while handling."""
    st = statute.stage(case)
    if st == "review":
        return ctx.t("stage_review", due=case.get("review_due") or "—")
    if st == "recheck":
        return ctx.t("stage_recheck", due=case.get("recheck_due") or "—")
    if st == "final":
        return ctx.t("stage_final")
    return ""


# The newest timeline entries a matter's page shows; the older ones behind a button.
TIMELINE_SHOWN = 20


def timeline_hidden(items: list[dict], refused: set) -> int:
    """How many of the oldest timeline entries wait behind "显示更早的 N 条记录": all but
    the newest TIMELINE_SHOWN, never one of this phone's the server refused (被退回)."""
    first_refused = next((i for i, it in enumerate(items) if it.get("id") in refused), len(items))
    return max(0, min(len(items) - TIMELINE_SHOWN, first_refused))


def timeline_window(ctx, items: list[dict], refused: set, opened: dict, redraw) -> tuple[int, ft.Control | None]:
    """(how many of the oldest entries a page leaves out, the button that shows them,
    or None): the phone's matter page and the office's. `opened` ({"shown": bool}) is the
    page's own, kept across its redraws."""
    hidden = 0 if opened["shown"] else timeline_hidden(items, refused)
    if not hidden:
        return 0, None

    def show_earlier(e) -> None:
        opened["shown"] = True
        redraw()
        ctx.page.update()
    return hidden, ft.TextButton(ctx.t("timeline_earlier", n=hidden), height=TOUCH, icon=ft.Icons.EXPAND_LESS,
                                 on_click=show_earlier)


def case_rows(ctx, c: dict, names: dict, handed_over: bool = False) -> list[ft.Control]:
    """What the page says of a case: labels for codes, names for accounts. A case
    handed over (kept for refused or unsent work alone) reads as this phone wrote it,
    not as the township holds it: its owner and its resolution are not shown as if they
    stood (the refusals say who holds it now)."""
    dl_colour = deadline_text(ctx, c.get("deadline"))[1] if c.get("status") in statute.OPEN_STATUSES else None
    person = lambda field: shown_value(ctx, "case", field, c.get(field), names)  # noqa: E731
    more = (ctx.t("show_all"), ctx.t("show_less"))
    rows = [
        info_row("编号" if ctx.lang == "zh" else "Ref", c.get("ref") or ""),
        info_row(ctx.t("category"), ctx.code(codes.CATEGORIES, c.get("category"))),
        info_row(ctx.t("channel"), ctx.code(codes.CHANNELS, c.get("channel"))),
        info_row(ctx.t("urgency"), ctx.code(codes.URGENCY, c.get("urgency"))),
        info_row(ctx.t("signals"), shown_value(ctx, "case", "signals", c.get("signals")),
                 ft.Colors.RED_700 if c.get("signals") else None),
        # fifty parties of forty characters pushed the description three screens down
        long_row(ctx.t("parties_shown"), i18n.listed(c.get("parties") or [], ctx.lang), more),
        info_row(ctx.t("petitioner_phone"), mask_phone(c.get("petitioner_phone")) or "—"),
        long_row(ctx.t("place"), c.get("place") or "", more),
        long_row(ctx.t("description"), c.get("description") or "", more),
        long_row(ctx.t("plan"), c.get("plan") or "", more),
        info_row(ctx.t("owner"), ctx.t("handed_over_short") if handed_over else person("owner")),
        long_row(ctx.t("departments"), i18n.listed(c.get("departments") or [], ctx.lang), more),
        info_row(ctx.t("deadline"), deadline_words(ctx, c), dl_colour),
    ]
    if c.get("higher_ref"):
        rows.append(info_row(ctx.t("higher_ref"), c["higher_ref"]))
    if c.get("reception_leader"):
        rows.append(info_row(ctx.t("reception_leader"), person("reception_leader")))
    if statute.stage(c):
        rows.append(info_row(ctx.t("stage"), stage_words(ctx, c), ft.Colors.ORANGE_900))
    rows.append(info_row(ctx.t("reported"), f"{(c.get('reported_at') or '')[:10]} {person('reported_by')}".strip()))
    if not handed_over:
        rows += [info_row(ctx.t("outcome"), ctx.code(codes.OUTCOMES, c.get("outcome"))),
                 long_row(ctx.t("method"), c.get("method") or "", more)]
    return rows


def drafts(ctx) -> dict:
    """What was typed in a dialog that closed unsaved (the phone's back key): shown again
    when it is opened again, for as long as the app runs."""
    return ctx.__dict__.setdefault("_drafts", {})


def keep_unsaved(ctx, key: str, draft) -> tuple[dict, object]:
    """(the dialog's state, its on_dismiss): what it holds is kept as the draft of `key`
    when it closes other than by 保存 or 取消 (state["done"])."""
    state = {"done": False}

    def dismissed(e) -> None:
        held = draft()
        if not state["done"] and any(held.values()):
            drafts(ctx)[key] = held
    return state, dismissed


def progress_dialog(ctx, cid: str, on_saved, correcting: dict | None = None) -> None:
    """Record a progress entry (进展) of a case; or correct a refused one (its text fills
    the box, the refusal is said next to it). Modal: a touch beside it dropped a long
    note typed in a petitioner's kitchen; closed by the back key, the note is kept as a
    draft for the next opening."""
    key = f"progress:{correcting['change_id'] if correcting else cid}"
    given = (correcting or {}).get("change", {}).get("fields", {})
    draft = drafts(ctx).pop(key, None) or {}
    text = ft.TextField(label=ctx.t("progress_text"), multiline=True, min_lines=3, max_lines=8, autofocus=True,
                        max_length=ENTITIES["case_event"].by_name["text"].max_len,
                        value=draft.get("text") or given.get("text") or "", error_max_lines=ERROR_LINES)
    say_when_full(ctx, text)
    photos = attachments.AttachmentEditor(ctx, draft.get("attachments") or given.get("attachments"))
    state, dismissed = keep_unsaved(ctx, key, lambda: {"text": text.value or "", "attachments": photos.value or []})
    if correcting and correcting.get("errors") and not kept_as_progress(correcting):  # said above it, then
        text.error = i18n.clauses((i18n.labelled(i18n.field_label(e.get('field', ''), ctx.lang),
                                                 refusal_text(ctx, 'case_event', e), ctx.lang)
                                   for e in correcting["errors"]), ctx.lang)

    def ok(e):
        if not (text.value or "").strip():
            text.error = ctx.t("required_field")
            ctx.page.update()
            return
        try:
            if correcting:
                ctx.ws.correct(correcting["change_id"], {"text": text.value.strip(), "attachments": photos.value})
            else:
                ctx.ws.add_progress(cid, text.value.strip(), photos.value)
        except ValidationError as err:
            text.error = i18n.clauses((i18n.labelled(i18n.field_label(fe.field, ctx.lang), fe.message(ctx.lang),
                                                     ctx.lang) for fe in err.errors), ctx.lang) if err.errors else str(err)
            ctx.page.update()
            return
        state["done"] = True
        ctx.close_dialog(dlg)
        ctx.wrote()
        on_saved()
        ctx.snack(ctx.t("correction_queued" if correcting else "progress_saved"))
        return True

    def cancel(e) -> None:
        state["done"] = True
        ctx.close_dialog(dlg)
    # the dialog scrolls, not its column: a scrolling column stands as tall as the screen
    dlg = ft.AlertDialog(
        modal=True, on_dismiss=dismissed,
        title=ft.Text(ctx.t("correct_title" if correcting else "add_progress")), scrollable=True,
        content=ft.Column([*([ft.Text(ctx.t("resolution_kept_as_progress"), size=13, color=ft.Colors.GREY_800)]
                             if correcting and kept_as_progress(correcting) else []), text, photos.control],
                          tight=True), actions=[
            ft.TextButton(ctx.t("cancel"), on_click=cancel),
            ft.FilledButton(ctx.t("save"), on_click=until_saved(ok))])
    ctx.show_dialog(dlg, key=key)   # a second tap shows nothing: the open dialog holds the draft


def open_case(ctx, cid: str) -> None:
    from .visit_form import open_visit_form
    if ctx.ws.case(cid) is None:
        ctx.snack(ctx.t("case_missing"), error=True)
        return
    body = ft.ListView(expand=True, padding=ft.Padding.only(bottom=24))
    title = ft.Text()
    board = attachments.StateBoard(ctx)  # the photos' states, kept current as the sync moves them

    earlier = {"shown": False}   # the timeline's older entries opened, for as long as the page is

    def fill() -> None:
        board.clear()
        c = ctx.ws.case(cid)
        if c is None:
            # the sync took it off the phone while its page was open (given to another
            # leader, moved out of the grids): said, and the page closes
            ctx.snack(ctx.t("case_left"))
            if ctx.page.views and ctx.page.views[-1] is view:
                ctx.pop()
            return
        names = ctx.ws.staff_names()
        ctx.ws.mark_seen(cid) if hasattr(ctx.ws, "mark_seen") else None
        title.value = c.get("title") or c["description"][:16]
        # What the write rules let this person do here (sync/permissions.py): the screen
        # offers nothing the server would refuse.
        may_visit, may_progress, may_resolve = (ctx.ws.may_home_visit(c), ctx.ws.may_progress(c),
                                                ctx.ws.may_resolve(c))
        gone = ctx.ws.handed_over(cid)
        actions = [
            # a leader on a home visit reaches the petitioner from here (his phone holds
            # no households); the number came with the matter, so offline too
            *([call_button(ctx, c["petitioner_phone"])] if c.get("petitioner_phone") and not gone else []),
            *([ft.FilledButton(ctx.t("home_visit_title"), icon=ft.Icons.DIRECTIONS_WALK, height=TOUCH,
                               on_click=lambda e: open_visit_form(ctx, case=c))] if may_visit else []),
            *([ft.OutlinedButton(ctx.t("add_progress"), icon=ft.Icons.NOTES, height=TOUCH,
                                 on_click=lambda e: progress_dialog(ctx, cid, fill))] if may_progress else []),
            *([ft.OutlinedButton(ctx.t("resolve"), icon=ft.Icons.TASK_ALT, height=TOUCH,
                                 on_click=lambda e: resolve_dialog())] if may_resolve else []),
        ]
        # The verbs first, under the state: what a leader came to do is on the first
        # screen however long the description and plan run.
        body.controls = [ft.Container(ft.Column([
            ft.Row([ft.Container(width=14, height=14, bgcolor=risk_colour(c.get("risk")), border_radius=7),
                    ft.Text(ctx.code(codes.RISK_LEVELS, c.get("risk")) or "—"),
                    ft.Text(ctx.t("handed_over_short") if gone else ctx.code(codes.CASE_STATUSES, c.get("status")),
                            weight=ft.FontWeight.BOLD)]),
            *case_rows(ctx, c, names, gone),
            *[x for x in [attachments.strip(ctx, c.get("attachments"), board)] if x],
        ], spacing=6), padding=16)]
        if actions:
            body.controls.insert(0, ft.Container(ft.Row(actions, wrap=True),
                                                 padding=ft.Padding.only(left=16, right=16, top=12)))
        if gone:
            # kept for this phone's unsent or refused work alone: said first, and nothing offered
            body.controls.insert(0, ft.Container(
                ft.Row([ft.Icon(ft.Icons.INFO_OUTLINE, color=ft.Colors.ORANGE_900),
                        ft.Text(ctx.t("case_handed_over"), color=ft.Colors.ORANGE_900, expand=True)]),
                padding=ft.Padding.only(left=16, right=16, top=12)))
        conflicts = ctx.ws.conflicts("case", cid)
        if conflicts:
            body.controls.append(header(ctx.t("conflicts_title")))
            body.controls.extend(ft.Text(ctx.t("conflict_row", field=i18n.field_label(x["field"], ctx.lang),
                                               value=shown_value(ctx, "case", x["field"], x["value"], names),
                                               author=names.get(x["author"], x["author"])),
                                         color=ft.Colors.ORANGE_900) for x in conflicts)
        body.controls.append(header(ctx.t("timeline")))
        items = ctx.ws.timeline(cid)
        if not items:
            body.controls.append(empty(ctx.t("no_timeline")))
        # an entry the server refused is this phone's alone: said so, not read as done
        refused = {q["record"] for q in ctx.ws.quarantined()}
        # oldest first, the newest in reach: three hundred entries put it 74 screens down
        hidden, earlier_button = timeline_window(ctx, items, refused, earlier, fill)
        if earlier_button is not None:
            body.controls.append(ft.Container(earlier_button, padding=ft.Padding.symmetric(horizontal=8)))
        for it in items[hidden:]:
            heading = timeline_heading(ctx, it, names)
            body.controls.append(ft.ListTile(
                leading=ft.Icon({"visit": ft.Icons.DIRECTIONS_WALK, "callback": ft.Icons.PHONE}.get(
                    it["type"], ft.Icons.CIRCLE_OUTLINED), size=20),
                title=ft.Text(f"{heading} · {ctx.t('refused_mark')}" if it.get("id") in refused else heading,
                              color=ft.Colors.RED_700 if it.get("id") in refused else None),
                subtitle=ft.Text(it["text"]) if it["text"] else None))
            photos = attachments.strip(ctx, attachments.of_timeline_item(ctx.ws, it), board)
            if photos is not None:
                body.controls.append(ft.Container(photos, padding=ft.Padding.only(left=72, right=16, bottom=8)))

    def resolve_dialog() -> None:
        key = f"resolve:{cid}"
        draft = drafts(ctx).pop(key, None) or {}
        outcome = ft.RadioGroup(value=draft.get("outcome"), content=ft.Column(
            [ft.Radio(value=k, label=row[ctx.lang]) for k, row in codes.OUTCOMES.items()], spacing=0))
        outcome_msg = ft.Text(color=ft.Colors.RED_700, visible=False)
        # the model's limit, counted as it is typed; a long text scrolls inside its box, so
        # the dialog's words and buttons stay in sight
        method = ft.TextField(label=ctx.t("method"), multiline=True, min_lines=2, max_lines=6,
                              max_length=ENTITIES["case"].by_name["method"].max_len, value=draft.get("method") or "",
                              error_max_lines=ERROR_LINES)
        say_when_full(ctx, method)
        photos = attachments.AttachmentEditor(ctx, draft.get("attachments"))
        state, dismissed = keep_unsaved(ctx, key, lambda: {"outcome": outcome.value, "method": method.value or "",
                                                           "attachments": photos.value or []})
        msg = ft.Text(color=ft.Colors.RED_700, visible=False)

        def say(field_errors: dict[str, str], other: str = "") -> None:
            """Each problem next to its field, the others at the top of the dialog."""
            outcome_msg.value, outcome_msg.visible = field_errors.get("outcome", ""), "outcome" in field_errors
            method.error = field_errors.get("method")
            msg.value, msg.visible = other, bool(other)
            ctx.page.update()

        def ok(e):
            missing = {name: ctx.t("required_field") for name, v in (("outcome", outcome.value),
                                                                     ("method", (method.value or "").strip())) if not v}
            if missing:
                say(missing)
                return
            try:
                ctx.ws.resolve_case(cid, outcome.value, method.value.strip(), photos.value)
            except ValidationError as err:
                mine = {fe.field: fe.message(ctx.lang) for fe in err.errors if fe.field in ("outcome", "method")}
                rest = i18n.clauses((i18n.labelled(i18n.field_label(fe.field, ctx.lang), fe.message(ctx.lang), ctx.lang)
                                     for fe in err.errors if fe.field not in mine), ctx.lang)
                say(mine, rest or ("" if mine else str(err)))
                return
            state["done"] = True
            ctx.close_dialog(dlg)
            ctx.wrote()
            fill()
            ctx.snack(ctx.t("resolved_saved"))
            return True

        def cancel(e) -> None:
            state["done"] = True
            ctx.close_dialog(dlg)
        dlg = ft.AlertDialog(
            modal=True, on_dismiss=dismissed, title=ft.Text(ctx.t("resolve_title")), scrollable=True,
            content=ft.Column([msg, ft.Text(ctx.t("outcome")), outcome, outcome_msg, method, photos.control],
                              tight=True),
            actions=[ft.TextButton(ctx.t("cancel"), on_click=cancel),
                     ft.FilledButton(ctx.t("save"), on_click=until_saved(ok))])
        ctx.show_dialog(dlg, key=key)

    fill()
    view = ft.View(route=f"/case/{cid}", padding=0, controls=[body],
                   appbar=appbar(ctx, title))
    view.data = fill
    ctx.push(view)
    board.follow(view)
