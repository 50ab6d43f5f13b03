"""Rosters built to hurt, as townships keep them: a title over a two-line merged header,
bad check digits, a birth date no calendar has, an unknown grid, duplicate rows,
=HYPERLINK(...) and #N/A cells, blank rows and a total and a signature under the
table; and the same roster corrected. Used by tests/test_roster.py, the integration
test and the office's browser test.

The grids are those of tests/integration/conftest.py: g1 白鹤村第1网格 (白鹤村) and
g2 高山村第1网格 (高山村)."""

from __future__ import annotations

import io

import openpyxl

from sync import idnumber

GRIDS = [("g1", "白鹤村第1网格", "白鹤村"), ("g2", "高山村第1网格", "高山村")]


def make_id(birth: str, seq: int, region: str = "330702") -> str:
    first = f"{region}{birth}{seq:03d}"
    return first + idnumber.check_char(first)


def wrong_check(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:17] + last


ID_ZHANG = make_id("19580312", 441)      # 张建国, g1
ID_LI = make_id("19620705", 112)         # 李秀英, g2
ID_CHEN = make_id("19450101", 233)       # 陈桂兰, g1
ID_BAD_CHECK = wrong_check(make_id("19700101", 345))
ID_BAD_DATE = make_id("19900230", 123)   # 30 February: the check digit is right, the date is not
ID_WANG = make_id("19800808", 567)       # 王大明, in a grid that does not exist
ID_ZHAO = make_id("19751111", 778)

# What each row of the hurtful roster is (the row number Excel shows -> what is wrong)
EXPECT_REFUSED = {
    6: "校验位",
    7: "出生日期",
    8: "网格“白鹤村第9网格”不存在",
    9: "与第4行完全相同",
    10: "联系电话是公式",
    11: "住址是错误值 #N/A",
    14: "身份证号与第5行相同",
    15: "联系电话",
    16: "户主姓名未填写",
    17: "村（社区）“青山村”不在",
}
EXPECT_IMPORTED = {4: "张建国", 5: "李秀英", 13: "陈桂兰"}
EXPECT_SKIPPED = 4   # two blank rows, the total and the signature


def _rows(corrected: bool) -> list[tuple]:
    """(row number, values) of the data: 户号, 姓名, 身份证号, 电话, 住址, 村, 网格, 家庭成员, 关注类别, 备注."""
    phone_zhang = "13857901234" if not corrected else "13900001111"
    rows = [
        (4, ("BH-001", "张建国", ID_ZHANG, phone_zhang, "金山镇白鹤村3组12号", "白鹤村", "白鹤村第1网格",
             "李秀英（配偶）、张伟（子）", "独居老人", "")),
        (5, ("GS-001", "李秀英", ID_LI, "0579-82345678", "金山镇高山村1组5号", "高山村", "g2", "", "低保", "")),
        (6, ("BH-002", "刘德华", ID_BAD_CHECK if not corrected else make_id("19700101", 345), "13857905678",
             "金山镇白鹤村2组1号", "白鹤村", "白鹤村第1网格", "", "", "")),
        (7, ("BH-003", "周杰", ID_BAD_DATE if not corrected else make_id("19900228", 123), "13857905679",
             "金山镇白鹤村2组3号", "白鹤村", "白鹤村第1网格", "", "", "")),
        (8, ("BH-004", "王大明", ID_WANG, "13857905680", "金山镇白鹤村2组5号", "白鹤村",
             "白鹤村第9网格" if not corrected else "白鹤村第1网格", "", "", "")),
    ]
    if not corrected:
        rows += [
            (9, rows[0][1]),   # the first row again, whole
            (10, ("BH-005", "孙丽", make_id("19880808", 901), '=HYPERLINK("tel:13857900000","13857900000")',
                  "金山镇白鹤村4组1号", "白鹤村", "白鹤村第1网格", "", "", "")),
            (11, ("BH-006", "钱进", make_id("19660606", 902), "13857900001", "#N/A", "白鹤村", "白鹤村第1网格",
                  "", "", "")),
            (13, ("BH-007", "陈桂兰", ID_CHEN, "13857900002", "金山镇白鹤村5组2号", "白鹤村", "白鹤村第1网格",
                  "", "独居老人、因病致贫", "子女在外地")),
            (14, ("GS-002", "李小英", ID_LI, "13857900003", "金山镇高山村1组6号", "高山村", "高山村第1网格",
                  "", "", "")),
            (15, ("BH-008", "吴敏", ID_ZHAO, "1385790123", "金山镇白鹤村6组1号", "白鹤村", "白鹤村第1网格",
                  "", "", "")),
            (16, ("BH-009", "", make_id("19920202", 903), "13857900004", "金山镇白鹤村6组2号", "白鹤村",
                  "白鹤村第1网格", "", "", "")),
            (17, ("QS-001", "郑和", make_id("19930303", 904), "13857900005", "金山镇青山村1组1号", "青山村",
                  "", "", "", "")),
        ]
    else:
        rows += [
            (9, ("BH-007", "陈桂兰", ID_CHEN, "13857900002", "金山镇白鹤村5组2号", "白鹤村", "白鹤村第1网格",
                 "", "独居老人、因病致贫", "子女在外地")),
        ]
    return rows


def hurtful_xlsx(corrected: bool = False) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "花名册"
    ws["A1"] = "白鹤村、高山村网格人口台账（2026年）"
    ws.merge_cells("A1:K1")
    tops = {"A": "序号", "B": "户号", "C": "户主信息", "F": "住址", "G": "村（社区）", "H": "所属网格",
            "I": "家庭成员", "J": "关注类别", "K": "备注"}
    for col, text in tops.items():
        ws[f"{col}2"] = text
        if col != "C":
            ws.merge_cells(f"{col}2:{col}3")
    ws.merge_cells("C2:E2")
    ws["C3"], ws["D3"], ws["E3"] = "姓名", "公民身份号码", "联系\n电话"   # a header on two lines in its cell
    order = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)   # 户号 姓名 身份证 电话 住址 村 网格 成员 类别 备注
    cols = ("B", "C", "D", "E", "F", "G", "H", "I", "J", "K")
    for number, values in _rows(corrected):
        ws[f"A{number}"] = number - 3
        for col, i in zip(cols, order):
            if values[i] != "":
                ws[f"{col}{number}"] = values[i]
        ws[f"D{number}"].number_format = "@"
    if not corrected:
        for blank in ("B12", "B18"):   # rows with nothing but formatting: blank, present in the file
            ws[blank].number_format = "@"
        ws["A19"] = "合计：共 13 户"
        ws["A20"] = "制表人：王芳"
        ws["E20"] = "审核人："
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


CSV_HEADER = ("联系电话", "户主", "身份证号码", "家庭住址", "网格", "需求")   # another order, other names
CSV_ROWS = [
    ("13857907001", "郑国强", make_id("19610101", 701), "金山镇白鹤村7组1号", "白鹤村第1网格", "残疾"),
    ("13857907002", "冯秀兰", make_id("19620202", 702), "金山镇高山村7组2号", "高山村第1网格", ""),
    ("13857907003", "褚小明", wrong_check(make_id("19630303", 703)), "金山镇白鹤村7组3号", "白鹤村第1网格", ""),
]


def roster_csv(encoding: str) -> bytes:
    """A CSV as Chinese Excel saves it ("gb18030"), or with a BOM ("utf-8-sig")."""
    lines = [",".join(CSV_HEADER)] + [",".join(r) for r in CSV_ROWS] + [""]
    return "\r\n".join(lines).encode(encoding)
