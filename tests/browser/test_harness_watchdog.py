"""The browser tests' guard against a page that never answers (harness.Watchdog): one
such page once held CI until its limit, with no test failing and nothing printed."""

import contextlib
import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from .harness import Watchdog, chromium_processes, launch


@pytest.mark.timeout(120)   # were the guard broken, this test would wait for ever: it fails instead
def test_a_call_on_a_page_that_never_answers_fails_once_the_bound_has_passed(playwright_instance, tmp_path):
    ctx = launch(playwright_instance, tmp_path / "chromium-deaf")
    try:
        page = ctx.pages[0]
        assert chromium_processes(tmp_path), "the guard cannot see the browser it is to end"
        with Watchdog(tmp_path, 5) as dog:
            with pytest.raises(PlaywrightError):
                page.evaluate("() => { while (true) {} }")   # a call with no deadline of its own
        assert dog.fired
        deadline = time.time() + 60
        while chromium_processes(tmp_path) and time.time() < deadline:
            time.sleep(0.2)
        assert chromium_processes(tmp_path) == []
    finally:
        with contextlib.suppress(PlaywrightError):
            ctx.close()


def test_a_guard_that_is_not_needed_ends_nothing(playwright_instance, tmp_path):
    ctx = launch(playwright_instance, tmp_path / "chromium-quick")
    try:
        with Watchdog(tmp_path, 5) as dog:
            assert ctx.pages[0].evaluate("() => 6 * 7") == 42
        time.sleep(6)   # past the bound it would have had: the cancelled guard stays quiet
        assert not dog.fired
        assert ctx.pages[0].evaluate("() => 'still here'") == "still here"
    finally:
        ctx.close()
