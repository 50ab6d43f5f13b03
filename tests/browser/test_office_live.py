"""The office keeps up with the phones: a leader's progress recorded on a phone reaches
the open supervision ledger by itself (no reload), and stays after a reload."""

from __future__ import annotations

from sync.client import SyncClient
from sync.device import DeviceReplica
from sync.workspace import DeviceWorkspace

from .conftest import PW
from .harness import DESKTOP


def phone_of(server_url: str, tmp_path, user: str):
    replica = DeviceReplica(str(tmp_path / f"{user}.db"))
    client = SyncClient(replica, server_url)
    account = client.login(user, PW)
    client.sync()
    return DeviceWorkspace(replica, account), client


def sign_in(app) -> None:
    app.sign_in("xinfang", PW)
    app.tab("台账").wait_for(timeout=60_000)


def test_a_leaders_progress_reaches_the_open_supervision_ledger_by_itself(township, browser, tmp_path):
    server, db = township
    office, office_client = phone_of(server.url, tmp_path, "xinfang")
    office.update("case", "case-wage", {"status": "assigned", "owner": "lizhen", "plan": "先行垫付部分工资"})
    assert office_client.sync().pushed == 1
    leader, leader_client = phone_of(server.url, tmp_path, "lizhen")

    clerk = browser(server.url + "/", viewport=DESKTOP)
    sign_in(clerk)
    clerk.open_tab("督办")
    clerk.shows("拖欠农民工工资")
    assert "已与建材厂约定月底前付清" not in clerk.aria()

    leader.add_progress("case-wage", "已与建材厂约定月底前付清")
    assert leader_client.sync().pushed == 2        # the progress, and the matter now in progress
    clerk.shows("已与建材厂约定月底前付清", timeout_s=60)   # drawn again by itself
    clerk.shows("办理中")
    clerk.shows("同步到达")                          # and it says what arrived
    clerk.shot("office-live-supervision")

    clerk.reload()                                   # the clerk's own tab comes back signed in
    clerk.open_tab("督办")
    clerk.shows("已与建材厂约定月底前付清")
