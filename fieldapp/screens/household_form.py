"""Adding or changing a household: head, ID number, address, phone, needs, members
(家庭成员 with the relation to the head), note, and whether it is still in the registry
(moved out, head deceased: kept, archived).

`HouseholdForm` is the form itself, a column of controls built by functions and known
by the field each writes, used by the phone (a screen, `open_household_form`) and the
office (a dialog, fieldapp/office/households.py). Whatever refuses a save is said next
to its field in the person's language; a member's field is named "members.N.key".
"""

from __future__ import annotations

import flet as ft

from sync import codes
from sync.device import ValidationError

from .. import i18n
from .widgets import ERROR_LINES, TOUCH, appbar, guard_form, refusal_text, save_button, say_when_full

MEMBER_KEYS = ("name", "relation", "id_number", "note")
ID_TYPED = 24   # 18 characters, with spaces or a stray one between the groups


def problem_label(ctx, field: str) -> str:
    """The label of a field a problem names, for the line under the form ("成员2 姓名")."""
    return ctx.t(FIELD_WORDS[field]) if field in FIELD_WORDS else i18n.field_label(field, ctx.lang)


FIELD_WORDS = {"grid_id": "hh_grid", "head_name": "hh_head", "id_number": "hh_id_number", "address": "address",
               "phone": "hh_phone", "hh_number": "hh_number", "tags": "needs", "members": "members",
               "note": "hh_note", "status": "hh_status"}


