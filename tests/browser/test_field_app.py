"""The field app in Debian's Chromium, against a real township server and a real app
instance on loopback, at phone size, through the accessibility tree."""

import pytest

from sync.client import SyncClient
from sync.device import DeviceReplica

from .conftest import HOME, PW, query
from .harness import AppPage, app_process

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
