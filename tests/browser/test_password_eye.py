"""The eye beside a password, as a screen reader finds it: a button named by what it
does, in the page's language (Flet's own reveal icon was announced as "button" and
nothing more). The office's sign-in page, real server, Debian's Chromium."""

from __future__ import annotations

from .conftest import PW
from .harness import DESKTOP


def test_the_password_eye_is_a_button_named_show_or_hide_password_in_the_page_s_language(township, browser):
    server, _ = township
    office = browser(server.url + "/", viewport=DESKTOP, locale="en-US")
    office.text("Petition office ledger")
    office.type("Password", PW)
    office.tap("Show password")
    office.button("Hide password").wait_for(timeout=30_000)
    # the field shows what was typed now, and hides it again
    assert office.page.evaluate("() => document.querySelectorAll('input[type=password]').length") == 0
    office.tap("Hide password")
    office.button("Show password").wait_for(timeout=30_000)
    office.tap("中文")
    office.shows("用户名")
    office.button("显示密码").wait_for(timeout=30_000)