class HouseholdForm:
    """The controls of a household form and the values they hold.

    `household`: the record being changed (None: a new one). `grids`: the grids it may
    be in ((id, name) pairs; a choice only when there are several and the grid may be
    chosen). `masked`: ID numbers are held masked here (a phone): a masked one left as
    it is stands for the number the server holds. `filled`: a new one's values as typed
    before (a refused one corrected); its grid only if it is one of `grids`, else the
    only one there is, else none chosen."""

    def __init__(self, ctx, household: dict | None, grids: list[tuple[str, str]], *, grid_editable: bool = True,
                 masked: bool = False, width: int | None = None, filled: dict | None = None):
        self.ctx, self.before, self.masked, self.width = ctx, household, masked, width
        h = household or filled or {}
        t = ctx.t
        self.by_field: dict[str, ft.Control] = {}   # field → the control that shows its errors
        grid = h.get("grid_id") or (grids[0][0] if grids else None)
        if filled and grid not in {g for g, _ in grids}:
            grid = grids[0][0] if len(grids) == 1 else None
        self.grid = ft.Dropdown(label=t("hh_grid") + " *", value=grid,
                                options=[ft.DropdownOption(key=g, text=name) for g, name in grids],
                                disabled=not grid_editable or len(grids) < 2, width=width)
        self.head = ft.TextField(label=t("hh_head") + " *", value=h.get("head_name") or "", max_length=40,
                                 width=width, error_max_lines=ERROR_LINES)
        # room for the number as printed, in groups (330702 19580312 4417): the spaces go
        # when it is read (idnumber.normalize_id); at 18 the last digits were cut off
        self.id_number = ft.TextField(label=t("hh_id_number"), value=h.get("id_number") or "", max_length=ID_TYPED,
                                      width=width, helper=t("hh_id_masked_help") if masked and h.get("id_number")
                                      else None, error_max_lines=3, helper_max_lines=2)
        self.address = ft.TextField(label=t("address") + " *", value=h.get("address") or "", max_length=200,
                                    width=width, error_max_lines=ERROR_LINES)
        self.phone = ft.TextField(label=t("hh_phone"), value=h.get("phone") or "", max_length=20, width=width,
                                  keyboard_type=ft.KeyboardType.PHONE, hint_text="13812345678 / 0579-82345678",
                                  error_max_lines=3)
        self.hh_number = ft.TextField(label=t("hh_number"), value=h.get("hh_number") or "", max_length=40,
                                      width=width, error_max_lines=ERROR_LINES)
        self.tags = {c: ft.Checkbox(label=row[ctx.lang], value=c in (h.get("tags") or []))
                     for c, row in codes.NEEDS.items()}
        self.tag_boxes = [ft.Container(box, width=150) for box in self.tags.values()]  # two a line on a phone
        self.note = ft.TextField(label=t("hh_note"), value=h.get("note") or "", multiline=True, min_lines=2,
                                 max_length=2000, width=width, error_max_lines=ERROR_LINES)
        self.status = ft.RadioGroup(value=h.get("status") or "active", content=ft.Column(
            [ft.Radio(value=c, label=row[ctx.lang]) for c, row in codes.HOUSEHOLD_STATUSES.items()], spacing=0))
        self.status_note = ft.Text(color=ft.Colors.RED_700, size=12, visible=False)
        self.tags_note = ft.Text(color=ft.Colors.RED_700, size=12, visible=False)
        self.members_note = ft.Text(color=ft.Colors.RED_700, size=12, visible=False)
        self.member_rows: list[dict[str, ft.TextField]] = []
        self.members_box = ft.Column(spacing=8)
        for m in h.get("members") or []:
            self.member_rows.append(self._member_controls(m if isinstance(m, dict) else {}))
        self._layout_members()
        self.by_field.update(grid_id=self.grid, head_name=self.head, id_number=self.id_number, address=self.address,
                             phone=self.phone, hh_number=self.hh_number, note=self.note)
        self.notes = {"status": self.status_note, "tags": self.tags_note, "members": self.members_note}
        for c in self.by_field.values():
            self._forget_error_on_change(c)
        say_when_full(ctx, self.note)

    @staticmethod
    def _forget_error_on_change(c) -> None:
        """A refusal next to a field goes once the person changes what it holds."""
        if isinstance(c, ft.TextField):
            def changed(e, c=c):
                if c.error:
                    c.error = None
                    c.update()
            c.on_change = changed

    # --- members --------------------------------------------------------------------
    def _member_controls(self, m: dict, focus: bool = False) -> dict[str, ft.TextField]:
        t = self.ctx.t
        w = self.width
        return {
            "name": ft.TextField(label=t("hh_member_name") + " *", value=m.get("name") or "", max_length=60, width=w,
                                 dense=True, autofocus=focus, error_max_lines=ERROR_LINES),
            "relation": ft.TextField(label=t("hh_member_relation") + " *", value=m.get("relation") or "",
                                     max_length=60, hint_text=t("hh_member_relation_hint"), width=w, dense=True,
                                     error_max_lines=ERROR_LINES),
            "id_number": ft.TextField(label=t("hh_member_id"), value=m.get("id_number") or "", max_length=ID_TYPED,
                                      width=w, dense=True, error_max_lines=3),
            "note": ft.TextField(label=t("hh_member_note"), value=m.get("note") or "", max_length=60, width=w,
                                 dense=True, error_max_lines=ERROR_LINES),
        }

    def _layout_members(self) -> None:
        """The member rows as they stand, each control known by "members.N.key"."""
        for key in [k for k in self.by_field if k.startswith("members.")]:
            del self.by_field[key]
        boxes = []
        for i, row in enumerate(self.member_rows):
            for key, control in row.items():
                self.by_field[f"members.{i}.{key}"] = control
                self._forget_error_on_change(control)
            boxes.append(ft.Container(ft.Column([
                ft.Row([ft.Text(self.ctx.t("hh_member_n", n=i + 1), weight=ft.FontWeight.W_500),
                        ft.TextButton(self.ctx.t("hh_member_remove"), icon=ft.Icons.DELETE_OUTLINE,
                                      on_click=lambda e, i=i: self.remove_member(i))],
                       alignment=ft.MainAxisAlignment.SPACE_BETWEEN),
                *row.values()], spacing=6),
                padding=ft.Padding.only(left=8, top=4, bottom=4),
                border=ft.Border.only(left=ft.BorderSide(3, ft.Colors.BLUE_GREY_100))))
        self.members_box.controls = boxes

    def add_member(self, e=None) -> None:
        self.member_rows.append(self._member_controls({}, focus=True))  # typing starts at the new name
        self._layout_members()
        self.ctx.page.update()

    def remove_member(self, i: int) -> None:
        if 0 <= i < len(self.member_rows):
            self.member_rows.pop(i)
            self._layout_members()
            self.ctx.page.update()

    # --- the form -------------------------------------------------------------------
    def controls(self, *, status: bool | None = None) -> list[ft.Control]:
        """The form's controls, top to bottom (a later part, such as photos, is appended
        by whoever shows the form). `status`: show the registry status (an edit)."""
        t = self.ctx.t
        show_status = self.before is not None if status is None else status
        out: list[ft.Control] = [
            # Flutter gives a dropdown no accessible name of its own: a screen reader (and
            # the browser tests) find it by this label
            ft.Semantics(label=t("hh_grid"), button=True, content=ft.Row([self.grid])),
            self.head, self.id_number, self.address, self.phone, self.hh_number,
            ft.Text(t("needs"), weight=ft.FontWeight.BOLD), ft.Row(self.tag_boxes, wrap=True, spacing=0, run_spacing=0),
            self.tags_note,
            ft.Text(t("members"), weight=ft.FontWeight.BOLD), self.members_box, self.members_note,
            ft.OutlinedButton(t("hh_member_add"), icon=ft.Icons.PERSON_ADD, on_click=self.add_member, height=TOUCH),
            self.note,
        ]
        if show_status:
            out += [ft.Text(t("hh_status"), weight=ft.FontWeight.BOLD), self.status,
                    ft.Text(t("hh_status_help"), size=12, color=ft.Colors.GREY_700), self.status_note]
        return out

    def values(self) -> dict:
        """The record's fields as the form holds them (empty ones as empty)."""
        members = []
        for row in self.member_rows:
            m = {k: (c.value or "").strip() for k, c in row.items()}
            if any(m.values()):
                members.append({k: v for k, v in m.items() if v})
        out = {"grid_id": self.grid.value, "head_name": self.head.value or "", "id_number": self.id_number.value or "",
               "address": self.address.value or "", "phone": self.phone.value or "",
               "hh_number": self.hh_number.value or "", "tags": [c for c, box in self.tags.items() if box.value],
               "members": members, "note": self.note.value or ""}
        if self.before is not None:
            out["status"] = self.status.value or "active"
        return out

    def clear(self) -> None:
        for c in self.by_field.values():
            if isinstance(c, ft.TextField):
                c.error = None
            elif isinstance(c, ft.Dropdown):
                c.error_text = None
        for n in self.notes.values():
            n.value, n.visible = "", False

    def show(self, problems) -> list[str]:
        """Each problem next to its field; returns the lines for the foot of the form
        (every problem, named by its label: on a long form the field may be out of sight)."""
        lines = []
        for p in problems:
            text = p.message(self.ctx.lang)
            mark(self.by_field.get(p.field), self.notes.get(p.field), text, self.ctx.lang)
            lines.append(i18n.labelled(problem_label(self.ctx, p.field), text, self.ctx.lang))
        return lines


