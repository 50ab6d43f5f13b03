"""The field app in Debian's Chromium, against a real township server and a real app
instance on loopback, at phone size, through the accessibility tree."""

import time

import pytest

from sync.client import SyncClient
from sync.device import DeviceReplica

from .conftest import HOME, PW, progress_notes, query
from .harness import FIRST_SYNC_S, ROOT, AppPage, app_process

GPS = {"latitude": HOME[0] + 0.0003, "longitude": HOME[1] + 0.0002, "accuracy": 9}


def sign_in(app: AppPage, username: str) -> None:
    app.sign_in(username, PW)


def test_worker_records_offline_and_the_app_syncs_when_the_server_returns(
        township, tmp_path, browser):
    server, db = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "worker").start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)   # the first sync done
        app.tap("住户", role="tab")
        app.text("张建国")

        server.stop()  # no signal on the hillside from here on
        app.tap("张建国")
        app.text("身份证号")
        app.text("3307**********4417")   # masked on screen
        app.tap("记录走访")
        app.fix("精度 ±9 米")            # the mocked GPS fix, with its accuracy
        app.type("看到的情况", "老人独居，屋顶漏雨，需要修缮")
        app.type("群众诉求", "希望申请危房改造补助")
        app.tap("保存")
        app.text("已保存，待同步")
        app.tap("返回")
        app.tap("今日", role="tab")
        app.tap("上报矛盾纠纷")
        app.tap("纠纷类别")
        app.tap("09 环境污染")
        app.type("当事人", "张建国、李秀英")
        app.type("情况描述", "邻居养猪场粪污外排，污染水渠")
        app.tap("红色", role="radio")
        app.fix("精度 ±9 米")
        app.tap("保存")
        app.text("已上报，待同步")
        app.text("待同步 3")  # the visit, the household's next due date, the report
        app.text("离线")
        app.shot("worker-offline-pending")

        server.start()  # signal again: nobody presses anything
        app.text("已全部同步", timeout_s=60)
    finally:
        phone.stop()

    visits = query(db, "SELECT * FROM visits WHERE household_id='hh-1'")
    assert len(visits) == 1
    v = visits[0]
    assert v["seen"] == "老人独居，屋顶漏雨，需要修缮"
    assert v["requests"] == "希望申请危房改造补助"
    assert (v["lat"], v["lon"], v["accuracy_m"]) == (pytest.approx(GPS["latitude"]),
                                                     pytest.approx(GPS["longitude"]), 9.0)
    assert v["location_source"] == "gps" and v["far_from_home"] == 0 and v["visitor"] == "wangfang"
    cases = query(db, "SELECT * FROM cases WHERE reported_by='wangfang'")
    assert len(cases) == 1
    c = cases[0]
    assert c["description"] == "邻居养猪场粪污外排，污染水渠"
    assert c["category"] == "09" and c["risk"] == "red" and c["status"] == "reported"
    assert c["parties"] == '["张建国","李秀英"]'
    assert (c["lat"], c["lon"], c["accuracy_m"]) == (pytest.approx(GPS["latitude"]),
                                                     pytest.approx(GPS["longitude"]), 9.0)


# A plan as long as the office writes them for a hard matter: it pushed the leader's
# buttons six screens down when every line of it was shown.
LONG_PLAN = "先行垫付一半工资，余款一月内付清。" + "".join(
    f"第{n}步：人社所核对第{n}批工人名单和工时，司法所到场见证，企业负责人签字确认后按月支付。" for n in range(1, 31))


def scroll_to(app, text: str, step: int, looks: int = 30) -> None:
    """Scroll the screen by `step` pixels at a time until `text` is on it (Flutter
    leaves out of the accessibility tree what is scrolled out of sight)."""
    for n in range(looks):
        if text in (app.snapshot() or ""):
            return
        app.page.mouse.move(180, 500)
        app.page.mouse.wheel(0, step)
        app.pause(n)
    raise AssertionError(f"{text!r} never came into sight")


def scroll_into_sight(app, name: str, step: int, looks: int = 30) -> None:
    """Scroll until the button `name` is within the screen: a node of the accessibility
    tree may stand just outside it (Flutter keeps what is near), where no tap reaches."""
    for n in range(looks):
        box, screen = app.button(name).bounding_box(), app.page.viewport_size
        if box and box["y"] >= 0 and box["y"] + box["height"] <= screen["height"]:
            return
        app.page.mouse.move(180, 500)
        app.page.mouse.wheel(0, step)
        app.pause(n)
    raise AssertionError(f"{name!r} never came within the screen")


