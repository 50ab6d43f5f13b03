"""Pieces several screens use: the sync bar, empty states, headers, colours."""

from __future__ import annotations

import datetime as dt

import flet as ft

from .. import i18n
from ..syncer import SyncStatus

RISK_COLOURS = {"red": ft.Colors.RED_600, "orange": ft.Colors.ORANGE_700,
                "yellow": ft.Colors.AMBER_600, "blue": ft.Colors.BLUE_600}
TOUCH = 48  # minimum touch target, logical pixels
# lines a refusal under its field may take before it is cut short (Flutter's default: one)
ERROR_LINES = 6


def risk_colour(risk: str | None) -> str:
    return RISK_COLOURS.get(risk or "", ft.Colors.GREY_500)


def call_button(ctx, number: str) -> ft.Control:
    """拨打电话: the number is shown masked (privacy.mask_phone); the phone dials it whole,
    through the app's one launcher (a household's page, a matter's)."""
    return ft.OutlinedButton(ctx.t("call"), icon=ft.Icons.CALL, height=TOUCH,
                             on_click=lambda e: ctx.page.run_task(ctx.launcher.launch_url, f"tel:{number}"))


def info_row(label: str, value: str, colour=None, width: int = 90) -> ft.Control:
    """A label and its value, on the detail screens; an empty value reads "—"."""
    return _row(label, ft.Text(value or "—", color=colour), width)


def _row(label: str, value: ft.Text, width: int) -> ft.Control:
    # Each row is a node of its own for screen readers ("化解方案 先行垫付…"): beside a
    # button (展开全文) the plain texts of a column were read, and found, by none.
    value.expand = True
    return ft.Semantics(content=ft.Row([ft.Text(label, width=width, color=ft.Colors.GREY_700), value],
                                       vertical_alignment=ft.CrossAxisAlignment.START), container=True)


# A long value shows this many lines until it is opened: a description of 2,000
# characters pushed a leader's 下访/进展/办结 buttons six screens down.
CLAMP_LINES = 6


def long_row(label: str, value: str, words: tuple[str, str], colour=None, width: int = 90) -> ft.Control:
    """info_row for a text that may run long (a description, a plan): its first
    CLAMP_LINES lines, and a button that opens the rest and closes it again. `words`:
    the button's two labels (open, close) in the person's language."""
    if not value or (len(value) <= CLAMP_LINES * 16 and value.count("\n") < CLAMP_LINES):
        return info_row(label, value, colour, width)
    text = ft.Text(value, color=colour, max_lines=CLAMP_LINES, overflow=ft.TextOverflow.ELLIPSIS)
    toggle = ft.TextButton(words[0], height=TOUCH)

    def flip(e) -> None:
        opened = text.max_lines is not None
        text.max_lines = None if opened else CLAMP_LINES
        text.overflow = None if opened else ft.TextOverflow.ELLIPSIS
        toggle.content = words[1] if opened else words[0]
        text.update()
        toggle.update()

    toggle.on_click = flip
    return ft.Column([_row(label, text, width), ft.Row([ft.Container(width=width), toggle])], spacing=0)


def header(text: str) -> ft.Control:
    return ft.Container(ft.Text(text, size=16, weight=ft.FontWeight.BOLD),
                        padding=ft.Padding.only(left=16, right=16, top=16, bottom=4))


def empty(text: str) -> ft.Control:
    return ft.Container(ft.Text(text, color=ft.Colors.GREY_700), padding=ft.Padding.symmetric(vertical=12, horizontal=16))


def status_text(ctx, st: SyncStatus) -> tuple[str, str]:
    """(words, colour) for the sync state: the pending count always comes first."""
    if st.state == "syncing":
        return ctx.t("syncing"), ft.Colors.BLUE_700
    if st.pending:
        parts, colour = [ctx.t("pending_n", n=st.pending)], ft.Colors.ORANGE_900
    elif st.last_sync_ms:
        parts, colour = [ctx.t("all_synced")], ft.Colors.GREEN_800
    else:  # signed in, nothing written yet, no sync done: "all synced" would not be true
        parts, colour = [ctx.t("never_synced")], ft.Colors.GREY_800
    if st.state in ("offline", "server_trouble", "server_full"):
        parts.append(ctx.t(st.state))
        colour = ft.Colors.GREY_800
    elif st.state == "phone_full":
        parts.append(ctx.t(st.state))
        colour = ft.Colors.RED_700
    elif st.state == "signed_out":
        parts.append(ctx.t("signed_out_sync"))
        colour = ft.Colors.RED_700
    elif st.state == "outdated":
        parts.append(ctx.t("outdated"))
        colour = ft.Colors.RED_700
    elif st.state == "update_required":
        parts.append(ctx.t("update_required"))
        colour = ft.Colors.RED_700
    elif st.state == "error":
        parts.append(ctx.t("sync_error", detail=st.detail))
        colour = ft.Colors.RED_700
    if st.quarantined:
        parts.append(ctx.t("quarantined_n", n=st.quarantined))
        colour = ft.Colors.RED_700
    return " · ".join(parts), colour


