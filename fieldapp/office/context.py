"""One office browser tab: the person signed in, their workspace, navigation, and the
one place where a refused action becomes words on the screen."""

from __future__ import annotations

import flet as ft

from sync.server.central import WriteRefused
from sync.server.office import Missing
from sync.rules import RuleError

from .. import i18n
from ..navigation import Screens
from . import words  # noqa: F401  (adds the office's words to the string table)


class OfficeContext(Screens):
    def __init__(self, page: ft.Page, store, tickets):
        self.page, self.store, self.tickets = page, store, tickets
        self.ws = None
        self.show_main = None
        self.throttle = None
        self._lang = "zh"

    @property
    def lang(self) -> str:
        return self._lang

    def act(self, fn, *args, done: str | None = None, **kw) -> bool:
        """Run an office verb; a refusal by the rules is shown, never raised to Flet."""
        try:
            fn(*args, **kw)
        except RuleError as e:
            self.snack(self.t("refused", why=e.message(self.lang)), error=True)
            return False
        except Missing as e:
            self.snack(self.t("refused", why=f"{i18n.field_label(e.field, self.lang)}：{self.t('required_field')}"),
                       error=True)
            return False
        except WriteRefused as e:
            why = "；".join(f"{i18n.field_label(x['field'], self.lang)} {x['message']}" for x in e.errors) or str(e)
            self.snack(self.t("refused", why=why), error=True)
            return False
        if done:
            self.snack(done)
        return True

    def download(self, kind: str, **params) -> None:
        """A one-time link for a file of the ledger, valid for this person a short while."""
        ticket = self.tickets.issue(self.ws.principal, kind, params)
        self.page.launch_url(f"/api/v1/export/{ticket}")
