"""A crawl of the office in Chromium, as a new clerk and as the administrator would
find it: every tab, every filter, every export (each file opened), every action of a
matter in every state with its dialog saved empty and cancelled, the documents (each
opened), registration saved empty, the figures, the visit checks, the conflicts and
the audit. It fails on "Error running app", on any error in the browser's console, on
any request to a host other than the server, and on any visible text that is a code
no one translated."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import time
import zipfile

import openpyxl
import pytest

from sync import codes

from .conftest import PW
from .harness import DESKTOP, AppPage, server_process

DEMO_PW = "jinshan-demo"
# Codes a person must never read as such (Chinese screens show their labels).
CODES = {c for table in (codes.CASE_STATUSES, codes.CHANNELS, codes.RISK_LEVELS, codes.OUTCOMES,
                         codes.EVENT_KINDS, codes.VISIT_KINDS, codes.SIGNALS, codes.URGENCY,
                         codes.SATISFACTION, codes.REVIEW_OUTCOMES, codes.NEEDS, codes.CALLBACK_METHODS)
         for c in table if len(c) > 2}
ACTIONS = ["分级", "会商", "记录进展", "延期", "办结", "回访", "告知信访人", "复查／复核", "重新受理", "不予受理"]
TABS = ["台账", "登记", "回访", "督办", "统计", "走访核查", "冲突"]


@pytest.fixture
def demo_township(tmp_path):
    from sync.server.demo import seed
    db = str(tmp_path / "township.db")
    seed(db, households_per_grid=12)
    _concurrent_edit(db)
    server = server_process(db, tmp_path).start()
    yield server, db
    server.stop()


def _concurrent_edit(db: str) -> None:
    """Two people change the same matter's risk at once: a conflict for the office to settle."""
    from sync import changes, clock
    from sync.access import Principal
    from sync.server.central import CentralStore
    st = CentralStore(db)
    cid = st.conn.execute("SELECT id FROM cases WHERE status='accepted' ORDER BY id LIMIT 1").fetchone()[0]
    stamp = st.versions("case", cid)["risk"][0] if "risk" in st.versions("case", cid) else None
    base = {"risk": [stamp]} if stamp else None
    now = clock.wall_ms()
    for n, (who, risk) in enumerate((("xinfang", "red"), ("admin", "blue"))):
        ch = changes.make("case", cid, {"risk": risk}, clock.encode(now + n, 0, "server"), "server", who, base)
        assert st.push(Principal(who, "office"), [ch], server_side=True).counts["applied"] == 1
    assert st.conflicts("case", cid)
    st.close()


class Crawl:
    def __init__(self, app: AppPage, who: str):
        self.app, self.who = app, who
        self.page = app.page
        self.errors: list[str] = []

    def look(self, where: str) -> str:
        """The screen as read; anything wrong on it is noted (a crash ends the crawl)."""
        text = self.app.aria()
        assert "Error running app" not in text, f"{where}: Error running app\n{text[-3000:]}"
        if re.search(r"characters? remaining|Select all|Cancel|OK\b", text):
            self.errors.append(f"{where}: Flutter's English words on a Chinese screen")
        # what a person reads: the quoted names and the texts, not the tree's role words
        shown = " ".join(re.findall(r'"((?:[^"\\]|\\.)*)"', text) + re.findall(r"text: (.*)", text))
        words = set(re.findall(r"[a-z][a-z_]{2,}", shown))
        bad = sorted(words & CODES)
        if bad:
            self.errors.append(f"{where}: untranslated codes {bad}")
        return text

    def has(self, name: str, role: str = "button") -> bool:
        return self.page.get_by_role(role, name=name, exact=False).count() > 0

    def dialog_opens(self, timeout_s: float = 10) -> bool:
        """Whether the tap just made opened a dialog (on a busy machine it can take seconds
        to come; an action without one is known by none coming)."""
        dialog = self.page.get_by_role("alertdialog")
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if dialog.count():
                return True
            self.page.wait_for_timeout(200)
        return False

    def no_dialog(self, timeout_s: float = 60) -> None:
        """Wait until no dialog covers the page (a late one is cancelled)."""
        dialog = self.page.get_by_role("alertdialog")
        deadline = time.time() + timeout_s
        while dialog.count():
            assert time.time() < deadline, "a dialog stays open"
            if self.has("取消"):
                with contextlib.suppress(Exception):
                    dialog.get_by_role("button", name="取消").first.click(timeout=5_000)
            self.page.wait_for_timeout(500)

    def dialog_fits(self, where: str) -> None:
        """The open dialog ends below its last field: its buttons stood at the window's
        foot, half a page of nothing above them, when the dialog's column scrolled."""
        dialog = self.page.get_by_role("alertdialog")
        field = dialog.get_by_role("textbox").last.bounding_box()
        button = dialog.get_by_role("button").last.bounding_box()
        gap = button["y"] - (field["y"] + field["height"])
        if gap > 200:
            self.errors.append(f"{where}: {gap:.0f} px of nothing between the last field and the buttons")

    def dialog_roundtrip(self, where: str) -> None:
        """A dialog is open: press its action as the dialog stands (a refusal must stay in
        the dialog), then cancel if it is still open."""
        self.app.mark()
        self.page.get_by_role("alertdialog").get_by_role("button").last.click()
        self.app.settle()
        self.look(f"{where} (saved as it stood)")
        if self.has("取消"):
            self.app.tap("取消")
            self.app.settle()

    def download(self, button: str) -> bytes:
        with self.page.expect_download(timeout=90_000) as got:
            self.app.tap(button)
        with open(got.value.path(), "rb") as f:
            return f.read()


