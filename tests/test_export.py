"""The ledgers exported as the office keeps them: read back as Excel would."""

import csv
import datetime as dt
import io

import openpyxl
import pytest

from sync.server import export, late_entries
from sync.server.central import CentralStore
from sync.queries import Scope

PW = "long-enough-1"
HYPERLINK = '=HYPERLINK("http://x","点我")'


def _case(store, cid, grid, **fields):
    base = {"grid_id": grid, "kind": "petition", "channel": "visit", "category": "08",
            "description": "征地补偿款分配有异议", "status": "reported", "reported_by": "xinfang",
            "reported_at": "2026-11-02T09:30:00+08:00"}
    store.server_write("case", cid, {**base, **fields}, author="xinfang")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)  # fast scrypt: these tests are not about hashing
    st = CentralStore(str(tmp_path / "c.db"))
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    st.add_grid("g2", "二组", "高山村", "金山镇")
    st.add_account("xinfang", "信访办小王", "office", PW)
    st.add_account("li", "李镇长", "leader", PW)
    _case(st, "c1", "g1", ref="JS-2026-001", parties=["张三", "李四"], title="征地补偿纠纷",
          risk="red", owner="li", departments=["国土所", "财政所"], status="in_progress",
          deadline="2026-12-31", plan="分户核算，十二月底前兑付", received_on="2026-11-01")
    _case(st, "c2", "g2", ref="JS-2026-002", parties=[HYPERLINK, "=1+2"], channel="phone",
          category="02", description="@SUM(A1) 邻居养殖污染，" + "气味很大" * 30,
          status="resolved", outcome="mediation", owner="wang", reported_at="2026-11-15T10:00:00+08:00")
    _case(st, "c3", "g1", ref="JS-2026-003", reported_at="2026-12-01T08:00:00+08:00")  # next month
    _case(st, "c4", "g1", reported_at="2026-11-20T08:00:00+08:00", merged_into="c1")  # a duplicate
    for n, (at, answer) in enumerate([("2026-11-25T09:00:00+08:00", "unsatisfied"),
                                      ("2026-11-28T09:00:00+08:00", "basically")]):
        st.server_write("callback", f"cb{n}", {"case_id": "c2", "at": at, "by": "xinfang",
                                               "method": "phone", "answer": answer}, author="xinfang")
    for n, (at, kind, text) in enumerate([("2026-11-10T09:00:00+08:00", "progress", "已核实地界"),
                                          ("2026-11-20T15:00:00+08:00", "visit", "入户见面，达成初步意向"),
                                          ("2026-11-21T09:00:00+08:00", "note", "备注不算进展")]):
        st.server_write("case_event", f"e{n}", {"case_id": "c1", "kind": kind, "at": at,
                                                "by": "li", "text": text}, author="xinfang")
    yield st
    st.close()


NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def _read_xlsx(data: bytes):
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    return ws, [list(r) for r in ws.iter_rows()]


def _xlsx(rows, **kw) -> bytes:
    out = io.BytesIO()
    export.write_xlsx(rows, out, **kw)
    return out.getvalue()


# --- the ledger -----------------------------------------------------------------------

def test_ledger_has_one_row_per_matter_received_in_the_period(store):
    rows = list(export.ledger_rows(store, *NOVEMBER))
    assert [r["编号"] for r in rows] == ["JS-2026-001", "JS-2026-002"]
    assert list(rows[0]) == export.LEDGER_COLUMNS


def test_ledger_row_reads_as_the_office_writes_it(store):
    first, second = export.ledger_rows(store, *NOVEMBER)
    assert first["登记日期"] == dt.date(2026, 11, 1)  # received_on, not the report's day
    assert (first["来源"], first["村"], first["网格"]) == ("来访", "白鹤村", "一组")
    assert first["当事人"] == "张三、李四" and first["协办部门"] == "国土所、财政所"
    assert (first["类别"], first["事项摘要"], first["风险等级"]) == ("征地拆迁", "征地补偿纠纷", "红色")
    assert first["包案领导"] == "李镇长"  # the leader's name, not the account
    assert (first["办理期限"], first["状态"]) == (dt.date(2026, 12, 31), "办理中")
    assert (first["回访"], first["满意度"], first["办理结果"]) == (None, "", "")
    assert second["包案领导"] == "wang"  # no staff record: the username stays visible
    assert len(second["事项摘要"]) == 60 and second["事项摘要"].startswith("@SUM(A1) 邻居")


