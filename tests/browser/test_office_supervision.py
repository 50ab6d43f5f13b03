"""The leader supervision ledger (督办) with a year of leader-owned matters: the ones being
worked first, leader by leader, a page at a time, narrowed by words, by a chip and by a
leader. (All of them, finished too, each with its latest progress, took seconds to draw
again on every phone's sync.)"""

from __future__ import annotations

import pytest

from sync.server.central import CentralStore

from .conftest import PW, seed
from .harness import DESKTOP, server_process

WORKING = 130


def matter(n: int, title: str, owner: str, status: str, deadline: str, **more) -> dict:
    return {"grid_id": "bh-01", "kind": "petition", "channel": "visit", "category": "10", "title": title,
            "description": f"{title}：群众反映情况。", "parties": [f"当事人{n}"], "status": status, "risk": "yellow",
            "reported_by": "xinfang", "reported_at": "2026-03-01T09:30:00+08:00", "received_on": "2026-03-01",
            "accepted_on": "2026-03-02", "owner": owner, "deadline": deadline, **more}


@pytest.fixture
def township(tmp_path):
    db = str(tmp_path / "township.db")
    seed(db)
    st = CentralStore(db)
    st.add_account("zhangmin", "张敏", "leader", PW)
    for n in range(WORKING):     # deadlines from next year on: none overdue
        st.server_write("case", f"case-w{n:03d}", matter(n, f"包案事项{n:03d}", "lizhen", "assigned",
                                                          f"2027-{n % 12 + 1:02d}-{n % 28 + 1:02d}"), author="xinfang")
    for n in range(5):
        st.server_write("case", f"case-f{n}", matter(n, f"已办结事项{n}", "lizhen", "resolved", "2026-05-01",
                                                     resolved_on="2026-04-20", outcome="mediation", method="调解"),
                        author="xinfang")
    st.server_write("case", "case-late", matter(900, "张敏包案的事项", "zhangmin", "in_progress", "2026-05-01"),
                    author="xinfang")
    st.close()
    server = server_process(db, tmp_path).start()
    yield server, db
    server.stop()


def test_the_supervision_ledger_pages_and_narrows_a_year_of_leader_owned_matters(township, browser):
    server, _ = township
    clerk = browser(server.url + "/", viewport=DESKTOP)
    clerk.sign_in("xinfang", PW)
    clerk.tab("台账").wait_for(timeout=60_000)
    clerk.open_tab("督办")
    clerk.shows(f"共 {WORKING + 1} 件")              # the matters being worked, both leaders'
    clerk.shows("张敏（1，1 件超期）")
    clerk.shows(f"李振华（{WORKING}）")
    clerk.shows("张敏包案的事项")
    clerk.shot("office-supervision-long")
    clerk.tap("加载更多")                              # the second page is the last
    clerk.gone("加载更多")
    clerk.shows(f"共 {WORKING + 1} 件")

    clerk.type("搜索", "包案事项129")
    clerk.shows("共 1 件")
    clerk.shows("包案事项129")
    clerk.type("搜索", "已办结事项", replace=True)
    clerk.shows("没有符合条件的包案事项。")            # finished ones wait behind their chip
    clerk.tap("全部（含已办结）", role="checkbox")
    clerk.shows("共 5 件")
    clerk.shows("已办结事项4")
    clerk.type("搜索", "事项", replace=True)          # every one of them, finished too
    clerk.shows(f"共 {WORKING + 6} 件")

    clerk.tap("已超期", role="checkbox")
    clerk.shows("共 1 件")
    clerk.shows("张敏包案的事项")
    clerk.tap("在办", role="checkbox")
    clerk.tap("包案领导")
    clerk.mark()
    clerk.page.get_by_role("button", name="张敏", exact=True).click()   # the option, not her matter
    clerk.shows("共 1 件")
    clerk.gone("李振华（")
    clerk.shot("office-supervision-one-leader")

    clerk.open_tab("台账")                              # the choice stays while the clerk works elsewhere
    clerk.shows("共 ")
    clerk.open_tab("督办")
    clerk.shows("张敏（1，1 件超期）")
    clerk.gone("李振华（")