def open_a_visit(app) -> None:
    """From any tab: 张建国's household, then its 记录走访 form with a fix."""
    tap_until(app, "住户", "张建国", role="tab")
    tap_until(app, "张建国", "记录走访")
    app.tap("记录走访")
    app.fix("精度 ±9 米")


def office_assigns(server_url: str, tmp_path, case_id: str, leader: str) -> None:
    """The office, through the real sync API, names the owning leader of a case."""
    office = DeviceReplica(str(tmp_path / "office.db"))
    client = SyncClient(office, server_url)
    client.login("xinfang", PW)
    client.pull()
    office.update("case", case_id, {"owner": leader, "status": "assigned", "deadline": "2027-01-19",
                                    "departments": ["人社所", "司法所"], "higher_deadline": "2027-01-19",
                                    "plan": LONG_PLAN, "urgency": "urgent",
                                    "signals": ["group", "repeated"]}, "xinfang")
    report = client.push()
    assert report.pushed == 1 and office.pending_count() == 0


def test_case_assigned_to_a_leader_reaches_the_phone_and_the_home_visit_reaches_the_server(
        township, tmp_path, browser):
    server, db = township
    phone = app_process(str(tmp_path / "leader-phone"), server.url, tmp_path, "leader").start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "lizhen")
        app.text("目前没有您包案的案件", timeout_s=90)  # the first sync of a busy machine
        app.text("已全部同步", timeout_s=60)   # the first sync done

        office_assigns(server.url, tmp_path, "case-wage", "lizhen")
        app.text("拖欠农民工工资", timeout_s=60)   # the next sync brings it; nobody presses
        app.shot("leader-my-cases")
        app.tap("拖欠农民工工资")
        app.text("人社所、司法所会商")            # the timeline came whole, from before
        app.text("剩 ")                            # the deadline, counted down
        for words in ("化解方案", "先行垫付一半工资，余款一月内付清", "紧急程度", "升级信号",
                      "集体访（5人以上）、重复访", "上级要求", "李振华", "人社所、司法所"):
            app.shows(words)                       # the plan, urgency, signals, which limit, names
        assert "urgent" not in app.aria() and "lizhen" not in app.aria()
        # however long the plan, what the leader came to do is on the first screen
        box, screen = app.button("记录下访").bounding_box(), app.page.viewport_size
        assert box and box["y"] + box["height"] <= screen["height"], (box, screen)
        app.shot("leader-case-detail")
        app.tap("展开全文")                          # the whole plan, and back
        app.gone("展开全文")
        scroll_to(app, "收起", 400)
        app.shot("leader-case-plan-open")
        app.tap("收起")
        scroll_to(app, "展开全文", -400)
        app.tap("办结")                              # saved with nothing chosen: said at each field
        app.tap("保存")
        app.text("必填")
        assert "还可输入 2,000 个字符" in app.aria()   # the method's limit, counted before anyone types
        app.tap("取消")
        app.gone("记录办结")
        scroll_into_sight(app, "记录下访", -400)   # back up the page, as the leader would
        app.tap("记录下访")
        app.fix("精度 ±9 米")
        app.type("看到的情况", "赵师傅表示同意分期支付，情绪稳定")
        app.tap("保存")
        app.text("已保存，待同步")
        app.mark()
        app.button("记录进展").dblclick()           # a shaky double tap: one dialog
        app.settle()
        app.type("进展情况", "已协调企业垫付第一期工资")
        app.tap("保存", role="button")
        app.gone("进展情况")                         # saved and closed: no second dialog under it
        app.text("进展已记录，待同步")
        app.text("已全部同步", timeout_s=60)
    finally:
        phone.stop()

    visits = query(db, "SELECT * FROM visits WHERE case_id='case-wage'")
    assert [(v["kind"], v["visitor"], v["seen"]) for v in visits] == [
        ("home", "lizhen", "赵师傅表示同意分期支付，情绪稳定")]
    assert visits[0]["accuracy_m"] == 9.0 and visits[0]["grid_id"] == "bh-01"
    events = query(db, "SELECT kind, text, by FROM case_events WHERE case_id='case-wage' ORDER BY at")
    assert {"kind": "progress", "text": "已协调企业垫付第一期工资", "by": "lizhen"} in events
    case = query(db, "SELECT status, owner FROM cases WHERE id='case-wage'")[0]
    assert case == {"status": "in_progress", "owner": "lizhen"}


