"""The township's households at the office (住户): every grid's, found by head, address,
phone, ID number or household number, filtered by grid, registry status and need, a
page at a time; added and changed in a dialog that says each refusal next to its
field; a visit recorded here moves the next visit due like one from a phone.

ID numbers and phones are masked in the list (it does not need them); the dialog,
which does, shows them whole, and opening it is audited."""

from __future__ import annotations


import flet as ft

from sync import codes, households
from sync.device import ValidationError
from sync.workspace import now_iso

from ..privacy import mask_id, mask_phone
from ..screens.household_form import HouseholdForm
from ..screens.widgets import ERROR_LINES, named
from ..worklist import today_cst
from . import erasure
from .dialogs import dialog
from .forms import Form, date_field, text_field
from .ledger import wide

PAGE = 50
# (words, width). The table keeps its width and scrolls sideways in a narrower window (the
# ledger's way): with the address taking what the others left, a 1,024 px screen left it
# nothing, and 记录走访 past the edge. The head and the address take two lines.
COLUMNS = [("hh_col_head", 110), ("hh_col_address", 180), ("hh_col_grid", 100), ("hh_col_phone", 90),
           ("hh_col_id", 140), ("hh_col_needs", 80), ("hh_col_due", 90), ("hh_col_status", 130)]
BUTTONS_W = 150
TWO_LINES = {"hh_col_head", "hh_col_address"}
ROW_WIDTH = sum(w for _, w in COLUMNS) + BUTTONS_W + 8 * len(COLUMNS) + 8
STATUS_FILTERS = ("", "active", "archived", "moved_out", "deceased")


def _say(ctx, form: Form, hf: HouseholdForm, problems) -> None:
    """Each problem next to its control; what has none is said at the form's foot."""
    for p in problems:
        if p.field in hf.by_field or p.field in hf.notes:
            hf.show([p])
        else:
            form.say(p.field, p.message(ctx.lang))


def household_dialog(ctx, household: dict | None, refresh) -> None:
    """Add a household to any grid, or change one (its grid too: the office's to move)."""
    if household is not None:  # the dialog shows ID numbers whole: who opened which, and when
        ctx.store.audit(ctx.ws.username, "view", f"household {household['id']}",
                        device=ctx.session[1] if ctx.session else "", address=ctx.address)
    grids = [(g["id"], g.get("name") or g["id"]) for g in ctx.ws.grid_list()]
    hf = HouseholdForm(ctx, household, grids, width=460)
    form = Form(ctx, hf.by_field)   # the same controls: a refusal of the store lands on them too

    def ok() -> bool:
        hf.clear()
        values = hf.values()
        before = ctx.ws.household(household["id"]) if household else None
        problems = ctx.ws.household_problems(values, before)
        if problems:
            _say(ctx, form, hf, problems)
            return False
        try:
            if household is None:
                return form.run(ctx.ws.add_household, values)
            return form.run(ctx.ws.edit_household, household["id"], values, household)
        except ValidationError as e:
            _say(ctx, form, hf, e.errors)
            return False

    erase = erasure.erase_button(ctx, "household", household, refresh, in_dialog=True)  # the admin's alone
    from .attachments import household_gallery  # its photos and its visits', full size on a click
    photos = household_gallery(ctx, ctx.ws.household(household["id"]) or household) if household else []
    dialog(ctx, ctx.t("hh_add" if household is None else "hh_edit_title"), form,
           hf.controls() + photos + ([erase] if erase else []), ok, refresh)


