"""The office's dialogs on a matter: each a `Form`, so that whatever refuses a save is
said inside the dialog, next to its field, in the person's language; limits show as
counters before anyone types."""

from __future__ import annotations

import flet as ft

from sync import codes, rules, statute
from sync.queries import leaders

from ..screens.widgets import until_saved
from ..worklist import split_parties, today_cst
from .forms import MAX_VISITORS, Form, date_field, text_field, visitor_count, whole_number


def dialog(ctx, title: str, form: Form, controls: list, on_ok, refresh, ok_label: str | None = None) -> None:
    """Show a dialog; `on_ok()` returns True when saved. Errors stay in the dialog."""
    def ok(e) -> bool:
        form.clear()
        saved = on_ok()
        if saved:
            ctx.close_dialog(dlg)
            refresh()
            ctx.snack(ctx.t("done"))
        ctx.page.update()
        return saved

    def cancel(e=None) -> None:
        ctx.close_dialog(dlg)
        refresh()
        ctx.page.update()
    # from the keyboard: typing goes into the first field at once, and Esc is 取消
    first = first_field(controls)
    if first is not None:
        first.autofocus = True
    # The dialog scrolls (AlertDialog.scrollable), not its column: a scrolling column
    # takes the window's whole height, and a one-field dialog stood as tall as the page.
    dlg = ft.AlertDialog(
        modal=True, title=ft.Text(title), scrollable=True,
        content=ft.Column([*controls, form.foot], tight=True, width=520),
        # cancelled, the page is drawn again: one refused because another clerk acted first
        # showed the old state, with the same buttons, until left
        actions=[ft.TextButton(ctx.t("cancel"), on_click=cancel),
                 ft.FilledButton(ok_label or ctx.t("save"), on_click=until_saved(ok))])
    ctx.escape = lambda: cancel() if dlg.open else None
    ctx.page.show_dialog(dlg)


def first_field(controls: list):
    """The first box a person types in, among the dialog's controls and their rows."""
    for c in controls:
        if isinstance(c, (ft.TextField, ft.Dropdown)):
            return c
        inner = first_field(getattr(c, "controls", None) or ([c.content] if getattr(c, "content", None) else []))
        if inner is not None:
            return inner
    return None


def radios(table, lang, value=None, column: bool = False):
    items = [ft.Radio(value=k, label=row[lang]) for k, row in table.items()]
    return ft.RadioGroup(value=value, content=ft.Column(items, spacing=0) if column else ft.Row(items, wrap=True))


def offered(action: str, case: dict) -> bool:
    """Whether the matter's state offers the action (beyond its status)."""
    if action == "notice":
        return not case.get("notice_sent_on")
    if action == "extend":
        return bool(case.get("accepted_on")) and not case.get("extended_days")
    if action == "review":
        return statute.stage(case) in (None, "review", "recheck") and (
            statute.stage(case) is not None or statute.review_window(case) is not None)
    return True


def decline_dialog(ctx, case, refresh):
    reason = text_field(ctx, "decline_reason", multiline=True, required=True)
    form = Form(ctx, {"decline_reason": reason})

    def ok():
        if not form.required("decline_reason"):
            return False
        return form.run(ctx.ws.decline, case["id"], reason.value)
    dialog(ctx, ctx.t("decline"), form, [reason, ft.Text(ctx.t("decline_hint"), color=ft.Colors.GREY_700)],
           ok, refresh)


def grade_dialog(ctx, case, refresh):
    # the assessed base, not the stored grade: saved again unchanged it gives the same grade
    risk = radios(codes.RISK_LEVELS, ctx.lang,
                  rules.base_risk(case["risk"], case.get("signals")) if case.get("risk") else "yellow")
    urgency = radios(codes.URGENCY, ctx.lang, case.get("urgency") or "normal")
    boxes = {k: ft.Checkbox(label=row[ctx.lang], value=k in (case.get("signals") or []))
             for k, row in codes.SIGNALS.items()}
    size = ft.TextField(label=ctx.t("group_size"), width=200, keyboard_type=ft.KeyboardType.NUMBER,
                        value=str(case.get("visitors") or ""), helper=ctx.t("group_size_hint"), max_length=5,
                        error_max_lines=2)
    preview = ft.Text(weight=ft.FontWeight.BOLD)
    form = Form(ctx, {"visitors": size})

    def people() -> int | None:
        return visitor_count(size.value)

    def show_preview(e=None) -> None:
        """The grade that will be saved, and why, before saving."""
        signals = [k for k, b in boxes.items() if b.value]
        n = people()
        graded = rules.grade(risk.value, signals, n)
        raised = set(signals) | ({"group"} if n and n > rules.GROUP_SIZE else set())
        text = ctx.t("grade_will_be", grade=ctx.code(codes.RISK_LEVELS, graded))
        if graded != (risk.value or "blue"):
            why = ctx.listed(ctx.code(codes.SIGNALS, s) for s in sorted(raised))
            text += ctx.t("grade_raised", base=ctx.code(codes.RISK_LEVELS, risk.value), why=why)
        preview.value = text
        preview.color = ft.Colors.RED_700 if graded != (risk.value or "blue") else None
        if e is not None:
            ctx.page.update()

    risk.on_change = urgency.on_change = size.on_change = show_preview
    for b in boxes.values():
        b.on_change = show_preview
    show_preview()

    def ok():
        text = (size.value or "").strip()
        if text and people() is None:
            form.say("visitors", ctx.t("number_between", lo=1, hi=MAX_VISITORS))
            return False
        return form.run(ctx.ws.grade, case["id"], risk.value, urgency.value,
                        [k for k, b in boxes.items() if b.value], people())
    dialog(ctx, ctx.t("grade"), form, [ft.Text(ctx.t("risk")), risk, ft.Text(ctx.t("urgency")), urgency,
                                       ft.Text(ctx.t("signals")), ft.Row(list(boxes.values()), wrap=True), size,
                                       preview], ok, refresh)


