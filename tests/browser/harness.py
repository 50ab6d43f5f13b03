"""Real processes for browser tests: the township server, a phone app instance, and
Debian's Chromium driven by Playwright. Nothing here is a stand-in."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import contextlib
import json
from pathlib import Path

import httpx
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(os.environ.get("GRIDBOOK_TEST_OUTPUT", ROOT / "test-output"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 800}
# The phone's first sync after its sign-in, the app's load with it: a deadline on state,
# generous, for CI's busy two cores (60 s was once not enough in a fresh clone's run).
FIRST_SYNC_S = 150


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


class Process:
    """A child process on a fixed port, which can be stopped and started again."""

    def __init__(self, args: list[str], port: int, ready_path: str, log: Path, env: dict | None = None):
        self.args, self.port, self.ready_path, self.log, self.env = args, port, ready_path, log, env
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Process":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(self.env or {})})
        wait_http(self.url + self.ready_path, self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def server_process(db: str, log_dir: Path, port: int | None = None, env: dict | None = None) -> Process:
    port = port or free_port()
    return Process([sys.executable, "-m", "township", "serve", "--db", db, "--host", "127.0.0.1",
                    "--port", str(port), "--log-level", "warning"], port, "/api/v1/health",
                   log_dir / "server.log", env=env)


def app_process(data: str, server_url: str, log_dir: Path, name: str, sync_every_s: int = 2) -> Process:
    """The phone app; it checks with the server every `sync_every_s` when idle (a phone:
    every minute; the tests: 2 s, so what the office does arrives without waiting)."""
    port = free_port()
    return Process([sys.executable, "-m", "fieldapp", "--data", data, "--server", server_url,
                    "--host", "127.0.0.1", "--port", str(port)], port, "/", log_dir / f"app-{name}.log",
                   env={"GRIDBOOK_SYNC_INTERVAL": str(sync_every_s), "GRIDBOOK_SYNC_MAX_PAUSE": "2"})


OPEN_PAGES: list = []   # for a screenshot when a test fails


def chromium_processes(under: Path) -> list[int]:
    """The Chromium processes (browser, renderers, helpers) whose profile is under `under`:
    each carries its --user-data-dir."""
    flag = f"--user-data-dir={Path(under).resolve()}/".encode()   # not test_x10's for test_x1
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:   # ended between the listing and the read
            continue
        if any(arg.startswith(flag) for arg in cmdline.split(b"\0")):
            pids.append(int(pid))
    return pids


class Watchdog:
    """Ends a browser test's Chromium when the test has run `bound_s`. Some of Playwright's
    calls have no deadline (a key typed, a mouse wheel, an evaluate): on a page whose
    renderer stopped answering they wait for ever, and one such wait once held CI until its
    90-minute limit. With the browser gone, every pending call fails at once, the test
    fails (and runs once more), and the suite goes on."""

    def __init__(self, under: Path, bound_s: float):
        self.under, self.fired = under, False
        self._timer = threading.Timer(bound_s, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        pids = chromium_processes(self.under)
        self.fired = bool(pids)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> "Watchdog":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()


class AppPage:
    """A Flutter page seen through its accessibility tree, as a screen reader sees it."""

    def __init__(self, page, shots: Path):
        self.page, self.shots = page, shots
        # Playwright's 30 s for a click or a wait is shorter than the longest a busy CI
        # machine has kept a page from answering; a test's own deadlines stay as written
        page.set_default_timeout(90_000)
        OPEN_PAGES.append(self)
        self.font_responses: list = []
        self.console: list[str] = []
        self.requests: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("response", lambda r: self.font_responses.append(r) if r.url.endswith(".otf") else None)
        # The app's messages both ways (Flet's websocket), to know when it has answered
        self.frames: list[tuple[float, str]] = []   # (monotonic time, "S"ent or "R"eceived)
        self.tapped_at = 0.0
        page.on("websocket", self._watch_socket)

    def _watch_socket(self, ws) -> None:
        ws.on("framesent", lambda _: self.frames.append((time.monotonic(), "S")))
        ws.on("framereceived", lambda _: self.frames.append((time.monotonic(), "R")))

    def settle(self, quiet_s: float = 0.2, nothing_s: float = 3, bound_s: float = 60) -> None:
        """Wait until the app has answered the last tap (`mark`): the page sent it a
        message after the tap, a message came back after that, then none either way for
        `quiet_s` (the page reports its fields' values after a redraw, unanswered), and
        Flutter has drawn two frames since: the screen then shows the answer. A tap that
        sends nothing within `nothing_s`, or is never answered within `bound_s` (a busy
        machine's page), ends the wait too, and the caller's look decides. Waits on the
        app's messages, not on a guess at how long a busy machine needs."""
        start = time.monotonic()
        while True:
            now = time.monotonic()
            since = [(t, k) for t, k in self.frames if t > self.tapped_at]
            first_sent = next((t for t, k in since if k == "S"), None)
            quiet = not self.frames or now - self.frames[-1][0] >= quiet_s
            if first_sent is None:
                done = quiet and now - start >= nothing_s
            else:
                done = quiet and any(k == "R" and t > first_sent for t, k in since)
            if done or now - start > bound_s:
                break
            self.page.wait_for_timeout(40)
        # a wait with a deadline: `page.evaluate` has none, and a deaf page never answers it
        with contextlib.suppress(PlaywrightTimeout):
            self.page.wait_for_function(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))",
                timeout=30_000)

    def sent_since_tap(self) -> bool:
        """Whether the page has sent the app anything since the last tap (`mark`)."""
        return any(k == "S" and t > self.tapped_at for t, k in self.frames)

    def answered_at(self) -> float | None:
        """When the app's first message after the last tap (`mark`) came, if one has."""
        sent = next((t for t, k in self.frames if k == "S" and t > self.tapped_at), None)
        return next((t for t, k in self.frames if k == "R" and sent is not None and t > sent), None)

    def mark(self) -> None:
        """A tap is about to be made: `settle` waits for the app's answer to it."""
        self.tapped_at = time.monotonic()
        del self.frames[:-1]   # only the last one matters for the quiet before the tap

    def open(self, url: str) -> "AppPage":
        self.page.goto(url)
        return self.accessible()

    def reload(self) -> "AppPage":
        self.page.reload()
        return self.accessible()

    def accessible(self) -> "AppPage":
        """Turn Flutter's accessibility tree on (it is off until asked for). The click is
        repeated until the tree is there: on a busy machine one that comes while Flutter
        is still starting is lost, and no label would ever be found."""
        placeholder = self.page.locator("flt-semantics-placeholder").first
        placeholder.wait_for(state="attached", timeout=90_000)
        tree = self.page.locator("flt-semantics-host flt-semantics")
        deadline = time.time() + 120
        while True:
            with contextlib.suppress(Exception):   # gone between the count and the click
                if placeholder.count():
                    placeholder.dispatch_event("click", timeout=5_000)
            with contextlib.suppress(PlaywrightTimeout):
                tree.first.wait_for(state="attached", timeout=10_000)
                return self
            if time.time() > deadline:
                raise AssertionError("Flutter's accessibility tree never came on")

    def fix(self, shown: str, timeout_s: float = 30) -> None:
        """Wait for a form's GPS fix (its accuracy, `shown`); still 正在定位 or failed after
        `timeout_s`, tap 重新定位 as a person would, and wait again."""
        try:
            self.shows(shown, timeout_s)
        except AssertionError:
            self.tap("重新定位")
            self.shows(shown, 60)

    def text(self, text: str, timeout_s: float = 30) -> None:
        """Wait until the text is on screen: as a text of its own, or inside a button's or
        group's name (Flutter merges a list row's texts into one name on some frames and
        not on others). One wait in the page for either, so a snack bar shown for a few
        seconds is not missed between two looks."""
        name = self.page.locator(f"[aria-label*={json.dumps(text, ensure_ascii=False)}]")
        loc = self.page.get_by_text(text, exact=False).or_(name).first
        try:
            loc.wait_for(state="attached", timeout=timeout_s * 1000)
        except PlaywrightTimeout:
            if text not in (self.snapshot() or ""):
                raise AssertionError(f"{text!r} never appeared on screen") from None

    def snapshot(self, timeout_s: float = 10) -> str | None:
        """The accessibility tree as text, or None when the page did not answer in time:
        on a busy two-core machine a software-rendered Flutter page can be deaf for tens
        of seconds (seen in CI just after a sign-in), which is a slow screen, not a
        wrong one; the callers wait on their own deadlines."""
        try:
            return self.page.locator("body").aria_snapshot(timeout=timeout_s * 1000)
        except PlaywrightTimeout:
            return None

    def aria(self, timeout_s: float = 120) -> str:
        deadline = time.time() + timeout_s
        while (tree := self.snapshot()) is None:
            if time.time() > deadline:
                raise AssertionError(f"the page did not answer for {timeout_s:.0f} s")
        return tree

    def shows(self, text: str, timeout_s: float = 30) -> None:
        """Wait until the text is anywhere in the accessibility tree (Flutter merges some
        texts into one group's name, where get_by_text cannot see them)."""
        deadline, n = time.time() + timeout_s, 0
        while text not in (self.snapshot() or ""):
            if time.time() > deadline:
                raise AssertionError(f"{text!r} never appeared on screen")
            n = self.pause(n)

    def gone(self, text: str, timeout_s: float = 30) -> None:
        """Wait until the text has left the accessibility tree (a dialog closed)."""
        deadline, n = time.time() + timeout_s, 0
        while (tree := self.snapshot()) is None or text in tree:
            if time.time() > deadline:
                raise AssertionError(f"{text!r} is still on screen")
            n = self.pause(n)

    def pause(self, n: int) -> int:
        """Between two looks: 250 ms at first, up to 1 s for a long wait. Each look is an
        accessibility snapshot (17 ms on a quiet machine, much more on a busy one) taken
        from the page that is being waited on."""
        self.page.wait_for_timeout(min(1000, 250 * (n // 4 + 1)))
        return n + 1

    def button(self, name: str, role: str = "button"):
        return self.page.get_by_role(role, name=name, exact=False).first

    def tap(self, name: str, role: str = "button") -> None:
        loc = self.button(name, role)
        self.mark()
        if role not in ("checkbox", "switch", "radio"):
            loc.click()
            return
        # A tick is checked to have taken: on a busy machine Flutter may drop a tap that
        # arrives while it lays out, and the form would be saved without it.
        before = loc.get_attribute("aria-checked")
        if role == "radio" and before == "true":
            return
        for _ in range(3):
            loc.click()
            deadline = time.time() + 10
            while time.time() < deadline:
                if loc.get_attribute("aria-checked") != before:
                    return
                self.page.wait_for_timeout(200)
        raise AssertionError(f"{name!r} did not change when tapped")

    def tab(self, name: str):
        """A tab of the office's rail (its accessible name: "台账 第 1 个标签，共 7 个",
        or "Ledger Tab 1 of 7" in English)."""
        return self.page.get_by_role("button", name=re.compile(rf"^{re.escape(name)} (第 \d+ 个标签|Tab)")).first

    def open_tab(self, name: str) -> None:
        self.mark()
        self.tab(name).click()

    def type(self, label: str, text: str, replace: bool = False) -> None:
        """Type into a text field, and make sure the field took it: just after a page
        loads, Flutter may not yet listen when the first field is clicked, and the
        keystrokes went nowhere (a sign-in then said 必填). So wait for its editing
        element to hold the focus, and for the typed text to be in it; else again.
        `replace`: what the field holds is typed over."""
        # a text box by that name, not a button or tab sharing the word (住户: the search box
        # of the 住户 tab, the tab itself, and 新增住户)
        field = self.page.get_by_role("textbox", name=label, exact=False).first
        if not field.count():
            field = self.page.get_by_label(label, exact=False).first
        # the focus is in an editing element over this field: the field itself, or the
        # unlabelled element Flutter edits in on a phone-sized page, which it places over
        # the field being edited (a form that moved under the click, or a tap that did
        # not take, leaves the focus in another field's)
        focused = ("e => { const a = document.activeElement;"
                   " if (!a || !['INPUT', 'TEXTAREA'].includes(a.tagName)) return false;"
                   " if (a === e) return true;"
                   " const r = e.getBoundingClientRect(), q = a.getBoundingClientRect();"
                   " const x = q.left + q.width / 2, y = q.top + q.height / 2;"
                   " return q.width > 0 && x >= r.left && x <= r.right && y >= r.top && y <= r.bottom; }")
        holds = "t => ((document.activeElement || {}).value || '').includes(t)"
        before = None
        # a click that did not take is clicked again soon; a busy machine gets longer
        for wait_s in (2, 10, 30):
            field.click()
            deadline = time.time() + wait_s
            while not field.evaluate(focused) and time.time() < deadline:
                self.page.wait_for_timeout(100)
            if not field.evaluate(focused):
                continue
            if before is None:
                before = "" if replace else self.page.evaluate("() => document.activeElement.value || ''")
                if replace:
                    self.page.keyboard.press("Control+A")
            else:  # what a lost attempt left in the field is replaced, not added to
                self.page.keyboard.press("Control+A")
                text_now = before + text
                self.page.keyboard.type(text_now, delay=15)
                with contextlib.suppress(PlaywrightTimeout):
                    self.page.wait_for_function(holds, arg=text, timeout=10_000, polling=100)
                    return
                continue
            self.page.keyboard.type(text, delay=15)
            with contextlib.suppress(PlaywrightTimeout):
                self.page.wait_for_function(holds, arg=text, timeout=10_000, polling=100)
                return
        raise AssertionError(f"the field {label!r} did not take {text!r}")

    def sign_in(self, user: str, password: str, password_first: bool = False,
                words: tuple[str, str, str] = ("用户名", "密码", "登录")) -> None:
        """Sign in as a person would: type the name and the password, tap 登录 (`words`: the
        labels of the name, the password and the button, in another language), and if the
        form says a field is empty (必填) though it shows the text, type both again and
        tap again. Just after a page loads, Flutter can show keystrokes in a field that its
        app never received (seen in CI on the autofocused 用户名); a person retypes."""
        name_label, password_label, button = words
        fields = [(name_label, user), (password_label, password)]
        if password_first:
            fields.reverse()
        for attempt in range(3):
            for label, text in fields:
                self.type(label, text, replace=attempt > 0)
            self.tap(button)
            deadline, deaf, taps = time.time() + 90, 0, 1
            while time.time() < deadline:
                started = time.monotonic()
                tree = self.snapshot()
                deaf += tree is None
                if tree is not None and f'button "{button}"' not in tree:
                    return
                # 必填 is the answer to this tap only in a look taken a while after the app's answer
                # came (Flutter draws it on a later frame): a look as the tap lands still shows
                # the last tap's 必填, which the app clears at once when it signs in (retyping
                # then went into a form that vanished). An app that sent nothing back left the
                # screen as it was (the same fields still empty).
                answered = self.answered_at()
                if tree is not None and "必填" in tree and (
                        started - (answered or self.tapped_at) >= (2 if answered else 10)):
                    break
                if not self.sent_since_tap() and time.monotonic() - self.tapped_at > 15:
                    self.tap(button)   # the tap never reached the app (it sent nothing): tap again
                    taps += 1
                self.page.wait_for_timeout(250)
            else:
                # what the next flake needs to be understood: a tap lost, a page deaf, or an app stuck
                raise AssertionError(f"the sign-in form is still there after 90 s ({taps} tap(s) of 登录,"
                                     f" a message sent to the app after the last: {self.sent_since_tap()},"
                                     f" {deaf} look(s) the page did not answer)")
        raise AssertionError("the sign-in form kept saying 必填")

    def shot(self, name: str) -> Path:
        """A screenshot once the app has answered and Flutter has painted it."""
        self.settle(nothing_s=0)
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


def launch(playwright, user_dir: Path, geolocation: dict | None = None, viewport: dict = PHONE,
           locale: str = "zh-CN"):
    kw = {}
    if geolocation:
        kw = {"geolocation": geolocation, "permissions": ["geolocation"]}
    return playwright.chromium.launch_persistent_context(
        str(user_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport=viewport, locale=locale, **kw)
