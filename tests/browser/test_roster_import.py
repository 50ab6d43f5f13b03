"""The office's 导入 tab in Chromium: the clerk downloads the template, gives the file
picker a roster built to hurt, reads the preview (counts, and every refused row with
its reason), imports it, and downloads the report; the households are in the store."""

from __future__ import annotations

import io

import openpyxl

import roster_files as rf
from sync.server.central import CentralStore

from .conftest import PW, query
from .harness import DESKTOP
from .test_office_crawl import sign_in


def download(app, button: str) -> bytes:
    with app.page.expect_download(timeout=90_000) as got:
        app.tap(button)
    with open(got.value.path(), "rb") as f:
        return f.read()


def test_the_clerk_imports_a_roster_through_the_file_picker(township, browser, tmp_path):
    server, db = township
    st = CentralStore(db)   # the roster's second village (the township has 白鹤村第1网格 already)
    st.add_grid("g2", "高山村第1网格", "高山村", "金山镇")
    st.close()
    src = tmp_path / "白鹤村花名册.xlsx"
    src.write_bytes(rf.hurtful_xlsx())

    app = browser(server.url + "/", viewport=DESKTOP)
    sign_in(app, "xinfang", PW)
    app.open_tab("导入")
    app.shows("导入住户花名册")
    app.page.wait_for_timeout(800)

    template = openpyxl.load_workbook(io.BytesIO(download(app, "下载模板")))
    assert [c.value for c in template.active[1]][:3] == ["户号", "户主姓名", "身份证号"]

    with app.page.expect_file_chooser(timeout=60_000) as chooser:
        app.tap("选择花名册文件")
    chooser.value.set_files(str(src))
    app.shows("检查结果：白鹤村花名册.xlsx", timeout_s=90)
    app.shows("共 13 行：可新增 3 户，将更新 0 户，无变化 0 户，拒收 10 行")
    app.shows("第6行")
    app.shows("校验位不符")
    app.shows("与第4行完全相同")
    app.shows("联系电话是公式")
    app.shows("住址是错误值 #N/A")
    app.shot("roster-preview")
    # nothing is written by looking
    assert query(db, "SELECT count(*) AS n FROM households WHERE head_name IN ('李秀英', '陈桂兰')"
                     " AND id_number IS NOT NULL AND grid_id='g2'")[0]["n"] == 0

    app.tap("确认导入")
    app.shows("已导入 白鹤村花名册.xlsx：新增 3 户", timeout_s=90)
    app.shot("roster-imported")
    got = {r["head_name"]: r for r in query(db, "SELECT head_name, grid_id, id_number FROM households"
                                                " WHERE id_number IN (?,?,?)", (rf.ID_ZHANG, rf.ID_LI, rf.ID_CHEN))}
    assert {k: v["grid_id"] for k, v in got.items()} == {"张建国": "bh-01", "李秀英": "g2", "陈桂兰": "bh-01"}

    report = openpyxl.load_workbook(io.BytesIO(download(app, "下载导入报告")))
    refused = list(report["拒收行"].iter_rows(values_only=True))
    assert {r[0] for r in refused[1:]} == set(rf.EXPECT_REFUSED)
    assert query(db, "SELECT count(*) AS n FROM audit WHERE action='household_import' AND username='xinfang'")[0]["n"] == 1

    # the corrected roster: the preview names the one change, the import adds no one twice
    fixed = tmp_path / "白鹤村花名册（更正）.xlsx"
    fixed.write_bytes(rf.hurtful_xlsx(corrected=True))
    with app.page.expect_file_chooser(timeout=60_000) as chooser:
        app.tap("选择花名册文件")
    chooser.value.set_files(str(fixed))
    app.shows("共 6 行：可新增 3 户，将更新 1 户，无变化 2 户，拒收 0 行", timeout_s=90)
    app.shows("联系电话：13857901234 → 13900001111")
    app.shot("roster-reimport-preview")
    app.tap("确认导入")
    app.shows("新增 3 户，更新 1 户，无变化 2 户", timeout_s=90)
    rows = query(db, "SELECT phone FROM households WHERE id_number=?", (rf.ID_ZHANG,))
    assert rows == [{"phone": "13900001111"}]
