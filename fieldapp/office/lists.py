"""The callback queue (评) and the leader supervision ledger (领导包案督办台账)."""

from __future__ import annotations

import flet as ft

from sync import codes, rules

from ..screens.widgets import named
from ..worklist import today_cst
from .ledger import filter_controls, header_row, matter_row, wide


def callbacks_panel(ctx) -> ft.Control:
    """Two lists: the matters resolved and not yet called back, the longest waiting
    first; then those whose petitioner was not reached at the latest callback (联系不上),
    to be called back again, the oldest try first, each marked with the day of that try.
    The header counts both, and says so: a matter is in one list or the other."""
    from .matter import open_matter
    names = ctx.ws.staff_names()
    queue, waiting = ctx.ws.callback_queue(), ctx.ws.callbacks_waiting()
    retries, retrying = ctx.ws.callback_retry_queue()
    rows = [matter_row(ctx, c, names, lambda cid: open_matter(ctx, cid)) for c in queue]
    if waiting > len(queue):   # the longest waiting are listed; the rest are counted
        rows.append(ft.Text(ctx.t("callbacks_more", n=waiting - len(queue)), color=ft.Colors.GREY_700))
    if not rows and not retrying:
        rows.append(ft.Text(ctx.t("callback_queue_empty"), color=ft.Colors.GREY_700))
    if retrying:
        rows += [ft.Text(ctx.t("callback_retries") + ctx.aside(retrying), size=16, weight=ft.FontWeight.BOLD),
                 ft.Text(ctx.t("callback_retries_note", days=rules.RETRY_LISTED_DAYS), size=12,
                         color=ft.Colors.GREY_700)]
        for c in retries:
            rows += [ft.Text(ctx.clauses([ctx.t("callback_retries"), ctx.t("last_try", day=c["last_try"])]),
                             size=12, color=ft.Colors.ORANGE_900),
                     matter_row(ctx, c, names, lambda cid: open_matter(ctx, cid))]
        if retrying > len(retries):
            rows.append(ft.Text(ctx.t("retries_more", n=retrying - len(retries)), color=ft.Colors.GREY_700))
    # the ledger's columns, so the ledger's sideways scroll: at 1,024 px 办理期限 and 状态
    # were cut off with no way to see them
    return ft.Column([ft.Text(ctx.t('nav_callbacks') + ctx.aside(waiting + retrying), size=18,
                              weight=ft.FontWeight.BOLD),
                      ft.Text(ctx.t("callbacks_counted", first=waiting, again=retrying), color=ft.Colors.GREY_700),
                      wide(header_row(ctx), ft.ListView(rows, expand=True))], expand=True)


# The supervision ledger's chips: (word, which matters)
SUPERVISION_FILTERS = (("sup_open", "open"), ("filter_overdue", "overdue"), ("sup_all", "all"))
PAGE = 100


def supervision_line(ctx, c: dict, dl: int | None, progress: list[dict]) -> str:
    """A matter's departments, plan and deadline under its title, then its latest progress."""
    parts = [ctx.labelled(ctx.t('departments'), ctx.listed(c.get('departments') or []) or '—'),
             ctx.labelled(ctx.t('plan'), (c.get('plan') or '—').rstrip('。；;')),
             ctx.labelled(ctx.t('deadline'), c.get('deadline') or '—')
             + (ctx.aside(ctx.t('days_left', n=dl) if dl >= 0 else ctx.t('overdue', n=-dl)) if dl is not None else "")]
    latest = f"\n{progress[-1]['at'][:10]} {progress[-1]['text']}" if progress else ""
    return ctx.clauses(parts) + latest


