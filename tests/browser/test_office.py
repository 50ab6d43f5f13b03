"""The township office in the browser, served by `gridbook serve` on the server's own
port, working the process 集分研化评 on a matter a grid worker's phone reported."""

from sync.client import SyncClient
from sync.device import DeviceReplica

from .conftest import HOME, PW, progress_notes, query
from .harness import DESKTOP, AppPage, app_process
from .test_field_app import GPS, scroll_to, sign_in


def phone_reports(server_url: str, tmp_path) -> str:
    """A grid worker's phone reports a dispute; it reaches the server by sync."""
    phone = DeviceReplica(str(tmp_path / "worker.db"))
    client = SyncClient(phone, server_url)
    client.login("wangfang", PW)
    client.pull()
    ch = phone.create("case", {
        "grid_id": "bh-01", "kind": "dispute", "channel": "grid", "category": "07",
        "title": "村道塌方占地纠纷", "description": "村道塌方后两户争执修复占用的土地，情绪激动",
        "parties": ["张建国", "李秀英"], "status": "reported", "reported_by": "wangfang",
        "reported_at": "2026-11-26T08:30:00+08:00", "lat": HOME[0], "lon": HOME[1]}, "wangfang")
    assert client.sync().pushed == 1
    return ch["record"]


def office_sign_in(app: AppPage) -> None:
    app.sign_in("xinfang", PW)
    app.text("信访工作台账")


def rail(app: AppPage, name: str) -> None:
    app.open_tab(name)


def test_office_grades_plans_assigns_and_calls_back_a_phone_reported_matter(
        township, tmp_path, browser, shots):
    server, db = township
    cid = phone_reports(server.url, tmp_path)
    ref = query(db, "SELECT ref FROM cases WHERE id=?", (cid,))[0]["ref"]
    assert ref.startswith("金山-2026-")   # numbered by the server on arrival

    office = browser(server.url, viewport=DESKTOP)
    office_sign_in(office)
    rail(office, "统计")
    office.shows("登记事项 2 办结 0 化解率 — 满意度 —")     # the seed's matter and this one
    rail(office, "台账")
    office.text(ref)
    office.shot("office-ledger")
    office.tap(ref)
    office.text("村道塌方后两户争执")
    office.tap("受理")
    office.shows("已受理")                     # the page redrawn with the new state
    office.tap("分级")
    office.tap("红色", role="radio")
    office.tap("越级访", role="checkbox")
    office.tap("保存")
    office.shows("红色 · 一般 · 越级访")        # on the timeline, with who and when
    office.tap("会商")
    office.type("协办部门", "国土所、司法所")
    office.type("化解方案", "国土所测量界址，司法所组织调解，两周内修复村道")
    office.tap("李振华", role="radio")
    office.tap("保存")
    office.text("国土所测量界址")
    office.shot("office-matter-assigned")
    row = query(db, "SELECT status, risk, owner, deadline, accepted_on FROM cases WHERE id=?", (cid,))[0]
    assert (row["status"], row["risk"], row["owner"]) == ("assigned", "red", "lizhen")
    assert row["deadline"] and row["accepted_on"]   # computed: 60 days from acceptance

    # The leader's phone receives it on its next sync, and the leader resolves it there.
    phone = app_process(str(tmp_path / "leader-phone"), server.url, tmp_path, "leader").start()
    try:
        leader = browser(phone.url, GPS)
        sign_in(leader, "lizhen")
        leader.text("村道塌方占地纠纷", timeout_s=60)
        leader.tap("村道塌方占地纠纷")
        leader.text("国土所、司法所")
        leader.tap("办结")
        leader.tap("调解协议", role="radio")
        leader.type("化解方式", "双方签订调解协议，村道已修复")
        leader.tap("保存")
        leader.text("已记录办结，待同步")
        leader.text("已全部同步", timeout_s=60)
    finally:
        phone.stop()
    assert query(db, "SELECT status FROM cases WHERE id=?", (cid,))[0]["status"] == "resolved"

    # Back at the office: the satisfied callback, then the figures.
    office.tap("返回")
    rail(office, "回访")
    office.tap(ref)
    office.text("已办结")
    office.tap("回访")
    office.tap("满意", role="radio")
    office.type("回访意见", "村道已修好，双方满意")
    office.tap("保存")
    office.text("已回访")
    office.tap("返回")
    rail(office, "统计")
    # resolved today by its owning leader, and called back satisfied
    office.shows("登记事项 2 办结 1 化解率 100.0% 满意度 100.0%")
    office.shows("包案领导化解 1")
    office.shot("office-dashboard")
    office.tap("English")
    office.shows("Resolution rate 100.0%")     # the same figures, for a visitor's English
    office.shot("office-dashboard-english")
    assert query(db, "SELECT answer, by FROM callbacks WHERE case_id=?", (cid,)) == [
        {"answer": "satisfied", "by": "xinfang"}]
    # every reading of the file at the office is on record, with who
    assert {"xinfang"} == {r["username"] for r in query(db, "SELECT username FROM audit WHERE action='view'"
                                                            " AND detail=?", (f"case {cid}",))}
    events = [e["kind"] for e in query(db, "SELECT kind FROM case_events WHERE case_id=? ORDER BY at", (cid,))]
    assert {"accept", "grade", "consultation", "assign", "resolution"} <= set(events)


