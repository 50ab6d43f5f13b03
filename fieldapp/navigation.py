"""What every window of the app does, on a phone or at the office: words in the
person's language, a stack of screens, and short messages at the bottom."""

from __future__ import annotations

import flet as ft

from . import i18n


LOCALES = {"zh": ft.Locale("zh", "CN"), "en": ft.Locale("en", "US")}


def apply_locale(page: ft.Page, lang: str) -> None:
    """Flutter's own words (a field's "还可输入 N 个字符", a date picker's months) follow the
    person's language too, not only ours."""
    page.locale_configuration = ft.LocaleConfiguration(supported_locales=list(LOCALES.values()),
                                                       current_locale=LOCALES.get(lang, LOCALES["zh"]))


class Screens:
    page: ft.Page

    @property
    def lang(self) -> str:
        return "zh"

    def t(self, key: str, **kw) -> str:
        return i18n.t(key, self.lang, **kw)

    def aside(self, text) -> str:
        return i18n.aside(text, self.lang)

    def listed(self, items) -> str:
        return i18n.listed(items, self.lang)

    def labelled(self, label, text) -> str:
        return i18n.labelled(label, text, self.lang)

    def clauses(self, parts) -> str:
        return i18n.clauses(parts, self.lang)

    def code(self, table, value) -> str:
        return i18n.code(table, value, self.lang)

    def push(self, view: ft.View) -> None:
        if self.on_top(view):
            return
        self.page.views.append(view)
        self.page.update()

    def on_top(self, view: ft.View) -> bool:
        """The screen is open on top already: a second tap on what opened it (a shaky
        hand, a first tap that seemed not to take) opened it twice, and one 返回 still
        showed it."""
        top = self.page.views[-1] if self.page.views else None
        return top is not None and bool(view.route) and top.route == view.route

    def show_dialog(self, dialog, key: str | None = None) -> bool:
        """Show `dialog`, unless the one opened under the same `key` is still open (a
        second tap on the button that opened it: the second dialog stayed after the first
        was saved). Returns whether it was shown."""
        shown = self.__dict__.setdefault("_dialogs_by_key", {})
        if key is not None:
            before = shown.get(key)
            # still on the page's dialog stack and not closed (Flet 1.0.5 keeps its stack
            # in `_dialogs`; a dialog dismissed by a touch outside leaves it)
            if before is not None and before.open and before in self.page._dialogs.controls:
                return False
            shown[key] = dialog
        self.page.show_dialog(dialog)
        return True

    def close_dialog(self, dialog) -> None:
        """Close that dialog. `page.pop_dialog()` closes the last one shown, which is the
        snack bar when one was shown since (its 取消 then did nothing, and the snack went)."""
        if dialog.open:
            dialog.open = False
            self.page.update(dialog)

    def guard_leaving(self, view: ft.View, unsaved, saving=None) -> None:
        """`unsaved()` says whether the screen holds work not saved: leaving it by 返回
        (the bar's or the phone's own) then asks first, as nothing typed may be lost.
        `saving()`: a save is under way; 返回 waits for it (else the record the person
        chose to discard was written anyway, and its end closed the screen below)."""
        leaving = self.__dict__.setdefault("_leaving", {})
        leaving[id(view)] = (unsaved, saving)

    def close_screen(self, view: ft.View) -> None:
        """Close `view` once its work is saved, if it is still the top screen (another
        opened over it meanwhile, the camera's, stays)."""
        if self.page.views and self.page.views[-1] is view:
            self.pop(saved=True)

    def pop(self, saved: bool = False) -> None:
        """Close the top screen; the one below redraws itself (its view.data). A screen
        with unsaved work asks first (guard_leaving) unless `saved`."""
        leaving = self.__dict__.get("_leaving") or {}
        if len(self.page.views) > 1:
            unsaved, saving = leaving.get(id(self.page.views[-1]), (None, None))
            if not saved and saving is not None and saving():
                return
            if not saved and unsaved is not None and unsaved():
                self._ask_to_leave()
                return
            view = self.page.views.pop()
            leaving.pop(id(view), None)
            self.popped(view)
            refresh = getattr(self.page.views[-1], "data", None)
            if callable(refresh):
                refresh()
        self.page.update()

    def _ask_to_leave(self) -> None:
        def leave(e):
            self.close_dialog(ask)
            self.pop(saved=True)
        ask = ft.AlertDialog(
            modal=True, title=ft.Text(self.t("leave_unsaved_title")), content=ft.Text(self.t("leave_unsaved")),
            actions=[ft.TextButton(self.t("leave_discard"), on_click=leave),
                     ft.FilledButton(self.t("leave_stay"), on_click=lambda e: self.close_dialog(ask))])
        self.show_dialog(ask, key="leave")

    def popped(self, view: ft.View) -> None:
        """A screen was closed: forget what belonged to it."""

    def snack(self, text: str, error: bool = False) -> None:
        self.page.show_dialog(ft.SnackBar(ft.Text(text), bgcolor=ft.Colors.RED_700 if error else None,
                                          duration=ft.Duration(seconds=4)))
