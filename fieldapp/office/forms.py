"""The office's forms: every refusal said in the person's language, next to the field it
concerns, inside the dialog it came from; the limits shown before anyone types.

A `Form` knows its controls by the field they write. `run` calls an office verb and
turns what refused it (the store's write rules, the statute's rules, a field left
empty) into messages on those controls; what belongs to no control of the form is
said at the form's foot, naming the field by its label.
"""

from __future__ import annotations

import datetime as dt

import flet as ft

from sync.device import ValidationError
from sync.model import ENTITIES
from sync.rules import RuleError
from sync.server.central import WriteRefused
from sync.server.office import Missing

from .. import i18n

DATE_EXAMPLE = "2026-11-27"
# The fields a rule of the office is about (rules.RuleError codes).
RULE_FIELDS = {"extension_days": "extended_days", "extension_reason": "extension_reason",
               "extension_late": "extended_days", "extension_no_effect": "extended_days",
               "extended_already": "extended_days", "deadline_before_accepted": "deadline",
               "unknown_answer": "answer", "unknown_risk": "risk"}


def label(field: str, lang: str) -> str:
    return i18n.field_label(field, lang)


def text_field(ctx, field: str, *, entity: str = "case", multiline: bool = False, value: str = "",
               width: int | None = None, hint: str | None = None, required: bool = False,
               max_length: int | None = None) -> ft.TextField:
    """A text field labelled in the person's language, with its limit counted as they type
    and a star when it must be filled."""
    f = ENTITIES[entity].by_name.get(field)
    limit = max_length or (f.max_len if f is not None and f.kind in ("str", "text") else None)
    # a long text scrolls inside its box (pasted whole, it pushed the refusal out of the dialog);
    # typing is work: a clerk typing a long account for half an hour was signed out as idle,
    # and the text went with the sign-in
    return ft.TextField(label=label(field, ctx.lang) + (" *" if required else ""), value=value or "",
                        multiline=multiline, min_lines=3 if multiline else None, max_lines=6 if multiline else None,
                        max_length=limit, width=width, hint_text=hint, error_max_lines=3,
                        on_change=lambda e: ctx.touch())


def date_field(ctx, field: str, value: str = "", width: int = 240, required: bool = False) -> ft.TextField:
    # a refusal in English runs longer than the box: on up to three lines, not cut
    return ft.TextField(label=label(field, ctx.lang) + (" *" if required else ""), value=value or "", width=width,
                        hint_text=DATE_EXAMPLE, helper=ctx.t("date_hint_short"), max_length=10, error_max_lines=3)


def whole_number(text: str | None) -> int | None:
    """A whole number as typed, full-width digits too (３０); None for anything else.
    (str.isdigit takes "①" and "²", which int() refuses: a typed ① took the app down.)"""
    t = (text or "").strip()
    return int(t) if t.isdecimal() else None


MAX_VISITORS = ENTITIES["case"].by_name["visitors"].max


def visitor_count(text: str | None) -> int | None:
    """来访人数 as typed, if it is one the store takes (1 to MAX_VISITORS); else None."""
    n = whole_number(text)
    return n if n is not None and 0 < n <= MAX_VISITORS else None


def parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip()) if len((text or "").strip()) == 10 else None
    except ValueError:
        return None


class Form:
    def __init__(self, ctx, controls: dict[str, ft.Control]):
        self.ctx = ctx
        self.controls = controls
        self.foot = ft.Text(color=ft.Colors.RED_700, visible=False)
        self._notes: dict[str, ft.Text] = {}

    def note_for(self, field: str) -> ft.Text:
        """A line under a control that shows no error of its own (radios, checkboxes)."""
        if field not in self._notes:
            self._notes[field] = ft.Text(color=ft.Colors.RED_700, size=12, visible=False)
        return self._notes[field]

    def clear(self) -> None:
        for c in self.controls.values():
            if isinstance(c, ft.TextField):
                c.error = None
            elif isinstance(c, ft.Dropdown):
                c.error_text = None
        for n in self._notes.values():
            n.value, n.visible = "", False
        self.foot.value, self.foot.visible = "", False

    def say(self, field: str, message: str) -> None:
        c = self.controls.get(field)
        if isinstance(c, ft.TextField):
            c.error = message if not c.error else i18n.clauses((c.error, message), self.ctx.lang)
        elif isinstance(c, ft.Dropdown):
            c.error_text = message
        elif field in self._notes:
            n = self._notes[field]
            n.value, n.visible = message, True
        else:
            # a refusal of the whole record reads alone; a field's is named by its label
            text = message if field == "record" else i18n.labelled(label(field, self.ctx.lang), message, self.ctx.lang)
            self.foot.value = f"{self.foot.value}\n{text}" if self.foot.value else text
            self.foot.visible = True

    def required(self, *fields: str) -> bool:
        """Mark the empty ones; True when all are filled."""
        ok = True
        for name in fields:
            c = self.controls[name]
            value = getattr(c, "value", None)
            if value in (None, "") or (isinstance(value, str) and not value.strip()):
                self.say(name, self.ctx.t("required_field"))
                ok = False
        return ok

    def dates(self, *fields: str) -> dict[str, dt.date | None]:
        """The dates typed in these fields; a malformed one is marked with the format."""
        out = {}
        for name in fields:
            text = (self.controls[name].value or "").strip()
            out[name] = parse_date(text) if text else None
            if text and out[name] is None:
                self.say(name, self.ctx.t("date_format"))
        return out

    @property
    def has_errors(self) -> bool:
        return self.foot.visible or any(
            getattr(c, "error", None) or getattr(c, "error_text", None) for c in self.controls.values()
        ) or any(n.visible for n in self._notes.values())

    def run(self, fn, *args, **kw) -> bool:
        """Run an office verb; True when it went through, else the reasons are on screen."""
        ctx = self.ctx
        ctx.touch()
        problem = ctx.session_problem()
        if problem:
            ctx.sign_out(problem)
            return False
        try:
            fn(*args, **kw)
        except WriteRefused as e:
            for err in e.field_errors:
                self.say(err.field, err.message(ctx.lang))
            if not e.field_errors:
                self.say("record", str(e))
            return False
        except ValidationError as e:  # a rule the workspace checks before writing (a phone number's)
            for err in e.errors:
                self.say(err.field, err.message(ctx.lang))
            return False
        except RuleError as e:
            self.say(e.params.get("field") or RULE_FIELDS.get(e.code, "record"), e.message(ctx.lang))
            return False
        except Missing as e:
            self.say(e.field, ctx.t("required_field"))
            return False
        return True
