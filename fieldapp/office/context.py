"""One office browser tab: the person signed in, their workspace, navigation, and the
one place where a refused action becomes words on the screen."""

from __future__ import annotations

import os
import time

import flet as ft

from sync.server.central import WriteRefused
from sync.server.office import CentralWorkspace
from sync.server.office import Missing
from sync.rules import RuleError

from .. import i18n
from ..navigation import Screens
from . import words  # noqa: F401  (adds the office's words to the string table)


IDLE_S = float(os.environ.get("GRIDBOOK_OFFICE_IDLE_MIN", 30)) * 60


class OfficeContext(Screens):
    def __init__(self, page: ft.Page, store, tickets):
        self.page, self.store, self.tickets = page, store, tickets
        self.ws = None
        self.show_main = None
        self.show_login = None
        self.throttle = None
        self.session: tuple[str, str] | None = None  # (token, device id) of this tab's sign-in
        self.address = ""
        self.last_active = time.monotonic()
        self.launcher = ft.UrlLauncher()  # kept: a service no one holds is unregistered
        self.prefs = ft.SharedPreferences()   # the language chosen in this browser
        self.hub = None            # news of phones' syncs (sync/server/events.py)
        self._unsubscribe = None
        self.ledger_state = {"f": 0, "q": ""}  # kept across refreshes: a clerk's filter and search stay
        self.supervision_state = {"f": 0, "q": "", "leader": ""}
        # thumbnails this sign-in has read (by hash: the bytes never change), so a page
        # redrawn when phones sync neither reads them again nor audits them again
        self.thumbs: dict[str, bytes] = {}
        self._lang = "zh"
        self.escape = lambda: None   # Esc: the open dialog's 取消 (dialogs.dialog)

    @property
    def lang(self) -> str:
        return self._lang

    # --- the sign-in of this tab ---------------------------------------------------------
    def start_session(self, acct: dict, address: str) -> None:
        self.session = self.store.open_session(acct["username"])
        self.address = address
        self.touch()
        self.store.audit(acct["username"], "office_sign_in", "", device=self.session[1], address=address)
        self.ws = CentralWorkspace(self.store, {k: acct[k] for k in ("username", "name", "role", "grids")})
        if self.hub is not None:
            self._unsubscribe = self.hub.subscribe(self._heard)

    def _heard(self, event: dict) -> None:
        """From the thread that committed a phone's push: redraw on this tab's own loop."""
        self.page.run_task(self.arrived, event)

    async def arrived(self, event: dict) -> None:
        """Phones synced: the screen on top redraws from the store (a matter page only when
        it is one of the matters touched), and says what arrived and from whom."""
        if self.ws is None:
            return
        top = self.page.views[-1] if self.page.views else None
        shows = getattr(top, "case_id", None)
        refresh = getattr(top, "data", None)
        if callable(refresh) and (shows is None or shows in event.get("cases", ())):
            refresh()
        self.snack(self.t("arrived", n=event.get("applied", 0), who=self.ws.name(event.get("by"))))
        self.page.update()

    def touch(self) -> None:
        self.last_active = time.monotonic()

    def session_problem(self) -> str | None:
        """Why this tab's sign-in no longer holds (words for the sign-in page), or None."""
        if self.session is None:
            return None
        if self.store.authenticate(*self.session) is None:
            return self.t("session_ended")
        if time.monotonic() - self.last_active > IDLE_S:
            return self.t("session_idle")
        return None

    def end_session(self, why: str) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.session is not None:
            token, device = self.session
            self.session = None
            self.store.close_session(token)
            self.thumbs.clear()
            self.store.audit(self.ws.username if self.ws else "-", "office_sign_out", why, device=device,
                             address=self.address)
        self.ws = None

    def sign_out(self, notice: str = "") -> None:
        """Back to the sign-in page, the session ended and nothing of the ledger left on screen."""
        self.end_session("signed out" if not notice else "ended")
        try:
            self.page.pop_dialog()
        except Exception:
            pass
        if self.show_login:
            self.show_login(notice)

    def push(self, view) -> None:
        self.touch()
        super().push(view)

    def pop(self) -> None:
        self.touch()
        super().pop()

    def act(self, fn, *args, done: str | None = None, **kw) -> bool:
        """Run an office verb; a refusal by the rules is shown, never raised to Flet."""
        self.touch()
        problem = self.session_problem()
        if problem:
            self.sign_out(problem)
            return False
        try:
            fn(*args, **kw)
        except RuleError as e:
            self.snack(self.t("refused", why=e.message(self.lang)), error=True)
            return False
        except Missing as e:
            why = self.labelled(i18n.field_label(e.field, self.lang), self.t('required_field'))
            self.snack(self.t("refused", why=why), error=True)
            return False
        except WriteRefused as e:
            # in the clerk's language, as the forms say it (the errors' "message" is the API's English)
            why = self.clauses(f"{i18n.field_label(x.field, self.lang)} {x.message(self.lang)}"
                               for x in e.field_errors) or str(e)
            self.snack(self.t("refused", why=why), error=True)
            return False
        if done:
            self.snack(done)
        return True

    def download(self, kind: str, **params) -> None:
        """A one-time link for a file of the ledger, valid for this person a short while,
        opened in this tab: the browser saves the file and the ledger stays on screen."""
        if not self.act(lambda: None):
            return
        ticket = self.tickets.issue(self.ws.principal, kind, params, self.session)
        self.page.run_task(self.launcher.launch_url, f"/api/v1/export/{ticket}", web_only_window_name="_self")
