"""The ledgers as the office keeps them, for Excel: the ledger of every matter
(信访事项台账), the leader supervision ledger (领导包案督办台账), the monthly figures.

Rows are dicts keyed by the Chinese column headers, read with a few joined queries
(never one query per row: a township's ledger reaches 100,000 rows). The writers
stream them out: openpyxl's write-only workbook, or CSV with a BOM.

Exported text is typed by residents and staff, and a spreadsheet runs a cell that
starts with = + - @ (or a tab or CR) as a formula: such cells are written as plain
text (xlsx: a string cell with Excel's quote prefix; CSV: a leading ', as OWASP
advises), so an exported ledger never runs what someone typed.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
from typing import Iterable, Iterator, Mapping

import orjson
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .. import codes, rules
from ..model import XML_ILLEGAL_RE
from . import callback_order, late_entries, standing, stats, xlsx_stream

CST = dt.timezone(dt.timedelta(hours=8))  # the township's calendar

LEDGER_COLUMNS = [
    "编号", "登记日期", "补录", "来源", "村", "网格", "当事人", "类别", "事项摘要", "风险等级",
    "包案领导", "协办部门", "办理期限", "状态", "办理结果", "回访", "满意度", "附件数",
]
SUPERVISION_COLUMNS = [
    "包案领导", "编号", "事项摘要", "协办部门", "化解方案", "办理期限", "剩余天数",
    "最新进展", "状态",
]
REPORT_COLUMNS = ["指标"]  # the second header is the month
# Every file says when it was made: a ledger's rows (and a month's figures, filled in
# late) are what the store held then. The ledgers carry it as a last column, on every
# row, rather than as a first line: the office imports them (Excel's, WPS's data import,
# pandas) taking the first line as the header, and a line above it would break that.
EXPORTED_AT = "导出时间"

SUMMARY_CHARS = 60
JOINER = "、"  # how a Chinese list is written: 张三、李四
NONE_SHOWN = "—"  # a figure with nothing to count (a rate with nothing due)
# Timeline events that tell a supervisor how far the work has got: a matter taken up
# again (reopen) or given more time (extension) says so, not its old resolution.
PROGRESS_KINDS = ("progress", "visit", "consultation", "resolution", "reopen", "extension")

# Column widths in characters, so the ledger opens readable; the rest get 12.
_WIDTHS = {"事项摘要": 40, "当事人": 20, "协办部门": 20, "化解方案": 40, "最新进展": 40,
           "编号": 16, "指标": 24, EXPORTED_AT: 26}


# --- reading ----------------------------------------------------------------------------

def _connection(conn):
    """A replica or a bare sqlite3 connection: the exports read either."""
    return getattr(conn, "conn", conn)


def _scoped(scope) -> tuple[str, list]:
    """The SQL condition limiting cases to what the person may read (queries.Scope)."""
    if scope is None:
        return "1", []
    return scope.where("c.grid_id", "c.owner")


def _list(text: str | None) -> list[str]:
    return orjson.loads(text) if text else []


def _date(text: str | None) -> dt.date | None:
    """A stored date or datetime as a calendar day of the township; None for none, and
    for text no calendar has (nothing stored may make an export fail)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        t = dt.datetime.fromisoformat(text)
        return (t.astimezone(CST) if t.tzinfo else t).date()
    except (ValueError, OverflowError, TypeError):
        return None


def _day(text: str | None):
    """A day for a cell: the date, or, when it is not one, the text as stored (the clerk
    sees what is there and can have it corrected)."""
    day = _date(text)
    return day if day is not None or not text else str(text)


_SPACE = re.compile(r"\s+")


def _summary(title: str | None, description: str | None) -> str:
    """The title, or the opening of the description on one line."""
    if title and title.strip():
        return title.strip()
    return _SPACE.sub(" ", description or "").strip()[:SUMMARY_CHARS]