def visit_dialog(ctx, household: dict, refresh) -> None:
    """A visit recorded at the office (a household that came in, a visit reported by
    telephone): its day, what was seen and asked, needs found."""
    day = date_field(ctx, "visited_at", today_cst().isoformat(), required=True)
    day.label = ctx.t("hh_visit_day") + " *"
    seen = text_field(ctx, "seen", entity="visit", multiline=True)
    seen.label = ctx.t("seen")
    requests = text_field(ctx, "requests", entity="visit", multiline=True)
    requests.label = ctx.t("requests")
    needs = {c: ft.Checkbox(label=row[ctx.lang], value=False) for c, row in codes.NEEDS.items()}
    form = Form(ctx, {"visited_at": day, "seen": seen, "requests": requests})

    def ok() -> bool:
        when = form.dates("visited_at")["visited_at"]
        if not form.required("visited_at") or when is None:
            return False
        if when > today_cst():
            form.say("visited_at", ctx.t("hh_visit_future"))
            return False
        at = now_iso() if when == today_cst() else f"{when.isoformat()}T12:00:00+08:00"
        record = {"household_id": household["id"], "grid_id": household["grid_id"], "visited_at": at,
                  "seen": (seen.value or "").strip(), "requests": (requests.value or "").strip(),
                  "needs_found": [c for c, box in needs.items() if box.value]}
        try:
            return form.run(ctx.ws.record_visit, record)
        except ValidationError as e:
            for err in e.errors:
                form.say(err.field, err.message(ctx.lang))
            return False

    dialog(ctx, ctx.labelled(ctx.t('hh_visit'), household['head_name']), form,
           [day, seen, requests, ft.Text(ctx.t("needs_found")), ft.Row(list(needs.values()), wrap=True)],
           ok, refresh)


def _cells(ctx, h: dict, grid_names: dict) -> list[tuple[str, int, int]]:
    gone = households.archived(h)
    status = ctx.code(codes.HOUSEHOLD_STATUSES, h.get("status") or "active")
    values = [h["head_name"], h.get("address") or "", grid_names.get(h["grid_id"], h["grid_id"]),
              mask_phone(h.get("phone")), mask_id(h.get("id_number")),
              ctx.listed(ctx.code(codes.NEEDS, t) for t in h.get("tags") or []),
              "—" if gone else h.get("next_visit_due") or "", status + ctx.aside(ctx.t('hh_archived')) if gone else status]
    return [(v, w, 2 if key in TWO_LINES else 1) for v, (key, w) in zip(values, COLUMNS)]


def household_row(ctx, h: dict, grid_names: dict, refresh) -> ft.Control:
    gone = households.archived(h)
    return ft.Container(ft.Row(
        [ft.Text(v, width=w, max_lines=lines, overflow=ft.TextOverflow.ELLIPSIS,
                 color=ft.Colors.GREY_600 if gone else None) for v, w, lines in _cells(ctx, h, grid_names)]
        + [ft.Row([ft.TextButton(ctx.t("hh_edit"), on_click=lambda e: (ctx.touch(), household_dialog(ctx, h, refresh))),
                   ft.TextButton(ctx.t("hh_visit"), on_click=lambda e: (ctx.touch(), visit_dialog(ctx, h, refresh)))],
                  width=BUTTONS_W, spacing=0)],
        spacing=8),
        padding=ft.Padding.symmetric(vertical=4, horizontal=4), ink=True,
        on_click=lambda e: (ctx.touch(), household_dialog(ctx, h, refresh)),
        border=ft.Border.only(bottom=ft.BorderSide(1, ft.Colors.GREY_200)))


def _choice(ctx, label: str, options: list[tuple[str, str]], value: str, on_change, width: int) -> ft.Control:
    return named(ft.Dropdown(label=label, value=value, width=width, dense=True, on_select=on_change,
                             options=[ft.DropdownOption(key=k, text=text) for k, text in options]))


