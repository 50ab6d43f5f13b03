"""Today: households due for a visit, cases that changed, records that need a look."""

from __future__ import annotations

import flet as ft

from .. import worklist
from .widgets import TOUCH, KeptTiles, empty, header, kept_case_tile, row_key


def today_panel(ctx) -> ft.Control:
    """Drawn again in place when a sync brings records (the shell calls its `data`): the
    same list, the same tile for a row that did not change (widgets.KeptTiles)."""
    listed = ft.ListView(expand=True, padding=ft.Padding.only(bottom=24))
    holder = ft.Container(listed, expand=True)
    kept = KeptTiles()

    def draw() -> None:
        kept.keep_only(listed.controls)
        listed.controls = _today_list(ctx, redraw, kept)

    def redraw() -> None:
        draw()
        holder.update()

    draw()
    holder.data = draw
    return holder


def _today_list(ctx, redraw, kept: KeptTiles) -> list[ft.Control]:
    from sync import codes

    from .case_detail import open_case
    from .case_form import open_case_form
    from .household import open_household
    from .me import open_problems

    work = worklist.today(ctx.ws)
    names = ctx.ws.staff_names()
    items: list[ft.Control] = []
    guess, floored = ctx.ws.clock_guess_minutes(), ctx.ws.clock_floored_at()
    if floored is not None:   # the date reads before the last sync: times stay at that sync
        said = ctx.t("clock_floored", at=floored.strftime("%Y-%m-%d %H:%M"))
    elif guess is not None:   # restarted since a sync that found the date wrong: times are a guess
        said = ctx.t("clock_guess", off=worklist.span_words(ctx.lang, guess))
    if floored is not None or guess is not None:
        items.append(ft.Container(ft.Text(said, color=ft.Colors.ORANGE_900),
                                  bgcolor=ft.Colors.ORANGE_50, padding=ft.Padding.symmetric(horizontal=16, vertical=8)))
    if ctx.ws.role != "leader":
        items.append(ft.Container(ft.Row([
            ft.FilledButton(ctx.t("report_case"), icon=ft.Icons.REPORT, height=TOUCH,
                            on_click=lambda e: open_case_form(ctx)),
        ], wrap=True), padding=ft.Padding.only(left=16, right=16, top=12)))
        items.append(header(f"{ctx.t('today_due')} ({work.due_total})"))
        if not work.due:
            items.append(empty(ctx.t("nothing_due")))
        def due_tile(h: dict, late: int) -> ft.Control:
            return ft.ListTile(
                leading=ft.Icon(ft.Icons.HOME, color=ft.Colors.RED_400 if late else ft.Colors.BLUE_400),
                title=ft.Text(h["head_name"]),
                # the address whole (two lines), the due date under it: beside it, on a small
                # phone with a large font, every address was cut to "金山镇白鹤…", all alike
                subtitle=ft.Column([
                    ft.Text(h["address"], max_lines=2, overflow=ft.TextOverflow.ELLIPSIS),
                    ft.Text(ctx.t("overdue_days", n=late) if late else ctx.t("due_on", date=h["next_visit_due"]),
                            size=12, color=ft.Colors.RED_700 if late else ft.Colors.GREY_700)],
                    spacing=2, tight=True),
                on_click=lambda e, hid=h["id"]: open_household(ctx, hid), min_height=TOUCH + 16)
        for h in work.due:
            late = worklist.overdue_days(h.get("next_visit_due"), work.on)
            items.append(kept.get(row_key(h, "due", late), lambda h=h, late=late: due_tile(h, late)))
        more = work.due_total - len(work.due)
        if more > 0:
            items.append(empty(ctx.t("today_due_more", n=more)))
    if ctx.ws.role == "leader":
        items.append(header(f"{ctx.t('today_owned_due')} ({len(work.owned_due)})"))
        if not work.owned_due:
            items.append(empty(ctx.t("nothing_owned_due")))
        for c in work.owned_shown:
            items.append(kept_case_tile(kept, ctx, c, lambda cid: open_case(ctx, cid), names, work.on, "owned"))
        if work.owned_more:
            items.append(empty(ctx.t("today_owned_more", n=work.owned_more)))
    if work.left:
        def read(e) -> None:
            ctx.ws.forget_left_cases()
            redraw()
        items.append(header(f"{ctx.t('today_left')} ({len(work.left)})"))
        items.append(ft.Container(ft.Text(ctx.t("left_help"), size=12, color=ft.Colors.GREY_800),
                                  padding=ft.Padding.symmetric(horizontal=16)))
        for c in work.left:
            # its reference and kind (a leader knew it by its kind, not by the ledger's
            # number); its words are not kept once it has left (device._note_left)
            what = " ".join(x for x in (c.get("ref"), ctx.code(codes.CATEGORIES, c.get("category"))) if x) or ctx.t(
                "a_matter")
            items.append(ft.ListTile(leading=ft.Icon(ft.Icons.OUTBOX, color=ft.Colors.GREY_700),
                                     title=ft.Text(ctx.t("left_case", what=what, day=c.get("reported_on") or "—"))))
        items.append(ft.Container(ft.TextButton(ctx.t("left_read"), on_click=read, height=TOUCH),
                                  padding=ft.Padding.only(left=8)))
    items.append(header(f"{ctx.t('today_changed')} ({len(work.changed)})"))
    if not work.changed:
        items.append(empty(ctx.t("nothing_changed")))
    for c in work.changed:
        items.append(kept_case_tile(kept, ctx, c, lambda cid: open_case(ctx, cid), names, work.on, "changed"))
    items.append(header(f"{ctx.t('today_problems')} ({work.problems})"))
    if not work.problems:
        items.append(empty(ctx.t("no_problems")))
    else:
        if work.quarantined:
            items.append(ft.ListTile(leading=ft.Icon(ft.Icons.ERROR, color=ft.Colors.RED_700),
                                     title=ft.Text(ctx.t("quarantine_title")),
                                     trailing=ft.Text(str(len(work.quarantined))),
                                     on_click=lambda e: open_problems(ctx)))
        if work.conflicted:
            items.append(ft.ListTile(leading=ft.Icon(ft.Icons.CALL_SPLIT, color=ft.Colors.ORANGE_800),
                                     title=ft.Text(ctx.t("conflicts_title")),
                                     trailing=ft.Text(str(len(work.conflicted))),
                                     on_click=lambda e: open_problems(ctx)))
    return items