# Cases merged into another are not matters of their own: the one they joined is.
# `{source}` is the cases table, or for a period that has ended and matters changed
# since, the matters as they stood at its end (standing.py): a month's ledger then lists
# the matters its figures count, where they were counted (a matter moved to another
# village, merged or reopened later reads as it was handed in). Who may read a matter
# is judged on it as it stands (`now`).
_LEDGER_SQL = """
SELECT c.id, c.ref, COALESCE(c.received_on, substr(c.reported_at, 1, 10)) AS day,
       {entered}, c.channel, g.village, g.name, c.parties, c.category, c.title, c.description,
       c.risk, COALESCE(s.name, c.owner), c.departments, c.deadline, c.status,
       c.outcome, cb.at, cb.answer,
       -- photos and voice notes of the matter: its own, its timeline's, its visits'
       IIF(json_valid(c.attachments), json_array_length(c.attachments), 0)
       + (SELECT COALESCE(sum(json_array_length(e.attachments)), 0) FROM case_events e
          WHERE e.case_id = c.id AND json_valid(e.attachments))
       + (SELECT COALESCE(sum(json_array_length(v.attachments)), 0) FROM visits v
          WHERE v.case_id = c.id AND json_valid(v.attachments))
FROM {source} c
JOIN cases now ON now.id = c.id
LEFT JOIN grids g ON g.id = c.grid_id
LEFT JOIN staff s ON s.username = c.owner
LEFT JOIN callbacks cb ON cb.case_id = c.id AND cb.at < :c1 AND {latest}
WHERE c.merged_into IS NULL
  AND COALESCE(c.received_on, substr(c.reported_at, 1, 10)) BETWEEN :s AND :e AND {scope}
ORDER BY day, c.ref, c.id
"""
_LEDGER_READ = ("id", "ref", "received_on", "reported_at", "channel", "grid_id", "parties", "category",
                "title", "description", "risk", "owner", "departments", "deadline", "status", "outcome",
                "merged_into", "attachments")


class Rows:
    """An iterator of rows that knows its headers, so a writer gives an empty ledger
    the right header row."""

    def __init__(self, columns: list[str], rows: Iterable[dict]):
        self.columns = columns
        self._rows = iter(rows)

    def __iter__(self) -> "Rows":
        return self

    def __next__(self) -> dict:
        return next(self._rows)


def ledger_rows(conn, start: dt.date, end: dt.date, scope=None, today: dt.date | None = None) -> Rows:
    """One row per matter received from `start` to `end`, both days included, in
    the order received. A matter is dated by its entry in the office's ledger
    (received_on), else by the day it was reported. A period that has ended lists its
    matters as they stood at its end, as its figures count them (stats.figures), and
    marks (补录) those entered after it ended with the day they were (late_entries.py)."""
    conn = _connection(conn)
    today = today or stats.township_today()
    last_day = stats.counting_days(end, today)[0]
    # its latest callback by the last day counted (callback_order: the figures' order)
    counted_to, day_after = last_day.isoformat(), (last_day + dt.timedelta(days=1)).isoformat()
    source = "cases"
    if standing.any_after(conn, counted_to):
        source = standing.as_it_stood(_LEDGER_READ, "c")
    where, args = ("1", {}) if scope is None else scope.where_named("now.grid_id", "now.owner")
    # a running period has nothing entered after it: no look at the change log
    entered = "NULL"
    if end < today:
        entered = late_entries.first_received("c", "case")
    cur = conn.execute(_LEDGER_SQL.format(source=source, scope=where, latest=callback_order.latest("cb", ":c1"),
                                          entered=entered),
                       {"s": start.isoformat(), "e": end.isoformat(), "c": counted_to, "c1": day_after, **args})
    return Rows(LEDGER_COLUMNS, (_ledger_row(raw, end) for raw in cur))


def _ledger_row(raw: tuple, end: dt.date) -> dict:
    (cid, ref, day, entered, channel, village, grid, parties, category, title, description, risk,
     owner, departments, deadline, status, outcome, cb_at, cb_answer, attachments) = raw
    return {
        "编号": ref or cid,
        "登记日期": _day(day),
        "补录": late_entries.entered_on(entered) if late_entries.entered_late(entered, end) else None,
        "来源": codes.label(codes.CHANNELS, channel),
        "村": village or "",
        "网格": grid or "",
        "当事人": JOINER.join(_list(parties)),
        "类别": codes.label(codes.CATEGORIES, category),
        "事项摘要": _summary(title, description),
        "风险等级": codes.label(codes.RISK_LEVELS, risk),
        "包案领导": owner or "",
        "协办部门": JOINER.join(_list(departments)),
        "办理期限": _day(deadline),
        "状态": codes.label(codes.CASE_STATUSES, status),
        # a reopened matter's first resolution no longer stands (重办)
        "办理结果": codes.label(codes.OUTCOMES, outcome) if status in stats.FINISHED else "",
        "回访": _day(cb_at),
        "满意度": codes.label(codes.SATISFACTION, cb_answer),
        "附件数": attachments or 0,
    }


_SUPERVISION_SQL = """
WITH latest_progress AS (
    SELECT e.case_id, e.at, e.text,
           row_number() OVER (PARTITION BY e.case_id ORDER BY e.at DESC, e.id DESC) AS n
    FROM case_events e JOIN cases c ON c.id = e.case_id
    WHERE c.owner IS NOT NULL AND e.kind IN ({kinds}) AND e.text IS NOT NULL)
SELECT c.id, c.ref, COALESCE(s.name, c.owner) AS leader, c.title, c.description,
       c.departments, c.plan, c.deadline, c.status, p.at, p.text
FROM cases c
LEFT JOIN staff s ON s.username = c.owner
LEFT JOIN latest_progress p ON p.case_id = c.id AND p.n = 1
WHERE c.owner IS NOT NULL AND c.owner != '' AND c.merged_into IS NULL AND {scope}
ORDER BY leader, c.deadline IS NULL, c.deadline, c.ref, c.id
"""