def supervision_panel(ctx) -> ft.Control:
    """Each leader's matters, the most pressing first: overdue in red, the days left only
    while the clock runs, the latest progress. The matters being worked first (a year of
    finished ones buried them), a leader and words to narrow it, a page at a time."""
    from .matter import open_matter
    names = ctx.ws.staff_names()
    state = ctx.supervision_state      # the clerk's choice survives a redraw (phones syncing)
    today = today_cst()
    rows = ft.ListView(expand=True, spacing=4)
    count = ft.Text(color=ft.Colors.GREY_700)
    more = ft.TextButton(ctx.t("load_more"), visible=False)
    page = {"offset": 0, "owner": None, "counts": {}}

    def tile(c: dict) -> ft.Control:
        running = c.get("status") in rules.OPEN_STATUSES
        dl = rules.days_left(c.get("deadline"), today) if running else None
        late = dl is not None and dl < 0
        progress = [it for it in ctx.ws.timeline(c["id"]) if it["kind"] in ("progress", "home", "resolution")]
        return ft.ListTile(
            title=ft.Text(f"{c.get('ref') or ''} {c.get('title') or (c.get('description') or '')[:20]} · "
                          f"{ctx.code(codes.CASE_STATUSES, c['status'])}",
                          color=ft.Colors.RED_700 if late else None),
            subtitle=ft.Text(supervision_line(ctx, c, dl, progress), color=ft.Colors.RED_700 if late else None),
            is_three_line=True, on_click=lambda e, cid=c["id"]: open_matter(ctx, cid))

    def heading(owner: str) -> ft.Control:
        n, late_n = page["counts"].get(owner, (0, 0))
        sep = "，" if ctx.lang != "en" else ", "
        return ft.Text(names.get(owner, owner) + ctx.aside(f"{n}" + (f"{sep}{ctx.t('n_overdue', n=late_n)}" if late_n else "")),
                       size=16, weight=ft.FontWeight.BOLD)

    def load(reset: bool) -> None:
        which = SUPERVISION_FILTERS[state["f"]][1]
        if reset:
            page.update(offset=0, owner=None, counts=ctx.ws.supervision_counts(which, state["q"]))
            rows.controls.clear()
        got = ctx.ws.supervision(which=which, leader=state["leader"], search=state["q"],
                                 limit=PAGE + 1, offset=page["offset"])
        more.visible = len(got) > PAGE
        got = got[:PAGE]
        page["offset"] += len(got)
        for c in got:
            if c["owner"] != page["owner"]:
                page["owner"] = c["owner"]
                rows.controls.append(heading(c["owner"]))
            rows.controls.append(tile(c))
        total = (page["counts"].get(state["leader"], (0, 0))[0] if state["leader"]
                 else sum(n for n, _ in page["counts"].values()))
        count.value = ctx.t("n_matters", n=total)
        if not rows.controls:   # nothing owned at all, or nothing the choice leaves
            rows.controls.append(ft.Text(ctx.t("supervision_none" if leaders else "supervision_empty"),
                                         color=ft.Colors.GREY_700))

    def redraw() -> None:
        load(True)
        ctx.page.update()

    def pick(e):
        state["leader"] = e.control.value or ""
        redraw()

    chips, box = filter_controls(ctx, [k for k, _ in SUPERVISION_FILTERS], state, redraw)
    more.on_click = lambda e: (load(False), ctx.page.update())
    # every leader who owns a matter (the dropdown's choices)
    leaders = sorted(ctx.ws.supervision_counts("all"), key=lambda u: names.get(u, u))
    if state["leader"] and state["leader"] not in leaders:
        # the leader chosen owns nothing now (their matters given to another): the list
        # follows the dropdown, which can only show 全部领导
        state["leader"] = ""
    load(True)
    leader = named(ft.Dropdown(label=ctx.t("sup_leader"), width=200, value=state["leader"], on_select=pick, options=[
        ft.DropdownOption(key="", text=ctx.t("all_leaders"))] + [
        ft.DropdownOption(key=u, text=names.get(u, u)) for u in leaders]))
    return ft.Column([ft.Row([box, leader, count], wrap=True), chips, rows, more], expand=True, spacing=8)