def consult_dialog(ctx, case, refresh):
    when = date_field(ctx, "consulted_on", today_cst().isoformat(), required=True)
    depts = text_field(ctx, "departments", value=ctx.listed(case.get("departments") or []),
                       hint=ctx.t("departments_hint"), max_length=600)
    plan = text_field(ctx, "plan", multiline=True, value=case.get("plan") or "", required=True)
    people = leaders(ctx.ws.replica)
    owner = ft.RadioGroup(value=case.get("owner"), content=ft.Column(
        [ft.Radio(value=p["username"], label=p["name"]) for p in people], spacing=0))
    form = Form(ctx, {"consulted_on": when, "departments": depts, "plan": plan, "owner": owner})

    def ok():
        filled = form.required("consulted_on", "plan")
        if not owner.value:
            form.say("owner", ctx.t("choose_leader_needed"))
            filled = False
        day = form.dates("consulted_on")["consulted_on"]
        if not filled or day is None:
            return False
        return form.run(ctx.ws.consult, case["id"], day, split_parties(depts.value or ""), plan.value or "",
                        owner.value)
    dialog(ctx, ctx.t("consult"), form, [when, depts, plan, ft.Text(ctx.t("choose_leader")), owner,
                                         form.note_for("owner")], ok, refresh)


def progress_dialog(ctx, case, refresh):
    text = text_field(ctx, "text", entity="case_event", multiline=True, required=True)
    text.label = ctx.t("progress_text") + " *"
    form = Form(ctx, {"text": text})

    def ok():
        if not form.required("text"):
            return False
        return form.run(ctx.ws.add_progress, case["id"], text.value.strip())
    dialog(ctx, ctx.t("add_progress"), form, [text], ok, refresh)


def extend_dialog(ctx, case, refresh):
    days = ft.TextField(label=ctx.t("extend_days") + " *", width=220, keyboard_type=ft.KeyboardType.NUMBER,
                        max_length=2, helper=ctx.t("extend_days_hint", n=rules.MAX_EXTENSION_DAYS), error_max_lines=3)
    reason = text_field(ctx, "extension_reason", multiline=True, required=True)
    form = Form(ctx, {"extended_days": days, "extension_reason": reason})

    def ok():
        filled = form.required("extended_days", "extension_reason")
        text, n = (days.value or "").strip(), whole_number(days.value)
        if text and n is None:
            form.say("extended_days", ctx.t("number_between", lo=1, hi=rules.MAX_EXTENSION_DAYS))
            return False
        if not filled:
            return False
        return form.run(ctx.ws.extend, case["id"], n, reason.value or "")
    dialog(ctx, ctx.t("extend"), form, [days, reason], ok, refresh)


def resolve_dialog(ctx, case, refresh):
    outcome = radios(codes.OUTCOMES, ctx.lang)
    method = text_field(ctx, "method", multiline=True, required=True)
    form = Form(ctx, {"outcome": outcome, "method": method})

    def ok():
        filled = form.required("method")
        if not outcome.value:
            form.say("outcome", ctx.t("choose_outcome"))
            filled = False
        return filled and form.run(ctx.ws.resolve_case, case["id"], outcome.value, method.value or "")
    dialog(ctx, ctx.t("resolve_title"), form, [ft.Text(ctx.t("outcome") + " *"), outcome, form.note_for("outcome"),
                                               method], ok, refresh)


def callback_dialog(ctx, case, refresh):
    method = radios(codes.CALLBACK_METHODS, ctx.lang, "phone")
    answer = radios(codes.SATISFACTION, ctx.lang)
    comment = text_field(ctx, "comment", entity="callback", multiline=True)
    form = Form(ctx, {"method": method, "answer": answer, "comment": comment})

    def ok():
        if not answer.value:
            form.say("answer", ctx.t("choose_answer"))
            return False
        return form.run(ctx.ws.call_back, case["id"], method.value, answer.value, comment.value or "")
    dialog(ctx, ctx.t("call_back"), form, [ft.Text(ctx.t("callback_method")), method,
                                           ft.Text(ctx.t("callback_answer") + " *"), answer, form.note_for("answer"),
                                           comment, ft.Text(ctx.t("callback_final" if statute.stage(case) == "final"
                                                                  else "callback_reopens"), color=ft.Colors.GREY_700)],
           ok, refresh)