def supervision_rows(conn, scope=None, today: dt.date | None = None) -> Rows:
    """One row per case a leader owns, by leader and then the nearest deadline first.
    剩余天数 counts only while the case is open (negative: overdue); a finished case
    has no days left to count."""
    today = today or dt.datetime.now(CST).date()
    where, args = _scoped(scope)
    sql = _SUPERVISION_SQL.format(kinds=",".join("?" * len(PROGRESS_KINDS)), scope=where)
    cur = _connection(conn).execute(sql, [*PROGRESS_KINDS, *args])
    return Rows(SUPERVISION_COLUMNS, (_supervision_row(raw, today) for raw in cur))


def _supervision_row(raw: tuple, today: dt.date) -> dict:
    (cid, ref, leader, title, description, departments, plan, deadline, status,
     progress_at, progress) = raw
    due = _date(deadline)
    running = due is not None and status in rules.OPEN_STATUSES
    return {
        "包案领导": leader,
        "编号": ref or cid,
        "事项摘要": _summary(title, description),
        "协办部门": JOINER.join(_list(departments)),
        "化解方案": plan or "",
        "办理期限": _day(deadline),
        "剩余天数": rules.days_left(due, today) if running else None,
        "最新进展": f"{_day(progress_at) or ''} {progress}".strip() if progress else "",
        "状态": codes.label(codes.CASE_STATUSES, status),
    }


# --- cells that stay what they say ---------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.0%"
# Figures given as fractions (0.925) that the report shows as percentages.
RATE_LABEL_ENDINGS = ("率", "满意度")


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_safe(value) -> str:
    """A CSV field that a spreadsheet shows as typed (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and looks_like_formula(text):
        return "'" + text
    return text


def _xlsx_cell(ws, value, bold: Font | None = None, number_format: str | None = None):
    """A value as it goes into the sheet: plain values as they are (fast), and a
    cell object only where the plain value would be misread or needs a style."""
    if isinstance(value, str):
        if not value:
            return None  # an empty cell is not written at all: a smaller, faster file
        # control characters pasted into a phone make openpyxl refuse the whole file, and
        # U+FFFE/U+FFFF (which openpyxl lets through) make Excel call it damaged
        value = XML_ILLEGAL_RE.sub("", value)
    elif isinstance(value, dt.date):
        number_format = number_format or DATE_FORMAT
    formula_like = isinstance(value, str) and looks_like_formula(value)
    if not (formula_like or bold or number_format):
        return value
    cell = WriteOnlyCell(ws, value)
    if formula_like:
        cell.data_type = "s"      # openpyxl would store "=..." as a formula
        cell.quotePrefix = True   # and Excel keeps it text when the cell is edited
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = bold
    return cell


def _sheet_title(title: str) -> str:
    """Excel allows 31 characters and none of []:*?/\\ in a sheet's name."""
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet"


def _new_sheet(title: str, columns: list[str]):
    wb = Workbook(write_only=True)
    wb.properties.title = title
    ws = wb.create_sheet(_sheet_title(title))
    for i, name in enumerate(columns, 1):  # widths must come before the first row
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(name, 12)
    ws.freeze_panes = "A2"  # the header stays in view while scrolling
    return wb, ws


def _header(ws, columns: list[str]) -> list:
    bold = Font(bold=True)
    return [_xlsx_cell(ws, name, bold=bold) for name in columns]


def _columns(rows: Iterable[Mapping], columns: list[str] | None,
             exported_at: str | None = None) -> tuple[list[str], Iterator]:
    """The headers: the caller's, else those the rows carry (`Rows`), else the first
    row's keys; a plain empty list of rows gets the ledger's. With `exported_at`, a last
    column 导出时间 holding it on every row (EXPORTED_AT)."""
    columns, rows = _found_columns(rows, columns)
    if exported_at is None:
        return columns, rows
    return columns + [EXPORTED_AT], ({**row, EXPORTED_AT: exported_at} for row in rows)


def _found_columns(rows: Iterable[Mapping], columns: list[str] | None) -> tuple[list[str], Iterator]:
    columns = columns or getattr(rows, "columns", None)
    rows = iter(rows)
    if columns is not None:
        return list(columns), rows
    first = next(rows, None)
    if first is None:
        return list(LEDGER_COLUMNS), rows
    return list(first), _chain(first, rows)


def _chain(first, rest) -> Iterator:
    yield first
    yield from rest


