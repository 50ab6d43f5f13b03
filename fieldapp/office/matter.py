"""One matter at the office: its record, every limit the statute sets on it and which
applies, the milestones ticked as they are reached, the actions its state allows,
possible duplicates, the visits made for it (how far from the household, whether the
position was mocked), the documents it allows, and the timeline with who and when (its
newest 20 entries; the earlier ones a click away)."""

from __future__ import annotations

import flet as ft

from sync import codes, permissions, rules, statute
from sync.queries import leaders

from ..geo import format_distance
from ..screens.case_detail import timeline_window
from ..screens.widgets import back_button, info_row, risk_colour, timeline_heading
from ..worklist import split_parties, today_cst
from . import attachments, dialogs, erasure


def _row(label: str, value, colour=None) -> ft.Control:
    return info_row(label, value if isinstance(value, str) else str(value or ""), colour, width=120)


def limit_rows(ctx, c: dict) -> list[ft.Control]:
    """Every limit on the matter, which applies, and how it stands today."""
    today = today_cst()
    red, grey = ft.Colors.RED_700, ft.Colors.GREY_800
    out = []
    due = statute.register_due(c)
    if due:
        late = statute.register_overdue(c, today)
        out.append(_row(ctx.t("register_by"), f"{due.isoformat()}"
                        + (ctx.aside(ctx.t('overdue', n=(today - due).days)) if late else ""), red if late else None))
    told = c.get("notice_sent_on")
    notice_due = statute.notice_due(c)
    if told:
        out.append(_row(ctx.t("notice"), ctx.t("notice_sent", date=told)))
    elif notice_due:
        late = statute.notice_overdue(c, today)
        out.append(_row(ctx.t("notice"), ctx.t("notice_due", date=notice_due.isoformat())
                        + (ctx.aside(ctx.t('overdue', n=(today - notice_due).days)) if late else ""),
                        red if late else grey))
    deadline = statute.handling_due(c)   # waiting to be accepted: the higher body's, if any
    if deadline:
        higher = statute.deadline_source(c) == "higher" or c.get("status") == "reported"
        source = ctx.t("source_higher") if higher else ctx.t("source_statute")
        running = c.get("status") in rules.OPEN_STATUSES
        dl = rules.days_left(deadline, today)
        said = [source] + ([ctx.t("days_left", n=dl) if dl >= 0 else ctx.t("overdue", n=-dl)]
                           if running and dl is not None else [])
        text = deadline.isoformat() + ctx.aside(ctx.t("clause_sep").join(said))
        if c.get("extended_days"):
            text += ctx.t("extended_by", n=c["extended_days"])
        out.append(_row(ctx.t("deadline"), text, red if running and dl is not None and dl < 0 else None))
    stage = statute.stage(c)
    window = statute.review_window(c)
    if stage is None and window and c.get("status") in statute.FINISHED:
        out.append(_row(ctx.t("review_window"), ctx.t("review_until", date=window[1].isoformat())))
    for kind in ("review", "recheck"):
        if c.get(f"{kind}_requested_on"):
            answered = c.get(f"{kind}_answered_on")
            late = statute.answer_overdue(c, today) and statute.stage(c) == kind
            text = (ctx.t("answered", date=answered, outcome=ctx.code(codes.REVIEW_OUTCOMES, c.get(f"{kind}_outcome")))
                    if answered else ctx.t("answer_due", date=c.get(f"{kind}_due") or ""))
            out.append(_row(ctx.t(f"{kind}_stage"), f"{ctx.t('asked_on', date=c[f'{kind}_requested_on'])}，{text}",
                            red if late else None))
    if stage == "final":
        out.append(_row(ctx.t("final"), ctx.t("final_text"), ft.Colors.GREY_800))
    return out