def notice_dialog(ctx, case, refresh):
    when = date_field(ctx, "notice_sent_on", today_cst().isoformat(), required=True)
    form = Form(ctx, {"notice_sent_on": when})

    def ok():
        day = form.dates("notice_sent_on")["notice_sent_on"]
        if not form.required("notice_sent_on") or day is None:
            return False
        return form.run(ctx.ws.notice, case["id"], day)
    due = statute.notice_due(case)
    dialog(ctx, ctx.t("notice"), form, [ft.Text(ctx.t("notice_help", date=due.isoformat() if due else "—")), when],
           ok, refresh)


def review_dialog(ctx, case, refresh):
    """复查 or 复核: record the request (its window and the answer's due date are computed),
    or the higher body's answer."""
    st = statute.stage(case)
    asking = st is None or (st == "review" and case.get("review_answered_on"))
    kind = "review" if st is None or (st == "review" and not case.get("review_answered_on")) else "recheck"
    when = date_field(ctx, f"{kind}_{'requested' if asking else 'answered'}_on", today_cst().isoformat(), required=True)
    # left empty: the answer's own day; a written opinion issued later is received no sooner
    issued = ctx.ws.opinion_issued_on(case["id"]) if asking and kind == "review" else None
    received = date_field(ctx, statute.RECEIVED[kind], issued.isoformat() if issued else "")
    outcome = radios(codes.REVIEW_OUTCOMES, ctx.lang)
    form = Form(ctx, {when_field(kind, asking): when, f"{kind}_outcome": outcome, statute.RECEIVED[kind]: received})
    window = statute.review_window(case) if kind == "review" else statute.recheck_window(case)
    help_text = (ctx.t("review_ask_help" if kind == "review" else "recheck_ask_help",
                       date=window[1].isoformat() if window else "—") if asking else ctx.t("review_answer_help"))

    def ok():
        field = when_field(kind, asking)
        days = form.dates(field, statute.RECEIVED[kind])
        day = days[field]
        if not form.required(field) or day is None or form.has_errors:
            return False
        if asking:
            return form.run(ctx.ws.request_review, case["id"], kind, day, days[statute.RECEIVED[kind]])
        if not outcome.value:
            form.say(f"{kind}_outcome", ctx.t("choose_outcome"))
            return False
        return form.run(ctx.ws.answer_review, case["id"], kind, day, outcome.value)
    controls = [ft.Text(help_text), when] + ([received] if asking else [
        ft.Text(ctx.t(f"{kind}_outcome_label")), outcome, form.note_for(f"{kind}_outcome")])
    dialog(ctx, ctx.t(f"{kind}_{'ask' if asking else 'answer'}"), form, controls, ok, refresh)


def when_field(kind: str, asking: bool) -> str:
    return f"{kind}_requested_on" if asking else f"{kind}_answered_on"


def reopen_review_dialog(ctx, case, refresh):
    """A declined matter taken up again on the petitioner's request (复查 of a decline)."""
    form = Form(ctx, {})

    def ok():
        return form.run(ctx.ws.reopen_declined, case["id"])
    dialog(ctx, ctx.t("reopen_review"), form, [ft.Text(ctx.t("reopen_review_help"))], ok, refresh,
           ok_label=ctx.t("reopen_review"))


def documents_row(ctx, case: dict, refresh) -> ft.Control | None:
    """The statutory documents the matter's state allows, each a download (listed on the
    timeline once produced)."""
    from sync.server import documents
    kinds = documents.available(case)
    if not kinds:
        return None

    def make(kind):
        def click(e):
            if not ctx.act(lambda: None):
                return
            # made here first, as the matter stands now: the download link opens in this
            # tab, and a document that cannot be made (the matter moved on meanwhile, a
            # template missing or broken) replaced the office with the server's English
            try:
                documents.render(kind, ctx.ws.case(case["id"]) or case, "", today_cst())
            except documents.DocumentError as err:
                ctx.snack(err.message(ctx.lang), error=True)
                refresh()
                ctx.page.update()
                return
            ctx.download("document", case=case["id"], document=kind)
            refresh()
            ctx.page.update()
        return click
    return ft.Row([ft.Text(ctx.t("documents"), weight=ft.FontWeight.BOLD)] + [
        ft.OutlinedButton(documents.KINDS[k] if ctx.lang == "zh" else ctx.t(f"doc_{k}"), icon=ft.Icons.DESCRIPTION,
                          on_click=make(k)) for k in kinds], wrap=True)


OPEN = {"decline": decline_dialog, "grade": grade_dialog, "consult": consult_dialog, "add_progress": progress_dialog,
        "extend": extend_dialog, "resolve": resolve_dialog, "call_back": callback_dialog, "notice": notice_dialog,
        "review": review_dialog, "reopen_review": reopen_review_dialog}