def last_sync_text(ctx, st: SyncStatus) -> str:
    ms = st.last_sync_ms
    if not ms:   # the headline says 尚未同步 already, unless it counts what waits
        return ctx.t("never_synced") if st.pending else ""
    # on the township's clock, as every record on the screen is: the phone's own, a day
    # fast, said the last sync was tomorrow beside a visit stamped today
    offset = getattr(getattr(getattr(getattr(ctx, "phone", None), "replica", None), "clock", None), "offset_ms", 0)
    when = dt.datetime.fromtimestamp((ms + (offset or 0)) / 1000, dt.timezone(dt.timedelta(hours=8)))
    return ctx.t("last_sync", when=when.strftime("%m-%d %H:%M"))


def sync_bar(ctx, owner=None) -> ft.Control:
    """Always in sight: what is waiting, whether it is moving, and a way to push it."""
    label = ft.Text(size=14, weight=ft.FontWeight.W_500)
    last = ft.Text(size=12, color=ft.Colors.GREY_700)
    bar = ft.ProgressBar(visible=False, height=3)
    icon = ft.Icon(ft.Icons.CLOUD_DONE, size=20)
    now = ft.TextButton(ctx.t("sync_now"), on_click=lambda e: ctx.phone.runner.request(), height=TOUCH)
    again = ft.TextButton(ctx.t("sign_in_again"), on_click=lambda e: sign_in_again(ctx), height=TOUCH, visible=False)

    signing_in = getattr(owner, "route", None) == "/login-again"   # the sign-in is this screen

    def show(st: SyncStatus) -> None:
        # the server no longer takes this sign-in: syncing again cannot help, signing in can
        out = st.state == "signed_out"
        again.visible, now.visible = out and not signing_in, not out
        label.value, label.color = status_text(ctx, st)
        last.value = last_sync_text(ctx, st)
        bar.visible = st.state == "syncing"
        bar.value = st.progress
        icon.icon = {"syncing": ft.Icons.SYNC, "offline": ft.Icons.CLOUD_OFF, "server_trouble": ft.Icons.SYNC_PROBLEM,
                     "server_full": ft.Icons.SYNC_PROBLEM, "phone_full": ft.Icons.SD_CARD_ALERT}.get(
            st.state, ft.Icons.CLOUD_UPLOAD if st.pending else ft.Icons.CLOUD_DONE)
        icon.color = label.color

    ctx.on_status(show, owner)
    st = ctx.phone.runner.status
    show(SyncStatus(**{**st.__dict__, "pending": ctx.phone.replica.pending_count(),
                       "quarantined": ctx.phone.replica.quarantined_count()}))
    return ft.Container(
        ft.Column([
            ft.Row([icon, ft.Column([label, last], spacing=0, expand=True), now, again],
                   vertical_alignment=ft.CrossAxisAlignment.CENTER),
            ft.Container(bar, height=3)], spacing=2),   # its own slot: the screen never jumps
        padding=ft.Padding.only(left=12, right=4, top=2, bottom=2), bgcolor=ft.Colors.BLUE_GREY_50)


def sign_in_again(ctx) -> None:
    """The same person signs in again over the screen they were on; their unsent work stays."""
    from .login import login_view
    account = ctx.phone.account()
    if account is None:
        return

    def done() -> None:
        ctx.pop(saved=True)
        ctx.phone.runner.request()
    ctx.push(login_view(ctx, on_done=done, again=account))


def deadline_text(ctx, deadline: str | None, today: dt.date | None = None) -> tuple[str, str]:
    """"剩 N 天" / "今日到期" / "已超期 N 天", counted from the township's day as the phone
    knows it (ctx.ws.now()), not the phone's own date: a date set back ten days read a
    matter due today as ten days off."""
    if not deadline:
        return "", ft.Colors.GREY_700
    from ..worklist import days_left
    n = days_left(deadline, today or ctx.ws.now().date())
    if n is None:
        return deadline, ft.Colors.GREY_700
    if n < 0:
        return ctx.t("overdue", n=-n), ft.Colors.RED_700
    if n == 0:
        return ctx.t("due_today"), ft.Colors.ORANGE_900
    return ctx.t("days_left", n=n), ft.Colors.ORANGE_900 if n <= 7 else ft.Colors.GREY_800