def sign_in(app: AppPage, user: str, password: str) -> None:
    app.sign_in(user, password)
    app.tab("台账").wait_for(timeout=90_000)


def check_exports(crawl: Crawl) -> None:
    app = crawl.app
    app.open_tab("台账")
    app.shows("共 36 件")        # the ledger is drawn: a click now reaches the buttons it shows
    app.settle(nothing_s=0)
    data = crawl.download("导出台账 Excel")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.active.max_row > 1 and wb.active.cell(1, 1).value == "编号"
    rows = list(csv.reader(io.StringIO(crawl.download("导出 CSV").decode("utf-8-sig"))))
    assert rows[0][0] == "编号" and len(rows) > 1
    sup = openpyxl.load_workbook(io.BytesIO(crawl.download("导出督办台账")))
    assert sup.active.cell(1, 1).value == "包案领导"
    monthly = openpyxl.load_workbook(io.BytesIO(crawl.download("导出月报")))
    assert monthly.active.max_row > 3
    # the month gone by, as a clerk hands it in early in the next (the year: test_office.py)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    last = today.replace(day=1) - dt.timedelta(days=1)
    app.tap("月报月份")
    app.page.get_by_role("button", name=f"{last.year}年{last.month}月", exact=True).click()
    # (the choice is kept on the server, which answers nothing: no settle, which would wait
    # a minute for an answer; the download's tap comes after it on the same socket)
    monthly = openpyxl.load_workbook(io.BytesIO(crawl.download("导出月报")))
    assert monthly.active.cell(1, 2).value == f"{last.year}年{last.month}月"
    app.tap("台账年度")
    app.page.get_by_role("button", name=f"{today.year}年", exact=True).click()   # the demo's only year
    rows = list(csv.reader(io.StringIO(crawl.download("导出 CSV").decode("utf-8-sig"))))
    assert rows[0][0] == "编号" and len(rows) > 1 and all(r[1].startswith(str(today.year)) for r in rows[1:])
    crawl.look("ledger after the exports")
    app.shot(f"office-ledger-{crawl.who}")


def crawl_matter(crawl: Crawl, status_label: str) -> bool:
    """Open the first matter of a state from the ledger, and work every action it offers."""
    app = crawl.app
    app.shows("共 36 件")
    rows = crawl.page.get_by_role("button", name=re.compile(rf" {re.escape(status_label)}$"))
    if rows.count() == 0:
        return False
    # The ledger redraws when a matter page closes: a click may land on a row being
    # replaced. Click until the matter's page is there (waiting on what is shown).
    for attempt in range(4):
        rows.first.click()
        try:
            app.shows("办理过程", timeout_s=15)
            break
        except AssertionError:
            if attempt == 3:
                raise
    crawl.look(f"matter {status_label}")
    app.shot(f"office-matter-{crawl.who}-{status_label}")
    for action in ACTIONS:
        if not crawl.has(action):
            continue
        app.tap(action)
        if crawl.dialog_opens():
            if action == "复查／复核":   # one date field: the dialog as tall as it, not as the window
                crawl.dialog_fits(f"matter {status_label}: {action}")
            crawl.dialog_roundtrip(f"matter {status_label}: {action}")
        crawl.look(f"matter {status_label} after {action}")
    for doc in ("受理告知书", "信访处理意见书", "延期告知书", "不予受理告知书"):
        if crawl.has(doc):
            data = crawl.download(doc)
            import docx
            text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
            assert doc in text, doc
    crawl.no_dialog()
    app.tap("返回")
    app.settle()
    return True


