"""One matter at the office: its record, its deadlines and milestones, the actions its
state allows, possible duplicates, and the whole timeline with who and when."""

from __future__ import annotations

import datetime as dt

import flet as ft

from sync import codes, rules
from sync.queries import leaders

from ..screens.widgets import info_row, risk_colour, timeline_heading
from ..worklist import split_parties, today_cst

ACTIONS = {  # the buttons each state offers, in the order of the process
    "reported": ["accept", "decline", "grade"],
    "accepted": ["grade", "consult", "add_progress", "resolve"],
    "assigned": ["grade", "consult", "add_progress", "extend", "resolve"],
    "in_progress": ["grade", "consult", "add_progress", "extend", "resolve"],
    "resolved": ["call_back"],
    "called_back": ["close_case"],
    "reopened": ["consult", "add_progress", "resolve"],
    "declined": [],
    "closed": [],
}




def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except (AttributeError, ValueError):
        return None


def _row(label: str, value: str, colour=None) -> ft.Control:
    return info_row(label, value, colour, width=110)


def open_matter(ctx, cid: str) -> None:
    # who read a petitioner's file, and when, from where
    ctx.store.audit(ctx.ws.username, "view", f"case {cid}", device=ctx.session[1] if ctx.session else "",
                    address=ctx.address)
    body = ft.ListView(expand=True, spacing=6, padding=16)
    title = ft.Text()

    def fill() -> None:
        c = ctx.ws.case(cid)
        names = ctx.ws.staff_names()
        title.value = f"{c.get('ref') or ''} {c.get('title') or c['description'][:20]}"
        dl = rules.days_left(c["deadline"], today_cst()) if c.get("deadline") else None
        body.controls = [
            ft.Row([ft.Container(width=16, height=16, bgcolor=risk_colour(c.get("risk")), border_radius=8),
                    ft.Text(ctx.code(codes.RISK_LEVELS, c.get("risk")) or ctx.t("not_graded")),
                    ft.Text(ctx.code(codes.CASE_STATUSES, c["status"]), weight=ft.FontWeight.BOLD, size=16),
                    ft.Text(ctx.code(codes.URGENCY, c.get("urgency")))]),
            _row(ctx.t("channel"), ctx.code(codes.CHANNELS, c.get("channel"))),
            _row(ctx.t("category"), ctx.code(codes.CATEGORIES, c.get("category"))),
            _row(ctx.t("parties"), "、".join(c.get("parties") or [])),
            _row(ctx.t("description"), c.get("description") or ""),
            _row(ctx.t("place"), c.get("place") or ""),
            _row(ctx.t("reception_leader"), names.get(c.get("reception_leader"), c.get("reception_leader") or "")),
            _row(ctx.t("higher_ref"), " ".join(x for x in (c.get("higher_ref"), c.get("higher_deadline")) if x)),
            _row(ctx.t("register_by"), c.get("register_by") or ""),
            _row(ctx.t("deadline"), f"{c.get('deadline') or ''}"
                 + (f"（{ctx.t('days_left', n=dl) if dl >= 0 else ctx.t('overdue', n=-dl)}）" if dl is not None else ""),
                 ft.Colors.RED_700 if dl is not None and dl < 0 else None),
            _row(ctx.t("signals"), "、".join(ctx.code(codes.SIGNALS, s) for s in c.get("signals") or [])),
            _row(ctx.t("owner"), names.get(c.get("owner"), c.get("owner") or "")),
            _row(ctx.t("departments"), "、".join(c.get("departments") or [])),
            _row(ctx.t("plan"), c.get("plan") or ""),
            _row(ctx.t("outcome"), ctx.code(codes.OUTCOMES, c.get("outcome"))),
            _row(ctx.t("method"), c.get("method") or ""),
            ft.Row([action_button(ctx, a, c, fill) for a in ACTIONS.get(c["status"], [])], wrap=True),
        ]
        accepted, deadline = rules.as_date(c.get("accepted_on")), rules.as_date(c.get("deadline"))
        if accepted and deadline and accepted <= deadline:
            ms = rules.milestones(accepted, deadline)
            body.controls.append(ft.Text(ctx.t("milestones"), weight=ft.FontWeight.BOLD))
            body.controls.append(ft.Row([ft.Chip(label=ft.Text(f"{label} {d.isoformat()}")) for _, label, d in ms],
                                        wrap=True))
        dups = ctx.ws.likely_duplicates(c, exclude=cid) if c["status"] == "reported" else []
        if dups:
            body.controls.append(ft.Text(ctx.t("duplicates"), weight=ft.FontWeight.BOLD))
            for d, why in dups:
                body.controls.append(ft.ListTile(
                    title=ft.Text(f"{d.get('ref') or ''} {d.get('title') or d['description'][:20]}"),
                    subtitle=ft.Text(ctx.t(f"dup_{why}")),
                    trailing=ft.TextButton(ctx.t("merge_into"), on_click=lambda e, keep=d["id"]: (
                        ctx.act(ctx.ws.merge, cid, keep, done=ctx.t("done")), ctx.pop()))))
        body.controls.append(ft.Text(ctx.t("timeline"), weight=ft.FontWeight.BOLD, size=16))
        for it in ctx.ws.timeline(cid):
            body.controls.append(ft.Text(timeline_heading(ctx, it, names)
                                         + (f"：{it['text']}" if it["text"] else "")))

    fill()
    view = ft.View(route=f"/matter/{cid}", padding=0, controls=[body], appbar=ft.AppBar(
        title=title, leading=ft.Semantics(label=ctx.t("back"), button=True, content=ft.IconButton(
            ft.Icons.ARROW_BACK, on_click=lambda e: ctx.pop()))))
    view.data = fill
    ctx.push(view)