def offline_on_the_leaders_matter(app, server, tmp_path) -> None:
    """李振华 signed in, the office gives them the matter, it syncs; then no signal, and
    its page open."""
    sign_in(app, "lizhen")
    app.text("目前没有您包案的案件", timeout_s=90)
    office_assigns(server.url, tmp_path, "case-wage", "lizhen")
    app.text("拖欠农民工工资", timeout_s=60)
    app.text("已全部同步", timeout_s=60)
    server.stop()                                  # no signal from here on
    tap_until(app, "拖欠农民工工资", "记录下访")


def office_gives_it_to_another_leader(db) -> None:
    """The office, meanwhile (the server down): the matter is 陈建国's now."""
    from sync.server.central import CentralStore
    st = CentralStore(db)
    st.add_account("chenjg", "陈建国", "leader", PW)
    st.server_write("case", "case-wage", {"owner": "chenjg"}, author="xinfang")
    st.close()


def test_a_matter_given_to_another_leader_while_the_leader_was_offline_keeps_the_visit_and_says_why(
        township, tmp_path, browser):
    """In the petitioner's kitchen, no signal, the leader records a home visit; meanwhile
    the office gives the matter to another leader. The visit reaches the matter; the phone
    says the matter left it, and leaves the leader nothing to settle (the one change
    refused, the move to 办理中, was the phone's own)."""
    server, db = township
    phone = app_process(str(tmp_path / "leader-phone"), server.url, tmp_path, "leader-moved").start()
    try:
        app = browser(phone.url, GPS)
        offline_on_the_leaders_matter(app, server, tmp_path)
        app.tap("记录下访")
        app.fix("精度 ±9 米")
        app.type("看到的情况", "赵师傅在家，同意下周再谈")
        app.tap("保存")
        app.text("已保存，待同步")
        app.tap("记录进展")                            # which starts the work: 办理中, on the phone
        app.type("进展情况", "约定下周三再次面谈")
        app.tap("保存", role="button")
        app.text("进展已记录，待同步")
        office_gives_it_to_another_leader(db)
        server.start()                                 # signal again: nobody presses anything
        # the visit and the note go; the move to 办理中 the note implied is the new
        # leader's, refused and given up by the phone itself (nothing the leader typed):
        # the open page says the matter left the phone, and closes
        app.text("这条案件已不再由您办理", timeout_s=60)
        app.shows("目前没有您包案的案件", timeout_s=30)
        app.shot("leader-case-handed-over")
        tap_until(app, "今日", "已离开本机的事项 (1)", role="tab")     # said so, until read
        app.shows("没有同步问题")                                    # nothing to settle
        app.shot("leader-today-case-left")
        app.tap("知道了")
        app.gone("已离开本机的事项 (1)")
    finally:
        phone.stop()
    visits = query(db, "SELECT visitor, seen FROM visits WHERE case_id='case-wage'")
    assert visits == [{"visitor": "lizhen", "seen": "赵师傅在家，同意下周再谈"}]
    notes = query(db, "SELECT by, text FROM case_events WHERE case_id='case-wage' AND kind='progress'")
    assert notes == [{"by": "lizhen", "text": "约定下周三再次面谈"}]
    assert query(db, "SELECT owner, status FROM cases WHERE id='case-wage'") == [
        {"owner": "chenjg", "status": "assigned"}]