def crawl_everything(crawl: Crawl, admin: bool) -> None:
    app = crawl.app
    for tab in TABS + (["审计"] if admin else []):
        app.open_tab(tab)
        app.settle()
        crawl.look(f"tab {tab}")
    app.open_tab("台账")
    for chip in ("待受理", "办理中", "已超期", "7日内到期", "待回访", "全部"):
        app.tap(chip, role="checkbox")
        app.settle()
        crawl.look(f"ledger filter {chip}")
    check_exports(crawl)
    opened = [label["zh"] for label in codes.CASE_STATUSES.values() if crawl_matter(crawl, label["zh"])]
    assert len(opened) >= 8, opened      # the demo holds a matter in (nearly) every state
    # registration saved empty: the refusals are next to the fields
    app.open_tab("登记")
    app.tap("保存")
    app.shows("必填")
    for choice in ("来源 *", "纠纷类别 *", "网格 *"):   # a screen reader names each dropdown
        assert app.page.get_by_role("button", name=choice, exact=True).count() == 1, choice
    crawl.look("registration saved empty")
    app.type("来访人数", "①")        # a digit to str.isdigit, not to int(): it took the app down
    app.tap("保存")
    app.shows("请输入 1 至 10000 之间的整数")
    crawl.look("registration with a circled digit")
    app.shot(f"office-register-refused-{crawl.who}")
    app.tap("查重")
    crawl.look("duplicate check")
    # the figures: every period, a period typed wrong
    app.open_tab("统计")
    for chip in ("本月", "近30天", "本年"):
        app.tap(chip)
        app.settle()
        crawl.look(f"figures {chip}")
    app.type("起（年-月-日）", "2026-13-01")
    app.type("止（年-月-日）", "9999-12-31")     # a day past the store's years took the app down
    app.mark()
    app.page.get_by_role("button", name="统计", exact=True).click()   # the apply button, not the tab
    app.shows("日期格式为 年-月-日")
    app.shows("日期须在2000年至2100年之间")
    crawl.look("figures with a wrong date")
    # a period not begun held today's overdue matters; an end before the start read "日期格式"
    for start, end, said in (("2099-01-01", "2099-12-31", "起日不能晚于今天"),
                             ("2026-11-10", "2026-11-01", "止日不能早于起日")):
        app.type("起（年-月-日）", start, replace=True)
        app.type("止（年-月-日）", end, replace=True)
        app.mark()
        app.page.get_by_role("button", name="统计", exact=True).click()
        app.shows(said)
    app.shot(f"office-dashboard-{crawl.who}")
    # the visits the office checks, the conflicts it settles
    app.open_tab("走访核查")
    app.page.get_by_role("switch").first.click()
    crawl.look("all visits")
    app.open_tab("冲突")
    app.shot(f"office-conflicts-{crawl.who}")
    if crawl.has("以选中的为准"):
        app.tap("以选中的为准")
        app.shows("没有需要处理的冲突")
    crawl.look("conflicts settled")
    if admin:
        app.open_tab("审计")
        data = crawl.download("导出 CSV")
        assert data.decode("utf-8-sig").startswith("时间,账号,操作")
        crawl.look("audit")
    # the same screens in English
    app.tap("English")
    app.shows("Ledger")
    app.tap("中文")


@pytest.mark.parametrize("user", ["xinfang", "admin"])
def test_every_office_screen_button_and_dialog_works(demo_township, browser, user):
    server, db = demo_township
    app = browser(server.url + "/", viewport=DESKTOP)
    crawl = Crawl(app, user)
    sign_in(app, user, DEMO_PW)
    crawl_everything(crawl, admin=user == "admin")
    app.shot(f"crawl-{user}-end")
    console_errors = [m for m in app.console if m.startswith("error")]
    outside = [u for u in app.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert not crawl.errors, crawl.errors
    assert not console_errors, console_errors[:10]
    assert not outside, outside[:10]