def action_button(ctx, action: str, case: dict, refresh) -> ft.Control:
    dialogs = {"accept": None, "close_case": None, "decline": decline_dialog, "grade": grade_dialog,
               "consult": consult_dialog, "add_progress": progress_dialog, "extend": extend_dialog,
               "resolve": resolve_dialog, "call_back": callback_dialog}

    def click(e):
        if action == "accept":
            ctx.act(ctx.ws.accept, case["id"], done=ctx.t("done")) and refresh()
        elif action == "close_case":
            ctx.act(ctx.ws.close, case["id"], done=ctx.t("done")) and refresh()
        else:
            dialogs[action](ctx, case, refresh)
        ctx.page.update()
    return ft.FilledButton(ctx.t(action), on_click=click, height=44)


def _dialog(ctx, title: str, controls: list, on_ok, refresh) -> None:
    def ok(e):
        if on_ok():
            ctx.page.pop_dialog()  # before the snack: it would be popped in the dialog's place
            refresh()
            ctx.snack(ctx.t("done"))
        ctx.page.update()
    ctx.page.show_dialog(ft.AlertDialog(
        title=ft.Text(title), content=ft.Column(controls, tight=True, scroll=ft.ScrollMode.AUTO, width=480),
        actions=[ft.TextButton(ctx.t("cancel"), on_click=lambda e: ctx.page.pop_dialog()),
                 ft.FilledButton(ctx.t("save"), on_click=ok)]))


def _radios(table, lang, value=None):
    return ft.RadioGroup(value=value, content=ft.Row([ft.Radio(value=k, label=row[lang]) for k, row in table.items()],
                                                     wrap=True))


def decline_dialog(ctx, case, refresh):
    reason = ft.TextField(label=ctx.t("decline_reason"), multiline=True, min_lines=2)
    _dialog(ctx, ctx.t("decline"), [reason],
            lambda: ctx.act(ctx.ws.decline, case["id"], reason.value or ""), refresh)