def open_matter(ctx, cid: str) -> None:
    if ctx.ws.case(cid) is None:
        ctx.snack(ctx.t("ledger_empty"), error=True)
        return
    # who read a petitioner's file, and when, from where
    ctx.store.audit(ctx.ws.username, "view", f"case {cid}", device=ctx.session[1] if ctx.session else "",
                    address=ctx.address)
    body = ft.ListView(expand=True, spacing=6, padding=16)
    title = ft.Text()
    earlier = {"shown": False}   # the timeline's older entries opened, for as long as the page is
    drawn = {"from": None}

    def read() -> tuple:
        """What the page shows of the store: the matter, its timeline, its visits."""
        return ctx.ws.case(cid), ctx.ws.timeline(cid), ctx.ws.case_visits(cid)

    def fill(shown: tuple | None = None) -> None:
        c, items, visits = shown or read()
        drawn["from"] = repr((c, items, visits))
        names = ctx.ws.staff_names()
        title.value = f"{c.get('ref') or ''} {c.get('title') or c['description'][:20]}"
        head = [ft.Container(width=16, height=16, bgcolor=risk_colour(c.get("risk")), border_radius=8),
                ft.Text(ctx.code(codes.RISK_LEVELS, c.get("risk")) or ctx.t("not_graded")),
                ft.Text(ctx.code(codes.CASE_STATUSES, c["status"]), weight=ft.FontWeight.BOLD, size=16),
                ft.Text(ctx.code(codes.URGENCY, c.get("urgency")))]
        if statute.stage(c):
            head.append(ft.Text(ctx.t(f"office_stage_{statute.stage(c)}"), color=ft.Colors.PURPLE_700))
        if c.get("merged_into"):
            head.append(ft.Text(ctx.t("merged_note"), color=ft.Colors.GREY_700))
        body.controls = [
            ft.Row(head, wrap=True),
            # the verbs under the state, before the facts: an 8,000-character description and
            # fifty parties put them seven wheel turns down (helper AC)
            ft.Row([action_button(ctx, a, c, fill) for a in rules.office_actions(c, ctx.ws.last_callback_answer(cid))
                    if not c.get("merged_into") and dialogs.offered(a, c)], wrap=True),
            _row(ctx.t("channel"), ctx.code(codes.CHANNELS, c.get("channel"))),
            _row(ctx.t("category"), ctx.code(codes.CATEGORIES, c.get("category"))),
            _row(ctx.t("col_parties"), ctx.listed(c.get("parties") or [])),
            # whole: the clerk calls back from a desk telephone (a tel: link opens nothing on
            # a desk computer); reading the matter is on the audit trail
            _row(ctx.t("petitioner_phone"), c.get("petitioner_phone") or ""),
            _row(ctx.t("description"), c.get("description") or ""),
            _row(ctx.t("place"), c.get("place") or ""),
            _row(ctx.t("office_reception_leader"), names.get(c.get("reception_leader"), c.get("reception_leader") or "")),
            _row(ctx.t("higher_ref"), " ".join(x for x in (c.get("higher_ref"), c.get("higher_deadline")) if x)),
            _row(ctx.t("visitors_row"), ctx.t("n_people", n=c["visitors"]) if c.get("visitors") else ""),
            _row(ctx.t("signals"), ctx.listed(ctx.code(codes.SIGNALS, s) for s in c.get("signals") or [])),
            *limit_rows(ctx, c),
            _row(ctx.t("owner"), names.get(c.get("owner"), c.get("owner") or "")),
            _row(ctx.t("departments"), ctx.listed(c.get("departments") or [])),
            _row(ctx.t("plan"), c.get("plan") or ""),
            _row(ctx.t("outcome"), ctx.code(codes.OUTCOMES, c.get("outcome"))),
            _row(ctx.t("method"), c.get("method") or ""),
        ]
        docs = dialogs.documents_row(ctx, c, fill)
        if docs:
            body.controls.append(docs)
        erase = erasure.erase_button(ctx, "case", c, fill)  # the admin's alone, with a confirmation
        if erase:
            body.controls.append(erase)
        accepted, deadline = rules.as_date(c.get("accepted_on")), rules.as_date(c.get("deadline"))
        if accepted and deadline and accepted <= deadline and c.get("status") in rules.OPEN_STATUSES:
            progressed = any(statute.counts_as_progress(it, accepted) for it in items)
            steps = statute.milestone_progress(c, rules.milestones(accepted, deadline), progressed, today_cst())
            body.controls.append(ft.Text(ctx.t("milestones"), weight=ft.FontWeight.BOLD))
            body.controls.append(ft.Row([ft.Chip(
                label=ft.Text(f"{ctx.t('ms_' + s['key'])} {s['day'].isoformat()}"
                              + (ctx.aside(ctx.t('milestones_done')) if s["done"] else "")),
                leading=ft.Icon(ft.Icons.CHECK_CIRCLE if s["done"] else ft.Icons.SCHEDULE,
                                color=ft.Colors.GREEN_700 if s["done"] else
                                ft.Colors.RED_700 if s["late"] else ft.Colors.GREY_600),
                bgcolor=ft.Colors.RED_50 if s["late"] else None) for s in steps], wrap=True))
        dups = ctx.ws.likely_duplicates(c, exclude=cid) if c["status"] == "reported" and not c.get("merged_into") else []
        if dups:
            body.controls.append(ft.Text(ctx.t("duplicates"), weight=ft.FontWeight.BOLD))
            for d, why in dups:
                body.controls.append(ft.ListTile(
                    title=ft.Text(f"{d.get('ref') or ''} {d.get('title') or d['description'][:20]}"),
                    subtitle=ft.Text(ctx.t(f"dup_{why}")),
                    # a finished one is shown (the clerk may decline this one as repeated), not offered
                    trailing=ft.TextButton(ctx.t("merge_into"), on_click=lambda e, keep=d["id"]: (
                        ctx.act(ctx.ws.merge, cid, keep, done=ctx.t("done")), ctx.pop()))
                    if permissions.merge_target(d) else ft.Text(ctx.code(codes.CASE_STATUSES, d.get("status")))))
        body.controls.extend(visit_rows(ctx, c, names, visits))
        body.controls.extend(attachments.matter_gallery(ctx, c, names))  # thumbnails; full size on a click
        body.controls.append(ft.Text(ctx.t("timeline"), weight=ft.FontWeight.BOLD, size=16))
        hidden, earlier_button = timeline_window(ctx, items, set(), earlier, fill)   # the newest in reach
        if earlier_button is not None:
            body.controls.append(earlier_button)
        for it in items[hidden:]:
            heading = timeline_heading(ctx, it, names)
            body.controls.append(ft.Text(ctx.labelled(heading, it["text"]) if it["text"] else heading))

    fill()
    view = ft.View(route=f"/matter/{cid}", padding=0, controls=[body],
                   appbar=ft.AppBar(title=title, leading=back_button(ctx)))

    def arrived() -> None:
        # A phone's sync that touched the matter redraws the page only if what it shows
        # changed: a redraw replaces every button, and the clerk's click landing as it did
        # was lost (the 回访 dialog did not open), when the sync had arrived before the
        # page was drawn and its notice came after.
        now = read()
        if repr(now) != drawn["from"]:
            fill(now)

    view.data = arrived
    view.case_id = cid
    ctx.push(view)


