"""Importing a household roster (issue 9): a roster built to hurt, read through the real
command (`gridbook household import`) into a real store; its report opened with
openpyxl as Excel would; a corrected second import; CSV in GB18030 and with a BOM; the
rules of sync/roster_rules.py on their own."""

from __future__ import annotations

import json
import os
import sqlite3

import openpyxl
import pytest

import roster_files as rf
from sync import roster_rules as rr
from sync.access import Principal
from sync.server import roster
from sync.server.central import SERVER_DEVICE, CentralStore
from sync.server.cli import main


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "township.db")
    st = CentralStore(path)
    for gid, name, village in rf.GRIDS:
        st.add_grid(gid, name, village, "金山镇")
    st.close()
    return path


def run(capsys, *args) -> tuple[int, dict | None, str]:
    code = main(["household", "import", *args])
    out, err = capsys.readouterr()
    lines = [x for x in out.splitlines() if x.strip()]
    return code, (json.loads(lines[0]) if lines else None), err + ("" if len(lines) <= 1 else f"\nextra: {lines}")


def households(db: str) -> dict[str, dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return {r["head_name"]: dict(r) for r in conn.execute("SELECT * FROM households")}
    finally:
        conn.close()


def sheet(path, name) -> list[tuple]:
    wb = openpyxl.load_workbook(path)
    return list(wb[name].iter_rows(values_only=True))


def test_a_roster_built_to_hurt_imports_its_good_rows_and_reports_every_bad_one(db, tmp_path, capsys):
    src = tmp_path / "白鹤村花名册.xlsx"
    src.write_bytes(rf.hurtful_xlsx())
    report = tmp_path / "拒收行.xlsx"
    code, counts, err = run(capsys, str(src), "--db", db, "--report", str(report))
    assert code == 0, err
    assert counts == {"rows": 13, "imported": 3, "updated": 0, "refused": 10, "unchanged": 0,
                      "skipped": rf.EXPECT_SKIPPED}
    stored = households(db)
    assert set(stored) == set(rf.EXPECT_IMPORTED.values())
    zhang = stored["张建国"]
    assert (zhang["grid_id"], zhang["id_number"], zhang["phone"], zhang["hh_number"]) == (
        "g1", rf.ID_ZHANG, "13857901234", "BH-001")
    assert json.loads(zhang["members"]) == [{"name": "李秀英", "relation": "配偶"}, {"name": "张伟", "relation": "子"}]
    assert json.loads(zhang["tags"]) == ["elderly_alone"]
    assert stored["李秀英"]["grid_id"] == "g2" and stored["李秀英"]["phone"] == "0579-82345678"
    assert sorted(json.loads(stored["陈桂兰"]["tags"])) == ["elderly_alone", "poverty_by_illness"]

    # the report: every refused row with the row number Excel shows, its values and its reasons
    assert oct(os.stat(report).st_mode & 0o777) == "0o600"
    rows = sheet(report, "拒收行")
    head = rows[0]
    assert head[0] == "行号" and head[-1] == "拒收原因" and "身份证号" in head and "户主姓名" in head
    by_row = {r[0]: r for r in rows[1:]}
    assert set(by_row) == set(rf.EXPECT_REFUSED)
    for number, why in rf.EXPECT_REFUSED.items():
        assert why in by_row[number][-1], (number, by_row[number][-1])
    # the check digit the number should have is named, and the row's values are kept
    assert f"最后一位应为{rf.make_id('19700101', 345)[-1]}" in by_row[6][-1]
    assert rf.ID_BAD_CHECK in by_row[6]
    assert "1990-02-30" in by_row[7][-1]
    # the formula is kept as text in the report: opening it runs nothing
    wb = openpyxl.load_workbook(report)
    formula_cells = [c for row in wb["拒收行"].iter_rows() for c in row
                     if isinstance(c.value, str) and c.value.startswith("=HYPERLINK")]
    assert formula_cells and all(c.data_type == "s" for c in formula_cells)
    # a row with two problems says both
    assert "青山村" in by_row[17][-1] and "网格未填写" in by_row[17][-1]
    made = sheet(report, "导入结果")
    assert {(r[0], r[1], r[2]) for r in made[1:]} == {(4, "新增", "张建国"), (5, "新增", "李秀英"),
                                                      (13, "新增", "陈桂兰")}


def test_a_corrected_roster_updates_changed_fields_and_never_duplicates(db, tmp_path, capsys):
    first = tmp_path / "第一次.xlsx"
    first.write_bytes(rf.hurtful_xlsx())
    assert run(capsys, str(first), "--db", db)[0] == 0
    before = households(db)
    second = tmp_path / "更正后.xlsx"
    second.write_bytes(rf.hurtful_xlsx(corrected=True))
    report = tmp_path / "report.xlsx"
    code, counts, err = run(capsys, str(second), "--db", db, "--report", str(report))
    assert code == 0, err
    # 张建国's phone changed; 李秀英 and 陈桂兰 unchanged; three rows corrected come in new
    assert counts == {"rows": 6, "imported": 3, "updated": 1, "refused": 0, "unchanged": 2, "skipped": 0}
    after = households(db)
    assert len(after) == 6 and set(before) < set(after)
    assert after["张建国"]["id"] == before["张建国"]["id"] and after["张建国"]["phone"] == "13900001111"
    assert after["李秀英"] == before["李秀英"]
    # the update is an ordinary change of the one field that changed
    conn = sqlite3.connect(db)
    bodies = [json.loads(b) for (b,) in conn.execute(
        "SELECT body FROM changes WHERE entity='household' AND record=? ORDER BY rowid", (after["张建国"]["id"],))]
    conn.close()
    assert len(bodies) == 2 and bodies[1]["fields"] == {"phone": "13900001111"} and bodies[1]["base"]["phone"]
    changed = sheet(report, "导入结果")
    assert (4, "更新", "张建国", "联系电话", "13857901234", "13900001111") in changed
    # a third import of the same file changes nothing at all
    code, counts, _ = run(capsys, str(second), "--db", db)
    assert counts["imported"] == counts["updated"] == 0 and counts["unchanged"] == 6


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_gb18030_or_utf8_with_or_without_bom(db, tmp_path, capsys, encoding):
    src = tmp_path / "roster.csv"
    src.write_bytes(rf.roster_csv(encoding))
    report = tmp_path / "r.xlsx"
    code, counts, err = run(capsys, str(src), "--db", db, "--report", str(report))
    assert code == 0, err
    assert (counts["rows"], counts["imported"], counts["refused"]) == (3, 2, 1)
    stored = households(db)
    assert stored["郑国强"]["address"] == "金山镇白鹤村7组1号" and stored["冯秀兰"]["grid_id"] == "g2"
    assert json.loads(stored["郑国强"]["tags"]) == ["disability"]
    refused = sheet(report, "拒收行")
    assert refused[1][0] == 4 and "褚小明" in refused[1] and "校验位" in refused[1][-1]


def test_dry_run_checks_and_reports_but_writes_nothing(db, tmp_path, capsys):
    src = tmp_path / "h.xlsx"
    src.write_bytes(rf.hurtful_xlsx())
    report = tmp_path / "r.xlsx"
    code, counts, _ = run(capsys, str(src), "--db", db, "--dry-run", "--report", str(report))
    assert code == 0 and (counts["imported"], counts["refused"]) == (3, 10)
    assert households(db) == {}
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM changes WHERE entity='household'").fetchone()[0] == 0
    conn.close()
    assert len(sheet(report, "拒收行")) == 11 and ("试运行", "未写入任何数据") in sheet(report, "汇总")


def test_a_roster_without_numbers_matches_by_head_and_address_on_reimport(db, tmp_path, capsys):
    src = tmp_path / "no-numbers.csv"
    src.write_text("户主姓名,住址,网格,电话\n赵一,金山镇白鹤村1组1号,g1,13857908001\n"
                   "钱二,金山镇白鹤村1组2号,g1,13857908002\n", encoding="utf-8")
    assert run(capsys, str(src), "--db", db)[1]["imported"] == 2
    src.write_text("户主姓名,住址,网格,电话\n赵一,金山镇白鹤村1组1号,g1,13857908009\n"
                   "钱二,金山镇白鹤村1组2号,g1,13857908002\n", encoding="utf-8")
    counts = run(capsys, str(src), "--db", db)[1]
    assert (counts["imported"], counts["updated"], counts["unchanged"]) == (0, 1, 1)
    assert len(households(db)) == 2 and households(db)["赵一"]["phone"] == "13857908009"
    # the same head at the same address twice in one file: the second is refused
    src.write_text("户主姓名,住址,网格,电话\n孙三,金山镇白鹤村1组3号,g1,13857908003\n"
                   "孙三,金山镇白鹤村1组 3号,g1,13857908004\n", encoding="utf-8")
    counts = run(capsys, str(src), "--db", db)[1]
    assert (counts["imported"], counts["refused"]) == (1, 1)


def test_a_field_rule_broken_is_said_alike_in_a_dry_run_and_in_the_import(db):
    """Lengths and characters are the registry's own rules: a dry run checks them here,
    an import through the write's admission; the row gets the same words either way."""
    st = CentralStore(db)
    data = ("户主姓名,住址,网格\n" + "欧" * 41 + ",金山镇白鹤村1组1号,g1\n赵三,金山镇白鹤村1组3号,g1\n").encode()
    clerk = Principal("xinfang", "office", frozenset(), SERVER_DEVICE)
    dry = roster.import_roster(st, clerk, data, "long.csv", dry_run=True)
    real = roster.import_roster(st, clerk, data, "long.csv")
    assert [c.reasons for c in dry.refused] == [c.reasons for c in real.refused] == [["户主姓名：最多40个字符"]]
    assert (dry.imported, real.imported) == (1, 1) and st.count("household") == 1


def test_rows_naming_no_grid_take_the_one_given(db, tmp_path, capsys):
    src = tmp_path / "no-grid.csv"
    src.write_text("户主姓名,住址,电话\n赵一,金山镇白鹤村1组1号,13857908001\n", encoding="utf-8")
    code, counts, _ = run(capsys, str(src), "--db", db)
    assert counts["refused"] == 1
    code, counts, _ = run(capsys, str(src), "--db", db, "--grid", "g1")
    assert counts["imported"] == 1 and households(db)["赵一"]["grid_id"] == "g1"
    src.write_text("户主姓名,电话,网格\n赵二,13857908001,g1\n", encoding="utf-8")
    code, counts, _ = run(capsys, str(src), "--db", db)
    assert counts["refused"] == 1
    code, counts, err = run(capsys, str(src), "--db", db, "--grid", "nope")
    assert code != 0 and "no grid nope" in err and counts is None


@pytest.mark.parametrize("name,data,why", [
    ("broken.xlsx", b"PK\x03\x04 not really a zip", "not a readable .xlsx"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel file (.xls)"),
    ("nohead.csv", "甲,乙\n1,2\n".encode(), "no header row"),
    ("binary.csv", bytes(range(256)) * 4, "neither an .xlsx"),
    ("bom.csv", b"\xef\xbb\xbf\xff\xfe\xfd", "neither an .xlsx"),
])
def test_a_file_that_cannot_be_read_at_all_exits_non_zero_with_a_clear_message(db, tmp_path, capsys, name, data,
                                                                                 why):
    src = tmp_path / name
    src.write_bytes(data)
    code, counts, err = run(capsys, str(src), "--db", db)
    assert code != 0 and counts is None and why in err


def test_a_missing_file_exits_non_zero(db, tmp_path, capsys):
    code, counts, err = run(capsys, str(tmp_path / "nowhere.xlsx"), "--db", db)
    assert code != 0 and counts is None and "cannot read" in err


def test_a_report_that_cannot_be_written_is_said_before_anything_is_imported(db, tmp_path, capsys):
    src = tmp_path / "h.xlsx"
    src.write_bytes(rf.hurtful_xlsx())
    code, counts, err = run(capsys, str(src), "--db", db, "--report", str(tmp_path / "no-such-folder" / "r.xlsx"))
    assert code != 0 and counts is None and "cannot write the report" in err and households(db) == {}


def test_the_import_is_audited_with_counts_and_no_personal_data(db, tmp_path, capsys):
    src = tmp_path / "花名册.xlsx"
    src.write_bytes(rf.hurtful_xlsx())
    run(capsys, str(src), "--db", db)
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT username, action, detail FROM audit WHERE action='household_import'").fetchall()
    conn.close()
    assert len(rows) == 1
    who, _, detail = rows[0]
    assert who == "system" and "花名册.xlsx" in detail and "imported=3" in detail and "refused=10" in detail
    for private in (rf.ID_ZHANG, "张建国", "13857901234", "白鹤村3组"):
        assert private not in detail


def test_the_clerk_writes_through_the_write_rules(db):
    """The office's import writes as the signed-in person: a grid worker (were one to
    call it) may not put households into another grid, and those rows are refused with
    the rule's words; their own grid's rows go in."""
    st = CentralStore(db)
    worker = Principal("wangfang", "grid_worker", frozenset({"g1"}), SERVER_DEVICE)
    out = roster.import_roster(st, worker, rf.hurtful_xlsx(), "h.xlsx")
    assert out.imported == 2   # 张建国 and 陈桂兰 of g1
    refused = {c.row: c.reasons for c in out.refused}
    assert any("超出账号wangfang的权限范围" in r for r in refused[5])
    clerk = Principal("xinfang", "office", frozenset(), SERVER_DEVICE)
    out = roster.import_roster(st, clerk, rf.hurtful_xlsx(), "h.xlsx")
    assert (out.imported, out.unchanged) == (1, 2)
    authors = {r[0] for r in st.conn.execute("SELECT author FROM changes WHERE entity='household'")}
    assert authors == {"wangfang", "xinfang"}


def test_the_roster_is_the_first_sheet_with_a_header(db, tmp_path, capsys):
    wb = openpyxl.load_workbook(__import__("io").BytesIO(rf.hurtful_xlsx()))
    notes = wb.create_sheet("填表说明", 0)
    notes["A1"] = "身份证号请设为文本格式"
    buf = __import__("io").BytesIO()
    wb.save(buf)
    src = tmp_path / "two-sheets.xlsx"
    src.write_bytes(buf.getvalue())
    code, counts, _ = run(capsys, str(src), "--db", db)
    assert (counts["imported"], counts["refused"]) == (3, 10)


def test_the_template_has_the_chinese_headers_and_imports_as_it_is(db, tmp_path, capsys):
    data = roster.template_bytes()
    wb = openpyxl.load_workbook(__import__("io").BytesIO(data))
    assert [c.value for c in wb.active[1]] == list(rr.TEMPLATE)
    src = tmp_path / "模板.xlsx"
    src.write_bytes(data)
    code, counts, _ = run(capsys, str(src), "--db", db)
    assert counts["imported"] == 1 and households(db)["张建国"]["grid_id"] == "g1"


def test_an_xlsx_whose_markup_has_prefixed_names_reads_the_same():
    """Some writers (.NET libraries) name every element x:row, x:c …: the XML parser
    reads those; every other file is read by the quicker scan. Both give the same."""
    import re
    import zipfile
    plain = rf.hurtful_xlsx()
    buf = __import__("io").BytesIO()
    with zipfile.ZipFile(__import__("io").BytesIO(plain)) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(r"<(/?)([A-Za-z]+)([ />])", r"<\1x:\2\3", text)
                text = text.replace('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                                    'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
                assert "<row" not in text and "<x:row" in text
                data = text.encode()
            dst.writestr(item, data)
    a, b = roster.read_table(plain, "a.xlsx"), roster.read_table(buf.getvalue(), "b.xlsx")
    assert a.rows == b.rows and a.numbers == b.numbers and a.numeric == b.numeric
    assert any(isinstance(v, rr.Bad) and v.kind == "formula" for row in b.rows for v in row)


# --- the rules alone ------------------------------------------------------------------

def test_headers_are_matched_by_name_with_their_variants_in_any_order():
    rows = [["说明：本表由村委会填写"],
            ["序号", "手机号", "地址", "公民身份号码", "户主", "所属网格", "村（社区）", "重点人群", "籍贯"],
            [1, "13857901234", "白鹤村1组", "x", "张三", "g1", "白鹤村", "低保", "浙江"]]
    h = rr.find_header(rows)
    assert h.rows == (1,) and h.first_data == 2
    assert h.columns == {1: "phone", 2: "address", 3: "id_number", 4: "head_name", 5: "grid", 6: "village",
                         7: "tags"}
    assert h.unused == ["籍贯"]
    for variant in ("户主姓名", "户主 姓名*", "身份证号码", "身份证号(必填)", "联系电话", "家庭住址", "村(社区)"):
        assert rr.field_of(variant) is not None, variant
    assert rr.find_header([["甲", "乙"], ["1", "2"]]) is None


def test_a_header_over_two_rows_is_read_as_one():
    rows = [["户主信息", "户主信息", "住址"], ["姓名", "身份证号", "住址"], ["张三", "x", "y"]]
    h = rr.find_header(rows)
    assert h.first_data == 2 and set(h.columns.values()) == {"head_name", "id_number", "address"}
    # the group name joins its column's name: 户主 over 电话 is the head's phone
    rows = [["户主", "户主", "地址"], ["姓名", "电话", None], ["张三", "1", "y"]]
    assert set(rr.find_header(rows).columns.values()) == {"head_name", "phone", "address"}


def test_members_are_read_as_written():
    assert rr.parse_members("李秀英（配偶）、张伟(子)，王芳 女儿") == (
        [{"name": "李秀英", "relation": "配偶"}, {"name": "张伟", "relation": "子"},
         {"name": "王芳", "relation": "女儿"}], [])
    assert rr.parse_members("张三（子）、这不是一个人名而是一段很长很长的说明文字共计超过二十个字")[1]


def test_an_id_number_excel_turned_into_a_number_is_refused_for_what_it_is():
    grids = rr.Grids.of([{"id": "g1", "name": "白鹤村第1网格", "village": "白鹤村"}])
    got = rr.check_row(5, {"head_name": "张三", "address": "白鹤村1组", "id_number": 330702195803124000,
                           "grid": "g1"}, grids, numeric_id=True)
    assert got.row == 5 and any("存成了数字" in r for r in got.reasons)


def test_a_village_with_one_grid_names_it():
    grids = rr.Grids.of([{"id": "g1", "name": "白鹤村第1网格", "village": "白鹤村"},
                         {"id": "g2", "name": "高山村第1网格", "village": "高山村"},
                         {"id": "g3", "name": "高山村第2网格", "village": "高山村"}])
    got = rr.check_row(2, {"head_name": "张三", "address": "白鹤村1组", "village": "白鹤村"}, grids)
    assert got.fields["grid_id"] == "g1" and not got.reasons
    got = rr.check_row(2, {"head_name": "张三", "address": "高山村1组", "village": "高山村"}, grids)
    assert any("有多个网格" in r for r in got.reasons)
    got = rr.check_row(2, {"head_name": "张三", "address": "高山村1组", "village": "白鹤村", "grid": "g2"}, grids)
    assert any("不属于" in r for r in got.reasons)
    got = rr.check_row(2, {"head_name": "张三", "grid": "g1"}, grids)   # a roster with no address column
    assert got.reasons == ["花名册中没有“住址”列"]


def test_differences_keep_what_the_roster_does_not_say():
    before = {"phone": "1", "members": [{"name": "李秀英", "relation": "配偶", "id_number": "330702196207051125"}],
              "tags": ["dibao", "elderly_alone"]}
    assert rr.differences(before, {"phone": "1", "tags": ["elderly_alone", "dibao"],
                                   "members": [{"name": "李秀英", "relation": "配偶"}]}) == {}
    diff = rr.differences(before, {"members": [{"name": "李秀英", "relation": "妻"}]})
    assert diff == {"members": [{"name": "李秀英", "relation": "妻", "id_number": "330702196207051125"}]}


def test_a_roster_pasted_with_zero_width_spaces_imports_the_names_as_they_read(db, tmp_path, capsys):
    """Cells copied from a chat or a web page carry zero-width spaces and marks: imported
    as they were, 郑国强 would be a name no search for 郑国强 finds."""
    rows = [[c.replace("郑国强", "郑国\u200b强").replace("金山镇白鹤村7组1号", "\u200e金山镇白鹤村7组1号\ufeff")
             for c in r] for r in rf.CSV_ROWS]
    src = tmp_path / "pasted.csv"
    src.write_bytes("\r\n".join([",".join(rf.CSV_HEADER)] + [",".join(r) for r in rows] + [""]).encode("utf-8"))
    code, counts, err = run(capsys, str(src), "--db", db)
    assert code == 0, err
    assert counts["imported"] == 2
    assert households(db)["郑国强"]["address"] == "金山镇白鹤村7组1号"


# --- from a probe of the registry (eleventh session) -------------------------------------

def _csv(tmp_path, name: str, rows: list[tuple], header=("户主", "身份证号码", "家庭住址", "网格", "家庭成员")):
    path = tmp_path / name
    path.write_bytes("\r\n".join([",".join(header)] + [",".join(r) for r in rows] + [""]).encode("utf-8"))
    return str(path)


def _count(db: str, head: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM households WHERE head_name=?", (head,)).fetchone()[0]
    finally:
        conn.close()


def test_a_family_listed_with_and_without_its_number_is_one_household_and_stays_one(db, tmp_path, capsys):
    """Listed twice, once with the ID number and once without: two households, and one
    more at every import of the same file (three imports, four 张建国)."""
    src = _csv(tmp_path, "twice.csv", [("张建国", rf.ID_ZHANG, "金山镇白鹤村3组12号", "白鹤村第1网格", ""),
                                       ("张建国", "", "金山镇白鹤村3组12号", "白鹤村第1网格", "")])
    code, counts, err = run(capsys, src, "--db", db)
    assert code == 0, err
    assert (counts["imported"], counts["refused"]) == (1, 1)
    for _ in range(2):
        run(capsys, src, "--db", db)
    assert _count(db, "张建国") == 1


def test_two_registered_at_one_place_are_told_apart_or_said_never_copied_again(db, tmp_path, capsys):
    st = CentralStore(db)
    for n in (1, 2):   # two households at one place, as a field registration and an office one made them
        st.server_write("household", f"h{n}", {"grid_id": "g1", "head_name": "王五", "address": "白鹤村1组1号"})
    st.close()
    src = _csv(tmp_path, "one.csv", [("王五", "", "白鹤村1组1号", "白鹤村第1网格", "")])
    code, counts, _ = run(capsys, src, "--db", db)
    assert (counts["imported"], counts["refused"]) == (0, 1) and _count(db, "王五") == 2


def test_a_household_imported_is_due_for_its_first_visit_the_day_it_is_registered(db, tmp_path, capsys):
    import datetime as dt
    src = _csv(tmp_path, "new.csv", [("李秀英", rf.ID_LI, "金山镇高山村7组2号", "高山村第1网格", "")])
    run(capsys, src, "--db", db)
    hh = households(db)["李秀英"]
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    assert (hh["status"], hh["next_visit_due"]) == ("active", today)


def test_members_written_with_spaces_between_them_are_read_one_by_one(db, tmp_path, capsys):
    src = _csv(tmp_path, "members.csv", [("张建国", rf.ID_ZHANG, "金山镇白鹤村3组12号", "白鹤村第1网格",
                                         "李秀英（配偶） 张伟（子）")])
    run(capsys, src, "--db", db)
    assert json.loads(households(db)["张建国"]["members"]) == [{"name": "李秀英", "relation": "配偶"},
                                                              {"name": "张伟", "relation": "子"}]
    assert rr.parse_members("李秀英（配偶）张伟（子）")[0] == [{"name": "李秀英", "relation": "配偶"},
                                                         {"name": "张伟", "relation": "子"}]


def test_a_roster_naming_members_without_relations_keeps_the_relations_held(db, tmp_path, capsys):
    run(capsys, _csv(tmp_path, "a.csv", [("张建国", rf.ID_ZHANG, "金山镇白鹤村3组12号", "白鹤村第1网格",
                                         "李秀英（配偶）、张伟（子）")]), "--db", db)
    code, counts, _ = run(capsys, _csv(tmp_path, "b.csv", [("张建国", rf.ID_ZHANG, "金山镇白鹤村3组12号",
                                                            "白鹤村第1网格", "李秀英、张伟")]), "--db", db)
    assert counts["unchanged"] == 1
    assert [m["relation"] for m in json.loads(households(db)["张建国"]["members"])] == ["配偶", "子"]


def test_the_dry_run_and_the_import_say_the_same_of_every_row(db, tmp_path, capsys):
    """A row the field rules refuse counted, in the import alone, as the first of its ID
    number: the row after it was refused there and imported in the dry run."""
    src = _csv(tmp_path, "rules.csv", [("张" * 41, rf.ID_ZHANG, "金山镇白鹤村3组12号", "白鹤村第1网格", ""),
                                       ("张建国", rf.ID_ZHANG, "金山镇白鹤村3组12号", "白鹤村第1网格", "")])
    _, dry, _ = run(capsys, src, "--db", db, "--dry-run")
    _, real, _ = run(capsys, src, "--db", db)
    assert {k: v for k, v in dry.items() if k != "dry_run"} == {k: v for k, v in real.items() if k != "dry_run"}
    assert real["imported"] == 1


def test_a_last_row_holding_a_name_alone_is_refused_with_its_reasons_not_skipped(db, tmp_path, capsys):
    """Its address forgotten, the last household of the sheet was counted among the blank
    lines and the lines under the table; the same row higher up was refused, saying why."""
    src = _csv(tmp_path, "end.csv", [("张建国", rf.ID_ZHANG, "金山镇白鹤村3组12号", "白鹤村第1网格", ""),
                                     ("李四", "", "", "", ""), ("制表人：王芳", "", "", "", "")])
    code, counts, _ = run(capsys, src, "--db", db)
    assert (counts["imported"], counts["refused"], counts["skipped"]) == (1, 1, 1)


def test_a_workbook_of_one_sheet_per_village_names_the_sheets_it_did_not_read(db, tmp_path, capsys):
    """Only the first roster sheet is read: the second village's households were left out
    without a word, in the output and in the report alike."""
    wb = openpyxl.Workbook()
    instructions = wb.active
    instructions.title = "填表说明"
    instructions["A1"] = "每个村一个工作表"
    for title, (head, idn, addr, grid) in (("白鹤村", ("张建国", rf.ID_ZHANG, "金山镇白鹤村3组12号", "白鹤村第1网格")),
                                           ("高山村", ("李秀英", rf.ID_LI, "金山镇高山村7组2号", "高山村第1网格"))):
        ws = wb.create_sheet(title)
        ws.append(["户主", "身份证号码", "家庭住址", "网格"])
        ws.append([head, idn, addr, grid])
        ws["B2"].number_format = "@"
    src, report = tmp_path / "两村花名册.xlsx", tmp_path / "report.xlsx"
    wb.save(src)
    code, counts, err = run(capsys, str(src), "--db", db, "--report", str(report))
    assert code == 0 and counts["imported"] == 1 and counts["sheets_not_read"] == ["高山村"], (counts, err)
    assert "not read: 高山村" in err
    assert ("未导入的工作表", "高山村（每次只导入第一个花名册工作表，请将其另存为单独的文件再导入）") in sheet(report, "汇总")
    assert "张建国" in households(db) and "李秀英" not in households(db)


def test_a_first_generation_15_digit_number_is_taken_in_its_18_digit_form(db, tmp_path, capsys):
    """Old rosters keep many first-generation card numbers (15 digits, no check
    character): every such row was refused "应为18位（现为15位）". The 18-digit number is
    reckoned from it (19 before the year, the check character added), and that is what
    is kept: the same family listed with either number is one household."""
    grids = rr.Grids.of([{"id": "g1", "name": "白鹤村第1网格", "village": "白鹤村"}])
    for cell, numeric in (("330702580312401", False), (330702580312401, True)):
        got = rr.check_row(5, {"head_name": "张三", "address": "白鹤村1组", "id_number": cell, "grid": "g1"},
                           grids, numeric_id=numeric)
        assert got.reasons == [] and got.fields["id_number"] == "330702195803124016"
    got = rr.check_row(5, {"head_name": "张三", "address": "白鹤村1组", "id_number": "3307025803124", "grid": "g1"},
                       grids)
    assert got.reasons == ["身份证号：应为18位或15位（现为13位）"]
    old = _csv(tmp_path, "old.csv", [("赵长根", "330702580312401", "金山镇白鹤村5组1号", "白鹤村第1网格", "")])
    new = _csv(tmp_path, "new.csv", [("赵长根", "330702195803124016", "金山镇白鹤村5组1号", "白鹤村第1网格", "")])
    code, counts, err = run(capsys, old, "--db", db)
    assert code == 0 and counts["imported"] == 1, err
    code, counts, err = run(capsys, new, "--db", db)
    assert code == 0 and (counts["imported"], counts["unchanged"]) == (0, 1), err
    assert _count(db, "赵长根") == 1
    [hh] = [h for h in households(db).values() if h["head_name"] == "赵长根"]
    assert hh["id_number"] == "330702195803124016"


def test_an_import_is_on_the_audit_trail_in_the_same_commit_as_its_households(db, monkeypatch):
    """A process ending right after the rows' commit left 3,000 households imported by
    no one: the audit row came after. Here the process 'ends' as the import returns."""
    st = CentralStore(db)
    data = "户主姓名,住址,网格\n赵三,金山镇白鹤村1组3号,g1\n钱四,金山镇白鹤村1组4号,g1\n".encode()
    clerk = Principal("xinfang", "office", frozenset(), SERVER_DEVICE)
    real_write = roster._write

    def write_then_end(*a, **k):
        real_write(*a, **k)
        raise KeyboardInterrupt("the process ends after the commit")
    monkeypatch.setattr(roster, "_write", write_then_end)
    with pytest.raises(KeyboardInterrupt):
        roster.import_roster(st, clerk, data, "村花名册.csv")
    assert st.count("household") == 2
    [(who, detail)] = st.conn.execute("SELECT username, detail FROM audit WHERE action='household_import'").fetchall()
    assert who == "xinfang" and "村花名册.csv" in detail and "imported=2" in detail
    st.close()


EXPECT_REFUSED_EN = {
    6: "ID number: is not a valid number: the last character should be",
    7: "ID number: holds no real date of birth (1990-02-30)",
    8: "Grid “白鹤村第9网格” does not exist",
    9: "The same as row 4 throughout",
    10: "Phone is a formula",
    11: "Address is an error value #N/A",
    14: "ID number the same as in row 5",
    15: "Phone: ",
    16: "Head of household is empty",
    17: "Village (community) “青山村” is not among the township's grids",
}


def _office_panel(db: str, lang: str, data: bytes, name: str) -> str:
    """The office's 导入 tab in `lang`, the file chosen and checked: every word it shows."""
    import asyncio
    from types import SimpleNamespace

    import flet as ft

    from fieldapp.office import roster as office_roster
    from fieldapp.office.context import OfficeContext
    from sync.server.office import CentralWorkspace
    from tests.test_i18n_punct import shown
    from tests.test_office_erasure import Page

    class Picker:
        async def pick_files(self, **kw):
            return [SimpleNamespace(bytes=data, name=name)]
    store = CentralStore(db)
    ctx = OfficeContext(Page(), store, tickets=None)
    ctx.ws, ctx._lang = CentralWorkspace(store, {"username": "xinfang", "name": "镇信访办", "role": "office",
                                                 "grids": []}), lang
    ctx._roster_picker = Picker()
    panel = office_roster.roster_panel(ctx)

    def walk(c):
        yield c
        for ch in getattr(c, "controls", None) or []:
            yield from walk(ch)
    pick = next(c for c in walk(panel) if isinstance(c, ft.FilledButton))
    asyncio.run(pick.on_click(None))
    return shown(panel)


def test_the_office_in_english_says_why_each_row_is_refused_in_english_and_in_chinese_otherwise(db):
    """The refusals of the roster's rows were Chinese on an office shown in English; the
    report downloaded stays Chinese, as the township's documents do."""
    data = rf.hurtful_xlsx()
    # the refused rows' lines (the columns found above them name the file's own headers)
    english = _office_panel(db, "en", data, "roster.xlsx").split("Refused rows")[1]
    for number, why in EXPECT_REFUSED_EN.items():
        assert f"Row {number}" in english and why in english, (number, why)
    for why in rf.EXPECT_REFUSED.values():
        assert why not in english, why
    assert "Grid is empty" in english and "网格未填写" not in english       # row 17's second reason
    chinese = _office_panel(db, "zh", data, "roster.xlsx").split("拒收的行")[1]
    for number, why in rf.EXPECT_REFUSED.items():
        assert f"第{number}行" in chinese and why in chinese, (number, why)
    for why in EXPECT_REFUSED_EN.values():
        assert why not in chinese, why


def test_every_reason_a_row_is_refused_for_has_its_english_and_stays_chinese_as_a_string(db):
    """The report, the command line and every check read a reason as the Chinese it was;
    the office's screen in English reads its English (rr.said)."""
    store = CentralStore(db)
    p = Principal("xinfang", "office", frozenset(), SERVER_DEVICE)
    out = roster.import_roster(store, p, rf.hurtful_xlsx(), "roster.xlsx", dry_run=True)
    for got in out.refused:
        assert got.reasons
        for r in got.reasons:
            zh, en = rr.said(r), rr.said(r, "en")
            assert zh == r and any("\u4e00" <= ch <= "\u9fff" for ch in zh)
            assert en[0].isascii() and en[0].isalpha() and not set("：；，（）") & set(en), en


@pytest.mark.parametrize("raw, numeric_id", [
    ({"head_name": "张三", "grid": "g1"}, False),                                           # no 住址 column
    ({"head_name": "张三", "address": "白鹤村1组", "grid": "g1", "id_number": 330702195803124000}, True),
    ({"head_name": "张三", "address": "高山村1组", "village": "高山村"}, False),             # two grids there
    ({"head_name": "张三", "address": "高山村1组", "village": "白鹤村", "grid": "g2"}, False),
    ({"head_name": "张三", "address": "白鹤村1组", "grid": "g1", "members": "张三（子）、这不是一个人名而是一段很长很长的说明文字共计超过二十个字",
      "tags": "不存在的类别", "status": "失踪", "lat": "北纬29度"}, False),
    ({"head_name": "张" * 41, "address": "白鹤村1组", "grid": "g1"}, False),                 # the field rules
    ({"head_name": "张三", "address": rr.Bad("formula", "=A1"), "phone": rr.Bad("error", "#N/A")}, False),
])
def test_every_reason_check_row_gives_is_said_in_english_too(raw, numeric_id):
    grids = rr.Grids.of([{"id": "g1", "name": "白鹤村第1网格", "village": "白鹤村"},
                         {"id": "g2", "name": "高山村第1网格", "village": "高山村"},
                         {"id": "g3", "name": "高山村第2网格", "village": "高山村"}])
    got = rr.check_row(2, raw, grids, numeric_id=numeric_id)
    assert got.reasons
    for r in got.reasons:
        en = rr.said(r, "en")
        assert en != r and en[0].isascii() and en[0].isupper(), en
        # only what the roster holds (or must hold: 在册, 低保 ...) is Chinese in it
        assert not set("：；，（）") & set(en), en