def kept_case_tile(kept: "KeptTiles", ctx, case: dict, on_open, names: dict, today: dt.date,
                   section: str = "") -> ft.Control:
    """A case's tile from `kept`, drawn again only when what it shows changed (its row,
    the day its deadline counts from, its owner's name, whether it was handed over).
    `section`: a list showing a case twice keeps a tile for each place."""
    gone = ctx.ws.handed_over(case["id"])
    return kept.get(row_key(case, section, today, gone, names.get(case.get("owner"))),
                    lambda: case_tile(ctx, case, on_open, names, today, gone))


def case_tile(ctx, case: dict, on_open, names: dict | None = None, today: dt.date | None = None,
              gone: bool | None = None) -> ft.Control:
    """`today`: the township's day, read once by a list of many (deadline_text); `gone`:
    whether it was handed over, when the caller knows."""
    from sync import codes
    from sync.queries import OPEN_STATUSES
    dl, dl_colour = (deadline_text(ctx, case.get("deadline"), today) if case.get("status") in OPEN_STATUSES
                     else ("", None))
    if gone is None:   # kept for unsent work alone: not theirs to work on
        gone = ctx.ws.handed_over(case["id"])
    subtitle = " · ".join(x for x in (
        ctx.t("handed_over_short") if gone else ctx.code(codes.CASE_STATUSES, case.get("status")),
        ctx.code(codes.CATEGORIES, case.get("category")),
        "" if gone else (names or {}).get(case.get("owner"), case.get("owner") or "")) if x)
    title = case.get("title") or (case.get("description") or "")[:20]
    return ft.ListTile(
        leading=ft.Container(width=12, height=40, bgcolor=risk_colour(case.get("risk")), border_radius=3),
        title=ft.Text(title, max_lines=2, overflow=ft.TextOverflow.ELLIPSIS),   # told apart on a small phone
        subtitle=ft.Text(subtitle, max_lines=1, overflow=ft.TextOverflow.ELLIPSIS,
                         color=ft.Colors.ORANGE_900 if gone else None),
        trailing=ft.Text(dl, color=dl_colour, size=12) if dl and not gone else None,
        on_click=lambda e: on_open(case["id"]), min_height=TOUCH + 16)


class KeptTiles:
    """A list's tiles, the same control for a row that looks the same when the list is
    drawn again (a sync brought records): a tap on its way as the list was redrawn named a
    tile replaced meanwhile, and the app, hearing of a control gone, opened nothing (seen
    on the first sync after a sign-in, a grid worker tapping a household)."""

    def __init__(self) -> None:
        self._tiles: dict = {}

    def get(self, key, make):
        """The tile kept under `key` (all a row shows, its id first), or `make()`'s."""
        tile = self._tiles.get(key)
        if tile is None:
            tile = self._tiles[key] = make()
        return tile

    def keep_only(self, shown: list) -> None:
        """Forget the tiles no longer on screen (before the list is drawn again)."""
        on_screen = {id(c) for c in shown}
        self._tiles = {k: c for k, c in self._tiles.items() if id(c) in on_screen}


def row_key(row: dict, *more) -> tuple:
    """What a tile of `row` shows, as a key: the record's id, every value it holds, and
    `more`, what else the tile shows (the day its deadline counts from, a name)."""
    return (row.get("id"), repr(sorted(row.items())), *more)


def until_saved(handler):
    """A dialog's 保存 (or 放弃) handler that runs until it has done its work once
    (`handler(e)` returns True then). A page runs its handlers one after another, and the
    second click of a double tap, queued behind the first, wrote the entry again after
    the dialog had closed."""
    done = [False]

    def click(e):
        if not done[0]:
            done[0] = bool(handler(e))
    return click


def save_button(ctx, save, icon=ft.Icons.SAVE) -> ft.FilledButton:
    """A form's 保存. `save` (async) returns True once saved. A tap while it runs is
    ignored and the button says it is saving: a fresh position fix takes seconds on a
    cheap phone, and a second tap meanwhile saved the visit twice."""
    state = {"running": False, "saved": False}
    # data: whether a save is under way (Screens.guard_leaving's `saving`)
    button = ft.FilledButton(ctx.t("save"), icon=icon, height=TOUCH, data=lambda: state["running"])

    async def click(e) -> None:
        if state["running"] or state["saved"]:
            return
        state["running"] = True
        button.disabled, button.content = True, ctx.t("saving")
        ctx.page.update()
        try:
            state["saved"] = bool(await save(e))
        finally:
            state["running"] = False
            if not state["saved"]:
                button.disabled, button.content = False, ctx.t("save")
                ctx.page.update()
    button.on_click = click
    return button