def scroll_sideways_into_sight(office: AppPage, target, width: int = 1024) -> dict:
    """The clerk scrolls the table sideways until `target` is within the window."""
    for step in range(20):
        box = target.bounding_box()
        if box and box["x"] + box["width"] <= width:
            return box
        office.page.mouse.move(600, 500)
        office.page.mouse.wheel(300, 0)
        office.pause(step)
    box = target.bounding_box()
    assert box and box["x"] + box["width"] <= width, box
    return box


def test_on_a_1024_px_screen_the_tables_scroll_sideways_to_their_last_columns(township, browser):
    """The ledger, the callback queue and the households keep their columns and scroll
    sideways: the callback queue cut 办理期限 and 状态 off; the households' address had no
    room left at all and each row's 记录走访 stood past the edge (helper AC). A matter with
    a long timeline shows its newest 20 entries, the earlier ones a click away."""
    server, db = township
    progress_notes(db, "case-wage", 25, "跟进：与企业核对工资表",
                   lambda i: f"2026-11-{22 + i // 10}T{8 + i % 10:02d}:00:00+08:00")
    office = browser(server.url + "/", viewport={"width": 1024, "height": 768})
    office_sign_in(office)
    office.text("拖欠农民工工资")
    status = office.page.get_by_text("状态", exact=True).first
    assert status.bounding_box()["x"] > 1024          # beyond the window: the columns are wider
    scroll_sideways_into_sight(office, status)
    office.shot("office-ledger-1024-scrolled")
    rail(office, "回访")
    office.text("回访（")
    scroll_sideways_into_sight(office, office.page.get_by_text("状态", exact=True).first)
    rail(office, "住户")
    office.text("张建国")
    address = office.page.get_by_text("地址", exact=True).first.bounding_box()
    assert address and address["width"] >= 150, address     # room for 金山镇白鹤村3组12号
    office.text("金山镇白鹤村3组12号")
    scroll_sideways_into_sight(office, office.page.get_by_role("button", name="记录走访").first)
    office.shot("office-households-1024-scrolled")
    rail(office, "台账")
    office.tap("拖欠农民工工资")                       # a row of the scrolled ledger opens its matter
    office.text("办理过程")
    # the report, the consultation and 25 notes: the oldest 7 behind the button
    scroll_to(office, "显示更早的 7 条记录", 400)
    assert "第5次跟进" not in office.snapshot() and "第6次跟进" in office.snapshot()
    office.tap("显示更早的 7 条记录")
    office.shows("第1次跟进")