def test_a_resolution_typed_offline_on_a_matter_given_away_is_refused_kept_and_said(township, tmp_path, browser):
    """The leader resolves the matter through the 办结 dialog, offline; meanwhile the
    office gives it to another leader. The resolution is refused and kept: the page says
    the matter is no longer theirs, reads 已移交他人 (not their own 已办结), offers nothing;
    同步问题 says why, naming the new leader; the 办结 entry corrected stays as the leader's
    progress note, the move given up, the matter leaves the phone."""
    server, db = township
    phone = app_process(str(tmp_path / "leader-phone"), server.url, tmp_path, "leader-resolved").start()
    try:
        app = browser(phone.url, GPS)
        offline_on_the_leaders_matter(app, server, tmp_path)
        app.tap("办结")
        app.page.get_by_role("radio", name="调解协议").click()
        app.type("化解方式", "双方签订调解协议，企业分两期付清")
        app.tap("保存")
        app.text("已记录办结，待同步")
        office_gives_it_to_another_leader(db)
        server.start()
        app.text("此事项已不再由您办理", timeout_s=60)   # the open page redraws and says why
        app.shows("已移交他人")                        # where 已办结 and the owner were
        app.shows("被退回")                            # the resolution entry: this phone's alone
        for verb in ("记录下访", "记录进展", "办结"):
            assert app.page.get_by_role("button", name=verb, exact=True).count() == 0, verb
        app.shot("leader-case-handed-over-kept")
        app.tap("返回")
        for n in range(3):                             # 我的, not 我的包案
            app.page.get_by_role("tab", name="我的", exact=True).click()
            try:
                app.shows("同步问题", timeout_s=15)
                break
            except AssertionError:
                if n == 2:
                    raise
        tap_until(app, "同步问题", "此事项已改由陈建国包案")   # why, in words, naming the leader
        app.tap("更正")                                # the 办结 entry: its words kept as 进展
        app.text("您写的办理情况将作为“进展”保存在事项记录中")
        app.shot("leader-resolution-kept-as-progress")
        app.page.get_by_role("button", name="保存", exact=True).last.click()
        app.text("已更正，联网同步时提交")
        app.button("放弃").first.click()              # the move itself
        # the dialog's, once it is there: looked for at once, the last 放弃 was still the
        # list's, clicked again as the dialog opened over it, and the dialog stayed open
        app.shows("放弃这条修改")
        app.page.get_by_role("alertdialog").get_by_role("button", name="放弃", exact=True).click()
        app.text("没有同步问题", timeout_s=60)
        app.tap("返回")
        tap_until(app, "我的包案", "目前没有您包案的案件", role="tab")   # let go
    finally:
        phone.stop()
    assert query(db, "SELECT owner, status, method FROM cases WHERE id='case-wage'") == [
        {"owner": "chenjg", "status": "assigned", "method": None}]
    assert query(db, "SELECT kind, text FROM case_events WHERE case_id='case-wage' AND text LIKE '双方签订%'") == [
        {"kind": "progress", "text": "双方签订调解协议，企业分两期付清"}]


FONT = ROOT / "assets" / "fonts" / "NotoSansSC-GBK.otf"