def guard_form(ctx, view: ft.View, inputs: list, photos, saver: ft.FilledButton) -> None:
    """The form asks before 返回 drops what was typed or photographed since it opened,
    and 返回 waits while its 保存 runs (Screens.guard_leaving)."""
    def now() -> tuple:
        return typed(inputs), list(photos.value or [])
    opened = now()
    ctx.guard_leaving(view, lambda: now() != opened, saver.data)


_INPUTS = (ft.TextField, ft.Dropdown, ft.Checkbox, ft.RadioGroup, ft.Switch)


def typed(*controls) -> list:
    """The values of every input within `controls` (rows and columns walked), in order:
    compared with the same taken at opening, says whether a form holds unsaved work."""
    out: list = []

    def walk(c) -> None:
        if isinstance(c, (list, tuple)):
            for x in c:
                walk(x)
            return
        if isinstance(c, _INPUTS):
            out.append(c.value)
        for name in ("controls", "content"):
            sub = getattr(c, name, None)
            if isinstance(sub, (ft.Control, list, tuple)):
                walk(sub)
    walk(list(controls))
    return out


def password_field(ctx, **kw) -> ft.TextField:
    """A password's field with an eye that shows or hides what was typed, named by what
    it does (显示密码 / 不显示密码) for a screen reader as for a mouse resting on it. Flet's
    own eye (can_reveal_password) is a bare icon a screen reader called "button" and
    nothing more, and it takes no name (flet 1.0.5 draws it without a label)."""
    field = ft.TextField(label=ctx.t("password"), password=True, **kw, error_max_lines=ERROR_LINES)

    def said() -> None:
        name = ctx.t("show_password" if field.password else "hide_password")
        # the name on the icon, inside the button's own node: a tooltip alone named nothing
        # in the browser, and a Semantics around the button named an outer node twice
        # ("Show password Show password") over the unnamed button that takes the focus
        eye.icon = ft.Icon(ft.Icons.VISIBILITY if field.password else ft.Icons.VISIBILITY_OFF, semantics_label=name)
        eye.tooltip = name   # for the mouse

    def toggle(e) -> None:
        field.password = not field.password
        said()
        ctx.page.update()

    eye = ft.IconButton(ft.Icons.VISIBILITY, on_click=toggle)
    said()
    field.suffix_icon = eye
    return field


def back_button(ctx) -> ft.IconButton:
    """返回, named once for a screen reader: the name on the icon inside the button (a
    Semantics around it named an outer node over an unnamed button, and with a tooltip
    beside, a reader said "返回 返回"), the tooltip for a mouse resting on it."""
    return ft.IconButton(ft.Icon(ft.Icons.ARROW_BACK, semantics_label=ctx.t("back")), tooltip=ctx.t("back"),
                         on_click=lambda e: ctx.pop())


def appbar(ctx, title) -> ft.AppBar:
    """The bar of a pushed screen: its title and a back button a screen reader can name."""
    return ft.AppBar(title=title if isinstance(title, ft.Control) else ft.Text(title), leading=back_button(ctx))


def timeline_heading(ctx, it: dict, names: dict) -> str:
    """"2026-11-26 10:30 下访 · 李振华": when, what and who, for one timeline entry."""
    from sync import codes
    kind = (ctx.code(codes.EVENT_KINDS, it["kind"]) if it["type"] == "event" else
            ctx.code(codes.VISIT_KINDS, it["kind"]) if it["type"] == "visit" else
            ctx.code(codes.SATISFACTION, it["kind"]) if it["type"] == "callback" else
            ctx.t('reported') + i18n.aside(ctx.code(codes.CHANNELS, it['kind']), ctx.lang))
    return f"{it['at'][:16].replace('T', ' ')} {kind} · {names.get(it['by'], it['by'])}"


