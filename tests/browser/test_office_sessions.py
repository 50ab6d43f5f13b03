"""The office's browser sessions: a copied session id resumes nothing, sign-out, revoking
or disabling the account ends a session at once, a spell of doing nothing ends it, and
the administrator reads the audit trail. Real server, Debian's Chromium."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

from .conftest import PW, query, seed
from .harness import DESKTOP, ROOT, AppPage, server_process


def sign_in(app: AppPage, user: str = "xinfang") -> None:
    app.sign_in(user, PW)
    app.tab("台账").wait_for(timeout=60_000)


def gridbook(*args: str, db: str) -> str:
    r = subprocess.run([sys.executable, "-m", "township", *args, "--db", db], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_copied_session_id_does_not_resume_a_signed_in_office(township, browser, playwright_instance, tmp_path):
    server, db = township
    clerk = browser(server.url + "/", viewport=DESKTOP)
    sign_in(clerk)
    stolen = clerk.page.evaluate("() => window.sessionStorage.getItem('_flet_session_id')")
    assert stolen
    clerk.page.close()              # the clerk's tab goes: its session waits to be resumed
    from .harness import launch
    other = launch(playwright_instance, tmp_path / "intruder", viewport=DESKTOP)
    try:
        other.add_init_script(f"window.sessionStorage.setItem('_flet_session_id', {stolen!r})")
        intruder = AppPage(other.pages[0], clerk.shots).open(server.url + "/")
        intruder.shows("用户名")    # the sign-in page, not the clerk's ledger
        assert "导出台账" not in intruder.aria()
        assert intruder.page.evaluate("() => window.sessionStorage.getItem('_flet_session_id')") is not None
    finally:
        other.close()


def test_sign_out_revocation_and_disabling_end_an_office_session_at_once(township, browser):
    server, db = township
    clerk = browser(server.url + "/", viewport=DESKTOP)
    sign_in(clerk)
    clerk.tap("退出登录")
    clerk.shows("已退出登录")
    assert "导出台账" not in clerk.aria()

    sign_in(clerk)
    clerk.tap("拖欠农民工工资")                 # a matter open, and a dialog of it on top
    clerk.text("某建材厂拖欠")
    clerk.tap("会商")
    clerk.page.get_by_role("alertdialog").wait_for(timeout=60_000)
    assert "revoked 1 device token(s)" in gridbook("user", "revoke", "xinfang", db=db)
    clerk.shows("登录已失效", timeout_s=60)   # the tab notices within seconds, whatever it was doing
    clerk.gone("会商", timeout_s=30)          # the dialog went with the session, not left over the sign-in page
    tree = clerk.aria()
    assert "导出台账" not in tree and "拖欠" not in tree and "alertdialog" not in tree, tree

    sign_in(clerk)
    assert "1 sign-in(s) ended" in gridbook("user", "disable", "xinfang", db=db)
    clerk.shows("登录已失效", timeout_s=60)
    clerk.type("用户名", "xinfang")
    clerk.type("密码", PW)
    clerk.tap("登录")
    clerk.shows("此账号已停用")   # the right password: told whom to ask, as the phone is (not "wrong password")
    assert "导出台账" not in clerk.aria()
    clerk.type("密码", "not-the-password")
    clerk.tap("登录")
    clerk.shows("用户名或密码错误")   # a wrong one learns nothing of the account
    gridbook("user", "enable", "xinfang", db=db)
    actions = [r["action"] for r in query(db, "SELECT action FROM audit WHERE username='xinfang' ORDER BY rowid")]
    assert actions.count("office_sign_in") == 3 and "office_sign_out" in actions
    assert actions.count("office_sign_in_disabled") == 1 and "office_sign_in_failed" in actions


def test_an_office_left_alone_signs_itself_out(tmp_path, browser):
    db = str(tmp_path / "idle.db")
    seed(db)
    server = server_process(db, tmp_path, env={"GRIDBOOK_OFFICE_IDLE_MIN": "0.05"}).start()
    try:
        clerk = browser(server.url + "/", viewport=DESKTOP)
        sign_in(clerk)
        clerk.shows("长时间未操作", timeout_s=60)
        assert "导出台账" not in clerk.aria()
    finally:
        server.stop()


def test_the_administrator_reads_and_exports_the_audit_trail(township, browser):
    server, db = township
    guess = browser(server.url + "/", viewport=DESKTOP)
    guess.type("用户名", "xinfang")
    guess.type("密码", "not-the-password")
    guess.tap("登录")
    guess.shows("用户名或密码错误")
    admin = browser(server.url + "/", viewport=DESKTOP)
    sign_in(admin, "guanli")
    admin.open_tab("审计")
    admin.shows("工作台登录失败")
    admin.shows("xinfang")
    admin.shot("office-audit")
    with admin.page.expect_download(timeout=60_000) as got:
        admin.tap("导出 CSV")
    rows = list(csv.reader(io.StringIO(open(got.value.path(), encoding="utf-8-sig").read())))
    assert rows[0] == ["时间", "账号", "操作", "内容", "设备", "地址"]
    assert any(r[1] == "xinfang" and r[2] == "工作台登录失败" for r in rows[1:])
    assert admin.tab("审计").count() == 1
    # the trail is the administrator's: the office's clerks have no such tab
    clerk = browser(server.url + "/", viewport=DESKTOP)
    sign_in(clerk)
    assert "审计" not in clerk.aria()
    assert query(db, "SELECT count(*) AS n FROM audit WHERE action='export' AND username='guanli'")[0]["n"] == 1