def test_every_main_screen_at_phone_size_renders_chinese_from_the_shipped_font(
        township, tmp_path, browser):
    server, _ = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "screens").start()
    try:
        app = browser(phone.url, GPS)
        app.text("首次使用需联网登录一次")
        app.shot("01-login")
        sign_in(app, "wangfang")
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)   # the first sync done
        app.text("张建国")
        app.shot("02-today")
        app.tap("住户", role="tab")
        app.text("李秀英")
        app.shot("03-households")
        app.tap("李秀英")
        app.text("138****1234")        # phone masked
        app.shot("04-household")
        app.tap("记录走访")
        app.fix("精度 ±9 米")
        app.shot("05-visit-form")
        app.tap("返回")
        app.text("还没有走访记录")     # the household again (the form's screen has gone)
        app.tap("返回")
        app.tap("案件", role="tab")
        app.tap("本网格", role="checkbox")
        app.text("拖欠农民工工资")
        app.type("查找案件", "没有这件事")       # a search that finds nothing says so
        app.text("没有相符的案件")
        app.gone("拖欠农民工工资")
        app.type("查找案件", "农民工", replace=True)
        app.text("拖欠农民工工资")
        app.shot("06-cases")
        app.tap("拖欠农民工工资")
        app.text("人社所、司法所会商")
        app.shot("07-case")
        app.tap("返回")
        app.tap("地图", role="tab")
        app.text("未配置地图底图")
        app.shot("08-map")
        app.tap("我的", role="tab")
        app.text("王芳（wangfang）")
        app.shot("09-me")
        app.tap("English", role="radio")
        app.tap("保存")
        app.text("Households", timeout_s=15)
        app.tap("Today", role="tab")
        app.text("Households due for a visit")
        app.shot("10-today-english")
        app.tap("Report a dispute")
        app.button("Category").wait_for(state="attached")
        app.shot("11-report-form-english")
    finally:
        phone.stop()

    # The font was served from the app itself, whole, and nothing was asked of the internet.
    served = [r for r in app.font_responses if r.url.endswith("NotoSansSC-GBK.otf")]
    assert served and served[0].status == 200
    assert int(served[0].headers.get("content-length", len(served[0].body()))) == FONT.stat().st_size
    outside = [u for u in app.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    # Not even the Rive runtime Flet's client asks a CDN for (fieldapp/webserve.py).
    assert outside == []


# --- a fresh position on every visit (issue "The office as a clerk finds it", 4) ----------
MOVED = {"latitude": HOME[0] + 0.018, "longitude": HOME[1] + 0.0002, "accuracy": 15}  # ~2 km north


def open_phone_browser(playwright, user_dir, shots, url: str, device: str | None) -> tuple:
    """Debian's Chromium at phone size, or emulating a phone (Playwright's device
    descriptor: its user agent, viewport, pixel ratio, touch), the GPS set to GPS."""
    from .harness import CHROMIUM, CHROMIUM_ARGS, PHONE
    kw = {k: v for k, v in playwright.devices[device].items() if k != "default_browser_type"} if device \
        else {"viewport": PHONE}
    ctx = playwright.chromium.launch_persistent_context(
        str(user_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, locale="zh-CN",
        geolocation=GPS, permissions=["geolocation"], **kw)
    if not device:
        return ctx, AppPage(ctx.pages[0], shots).open(url)
    # On a touch screen Flutter turns its accessibility tree on for a tap on the middle of
    # its placeholder (which then covers the page), not for a click event without a place.
    app = AppPage(ctx.pages[0], shots)
    app.page.goto(url)
    placeholder = app.page.locator("flt-semantics-placeholder").first
    placeholder.wait_for(state="attached", timeout=90_000)
    deadline = time.time() + 60
    while app.page.locator("flt-semantics-placeholder").count():  # gone once the tree is on
        assert time.time() < deadline, "Flutter's accessibility tree never came on"
        try:
            placeholder.tap(force=True, timeout=5_000)
        except Exception:  # removed between the count and the tap
            pass
        app.page.wait_for_timeout(1_000)
    return ctx, app


def tap_until(app: AppPage, name: str, shown: str, role: str = "button", tries: int = 3) -> None:
    """Tap, and tap again if what it opens has not come (a tap that lands while Flutter
    redraws the screen after a sync is lost)."""
    for n in range(tries):
        app.tap(name, role=role)
        try:
            app.shows(shown, timeout_s=15)
            return
        except AssertionError:
            if n == tries - 1:
                raise


def test_sync_now_brings_what_the_office_did_without_waiting_for_the_next_check(township, tmp_path, browser):
    """A phone checks with the server once a minute; a leader about to knock on a door
    presses 立即同步 and has the case the office just gave them."""
    server, db = township
    phone = app_process(str(tmp_path / "leader-phone"), server.url, tmp_path, "sync-now", sync_every_s=600).start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "lizhen")
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)        # the first sync, asked for by the sign-in
        app.text("目前没有您包案的案件")
        office_assigns(server.url, tmp_path, "case-wage", "lizhen")
        app.tap("立即同步")                          # the next check would be in ten minutes
        app.text("拖欠农民工工资", timeout_s=60)
        app.shows("已全部同步")
    finally:
        phone.stop()