def test_ledger_shows_the_latest_callback(store):
    second = list(export.ledger_rows(store, *NOVEMBER))[1]
    assert second["回访"] == dt.date(2026, 11, 28) and second["满意度"] == "基本满意"
    assert second["办理结果"] == "调解协议" and second["状态"] == "已办结"


def test_ledger_of_a_scope_holds_only_that_persons_grids_and_cases(store):
    rows = export.ledger_rows(store, *NOVEMBER, scope=Scope(frozenset({"g2"}), "li"))
    assert [r["编号"] for r in rows] == ["JS-2026-001", "JS-2026-002"]  # g2, and c1 li owns
    rows = export.ledger_rows(store, *NOVEMBER, scope=Scope(frozenset({"g2"}), "w2"))
    assert [r["编号"] for r in rows] == ["JS-2026-002"]


def test_ledger_xlsx_has_chinese_headers_bold_and_one_row_per_matter(store):
    ws, cells = _read_xlsx(_xlsx(export.ledger_rows(store, *NOVEMBER)))
    assert [c.value for c in cells[0]] == export.LEDGER_COLUMNS
    assert all(c.font.b for c in cells[0])
    assert len(cells) == 1 + 2
    assert [r[0].value for r in cells[1:]] == ["JS-2026-001", "JS-2026-002"]
    assert ws.title == "信访事项台账"


def test_ledger_xlsx_dates_are_dates_not_text(store):
    _, cells = _read_xlsx(_xlsx(export.ledger_rows(store, *NOVEMBER)))
    col = export.LEDGER_COLUMNS.index
    for name in ("登记日期", "办理期限"):
        cell = cells[1][col(name)]
        assert isinstance(cell.value, dt.date) and cell.number_format == "yyyy-mm-dd"
    assert cells[1][col("登记日期")].value.date() == dt.date(2026, 11, 1)
    assert cells[2][col("回访")].value.date() == dt.date(2026, 11, 28)


def test_ledger_xlsx_keeps_formula_like_text_as_plain_text(store):
    _, cells = _read_xlsx(_xlsx(export.ledger_rows(store, *NOVEMBER)))
    col = export.LEDGER_COLUMNS.index
    parties, summary = cells[2][col("当事人")], cells[2][col("事项摘要")]
    assert parties.value == f"{HYPERLINK}、=1+2" and parties.data_type == "s"
    assert summary.value.startswith("@SUM(A1)") and summary.data_type == "s"


# (a lone CR is left out: XML itself reads it back as a line feed)
@pytest.mark.parametrize("text", [HYPERLINK, "=1+2", "+86 138", "-1", "@A1", "\t=1"])
def test_xlsx_cell_starting_like_a_formula_reads_back_unchanged(text):
    _, cells = _read_xlsx(_xlsx([{"当事人": text}], columns=["当事人"]))
    assert cells[1][0].value == text and cells[1][0].data_type == "s"


@pytest.mark.parametrize("text", [HYPERLINK, "=1+2", "+86 138", "-1", "@A1", "\t=1", "\r=1"])
def test_csv_cell_starting_like_a_formula_gets_a_quote(text):
    assert export.csv_safe(text) == "'" + text


def test_csv_leaves_ordinary_text_numbers_and_dates_alone():
    assert export.csv_safe("张三") == "张三" and export.csv_safe(-3) == "-3"
    assert export.csv_safe(dt.date(2026, 1, 2)) == "2026-01-02" and export.csv_safe(None) == ""