def households_panel(ctx) -> ft.Control:
    state = {"q": "", "grid": "", "status": "", "need": "", "offset": 0}
    grids = ctx.ws.grid_list()
    grid_names = {g["id"]: g.get("name") or g["id"] for g in grids}
    rows = ft.ListView(expand=True, spacing=0)
    count = ft.Text(color=ft.Colors.GREY_700)
    prev = ft.OutlinedButton(ctx.t("hh_prev"), icon=ft.Icons.CHEVRON_LEFT)
    nxt = ft.OutlinedButton(ctx.t("hh_next"), icon=ft.Icons.CHEVRON_RIGHT)

    def load() -> None:
        ctx.touch()
        got, total = ctx.ws.household_page(state["q"], state["grid"] or None, state["status"] or None,
                                           state["need"] or None, PAGE, state["offset"])
        if not got and total and state["offset"]:   # the page emptied (a filter narrowed): back to the first
            state["offset"] = 0
            got, total = ctx.ws.household_page(state["q"], state["grid"] or None, state["status"] or None,
                                               state["need"] or None, PAGE, 0)
        rows.controls = [household_row(ctx, h, grid_names, refresh) for h in got]
        if not got:
            filtered = state["q"] or state["grid"] or state["status"] or state["need"]
            rows.controls = [ft.Text(ctx.t("hh_none" if filtered else "hh_none_yet"), color=ft.Colors.GREY_700)]
        a = state["offset"] + 1 if got else 0
        count.value = ctx.t("hh_count", a=a, b=state["offset"] + len(got), n=total)
        prev.disabled = state["offset"] == 0
        nxt.disabled = state["offset"] + len(got) >= total

    def refresh() -> None:
        load()

    def step(delta: int):
        def handler(e) -> None:
            state["offset"] = max(0, state["offset"] + delta)
            load()
            ctx.page.update()
        return handler

    def set_(key: str):
        def handler(e) -> None:
            state[key] = e.control.value or ""
            state["offset"] = 0
            load()
            ctx.page.update()
        return handler

    prev.on_click, nxt.on_click = step(-PAGE), step(PAGE)
    search = ft.TextField(label=ctx.t("hh_search_label"), hint_text=ctx.t("hh_search"), on_change=set_("q"), width=340,
                          dense=True, max_length=60, prefix_icon=ft.Icons.SEARCH, error_max_lines=ERROR_LINES)
    status_words = {"": ctx.t("hh_status_all"), "active": ctx.t("hh_status_active"),
                    "archived": ctx.t("hh_status_archived"),
                    "moved_out": ctx.code(codes.HOUSEHOLD_STATUSES, "moved_out"),
                    "deceased": ctx.code(codes.HOUSEHOLD_STATUSES, "deceased")}
    filters = ft.Row([
        search,
        _choice(ctx, ctx.t("hh_filter_grid"), [("", ctx.t("hh_all_grids"))] + list(grid_names.items()), "",
                set_("grid"), 190),
        _choice(ctx, ctx.t("hh_filter_status"), [(k, status_words[k]) for k in STATUS_FILTERS], "",
                set_("status"), 200),
        _choice(ctx, ctx.t("hh_filter_need"), [("", ctx.t("hh_all_needs"))] + [
            (c, row[ctx.lang]) for c, row in codes.NEEDS.items()], "", set_("need"), 160),
        ft.FilledButton(ctx.t("hh_add"), icon=ft.Icons.ADD_HOME,
                        on_click=lambda e: (ctx.touch(), household_dialog(ctx, None, refresh))),
    ], wrap=True, vertical_alignment=ft.CrossAxisAlignment.CENTER)
    header = ft.Container(ft.Row([ft.Text(ctx.t(h), width=w, weight=ft.FontWeight.BOLD)
                                  for h, w in COLUMNS] + [ft.Container(width=BUTTONS_W)], spacing=8),
                          padding=ft.Padding.symmetric(vertical=6, horizontal=4), bgcolor=ft.Colors.GREY_100)
    load()
    return ft.Column([
        ft.Text(ctx.t("nav_households"), size=18, weight=ft.FontWeight.BOLD), filters,
        ft.Row([count, prev, nxt], vertical_alignment=ft.CrossAxisAlignment.CENTER),
        wide(header, rows, ROW_WIDTH)], expand=True, spacing=8)


__all__ = ["households_panel", "household_dialog", "visit_dialog"]