@pytest.mark.parametrize("device", [None, "Pixel 7"], ids=["chromium", "pixel7"])
def test_a_visit_after_the_phone_moved_2_km_is_recorded_where_the_phone_now_is(
        township, tmp_path, playwright_instance, shots, device):
    server, db = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, f"moved-{device}").start()
    ctx = None
    try:
        ctx, app = open_phone_browser(playwright_instance, tmp_path / "chromium", shots, phone.url, device)
        sign_in(app, "wangfang")
        app.shows("已全部同步", timeout_s=FIRST_SYNC_S)
        open_a_visit(app)
        app.tap("保存")                # nothing recorded: refused next to the field, nothing queued
        app.shows("走访记录不能为空")
        app.shows("已全部同步")
        app.page.wait_for_timeout(700)   # the form has grown the message: let it settle before typing
        app.type("看到的情况", "第一次走访：老人在家")
        app.tap("保存")
        app.text("已保存，待同步")

        ctx.set_geolocation(MOVED)   # the phone is carried 2 km away
        app.tap("记录走访")
        app.fix("精度 ±15 米")       # a new fix, not the one taken 2 km back
        app.text("秒前")              # with its age
        app.shows("超过 300 米")       # far from the household's registered place: flagged
        app.shot(f"moved-2km-form-{device or 'chromium'}")
        app.type("看到的情况", "第二次走访：在村委会见到户主")
        app.tap("保存")
        app.text("已保存，待同步")
        app.text("已全部同步", timeout_s=60)
        app.shot(f"moved-2km-{device or 'chromium'}")
    except Exception:
        if ctx is not None:  # the failure hook's picture needs the page: taken here, before it closes
            name = f"FAILED-moved-2km-{device or 'chromium'}"
            try:  # a page too busy to be pictured must not hide why the test failed
                app.page.screenshot(path=str(shots / f"{name}.png"), timeout=30_000)
                (shots / f"{name}.aria.txt").write_text(app.aria(timeout_s=30))
            except Exception as e:
                (shots / f"{name}.aria.txt").write_text(f"no picture: {e}")
        raise
    finally:
        if ctx is not None:
            ctx.close()
        phone.stop()

    visits = query(db, "SELECT * FROM visits WHERE household_id='hh-1' ORDER BY visited_at, seen")
    by_text = {v["seen"][:5]: v for v in visits}
    assert set(by_text) == {"第一次走访", "第二次走访"}
    first, second = by_text["第一次走访"], by_text["第二次走访"]
    assert (first["lat"], first["lon"], first["accuracy_m"]) == (
        pytest.approx(GPS["latitude"]), pytest.approx(GPS["longitude"]), 9.0)
    assert (second["lat"], second["lon"], second["accuracy_m"]) == (
        pytest.approx(MOVED["latitude"]), pytest.approx(MOVED["longitude"]), 15.0)
    assert first["far_from_home"] == 0 and second["far_from_home"] == 1
    assert second["distance_m"] == pytest.approx(2000, rel=0.05)


# --- the quarantine acted on (issue "The office as a clerk finds it", 5) ------------------
def refused_report(data_dir, title: str, description: str) -> dict:
    """What an app that does not check the write rules (an older or tampered one) would
    queue: a report in a grid that is not the worker's. Written into the running app's
    own replica file; its background sync pushes it and the server refuses it."""
    from sync.workspace import now_iso
    replica = DeviceReplica(str(data_dir / "gridbook.db"))
    try:
        return replica.create("case", {
            "grid_id": "bh-09", "kind": "dispute", "channel": "grid", "category": "02", "title": title,
            "description": description, "status": "reported", "reported_by": "wangfang",
            "reported_at": now_iso()}, "wangfang")
    finally:
        replica.close()


def refused_household(data_dir, head: str) -> dict:
    """A new household queued in a grid the worker no longer holds (the office moved her
    while it waited): the server refuses it."""
    replica = DeviceReplica(str(data_dir / "gridbook.db"))
    try:
        return replica.create("household", {"grid_id": "bh-09", "head_name": head, "address": "白鹤村7组3号",
                                            "lat": HOME[0], "lon": HOME[1]}, "wangfang")
    finally:
        replica.close()