def test_xlsx_drops_control_characters_excel_cannot_hold():
    # U+FFFE/U+FFFF: stored before the push refused them; openpyxl lets them through
    _, cells = _read_xlsx(_xlsx([{"当事人": "张\x00三\x07", "事项摘要": "损失<1万元\uffff & >2万元"}],
                                columns=["当事人", "事项摘要"]))
    assert [c.value for c in cells[1]] == ["张三", "损失<1万元 & >2万元"]


def test_empty_ledger_still_has_its_headers(store):
    _, cells = _read_xlsx(_xlsx(export.ledger_rows(store, dt.date(2020, 1, 1), dt.date(2020, 1, 31))))
    assert [c.value for c in cells[0]] == export.LEDGER_COLUMNS and len(cells) == 1


def test_ledger_csv_has_a_bom_and_neutralized_formula_cells(store, tmp_path):
    path = tmp_path / "台账.csv"
    assert export.write_csv(export.ledger_rows(store, *NOVEMBER), path) == 2
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == export.LEDGER_COLUMNS
    col = export.LEDGER_COLUMNS.index
    assert rows[2][col("当事人")] == f"'{HYPERLINK}、=1+2"
    assert rows[2][col("事项摘要")].startswith("'@SUM(A1)")
    assert rows[1][col("登记日期")] == "2026-11-01" and rows[1][col("包案领导")] == "李镇长"


def test_csv_to_a_binary_file_object_leaves_it_open():
    out = io.BytesIO()
    export.write_csv([{"当事人": "-2+3", "剩余天数": -2}], out, columns=["当事人", "剩余天数"])
    assert out.getvalue().decode("utf-8-sig").splitlines() == ["当事人,剩余天数", "'-2+3,-2"]


# --- the leader supervision ledger ---------------------------------------------------

def test_supervision_ledger_has_one_row_per_leader_owned_case(store):
    rows = list(export.supervision_rows(store, today=dt.date(2026, 12, 1)))
    assert [(r["包案领导"], r["编号"]) for r in rows] == [("wang", "JS-2026-002"), ("李镇长", "JS-2026-001")]
    li = rows[1]
    assert list(li) == export.SUPERVISION_COLUMNS
    assert li["协办部门"] == "国土所、财政所" and li["化解方案"] == "分户核算，十二月底前兑付"
    assert li["办理期限"] == dt.date(2026, 12, 31) and li["剩余天数"] == 30
    assert li["最新进展"] == "2026-11-20 入户见面，达成初步意向"  # the note is not progress
    assert li["状态"] == "办理中"
    assert rows[0]["剩余天数"] is None  # resolved: no clock runs


def test_supervision_ledger_says_a_matter_was_taken_up_again_not_its_old_resolution(store):
    store.server_write("case_event", "e-reopen", {"case_id": "c1", "kind": "reopen", "at": "2026-11-25T10:00:00+08:00",
                                                  "by": "xinfang", "text": "回访不满意，重新办理"}, author="xinfang")
    li = [r for r in export.supervision_rows(store, today=dt.date(2026, 12, 1)) if r["编号"] == "JS-2026-001"][0]
    assert li["最新进展"] == "2026-11-25 回访不满意，重新办理"


