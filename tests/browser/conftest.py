import os
import re
import sqlite3
import warnings
from pathlib import Path

import pytest

from sync.server.central import CentralStore

from .harness import CHROMIUM, OPEN_PAGES, OUTPUT, AppPage, Watchdog, launch, server_process

PW = "browser-test-pw"
HOME = (29.0712, 119.6471)   # 白鹤村: where the mocked GPS puts the phone
# The longest a browser test may run, its setup and teardown included, before its Chromium
# is ended (harness.Watchdog): five times the longest test on a quiet machine (96 s).
BROWSER_TEST_BOUND_S = 480


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        # One more run for a browser test that failed: on a busy two-core machine a page
        # Chromium renders in software can stop answering for a minute (seen in CI, each
        # time in a different test, never twice in one). A broken screen fails both runs;
        # a rerun is printed in the summary (RERUN), with the first run's page and logs.
        for item in items:
            if "browser" in str(item.fspath):
                item.add_marker(pytest.mark.flaky(reruns=1))
        return
    if os.environ.get("CI"):
        # In CI Chromium is installed by .ci/run: its absence is a failure, not a skip.
        for item in items:
            if "browser" in str(item.fspath):
                item.add_marker(pytest.mark.usefixtures("_chromium_required"))
        return
    msg = f"BROWSER TESTS SKIPPED: {CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    warnings.warn(msg)
    print(f"\n*** {msg} ***\n")
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=msg))


@pytest.fixture(autouse=True)
def _hung_page_watchdog(request, tmp_path):
    """Set up first, torn down last: the bound covers the test's own teardown too."""
    with Watchdog(tmp_path, BROWSER_TEST_BOUND_S) as dog:
        yield
    if dog.fired:
        FAILURES.append(f"{request.node.nodeid}: its Chromium was ended after {BROWSER_TEST_BOUND_S} s")


@pytest.fixture
def _chromium_required():
    pytest.fail(f"{CHROMIUM} is missing on a CI machine: .ci/run should have installed it")


@pytest.fixture
def playwright_instance():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright_instance, tmp_path, shots):
    """Opens the app at a URL in a fresh Chromium profile at phone size; closes them all
    after the test (after a failure has been photographed)."""
    contexts = []

    def open_app(url: str, geolocation: dict | None = None, viewport: dict | None = None,
                 locale: str = "zh-CN") -> AppPage:
        ctx = launch(playwright_instance, tmp_path / f"chromium-{len(contexts)}", geolocation,
                     locale=locale, **({"viewport": viewport} if viewport else {}))
        contexts.append(ctx)
        return AppPage(ctx.pages[0], shots).open(url)

    yield open_app
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def shots(request) -> Path:
    d = OUTPUT / "screenshots"
    d.mkdir(parents=True, exist_ok=True)
    return d


def seed(db: str) -> dict:
    st = CentralStore(db)
    st.add_grid("bh-01", "白鹤村第1网格", "白鹤村", "金山镇", *HOME)
    st.add_account("wangfang", "王芳", "grid_worker", PW, ["bh-01"])
    st.add_account("lizhen", "李振华", "leader", PW)
    st.add_account("xinfang", "镇信访办", "office", PW)
    st.add_account("guanli", "系统管理员", "admin", PW)
    households = {
        "hh-1": ("张建国", "白鹤村3组12号", 0.0003, 0.0002, "2026-01-01"),
        "hh-2": ("李秀英", "白鹤村3组15号", 0.0010, -0.0004, None),
        "hh-3": ("陈桂兰", "白鹤村5组2号", -0.0021, 0.0015, None),
    }
    for hid, (name, addr, dlat, dlon, due) in households.items():
        fields = {"grid_id": "bh-01", "head_name": name, "address": f"金山镇{addr}",
                  "id_number": "330702195803124417", "phone": "13857901234",
                  "lat": HOME[0] + dlat, "lon": HOME[1] + dlon, "tags": ["elderly_alone"]}
        if due:
            fields["next_visit_due"] = due
        st.server_write("household", hid, fields, author="wangfang")
    st.server_write("case", "case-wage", {
        "grid_id": "bh-01", "kind": "petition", "channel": "visit", "category": "10",
        "title": "拖欠农民工工资", "description": "某建材厂拖欠十二名农民工工资约二十万元。",
        "parties": ["赵师傅", "某建材厂"], "status": "accepted", "risk": "orange",
        "reported_by": "xinfang", "reported_at": "2026-11-20T09:30:00+08:00",
        "lat": HOME[0] + 0.002, "lon": HOME[1] + 0.001}, author="xinfang")
    st.server_write("case_event", "ev-wage-1", {
        "case_id": "case-wage", "kind": "consultation", "at": "2026-11-21T15:00:00+08:00",
        "by": "xinfang", "text": "人社所、司法所会商，拟先行垫付部分工资。"}, author="xinfang")
    st.close()
    return {"password": PW}


@pytest.fixture
def township(tmp_path):
    db = str(tmp_path / "township.db")
    seed(db)
    server = server_process(db, tmp_path).start()
    yield server, db
    server.stop()


def progress_notes(db: str, case_id: str, n: int, words: str, at) -> None:
    """`n` progress entries the office wrote on a matter, oldest first: "第1次<words>", ...,
    entry i at the time `at(i)`."""
    st = CentralStore(db)
    try:
        for i in range(n):
            st.server_write("case_event", f"ev-{case_id}-{i:03d}", {
                "case_id": case_id, "kind": "progress", "by": "xinfang", "at": at(i),
                "text": f"第{i + 1}次{words}"}, author="xinfang")
    finally:
        st.close()


def query(db: str, sql: str, args=()) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


FAILURES: list[str] = []   # every failed run of a browser test, rerun or not


def pytest_terminal_summary(terminalreporter):
    if FAILURES:
        terminalreporter.section("browser test runs that failed (a first failure is run once more)")
        for line in FAILURES:
            terminalreporter.line(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, keep a picture and the accessibility tree of every open page."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for n, app in enumerate(OPEN_PAGES):
            try:
                app.page.screenshot(path=str(app.shots / f"FAILED-{item.name}-{n}.png"))
                tree = app.page.locator("body").aria_snapshot(timeout=30_000)
                (app.shots / f"FAILED-{item.name}-{n}.aria.txt").write_text(
                    tree + "\n\n--- console ---\n" + "\n".join(app.console[-200:]))
                # in the report too: CI keeps its output, not the screenshots folder
                report.sections.append((f"page {n} at the failure", tree[-3000:]))
            except Exception:
                pass
        tmp = item.funcargs.get("tmp_path")
        for log in sorted(tmp.glob("*.log")) if tmp else ():
            lines = log.read_text(errors="replace").splitlines()[-25:]
            report.sections.append((f"{log.name}, last lines", "\n".join(lines)))
        # where and why, kept for the summary: a failure followed by a passing rerun
        # prints nothing else, and the flakes are what there is to learn from
        where = [m.group(0) for line in report.longreprtext.splitlines()
                 if (m := re.match(r"tests/browser/\w+\.py:\d+", line))]
        crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "")
        lines = crash.splitlines()
        # a click that timed out: Playwright's log says what it waited on (no element, not
        # visible, another on top, or a page that never answered): the last few lines
        waited = [x.strip() for x in lines[lines.index("Call log:") + 1:]][-3:] if "Call log:" in lines else []
        FAILURES.append(f"{item.nodeid}, at {' < '.join(reversed(where)) or '?'}: "
                        f"{lines[0] if lines else ''}" + "".join(f"\n    {x}" for x in waited))
    if report.when == "teardown":
        OPEN_PAGES.clear()
