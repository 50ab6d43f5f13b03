"""The administrator erases a matter's personal data from the office: the button is the
admin's alone, the dialog says what it reaches and refuses until 删除 is typed, and
afterwards the matter shows the placeholder. Real server, Debian's Chromium."""

from __future__ import annotations

from .conftest import PW, query
from .harness import DESKTOP, AppPage


def sign_in(app: AppPage, user: str) -> None:
    app.sign_in(user, PW)
    app.tab("台账").wait_for(timeout=60_000)


def test_the_admin_erases_a_matters_personal_data_with_a_confirmation(township, browser):
    server, db = township
    ref = query(db, "SELECT ref FROM cases WHERE id='case-wage'")[0]["ref"]

    clerk = browser(server.url + "/", viewport=DESKTOP)
    sign_in(clerk, "xinfang")
    clerk.tap(ref)
    clerk.shows("某建材厂拖欠十二名农民工工资")
    assert clerk.page.get_by_role("button", name="删除个人信息").count() == 0  # not the clerk's
    clerk.page.close()

    admin = browser(server.url + "/", viewport=DESKTOP)
    sign_in(admin, "guanli")
    admin.tap(ref)
    admin.shows("某建材厂拖欠十二名农民工工资")
    admin.tap("删除个人信息")
    admin.shows("不可恢复")
    admin.shows("事项 1")
    admin.shows("备份")
    admin.shot("office-erase-dialog")
    admin.page.get_by_role("alertdialog").get_by_role("button", name="删除", exact=True).click()
    admin.shows("请输入“删除”两个字")  # nothing erased without the word
    assert query(db, "SELECT count(*) AS n FROM erasures")[0]["n"] == 0
    admin.type("申请编号", "REQ-2026-9")
    admin.type("请输入“删除”以确认", "删除")
    admin.page.get_by_role("alertdialog").get_by_role("button", name="删除", exact=True).click()
    admin.shows("〔已删除〕")
    admin.shot("office-erased-matter")
    row = query(db, "SELECT description, parties FROM cases WHERE id='case-wage'")[0]
    assert row["description"] == "〔已删除〕" and row["parties"] == "[]"
    assert query(db, "SELECT by_user, request FROM erasures") == [{"by_user": "guanli", "request": "REQ-2026-9"}]
