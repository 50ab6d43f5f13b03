"""The field app in Debian's Chromium, against a real township server and a real app
instance on loopback, at phone size, through the accessibility tree."""

import pytest

from sync.client import SyncClient
from sync.device import DeviceReplica

from .conftest import HOME, PW, query
from .harness import ROOT, AppPage, app_process

GPS = {"latitude": HOME[0] + 0.0003, "longitude": HOME[1] + 0.0002, "accuracy": 9}


def sign_in(app: AppPage, username: str) -> None:
    app.type("用户名", username)
    app.type("密码", PW)
    app.tap("登录")


def test_worker_records_offline_and_the_app_syncs_when_the_server_returns(
        township, tmp_path, browser):
    server, db = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "worker").start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "wangfang")
        app.text("已全部同步")
        app.tap("住户", role="tab")
        app.text("张建国")

        server.stop()  # no signal on the hillside from here on
        app.tap("张建国")
        app.text("身份证号")
        app.text("3307**********4417")   # masked on screen
        app.tap("记录走访")
        app.text("精度 ±9 米")            # the mocked GPS fix, with its accuracy
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
        app.text("精度 ±9 米")
        app.tap("保存")
        app.text("已上报，待同步")
        app.text("待同步 2")
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


def office_assigns(server_url: str, tmp_path, case_id: str, leader: str) -> None:
    """The office, through the real sync API, names the owning leader of a case."""
    office = DeviceReplica(str(tmp_path / "office.db"))
    client = SyncClient(office, server_url)
    client.login("xinfang", PW)
    client.pull()
    office.update("case", case_id, {"owner": leader, "status": "assigned", "deadline": "2027-01-19",
                                    "departments": ["人社所", "司法所"]}, "xinfang")
    report = client.push()
    assert report.pushed == 1 and office.pending_count() == 0


def test_case_assigned_to_a_leader_reaches_the_phone_and_the_home_visit_reaches_the_server(
        township, tmp_path, browser):
    server, db = township
    phone = app_process(str(tmp_path / "leader-phone"), server.url, tmp_path, "leader").start()
    try:
        app = browser(phone.url, GPS)
        sign_in(app, "lizhen")
        app.text("目前没有您包案的案件")
        app.text("已全部同步")

        office_assigns(server.url, tmp_path, "case-wage", "lizhen")
        app.text("拖欠农民工工资", timeout_s=60)   # the next sync brings it; nobody presses
        app.shot("leader-my-cases")
        app.tap("拖欠农民工工资")
        app.text("人社所、司法所会商")            # the timeline came whole, from before
        app.text("剩 ")                            # the deadline, counted down
        app.shot("leader-case-detail")
        app.tap("记录下访")
        app.text("精度 ±9 米")
        app.type("看到的情况", "赵师傅表示同意分期支付，情绪稳定")
        app.tap("保存")
        app.text("已保存，待同步")
        app.tap("记录进展")
        app.type("进展情况", "已协调企业垫付第一期工资")
        app.tap("保存", role="button")
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
        app.text("已全部同步")
        app.text("张建国")
        app.shot("02-today")
        app.tap("住户", role="tab")
        app.text("李秀英")
        app.shot("03-households")
        app.tap("李秀英")
        app.text("138****1234")        # phone masked
        app.shot("04-household")
        app.tap("记录走访")
        app.text("精度 ±9 米")
        app.shot("05-visit-form")
        app.tap("返回")
        app.tap("返回")
        app.tap("案件", role="tab")
        app.tap("本网格", role="checkbox")
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
