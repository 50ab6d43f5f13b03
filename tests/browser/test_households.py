"""Households in the field and at the office, in Debian's Chromium against the real
township server: a grid worker registers a new arrival with a member (offline, the
change waiting in the outbox), edits its phone, records a visit and sees the next
visit due move, marks another household moved out; the office adds and edits a
household in the 住户 tab, a wrong ID number refused next to its field, over a long
list a page at a time."""

from __future__ import annotations

import datetime as dt
import json

from sync.server.central import CentralStore

from .conftest import PW, query
from .harness import DESKTOP, FIRST_SYNC_S, AppPage, app_process
from .test_field_app import GPS
from .test_office import office_sign_in

GOOD_ID = "330702199001011237"
CHILD_ID = "330702201506010029"
BAD_CHECK = "330702199001011234"   # the check digit should be 7
CST = dt.timezone(dt.timedelta(hours=8))


def sign_in(app: AppPage, username: str) -> None:
    app.sign_in(username, PW, password_first=True)


def scroll(app: AppPage, dy: int) -> None:
    app.page.mouse.move(180, 400)
    app.page.mouse.wheel(0, dy)
    app.page.wait_for_timeout(600)


def replace(app: AppPage, label: str, text: str) -> None:
    """Type into a field over what it holds."""
    field = app.page.get_by_label(label, exact=False).first
    field.click()
    app.page.wait_for_timeout(300)
    app.page.keyboard.press("Control+A")
    app.page.keyboard.press("Delete")
    app.page.keyboard.type(text, delay=15)


def test_worker_adds_a_household_offline_edits_it_visits_it_and_marks_another_moved_out(
        township, tmp_path, browser):
    server, db = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "households").start()
    today = dt.datetime.now(CST).date()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)   # the first sync done
        app.text("张建国")                      # due on Today (since 2026-01-01)
        server.stop()                           # no signal from here on: everything waits in the outbox

        app.tap("住户", role="tab")
        app.tap("新增住户")
        app.type("户主姓名", "王小红")
        app.type("户主身份证号", BAD_CHECK)
        app.type("联系电话", "1381234")
        app.fix("精度 ±9 米")                  # its place: where the worker stands
        app.tap("保存")
        # each refusal next to its field, in Chinese, and nothing saved
        app.text("校验位不符，最后一位应为7")
        app.text("手机号应为以13至19开头的11位数字")
        app.text("必填")                        # the address left empty
        scroll(app, -3000)                      # back to the top of the form, where the fields are
        app.shot("household-form-refused")
        replace(app, "户主身份证号", GOOD_ID)
        replace(app, "联系电话", "13812345678")
        app.type("地址", "金山镇白鹤村2组8号")
        app.tap("低保", role="checkbox")
        app.tap("添加成员")
        app.text("成员1")                       # the member's fields are there before typing in them
        scroll(app, 600)                        # Flutter scrolls its own view: bring the member in sight
        app.type("成员姓名", "刘洋")
        app.type("与户主关系", "子")
        app.type("成员身份证号", f"{CHILD_ID[:6]} {CHILD_ID[6:14]} {CHILD_ID[14:]}")   # in its printed groups
        app.shot("household-form")
        app.tap("保存")
        app.text("住户已保存，待同步")
        app.text("待同步 1")
        app.text("离线")

        app.tap("王小红")
        app.shows("刘洋（子，3307**********0029）")   # the member with the relation, the number masked
        app.shows(f"下次走访 {today.isoformat()}")   # a new arrival: due for a first visit today
        app.tap("编辑")
        app.text("编辑住户")
        replace(app, "联系电话", "13900001111")
        app.tap("保存")
        app.text("住户已保存，待同步")
        app.shows("139****1111")                       # the new phone, masked on screen
        app.tap("记录走访")
        app.fix("精度 ±9 米")
        app.type("看到的情况", "新迁入，租住，母子二人")
        app.tap("保存")
        app.text("已保存，待同步")
        due = today + dt.timedelta(days=30)              # 低保: monthly (the township's setting)
        app.shows(f"下次走访 {due.isoformat()}")
        app.shows("新迁入，租住，母子二人")
        app.shot("household-after-visit")
        app.tap("返回")

        app.tap("张建国")
        app.tap("编辑")
        app.tap("已迁出", role="radio")
        app.tap("保存")
        app.shows("已迁出（已存档）")
        app.tap("返回")
        app.shows("金山镇白鹤村3组12号 · 独居老人 · 已迁出（已存档）")   # still found, shown as archived
        app.shot("households-with-archived")
        app.tap("今日", role="tab")
        app.text("今天没有到期的走访")           # moved out: off the due list
        app.text("待同步 5")                     # the household, its edit, the visit and its due, the move

        server.start()                           # signal again: nobody presses anything
        app.text("已全部同步", timeout_s=60)
    finally:
        phone.stop()

    [hh] = query(db, "SELECT * FROM households WHERE head_name='王小红'")
    assert (hh["grid_id"], hh["id_number"], hh["phone"], hh["address"]) == (
        "bh-01", GOOD_ID, "13900001111", "金山镇白鹤村2组8号")
    assert json.loads(hh["members"]) == [{"name": "刘洋", "relation": "子", "id_number": CHILD_ID}]
    assert json.loads(hh["tags"]) == ["dibao"] and hh["next_visit_due"] == due.isoformat()
    assert hh["lat"] and hh["lon"] and hh["status"] == "active"
    assert [v["seen"] for v in query(db, "SELECT seen FROM visits WHERE household_id=?", (hh["id"],))] == [
        "新迁入，租住，母子二人"]
    moved = query(db, "SELECT status, id_number FROM households WHERE id='hh-1'")[0]
    assert moved == {"status": "moved_out", "id_number": "330702195803124417"}   # kept whole, never deleted


