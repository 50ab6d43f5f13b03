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

    def pop(self) -> None:
        """Close the top screen; the one below redraws itself (its view.data)."""
        if len(self.page.views) > 1:
            self.popped(self.page.views.pop())
            refresh = getattr(self.page.views[-1], "data", None)
            if callable(refresh):
                refresh()
        self.page.update()

    def popped(self, view: ft.View) -> None:
        """A screen was closed: forget what belonged to it."""

    def snack(self, text: str, error: bool = False) -> None:
        self.page.show_dialog(ft.SnackBar(ft.Text(text), bgcolor=ft.Colors.RED_700 if error else None,
                                          duration=ft.Duration(seconds=4)))