def grade_dialog(ctx, case, refresh):
    risk = _radios(codes.RISK_LEVELS, ctx.lang, case.get("risk") or "yellow")
    urgency = _radios(codes.URGENCY, ctx.lang, case.get("urgency") or "normal")
    boxes = {k: ft.Checkbox(label=row[ctx.lang], value=k in (case.get("signals") or []))
             for k, row in codes.SIGNALS.items()}
    size = ft.TextField(label=ctx.t("group_size"), width=160, keyboard_type=ft.KeyboardType.NUMBER)

    def ok():
        n = int(size.value) if (size.value or "").strip().isdigit() else None
        return ctx.act(ctx.ws.grade, case["id"], risk.value, urgency.value,
                       [k for k, b in boxes.items() if b.value], n)
    _dialog(ctx, ctx.t("grade"), [ft.Text(ctx.t("risk")), risk, ft.Text(ctx.t("urgency")), urgency,
                                  ft.Text(ctx.t("signals")), ft.Row(list(boxes.values()), wrap=True), size],
            ok, refresh)


def consult_dialog(ctx, case, refresh):
    when = ft.TextField(label=ctx.t("consult_date"), value=today_cst().isoformat(), width=220)
    depts = ft.TextField(label=ctx.t("departments_hint"), value="、".join(case.get("departments") or []))
    plan = ft.TextField(label=ctx.t("plan"), multiline=True, min_lines=3, value=case.get("plan") or "")
    people = leaders(ctx.ws.replica)
    owner = ft.RadioGroup(value=case.get("owner"), content=ft.Column(
        [ft.Radio(value=p["username"], label=p["name"]) for p in people], spacing=0))

    def ok():
        on = _date(when.value or "")
        when.error = None if on else ctx.t("out_of_range")
        if on is None:
            ctx.page.update()
            return False
        return ctx.act(ctx.ws.consult, case["id"], on, split_parties(depts.value or ""), plan.value or "",
                       owner.value)
    _dialog(ctx, ctx.t("consult"), [when, depts, plan, ft.Text(ctx.t("choose_leader")), owner], ok, refresh)


def progress_dialog(ctx, case, refresh):
    text = ft.TextField(label=ctx.t("progress_text"), multiline=True, min_lines=3)

    def ok():
        if not (text.value or "").strip():
            text.error = ctx.t("required_field")
            ctx.page.update()
            return False
        return ctx.act(ctx.ws.add_progress, case["id"], text.value.strip())
    _dialog(ctx, ctx.t("add_progress"), [text], ok, refresh)


def extend_dialog(ctx, case, refresh):
    days = ft.TextField(label=ctx.t("extend_days"), width=220, keyboard_type=ft.KeyboardType.NUMBER)
    reason = ft.TextField(label=ctx.t("extend_reason"), multiline=True, min_lines=2)

    def ok():
        n = int(days.value) if (days.value or "").strip().isdigit() else -1
        return ctx.act(ctx.ws.extend, case["id"], n, reason.value or "")
    _dialog(ctx, ctx.t("extend"), [days, reason], ok, refresh)


def resolve_dialog(ctx, case, refresh):
    outcome = _radios(codes.OUTCOMES, ctx.lang)
    method = ft.TextField(label=ctx.t("method"), multiline=True, min_lines=2)

    def ok():
        if not outcome.value or not (method.value or "").strip():
            ctx.snack(ctx.t("fix_errors"), error=True)
            return False
        return ctx.act(ctx.ws.resolve_case, case["id"], outcome.value, method.value.strip())
    _dialog(ctx, ctx.t("resolve_title"), [ft.Text(ctx.t("outcome")), outcome, method], ok, refresh)


def callback_dialog(ctx, case, refresh):
    method = _radios(codes.CALLBACK_METHODS, ctx.lang, "phone")
    answer = _radios(codes.SATISFACTION, ctx.lang)
    comment = ft.TextField(label=ctx.t("callback_comment"), multiline=True, min_lines=2)

    def ok():
        if not answer.value:
            ctx.snack(ctx.t("fix_errors"), error=True)
            return False
        return ctx.act(ctx.ws.call_back, case["id"], method.value, answer.value, comment.value or "")
    _dialog(ctx, ctx.t("call_back"), [ft.Text(ctx.t("callback_method")), method,
                                      ft.Text(ctx.t("callback_answer")), answer, comment], ok, refresh)