def test_office_adds_and_edits_households_in_a_long_list_with_a_wrong_id_number_refused_at_its_field(
        township, tmp_path, browser):
    server, db = township
    st = CentralStore(db)
    try:
        for n in range(300):
            st.server_write("household", f"roster-{n:03d}", {
                "grid_id": "bh-01", "head_name": f"花名册{n}", "address": f"金山镇白鹤村{n % 9 + 1}组{n}号"},
                author="xinfang")
    finally:
        st.close()
    office = browser(server.url, viewport=DESKTOP)
    office_sign_in(office)
    office.open_tab("住户")
    office.text("第 1–50 户，共 303 户")
    office.tap("下一页")
    office.text("第 51–100 户，共 303 户")
    office.shot("office-households-page-2")
    office.tap("新增住户")
    office.type("户主姓名", "赵丽")
    office.type("户主身份证号", BAD_CHECK)
    office.type("地址", "金山镇白鹤村6组3号")
    office.tap("保存")
    office.text("校验位不符，最后一位应为7")          # next to the field, inside the dialog
    office.shot("office-household-refused")
    assert query(db, "SELECT count(*) AS n FROM households WHERE head_name='赵丽'") == [{"n": 0}]
    replace(office, "户主身份证号", GOOD_ID)
    office.tap("保存")
    office.text("已保存")
    office.type("搜索", "赵丽")
    office.text("第 1–1 户，共 1 户")
    office.shows("3307**********1237")                 # masked in the list; whole in the dialog
    office.shot("office-households")
    office.tap("编辑")
    office.text("编辑住户")
    replace(office, "地址", "金山镇白鹤村6组5号")
    office.tap("保存")
    office.shows("金山镇白鹤村6组5号")
    office.tap("记录走访")                              # a visit recorded at the office moves the due day too
    office.type("看到的情况", "来镇反映住房困难")
    office.tap("保存")
    due = (dt.datetime.now(CST).date() + dt.timedelta(days=90)).isoformat()   # no need recorded: 90 days
    office.shows(due)
    office.shot("office-households-after-visit")
    replace(office, "搜索", "没有这个人")
    office.text("没有符合条件的住户")                 # the empty state, said
    replace(office, "搜索", "")
    office.text("共 304 户")
    [hh] = query(db, "SELECT * FROM households WHERE head_name='赵丽'")
    assert (hh["grid_id"], hh["id_number"], hh["address"], hh["status"], hh["next_visit_due"]) == (
        "bh-01", GOOD_ID, "金山镇白鹤村6组5号", "active", due)
    assert query(db, "SELECT visitor, seen FROM visits WHERE household_id=?", (hh["id"],)) == [
        {"visitor": "xinfang", "seen": "来镇反映住房困难"}]
    assert query(db, "SELECT count(*) AS n FROM audit WHERE action='view' AND detail=?",
                 (f"household {hh['id']}",)) == [{"n": 1}]


def test_an_open_household_list_shows_households_that_arrive_and_keeps_the_search_typed(
        township, tmp_path, browser):
    """The 住户 tab is open (a worker's first sign-in, the office importing a roster
    meanwhile): what a sync brings is listed without leaving the tab, and the words the
    worker typed in the search box stay."""
    from .test_office_live import phone_of
    server, db = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "arrive").start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        app.shows("上次同步", timeout_s=FIRST_SYNC_S)          # the first sync is done
        app.tap("住户", role="tab")
        app.text("张建国")
        app.type("住户", "王新")
        app.shows("没有找到住户")
        office, office_client = phone_of(server.url, tmp_path, "xinfang")
        office.add_household({"grid_id": "bh-01", "head_name": "王新来", "address": "金山镇白鹤村7组1号",
                              "lat": 29.0712, "lon": 119.6471})
        assert office_client.sync().pushed == 1
        app.shows("王新来", timeout_s=60)            # the phone's next sync lists it, untouched
        assert "没有找到住户" not in app.aria()
        assert "张建国" not in app.aria()           # still filtered by what was typed
        assert app.page.get_by_label("住户", exact=False).first.input_value() == "王新"
        app.shot("households-arrived")
    finally:
        phone.stop()