def write_xlsx(rows: Iterable[Mapping], path_or_file, title: str = "信访事项台账",
               columns: list[str] | None = None, exported_at: str | None = None) -> int:
    """Write rows (dicts keyed by header) to an .xlsx file or binary file object:
    a bold header row, real dates, text kept as text, and with `exported_at` a last
    column 导出时间 (EXPORTED_AT). Returns the number of rows."""
    columns, rows = _columns(rows, columns, exported_at)
    return xlsx_stream.write(path_or_file, title, columns, ([row.get(c) for c in columns] for row in rows),
                             [_WIDTHS.get(c, 12) for c in columns])


@contextlib.contextmanager
def _text_out(file):
    """A text stream over a path, a binary file, or a text file."""
    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        with open(file, "w", encoding="utf-8-sig", newline="") as f:
            yield f
    elif isinstance(file, io.TextIOBase):
        file.write("\ufeff")
        yield file
    else:
        wrapper = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
        try:
            yield wrapper
        finally:
            wrapper.flush()
            wrapper.detach()  # the caller's file stays open


def write_csv(rows: Iterable[Mapping], file, columns: list[str] | None = None,
              exported_at: str | None = None) -> int:
    """Write rows as CSV in UTF-8 with a BOM (so Excel reads the Chinese), with
    formula-like text neutralized, and with `exported_at` a last column 导出时间
    (EXPORTED_AT: a column, not a first line, so the header stays the first line).
    Returns the number of rows."""
    columns, rows = _columns(rows, columns, exported_at)
    n = 0
    with _text_out(file) as out:
        w = csv.writer(out)
        w.writerow(columns)
        for row in rows:
            w.writerow([csv_safe(row.get(c)) for c in columns])
            n += 1
    return n


def monthly_report_xlsx(figures: Mapping[str, float | int | dt.date | None], path_or_file,
                        month_label: str, exported_at: str | None = None, late: dict | None = None) -> None:
    """The month's figures as name / value rows under the headers 指标 and the month;
    `figures` is stats.labelled(stats.figures(...)) (the dashboard's own count of the month, under
    the report's labels, in the report's order). A figure with nothing to count (None)
    reads "—"; a rate (化解率, 满意度: a fraction) shows as a percentage and stays a
    number for the office's formulas; 统计截至 is a date. A second sheet, 口径, says how
    each figure is counted (stats.FIGURES, as docs/office.md does).

    Under the figures, after an empty row: 导出时间 (`exported_at`), and for a month that
    has ended (`late`: stats.figures' late_entries) how many of its entries were entered
    after it ended, by kind, or 无 (late_entries.py): downloaded again, a month can
    count more than it did when handed in, and the file says why."""
    columns = [*REPORT_COLUMNS, month_label]
    wb, ws = _new_sheet(f"信访工作月报 {month_label}", columns)
    ws.append(_header(ws, columns))
    for name, value in figures.items():
        ws.append([_xlsx_cell(ws, str(name)), _report_cell(ws, str(name), value)])
    notes = ([[late_entries.REPORT_LABEL, late_entries.listed(late)]] if late is not None else []) \
        + ([[EXPORTED_AT, exported_at]] if exported_at else [])
    if notes:
        ws.append([])
        for row in notes:
            ws.append(row)
    known = [stats.BY_LABEL[str(name)] for name in figures if str(name) in stats.BY_LABEL]
    if known:
        defs = wb.create_sheet(DEFINITIONS_SHEET)
        defs.column_dimensions["A"].width = _WIDTHS["指标"]
        defs.column_dimensions["B"].width = 100
        defs.freeze_panes = "A2"
        defs.append(_header(defs, DEFINITION_COLUMNS))
        for figure in known:
            defs.append([figure.zh, figure.definition])
        defs.append([PERIOD_RULE_NAME, PERIOD_RULE])
        defs.append([late_entries.REPORT_LABEL, late_entries.RULE])
    wb.save(path_or_file)


DEFINITIONS_SHEET = "口径"
DEFINITION_COLUMNS = ["指标", "口径"]
PERIOD_RULE_NAME = "统计期间"
PERIOD_RULE = ("自然月，首尾两日都计入；本月尚未结束时统计至今日。走访、回访按记录时间（北京时间）的日期计，"
               "事项按登记日期计；超期按下月1日（本月尚未结束时按今日）判断；并入其他事项的重复件不单独计。")


def _report_cell(ws, name: str, value):
    if value is None:
        return _xlsx_cell(ws, NONE_SHOWN)
    figure = stats.BY_LABEL.get(name)
    if figure is not None:
        rate = figure.kind == "rate" and isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        rate = name.endswith(RATE_LABEL_ENDINGS) and isinstance(value, float)
    return _xlsx_cell(ws, value, number_format=PERCENT_FORMAT) if rate else _xlsx_cell(ws, value)