def test_supervision_xlsx_and_csv_use_the_supervision_headers(store, tmp_path):
    data = _xlsx(export.supervision_rows(store, today=dt.date(2027, 1, 3)), title="领导包案督办台账")
    ws, cells = _read_xlsx(data)
    assert ws.title == "领导包案督办台账"
    assert [c.value for c in cells[0]] == export.SUPERVISION_COLUMNS and len(cells) == 3
    assert cells[2][export.SUPERVISION_COLUMNS.index("剩余天数")].value == -3  # overdue
    export.write_csv(export.supervision_rows(store.conn), tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_bytes().startswith(b"\xef\xbb\xbf" + "包案领导".encode())


def test_an_empty_supervision_ledger_keeps_its_own_headers(store):
    scope = Scope(frozenset({"g9"}), "nobody")
    _, cells = _read_xlsx(_xlsx(export.supervision_rows(store, scope), title="领导包案督办台账"))
    assert [c.value for c in cells[0]] == export.SUPERVISION_COLUMNS and len(cells) == 1


# --- the monthly report ----------------------------------------------------------------

def test_monthly_report_sheet_lists_figures_and_shows_missing_ones_as_a_dash():
    figures = {"登记事项": 17, "化解率": 0.935, "满意度": None, "超期": 0}
    out = io.BytesIO()
    export.monthly_report_xlsx(figures, out, "2026年11月")
    ws, cells = _read_xlsx(out.getvalue())
    assert [c.value for c in cells[0]] == ["指标", "2026年11月"]
    assert {r[0].value: r[1].value for r in cells[1:]} == {
        "登记事项": 17, "化解率": 0.935, "满意度": "—", "超期": 0}
    assert cells[2][1].number_format == "0.0%"
    assert "2026年11月" in ws.title


def test_monthly_report_shows_satisfaction_as_a_percentage():
    out = io.BytesIO()
    export.monthly_report_xlsx({"满意度": 0.9}, out, "2026年12月")
    _, cells = _read_xlsx(out.getvalue())
    assert cells[1][1].value == 0.9 and cells[1][1].number_format == "0.0%"


# --- when a file was made, and what came in after its period (补录) -----------------------

def test_entered_late_means_received_after_the_last_day_township_time():
    end = dt.date(2026, 10, 31)
    cst = dt.timezone(dt.timedelta(hours=8))
    ms = lambda *t: int(dt.datetime(*t, tzinfo=cst).timestamp() * 1000)  # noqa: E731
    assert not late_entries.entered_late(ms(2026, 10, 31, 23, 59, 59), end)
    assert late_entries.entered_late(ms(2026, 11, 1, 0, 0, 0), end)
    # 31 October 20:00 in London is 1 November 04:00 in the township: late
    assert late_entries.entered_late(int(dt.datetime(2026, 10, 31, 20, tzinfo=dt.timezone.utc).timestamp() * 1000),
                                     end)
    assert not late_entries.entered_late(None, end)
    assert late_entries.entered_on(ms(2026, 11, 1, 0, 30)) == dt.date(2026, 11, 1)


def test_the_ledger_of_a_period_that_has_ended_marks_what_was_entered_after_it(store):
    """A matter received in November but entered on 3 December: November's ledger lists
    it (its day is November's) and says 补录 2026-12-03; the others have no mark. The
    file's last column says when it was made, and its first line is still the header."""
    store.now = lambda: int(dt.datetime(2026, 12, 3, 9, tzinfo=export.CST).timestamp() * 1000)
    _case(store, "late", "g1", ref="JS-2026-009", received_on="2026-11-20")
    rows = list(export.ledger_rows(store, *NOVEMBER, today=dt.date(2026, 12, 5)))
    marks = {r["编号"]: r["补录"] for r in rows}
    assert marks["JS-2026-009"] == dt.date(2026, 12, 3)
    assert marks["JS-2026-001"] is None and marks["JS-2026-002"] is None
    # while the period runs, nothing can have come in after it
    assert all(r["补录"] is None for r in export.ledger_rows(store, *NOVEMBER, today=dt.date(2026, 11, 30)))

    out = io.BytesIO()
    export.write_csv(export.ledger_rows(store, *NOVEMBER, today=dt.date(2026, 12, 5)), out,
                     exported_at="2026-12-05 10:00:00 +08:00")
    lines = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert lines[0][0] == "编号" and lines[0][-1] == "导出时间" and "补录" in lines[0]
    late = next(line for line in lines if line[0] == "JS-2026-009")
    assert late[lines[0].index("补录")] == "2026-12-03" and late[-1] == "2026-12-05 10:00:00 +08:00"
    _, cells = _read_xlsx(_xlsx(export.supervision_rows(store, today=dt.date(2026, 12, 5)), title="领导包案督办台账",
                                exported_at="2026-12-05 10:00:00 +08:00"))
    assert cells[0][-1].value == "导出时间" and cells[1][-1].value == "2026-12-05 10:00:00 +08:00"