def test_an_english_browser_on_a_zoomed_laptop_reaches_every_tool_and_works_a_dialog_by_keyboard(
        township, browser):
    """A clerk whose browser prefers English, the page zoomed to 200 % on a 1,280 x 720
    laptop (640 x 360 CSS pixels): the sign-in is in English with a switch back (kept
    across a reload), every
    tool of the rail is reachable, and a matter's dialog takes the keyboard: typing goes
    into its first field at once, and Esc is 取消."""
    server, db = township
    office = browser(server.url, viewport={"width": 640, "height": 360}, locale="en-US")
    office.text("Petition office ledger")
    office.tap("中文")                                           # the way back to Chinese ...
    office.shows("用户名")
    again = AppPage(office.page.context.new_page(), office.shots).open(server.url)
    again.shows("用户名")                                         # ... kept by this browser (another tab)
    again.page.close()
    office.tap("English")
    office.text("Petition office ledger")
    office.sign_in("xinfang", PW, words=("Username", "Password", "Sign in"))
    for name in ("Register", "Callbacks", "Supervision", "Figures", "Visit checks", "Households",
                 "Import", "Conflicts", "Ledger"):
        tab = office.tab(name)
        tab.scroll_into_view_if_needed()
        office.mark()
        tab.click()
        office.settle()
        assert tab.get_attribute("aria-selected") in ("true", None), name
    office.tap("拖欠农民工工资")
    office.tap("Record progress")
    office.text("Progress")
    box = office.page.get_by_role("textbox", name="Progress")
    box.wait_for()
    office.page.keyboard.type("called the firm", delay=30)         # no click into the field first
    office.page.wait_for_function("() => (document.activeElement || {}).value === 'called the firm'",
                                  polling=100)
    office.page.keyboard.press("Escape")
    office.gone("alertdialog")
    assert query(db, "SELECT count(*) AS n FROM case_events WHERE text LIKE '%called the firm%'") == [{"n": 0}]


def test_a_closed_matter_whose_petitioner_was_not_reached_takes_his_answer_when_he_is_reached(township, browser):
    """Closed after a callback that reached no one (联系不上), the petitioner rings the
    office a week later: the clerk finds the matter in 回访 under 联系不上，待再次回访 with
    the day of the try (it was in no list: she had to remember it), its page offers 回访,
    his answer is saved, the matter stays closed, no further callback is offered, and it
    has left the list. The page offered none at all."""
    import datetime as dt

    from sync.server.central import CentralStore
    server, db = township
    # the day before (a closed matter leaves the list 30 days after its last try)
    tried = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)
    st = CentralStore(db)
    try:
        st.server_write("case", "case-road", {
            "grid_id": "bh-01", "kind": "dispute", "channel": "visit", "category": "07",
            "title": "修路占地补偿纠纷", "description": "修路占用承包地，补偿款分配有争议。", "parties": ["陈桂兰"],
            "status": "closed", "reported_by": "xinfang", "reported_at": "2026-11-02T09:00:00+08:00",
            "received_on": "2026-11-02", "accepted_on": "2026-11-03", "deadline": "2027-01-02",
            "notice_sent_on": "2026-11-03", "outcome": "mediation", "method": "村委会调解，补偿款按面积分配",
            "resolved_on": "2026-11-16"}, author="xinfang")
        st.server_write("callback", "cb-road-1", {
            "case_id": "case-road", "at": f"{tried}T10:00:00+08:00", "by": "xinfang", "method": "phone",
            "answer": "unreachable", "comment": "三次电话无人接听"}, author="xinfang")
    finally:
        st.close()
    ref = query(db, "SELECT ref FROM cases WHERE id='case-road'")[0]["ref"]
    office = browser(server.url, viewport=DESKTOP)
    office_sign_in(office)
    rail(office, "回访")
    office.shows("联系不上，待再次回访（1）")
    office.shows(f"联系不上，待再次回访；上次回访 {tried}")
    office.tap(ref)
    office.text("修路占用承包地")
    office.shows("已结案")
    office.tap("回访")
    office.tap("基本满意", role="radio")
    office.type("回访意见", "本人回电：补偿款已领到")
    office.tap("保存")
    office.text("本人回电：补偿款已领到")           # on the timeline, below the try that reached no one
    office.shows("三次电话无人接听")
    office.shows("已结案")
    assert office.page.get_by_role("button", name="回访", exact=True).count() == 0
    assert query(db, "SELECT answer FROM callbacks WHERE case_id='case-road' ORDER BY at") == [
        {"answer": "unreachable"}, {"answer": "basically"}]
    assert query(db, "SELECT status FROM cases WHERE id='case-road'")[0]["status"] == "closed"
    office.tap("返回")
    office.shows("联系不上待再次回访 0 件")
    office.gone("联系不上，待再次回访")
