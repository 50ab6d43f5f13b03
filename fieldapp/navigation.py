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

    def code(self, table, value) -> str:
        return i18n.code(table, value, self.lang)

    def push(self, view: ft.View) -> None:
        self.page.views.append(view)
        self.page.update()

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
            self.page.pop_dialog()
            self.pop(saved=True)
        self.page.show_dialog(ft.AlertDialog(
            modal=True, title=ft.Text(self.t("leave_unsaved_title")), content=ft.Text(self.t("leave_unsaved")),
            actions=[ft.TextButton(self.t("leave_discard"), on_click=leave),
                     ft.FilledButton(self.t("leave_stay"), on_click=lambda e: self.page.pop_dialog())]))

    def popped(self, view: ft.View) -> None:
        """A screen was closed: forget what belonged to it."""

    def snack(self, text: str, error: bool = False) -> None:
        self.page.show_dialog(ft.SnackBar(ft.Text(text), bgcolor=ft.Colors.RED_700 if error else None,
                                          duration=ft.Duration(seconds=4)))