def test_a_refused_report_is_discarded_and_another_corrected_from_the_me_screen(township, tmp_path, browser):
    server, db = township
    data = tmp_path / "phone"
    phone = app_process(str(data), server.url, tmp_path, "discard").start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        # waited on in the page (as the other tests wait for their first sync): the
        # accessibility snapshot that shows() takes went unanswered for minutes after this
        # sign-in in two fresh-clone runs, with the words on screen all along
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)
        gone = refused_report(data, "越界上报", "邻村两户争水")
        fixed = refused_report(data, "待更正的上报", "村道塌方，两户通行受阻")
        moved = refused_household(data, "孙建军")
        app.text("3 条被服务器退回", timeout_s=60)
        tap_until(app, "我的", "同步问题", role="tab")
        tap_until(app, "同步问题", "越界上报")
        app.shows("超出账号wangfang的权限范围")      # why, in Chinese
        app.shot("quarantine-before")
        app.button("放弃").click()                 # the first refused record's
        app.text("放弃这条修改？")
        app.shows("服务器从未接受这条记录")
        app.page.get_by_role("button", name="放弃", exact=True).last.click()   # the dialog's
        deadline = time.time() + 60
        while "越界上报" in app.aria():            # the sync finishes it: gone from the list
            assert time.time() < deadline, "the discarded report is still listed"
            app.page.wait_for_timeout(250)
        app.shows("待更正的上报")
        app.tap("更正")
        app.text("更正被退回的记录")                 # the report's own form, filled in
        app.text("退回原因")
        app.tap("保存")
        app.text("已更正，联网同步时提交")
        deadline = time.time() + 60
        while "待更正的上报" in app.aria():        # the sync takes the correction
            assert time.time() < deadline, "the corrected report is still listed"
            app.page.wait_for_timeout(250)
        # the household: its grid is no longer hers; 更正 opens its form, in her grid
        app.shows("可点“更正”改选网格")
        app.tap("更正")
        app.text("更正被退回的记录")
        app.text("退回原因")
        app.shows("原网格“bh-09”已不在您负责的网格内")
        app.shot("quarantine-household-correcting")
        app.type("联系电话", "138 1234 5678")
        app.tap("保存")
        app.text("已更正，联网同步时提交")
        app.text("没有同步问题", timeout_s=60)
        app.text("已全部同步", timeout_s=60)
        app.shot("quarantine-after")
    finally:
        phone.stop()

    [hh] = query(db, "SELECT grid_id, head_name, address, phone, lat FROM households WHERE id=?", (moved["record"],))
    assert hh == {"grid_id": "bh-01", "head_name": "孙建军", "address": "白鹤村7组3号", "phone": "13812345678",
                  "lat": HOME[0]}

    audited = {r["detail"].split()[0] for r in query(db, "SELECT detail FROM audit WHERE action='discard'"
                                                         " AND username='wangfang'")}
    assert audited == {gone["id"], fixed["id"], moved["id"]}
    assert query(db, "SELECT id FROM cases WHERE id=?", (gone["record"],)) == []
    [case] = query(db, "SELECT grid_id, description, status, reported_by FROM cases WHERE id=?", (fixed["record"],))
    assert case == {"grid_id": "bh-01", "description": "村道塌方，两户通行受阻", "status": "reported",
                    "reported_by": "wangfang"}
    replica = DeviceReplica(str(data / "gridbook.db"))
    try:
        assert replica.get("case", gone["record"]) is None and replica.quarantined() == []
        assert replica.get("case", fixed["record"])["grid_id"] == "bh-01"
    finally:
        replica.close()


def test_going_back_from_a_half_written_visit_asks_first_and_keeps_it_if_told_to(township, tmp_path, browser):
    server, db = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "leave").start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)
        open_a_visit(app)
        app.tap("返回")                       # nothing typed: no question
        app.text("记录走访")
        app.gone("放弃未保存的内容")
        app.tap("记录走访")
        app.fix("精度 ±9 米")
        app.type("看到的情况", "老人腿脚不便，药费负担重")
        app.tap("返回")                       # the head of the household calls her away
        app.text("放弃未保存的内容？")
        app.shot("visit-leave-asked")
        app.tap("继续填写")
        app.gone("放弃未保存的内容")
        app.tap("保存")                       # what she wrote before 返回 is saved (below)
        app.text("已保存，待同步")               # saved: closed without a question
        app.gone("放弃未保存的内容")
        app.tap("记录走访")
        app.fix("精度 ±9 米")
        app.type("群众诉求", "想办慢病卡")
        app.page.keyboard.insert_text("诉" * 4100)   # a long note pasted: cut at 4,000, and said so
        app.text("已达4000字上限，超出的部分没有输入")
        app.tap("返回")
        app.text("放弃未保存的内容？")
        app.page.get_by_role("button", name="放弃", exact=True).click()
        app.text("记录走访")                    # back on the household; the draft let go, as asked
        app.text("已全部同步", timeout_s=60)
    finally:
        phone.stop()
    visits = query(db, "SELECT seen, requests FROM visits WHERE household_id='hh-1' AND visitor='wangfang'")
    assert [(v["seen"], v["requests"]) for v in visits] == [("老人腿脚不便，药费负担重", None)]