def visit_rows(ctx, c: dict, names: dict, visits: list[dict]) -> list[ft.Control]:
    """The visits made for the matter, as the office reviews them: how far from the
    household's registered position (the township's threshold), and mocked positions."""
    from .visits import review_visit
    if not visits:
        return []
    far_m = ctx.store.settings().get("far_m")
    out = [ft.Text(ctx.t("visits_review"), weight=ft.FontWeight.BOLD)]
    for v in visits:
        hh = ctx.ws.household(v["household_id"]) if v.get("household_id") else None
        r = review_visit(v, hh, far_m)
        flags = []
        if r["distance_m"] is not None:
            flags.append(ctx.t("distance_from_home", d=format_distance(r["distance_m"])))
        if r["far"]:
            flags.append(ctx.t("far_flag", limit=round(far_m)))
        if r["unplaced"]:
            flags.append(ctx.t("unplaced_flag"))
        if v.get("mocked"):
            flags.append(ctx.t("mocked_flag"))
        if v.get("location_source") == "manual":
            flags.append(ctx.t("manual_flag"))
        out.append(ft.Text(f"{(v.get('visited_at') or '')[:16].replace('T', ' ')} "
                           f"{ctx.code(codes.VISIT_KINDS, v.get('kind'))} · {names.get(v['visitor'], v['visitor'])}"
                           + (f" · {ctx.clauses(flags)}" if flags else ""),
                           color=ft.Colors.RED_700 if r["far"] or r["unplaced"] or v.get("mocked") else None))
    return out


def action_button(ctx, action: str, case: dict, refresh) -> ft.Control:
    def click(e):
        if action == "accept":
            ctx.act(ctx.ws.accept, case["id"], done=ctx.t("done")) and refresh()
        elif action == "close_case":
            ctx.act(ctx.ws.close, case["id"], done=ctx.t("done")) and refresh()
        else:
            dialogs.OPEN[action](ctx, case, refresh)
        ctx.page.update()
    return ft.FilledButton(ctx.t(action), on_click=click, height=44)


__all__ = ["open_matter", "leaders", "split_parties"]
