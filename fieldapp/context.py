"""One open app window (a browser tab, or the phone's screen): its page, the phone
it belongs to, the person's workspace, and navigation between screens."""

from __future__ import annotations

from typing import Callable

import flet as ft

from .navigation import Screens
from .phone import Phone


class Context(Screens):
    def __init__(self, page: ft.Page, phone: Phone):
        self.page = page
        self.phone = phone
        self.ws = phone.workspace()
        self._on_status: list[Callable] = []
        self._unsubscribe = phone.runner.subscribe(self._status_changed)
        self.geolocator = None   # created by the app once the page exists
        self.launcher = ft.UrlLauncher()  # kept: a service no one holds is unregistered
        self.root: Callable[[], ft.View] | None = None

    @property
    def lang(self) -> str:
        return self.phone.settings.lang

    # --- navigation -------------------------------------------------------------------
    def show_root(self) -> None:
        self._on_status.clear()  # the old root's listeners die with it
        self.page.views.clear()
        self.page.views.append(self.root())
        self.page.update()

    def push(self, view: ft.View) -> None:
        """Show a screen over the current one, with the sync bar on top: the state of the
        sync stays in sight on every screen."""
        from .screens.widgets import sync_bar
        if self.on_top(view):
            return
        view.controls.insert(0, sync_bar(self, owner=view))
        super().push(view)

    def popped(self, view: ft.View) -> None:
        self._on_status = [(o, fn) for o, fn in self._on_status if o is not view]

    # --- after a write ------------------------------------------------------------------
    def wrote(self) -> None:
        """A record was saved: publish the new pending count and sync soon."""
        self.phone.runner._publish()
        self.phone.runner.request()

    # --- sync status --------------------------------------------------------------------
    def on_status(self, fn: Callable, owner=None) -> None:
        """Call fn with each new sync status while its owner (a view) is shown."""
        self._on_status.append((owner, fn))

    def _status_changed(self, status) -> None:
        for _, fn in list(self._on_status):
            fn(status)
        try:
            self.page.update()
        except Exception:
            self._unsubscribe()
            raise

    def close(self) -> None:
        self._unsubscribe()