def test_a_years_worth_of_a_household_and_a_matter_keeps_what_the_worker_needs_in_reach(
        township, tmp_path, browser):
    """After a year: a family of thirty with a long note, a matter with fifty parties of
    forty characters and forty-five progress entries. 记录走访 was two screens down on the
    household, the matter's description three screens down behind its parties, its newest
    entry at the end of every entry ever written. Now the household's buttons come first,
    the parties fold, and the timeline shows its newest twenty, the earlier ones a tap away."""
    from sync.server.central import CentralStore
    server, db = township
    st = CentralStore(db)
    try:
        st.server_write("household", "hh-big", {
            "grid_id": "bh-01", "head_name": "孙大家", "address": "金山镇白鹤村7组1号",
            "lat": HOME[0] + 0.0005, "lon": HOME[1] + 0.0005, "note": "三代同堂，" * 150,
            # ten photos of the house, named (their bytes not sent yet: the phone shows their places)
            "attachments": [{"hash": f"{i:064x}", "kind": "photo", "size": 1000 + i, "name": f"房屋{i}.jpg"}
                            for i in range(1, 11)],
            "members": [{"name": f"孙家成员{i:02d}", "relation": "亲属", "note": "在外务工，每年春节返乡"}
                        for i in range(30)]}, author="wangfang")
        st.server_write("case", "case-long", {
            "grid_id": "bh-01", "kind": "dispute", "channel": "grid", "category": "02", "title": "土地承包纠纷",
            "description": "两组村民因承包地边界发生纠纷，已多次调解。", "status": "in_progress", "risk": "yellow",
            "parties": [f"当事人{i:02d}" + "某某农业专业合作社联合体" * 3 for i in range(50)],
            "reported_by": "wangfang", "reported_at": "2026-01-05T09:00:00+08:00"}, author="wangfang")
    finally:
        st.close()
    progress_notes(db, "case-long", 45, "进展：村委会组织双方现场核对边界。",
                   lambda i: f"2026-{1 + i // 5:02d}-{1 + i % 5 * 5:02d}T10:00:00+08:00")
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "long").start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)
        tap_until(app, "住户", "孙大家", role="tab")
        tap_until(app, "孙大家", "家庭成员")
        height = app.page.viewport_size["height"]
        box = app.button("记录走访").bounding_box()
        assert box is not None and box["y"] + box["height"] <= height, box   # on the first screen
        app.tap("返回")
        tap_until(app, "案件", "本网格", role="tab")
        app.tap("本网格", role="checkbox")
        tap_until(app, "土地承包纠纷", "情况描述")
        app.shows("两组村民因承包地边界发生纠纷")        # not behind fifty parties
        # the newest twenty: progress entries 26 to 45; before them the report and 25 more
        scroll_to(app, "显示更早的 26 条记录", 300)
        app.shows("第26次进展")
        assert "第25次进展" not in app.snapshot()
        app.shot("case-long-timeline")
        app.tap("显示更早的 26 条记录")
        scroll_to(app, "第1次进展", -300)
    finally:
        phone.stop()


def test_a_phone_signed_out_by_the_server_signs_in_again_and_sends_what_waited(township, tmp_path, browser):
    """The office revoked the phone while a visit waited on it: 退出登录 is refused while
    anything is unsent, and there was no other way to sign in again (the visit never
    left the phone). The bar now offers 重新登录, for the same account, keeping the work."""
    import subprocess
    import sys
    server, db = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "revoked", sync_every_s=600).start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)
        assert "重新登录" not in app.aria()
        r = subprocess.run([sys.executable, "-m", "township", "user", "revoke", "wangfang", "--db", db],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "revoked 1" in r.stdout, r.stdout + r.stderr
        app.tap("住户", role="tab")
        app.tap("张建国")
        app.tap("记录走访")
        app.fix("精度 ±9 米")
        app.type("看到的情况", "注销后记录的走访，不能丢")
        app.tap("保存")
        app.text("登录已失效，请重新登录", timeout_s=60)    # the sync after the save was refused
        app.tap("重新登录")
        app.shows("本机还有")                                 # what waits is said to be kept
        login = app.page.get_by_role("button", name="登录", exact=True)
        app.type("密码", "not-the-password")
        app.mark()
        login.click()
        app.shows("用户名或密码错误")
        app.type("密码", PW, replace=True)
        app.mark()
        login.click()
        app.text("已全部同步", timeout_s=FIRST_SYNC_S)       # the visit went out under the new sign-in
        app.shot("worker-signed-in-again")
        assert query(db, "SELECT visitor FROM visits WHERE seen=?", ("注销后记录的走访，不能丢",)) == [
            {"visitor": "wangfang"}]
    finally:
        phone.stop()