def mark(control, note: ft.Text | None, text: str, lang: str) -> None:
    if isinstance(control, ft.TextField):
        control.error = text if not control.error else i18n.clauses((control.error, text), lang)
    elif isinstance(control, ft.Dropdown):
        control.error_text = text
    elif note is not None:
        note.value, note.visible = text, True


def open_household_form(ctx, household: dict | None = None, correcting: dict | None = None) -> None:
    """The phone's screen: a household found in the field (a new arrival) or one of the
    person's own changed. A new one takes the phone's position as its registered place.
    `correcting`: a new household the server refused (an item of ws.quarantined()): its
    values fill the form, the refusal is said next to the fields it names, and saving
    gives the refused one up for the corrected values (its recorded position stays)."""
    from .position import PositionPicker
    grids = [(g["id"], g.get("name") or g["id"]) for g in ctx.ws.grid_list()]
    # the household as this phone holds it: the refused values and any edit made since,
    # held behind them (the correction takes their place, so they must be in the form)
    typed = {**correcting["change"]["fields"],
             **{k: v for k, v in (ctx.ws.household(correcting["record"]) or {}).items() if v is not None}} \
        if correcting else None
    form = HouseholdForm(ctx, household, grids, grid_editable=household is None, masked=not correcting,
                         filled=typed)
    picker = PositionPicker(ctx, None) if not correcting and (household is None or household.get("lat") is None) \
        else None
    message = ft.Text(color=ft.Colors.RED_700)
    from .attachments import AttachmentEditor
    photos = AttachmentEditor(ctx, (household or typed or {}).get("attachments"))  # shown at once
    if correcting:   # why the server refused it: next to the fields it names, and at the foot
        said = [(e.get("field", ""), refusal_text(ctx, "household", e)) for e in correcting.get("errors") or []]
        for name, text in said:
            if name != "grid_id":
                mark(form.by_field.get(name), form.notes.get(name), text, ctx.lang)
        message.value = i18n.labelled(ctx.t('refused_because'), i18n.clauses(
            (i18n.labelled(problem_label(ctx, n), t, ctx.lang) for n, t in said), ctx.lang),
            ctx.lang) if said else correcting.get("reason") or ""
    grid_note = None
    if correcting and typed.get("grid_id") != form.grid.value:   # refused in a grid not the person's
        old = ctx.ws.grid_names().get(typed.get("grid_id"), typed.get("grid_id") or "")
        # under the grid, as text of its own: a disabled dropdown's error is not read out
        grid_note = ft.Text(ctx.t("hh_grid_not_held", grid=old), color=ft.Colors.RED_700, size=12)

    async def save(e) -> None:
        form.clear()
        message.value = ""
        values = form.values()
        if picker is not None:
            loc, ok = await picker.fields_for_save()
            if not ok:
                message.value = ctx.t("fix_errors")
                ctx.page.update()
                return
            values.update({k: loc[k] for k in ("lat", "lon") if loc.get(k) is not None})
        if correcting or photos.value != ((household or {}).get("attachments") or []):
            values["attachments"] = photos.value   # correcting, an emptied list is said
        try:
            if correcting:
                ctx.ws.correct(correcting["change_id"], values)
            elif household is None:
                ctx.ws.add_household(values)
            else:
                ctx.ws.edit_household(household["id"], values, household)
        except ValidationError as err:
            message.value = i18n.labelled(ctx.t("fix_errors"), i18n.clauses(form.show(err.errors), ctx.lang), ctx.lang)
            ctx.page.update()
            return
        ctx.wrote()
        ctx.close_screen(view)
        ctx.snack(ctx.t("correction_queued" if correcting else "hh_saved"))
        return True

    fields = form.controls()
    controls = list(fields)
    if grid_note is not None:
        controls.insert(1, grid_note)
    if picker is not None:
        controls.append(picker.control)
    controls += [photos.control, message,
                 saver := save_button(ctx, save)]
    view = ft.View(route="/household/new" if household is None else f"/household/{household['id']}/edit",
                   padding=16, scroll=ft.ScrollMode.AUTO, controls=controls,
                   appbar=appbar(ctx, ctx.t("correct_title" if correcting else
                                            "hh_add" if household is None else "hh_edit_title")))
    ctx.push(view)
    photos.follow(view)
    guard_form(ctx, view, fields, photos, saver)
    if picker is not None:
        ctx.page.run_task(picker.locate)
        ctx.page.run_task(picker.keep_age_current, view)