def refusal_text(ctx, entity: str, err: dict) -> str:
    """One rule a refused change broke (the server's {"field", "rule", "message"}) in the
    person's language. The server words it in English and sends no parameters: they are
    read back from its sentence (the rule's English template) or from the field table,
    so the Chinese sentence is the one the phone itself would have said."""
    import re

    from sync import codes as code_tables
    from sync.model import _MESSAGES, ENTITIES
    from sync.workspace import VerbError
    field, rule, said = str(err.get("field") or ""), str(err.get("rule") or ""), str(err.get("message") or "")
    params: dict = {"entity": entity, "user": ctx.ws.username, "role": ctx.ws.role}
    f = ENTITIES[entity].by_name.get(field) if entity in ENTITIES else None
    if f is not None:
        params.update(max_len=f.max_len, min=f.min if f.min is not None else 0, max=f.max if f.max is not None else 0)
    if rule in _MESSAGES:
        en = _MESSAGES[rule][0]
        names = re.findall(r"{(\w+)[^}]*}", en)
        pattern = re.escape(re.sub(r"{(\w+)[^}]*}", "\x00", en))
        for name in names:
            pattern = pattern.replace("\x00", f"(?P<{name}>.+?)" if name != names[-1] else f"(?P<{name}>.+)", 1)
        m = re.fullmatch(pattern, said) if names else None
        from sync.model import DATE_LABELS_EN
        labelled = {"role_en": ("role", code_tables.ROLES), "status_en": ("status", code_tables.CASE_STATUSES),
                    "from_en": ("from", code_tables.CASE_STATUSES), "to_en": ("to", code_tables.CASE_STATUSES),
                    "other_en": ("other", {k: {"en": v} for k, v in DATE_LABELS_EN.items()}),
                    "value_en": ("value", (f.table if f is not None and f.table else {}))}
        for name, value in (m.groupdict() if m else {}).items():
            if name in labelled:
                key, table = labelled[name]
                params[key] = next((c for c, row in table.items() if row["en"] == value), value)
            elif name in PERSON_FIELDS:   # an account, by the person's name (此事项已改由陈建国包案)
                params[name] = ctx.ws.staff_names().get(value, value)
            elif name in ("max_len", "n", "min", "max", "hours"):
                try:
                    params[name] = float(value) if name in ("min", "max", "hours") else int(value)
                except ValueError:
                    pass
            else:
                params[name] = value
        for name in re.findall(r"{(\w+)[^}]*}", _MESSAGES[rule][1]):
            base = name.removesuffix("_zh").removesuffix("_en")
            params.setdefault(base if base in ("entity", "other", "expected", "role", "status", "from", "to")
                              else name, "")
    try:
        text = VerbError(field, rule, tuple(sorted(params.items()))).message(ctx.lang)
    except (KeyError, IndexError, ValueError, TypeError):
        return said or rule
    return text.rstrip("：: ")


# Fields naming an account: shown by the person's name.
PERSON_FIELDS = {"owner", "reported_by", "reception_leader", "visitor", "by"}


def shown_value(ctx, entity: str, field: str, value, names: dict | None = None) -> str:
    """A stored value as a person reads it: a code by its label, an account by the
    person's name, a list joined; never a raw code."""
    from sync.model import ENTITIES
    if value is None or value == "" or value == []:
        return ""
    f = ENTITIES[entity].by_name.get(field) if entity in ENTITIES else None
    if field in PERSON_FIELDS and isinstance(value, str):
        return (names or {}).get(value) or value
    if f is not None and f.table is not None:
        if isinstance(value, list):
            return i18n.listed((ctx.code(f.table, v) for v in value), ctx.lang)
        return ctx.code(f.table, value)
    if isinstance(value, bool):
        return ("是" if value else "否") if ctx.lang == "zh" else ("yes" if value else "no")
    if isinstance(value, list):
        return i18n.listed((str(v.get("name", "")) if isinstance(v, dict) else str(v) for v in value), ctx.lang)
    return str(value)


def say_when_full(ctx, field: ft.TextField) -> ft.TextField:
    """A paste longer than the field takes is cut at its limit, and only the counter said
    so (4000/4000): the rest of what was observed was lost without a word. It is said
    beside the field, in words, while the field is full."""
    before = field.on_change
    said = [False]

    def changed(e):
        if before:
            before(e)
        full = field.max_length is not None and len(field.value or "") >= field.max_length
        if full != said[0]:
            said[0] = full
            field.helper = ctx.t("text_full", n=field.max_length) if full else None
            field.update()
    field.on_change = changed
    return field


def named(dropdown: ft.Dropdown) -> ft.Control:
    """Flutter gives a dropdown no accessible name of its own: a screen reader (and the
    browser tests) find it by its label."""
    return ft.Semantics(label=dropdown.label, button=True, content=dropdown)
