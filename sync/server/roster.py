"""Household rosters (户籍 / 网格人口台账) imported from Excel or CSV: read, matched by
header, checked row by row (sync/roster_rules.py), and written as ordinary changes
through the push admission, so phones of each grid receive their households on their
next pull. A second import of a corrected roster updates the fields that changed and
never adds a household twice: a row is matched by its ID number, or its 户号.

`import_command` is `gridbook household import`; the office's 导入 tab calls
`import_roster` and `write_report` with the signed-in clerk as the writer.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field

from .. import changes, merge, roster_rules as rr
from ..access import Principal
from ..households import ACTIVE, CST
from ..model import ENTITIES
from ..replica import decode_row, gc_paused
from .central import SERVER_DEVICE, SYSTEM_AUTHOR, CentralStore

MAX_ROWS = 200_000          # a roster larger than a township is not one
MAX_BYTES = 50 * 1024 * 1024
BATCH = 5000                # changes per admission call (all in one transaction)


class Unreadable(ValueError):
    """The file cannot be read at all (not .xlsx/.csv, damaged, no header): the message
    says why, in English for the command line; `zh` for the office's screen."""

    def __init__(self, message: str, zh: str):
        super().__init__(message)
        self.zh = zh


@dataclass
class Table:
    rows: list[list]            # cell values; a formula or an error is a roster_rules.Bad
    numbers: list[int]          # the row number Excel shows, per row
    numeric: set = field(default_factory=set)   # (row index, column) of cells that held numbers
    others: list = field(default_factory=list)  # the names of other sheets that look like rosters too


# --- reading -----------------------------------------------------------------------------

def read_table(data: bytes, name: str) -> Table:
    """The roster's sheet of an .xlsx, or a .csv (UTF-8 with or without BOM, or GB18030)."""
    if len(data) > MAX_BYTES:
        raise Unreadable(f"the file is larger than {MAX_BYTES // 1024 // 1024} MB",
                         f"文件超过 {MAX_BYTES // 1024 // 1024} MB")
    lower = name.lower()
    if data[:4] == b"PK\x03\x04" or lower.endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    if lower.endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise Unreadable("this is an old Excel file (.xls): save it as .xlsx (Excel workbook) and import that",
                         "这是旧版 Excel 文件（.xls）：请在 Excel 中另存为 .xlsx 后再导入")
    return _read_csv(data)


def _col(letters: bytes) -> int:
    n = 0
    for c in letters:
        n = n * 26 + c - 64
    return n - 1


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


def _iterparse(source, tags: tuple):
    """End events of these elements only: lxml (python-docx brings it) skips the rest
    in C, which halves the time of a big sheet; the standard library's parser else."""
    try:
        from lxml import etree
    except ImportError:
        from xml.etree import ElementTree as ET
        return ((e, el) for e, el in ET.iterparse(source) if el.tag in tags)
    return etree.iterparse(source, events=("end",), tag=tags, huge_tree=True, resolve_entities=False,
                           no_network=True)


def _sheets(z) -> list[tuple[str, str]]:
    """(name, path) of the workbook's sheets, in the order the workbook lists them."""
    import posixpath
    from xml.etree import ElementTree as ET
    wb = ET.fromstring(z.read("xl/workbook.xml"))
    rels = {rel.get("Id"): rel.get("Target") for rel in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    out = []
    for sheet in wb.iterfind(f"{_NS}sheets/{_NS}sheet"):
        target = rels.get(sheet.get(f"{_REL_NS}id"))
        if target:
            out.append((sheet.get("name") or "", target.lstrip("/") if target.startswith("/")
                        else posixpath.normpath("xl/" + target)))
    if not out:
        raise KeyError("no sheet")
    return out


_SI = re.compile(r"<si>(.*?)</si>|<si/>", re.S)
_RPH = re.compile(r"<rPh\b.*?</rPh>", re.S)


def _shared_strings(z) -> list[str]:
    """The shared strings table (where Excel keeps every text cell): plain text, or rich
    text in runs, whose phonetic guide (rPh) is left out."""
    if "xl/sharedStrings.xml" not in z.namelist():
        return []
    xml = z.read("xl/sharedStrings.xml").decode("utf-8")
    out = []
    for m in _SI.finditer(xml):
        inner = m.group(1) or ""
        if "<rPh" in inner:
            inner = _RPH.sub("", inner)
        out.append(_unescape("".join(x or "" for x in _T.findall(inner))))
    return out


_ROW = re.compile(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_R_ATTR = re.compile(r'\br="([A-Z]+)(\d+)"')
_T_ATTR = re.compile(r'\bt="(\w+)"')
_V = re.compile(r"<v>(.*?)</v>", re.S)
_F = re.compile(r"<f\b[^>]*?(?:/>|>(.*?)</f>)", re.S)
_T = re.compile(r"<t\b[^>]*?(?:/>|>(.*?)</t>)", re.S)
_MERGE_REF = re.compile(r'<mergeCell\b[^>]*?ref="([A-Z]+\d+:[A-Z]+\d+)"')
_NUMBER = re.compile(r"-?\d+")


_CHARREF = re.compile(r"&#(x?)([0-9a-fA-F]+);")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&"))


def _charref(m: re.Match) -> str:
    return chr(int(m.group(2), 16 if m.group(1) else 10))


def _cell_value(t: str | None, v: str | None, strings: list, formula: str | None, inline: str | None):
    """(value, whether it was written as a number) of one cell, from its type attribute,
    its <v> text, its formula and its inline text (all unescaped): the one reading of a
    cell for both readers of a sheet (the quick one and the XML parser's)."""
    if formula is not None:
        return rr.Bad("formula", "=" + formula), False
    if t == "s":
        return (strings[int(v)] if v is not None and v.isdecimal() and int(v) < len(strings) else None), False
    if t == "inlineStr":
        return inline, False
    if t == "e":
        return rr.Bad("error", v or "#N/A"), False
    if t == "str":
        return v, False
    if t == "b":
        return v == "1", False
    if v is None:
        return None, False
    try:
        return (int(v) if _NUMBER.fullmatch(v) else float(v)), True
    except ValueError:
        return v, True


def _unescape(text: str) -> str:
    """XML's escapes: the five named ones and character references (openpyxl writes
    every Chinese character as one)."""
    if "&" not in text:
        return text
    if "&#" in text:
        text = _CHARREF.sub(_charref, text)
    for a, b in _ENTITIES:
        text = text.replace(a, b)
    return text


def _scan_sheet(xml: str, strings: list[str]) -> tuple[list, list, set, list] | None:
    """The sheet's rows read with a few regular expressions over its XML: the markup
    spreadsheet programs write is regular, and this is 2-3 times quicker than building
    elements. None when the markup is not the plain kind (prefixed names): then the
    XML parser reads it."""
    if "<row" not in xml and ":row" in xml:
        return None
    rows, numbers, numeric = [], [], set()
    for rm in _ROW.finditer(xml):
        m = _R_ATTR.search(rm.group(1)) or re.search(r'\br="(\d+)"', rm.group(1))
        number = int(m.group(m.lastindex)) if m else (numbers[-1] + 1 if numbers else 1)
        row: list = []
        for cm in _CELL.finditer(rm.group(2) or ""):
            attrs, inner = cm.group(1), cm.group(2)
            ref = _R_ATTR.search(attrs)
            if ref:
                col = _col(ref.group(1).encode())
                if col < len(row):   # out of order: not what a spreadsheet writes
                    return None
                row.extend([None] * (col - len(row)))
            if not inner:
                row.append(None)
                continue
            tm = _T_ATTR.search(attrs)
            t = tm.group(1) if tm else "n"
            fm = _F.search(inner) if "<f" in inner else None
            vm = _V.search(inner)
            v = vm.group(1) if vm else None
            value, is_number = _cell_value(
                t, _unescape(v) if v is not None else None, strings,
                _unescape(fm.group(1) or "") if fm is not None else None,
                _unescape("".join(x or "" for x in _T.findall(inner))) if t == "inlineStr" else None)
            if is_number:
                numeric.add((len(rows), len(row)))
            row.append(value)
        rows.append(row)
        numbers.append(number)
        if len(rows) > MAX_ROWS:
            raise Unreadable(f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
    return rows, numbers, numeric, _MERGE_REF.findall(xml)


def _read_xlsx(data: bytes) -> Table:
    """The roster's sheet of a workbook, from its XML. openpyxl took 4 s of CPU for a
    20,000-row roster on this project's machine; this takes 1 s. Formulas and errors
    become `Bad` cells; numbers stay numbers (an ID number typed as one has lost
    digits, which the checks say)."""
    import zipfile
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        paths = _sheets(z)
        strings = _shared_strings(z)
    except Exception as e:  # a damaged or foreign file raises many kinds
        raise Unreadable(f"not a readable .xlsx workbook ({type(e).__name__})",
                         "不是可读取的 Excel 工作簿（.xlsx），文件可能已损坏")
    first, found = None, None
    # the roster is the first sheet with a header (a sheet of instructions may come first);
    # the other sheets that have one are named, not read: a workbook of one sheet per
    # village had its second village left out without a word
    for sheet, path in paths[:20]:
        try:
            if z.getinfo(path).file_size > 20 * MAX_BYTES:
                raise Unreadable("the sheet is too large", "工作表过大")
            xml = z.read(path).decode("utf-8")
        except Unreadable:
            raise
        except Exception as e:
            raise Unreadable(f"the workbook's sheet {path} cannot be read ({type(e).__name__})",
                             "无法读取工作簿中的工作表，文件可能已损坏")
        got = _scan_sheet(xml, strings)
        if got is None:
            table = _parse_xlsx(data, path)
        else:
            rows, numbers, numeric, merged = got
            _fill_merged(rows, numbers, merged)
            table = Table(rows, numbers, numeric)
        if rr.find_header(table.rows) is not None:
            if found is None:
                found = table
            else:
                found.others.append(sheet)
            continue
        first = first or table
    return found or first


def _parse_xlsx(data: bytes, path: str) -> Table:
    """A sheet through an XML parser: for markup `_scan_sheet` does not take (names
    with a prefix, cells out of order). Same cells as `_read_xlsx`."""
    import zipfile
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        strings = _shared_strings(z)
        source = z.open(path)
    except Exception as e:  # a damaged or foreign file raises many kinds
        raise Unreadable(f"not a readable .xlsx workbook ({type(e).__name__})",
                         "不是可读取的 Excel 工作簿（.xlsx），文件可能已损坏")
    rows, numbers, numeric = [], [], set()
    merged = []
    c_tag, row_tag, v_tag, f_tag, is_tag = f"{_NS}c", f"{_NS}row", f"{_NS}v", f"{_NS}f", f"{_NS}is"
    t_tag, merge_tag = f"{_NS}t", f"{_NS}mergeCell"
    try:
        for _, el in _iterparse(source, (row_tag, merge_tag)):
            tag = el.tag
            if tag == row_tag:
                row: list = []
                r_attr = el.get("r")
                number = int(r_attr) if r_attr else (numbers[-1] + 1 if numbers else 1)
                for c in el.iter(c_tag):
                    ref = c.get("r")
                    if ref:
                        m = _CELL_REF.match(ref)
                        col = _col(m.group(1).encode()) if m else len(row)
                    else:
                        col = len(row)
                    while len(row) < col:
                        row.append(None)
                    t = c.get("t")
                    f = c.find(f_tag)
                    v = c.findtext(v_tag)
                    node = c.find(is_tag) if t == "inlineStr" else None
                    value, is_number = _cell_value(
                        t, v, strings, (f.text or "") if f is not None else None,
                        "".join(x.text or "" for x in node.iter(t_tag)) if node is not None else None)
                    if is_number:
                        numeric.add((len(rows), len(row)))
                    row.append(value)
                rows.append(row)
                numbers.append(number)
                if len(rows) > MAX_ROWS:
                    raise Unreadable(f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
                el.clear()
            elif tag == merge_tag:
                merged.append(el.get("ref") or "")
    except Unreadable:
        raise
    except Exception as e:
        raise Unreadable(f"the workbook's first sheet cannot be read ({type(e).__name__})",
                         "无法读取工作簿的第一个工作表，文件可能已损坏")
    finally:
        z.close()
    _fill_merged(rows, numbers, merged)
    return Table(rows, numbers, numeric)


def _fill_merged(rows: list, numbers: list, merged: list[str]) -> None:
    """Merged cells: the value of the first cell filled into the others (a header
    written over two rows, or one name over several columns)."""
    index = {n: i for i, n in enumerate(numbers)}
    for ref in merged:
        m = re.fullmatch(r"([A-Z]+)(\d+):([A-Z]+)(\d+)", ref)
        if not m:
            continue
        c0, r0, c1, r1 = _col(m.group(1).encode()), int(m.group(2)), _col(m.group(3).encode()), int(m.group(4))
        if r0 not in index or r1 - r0 > 10 or c1 - c0 > 50:
            continue
        top = rows[index[r0]]
        value = top[c0] if c0 < len(top) else None
        for r in range(r0, r1 + 1):
            if r not in index:
                continue
            row = rows[index[r]]
            while len(row) <= c1:
                row.append(None)
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0):
                    row[c] = value


def _read_csv(data: bytes) -> Table:
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            text = data[3:].decode("utf-8")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("gb18030")   # what Chinese Excel writes for "CSV"
    except UnicodeDecodeError:
        raise Unreadable("the file is neither an .xlsx workbook nor a CSV in UTF-8 or GB18030",
                         "文件既不是 Excel 工作簿（.xlsx），也不是 UTF-8 或 GB18030 编码的 CSV")
    if "\x00" in text[:4096]:
        raise Unreadable("the file is neither an .xlsx workbook nor a CSV in UTF-8 or GB18030",
                         "文件既不是 Excel 工作簿（.xlsx），也不是 UTF-8 或 GB18030 编码的 CSV")
    sample = text[:8192]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    rows = []
    for rec in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        row = []
        for v in rec:
            s = v.strip()
            if s.startswith("=") and len(s) > 1:
                row.append(rr.Bad("formula", s))
            elif s in ("#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!"):
                row.append(rr.Bad("error", s))
            else:
                row.append(v if s else None)
        rows.append(row)
        if len(rows) > MAX_ROWS:
            raise Unreadable(f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
    return Table(rows, list(range(1, len(rows) + 1)))


# --- checking and writing --------------------------------------------------------------

@dataclass
class Outcome:
    file: str
    columns: dict[str, str] = field(default_factory=dict)   # field -> the header it was read from
    unused: list[str] = field(default_factory=list)         # headers not taken
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0          # blank rows and lines under the table
    refused: list[rr.Checked] = field(default_factory=list)
    # (row number, 新增/更新, head name, [(field label, before, after)])
    changes: list[tuple] = field(default_factory=list)
    dry_run: bool = False
    sheets_not_read: list[str] = field(default_factory=list)   # other sheets with a roster's header

    def counts(self) -> dict:
        return {"rows": self.rows, "imported": self.imported, "updated": self.updated,
                "refused": len(self.refused), "unchanged": self.unchanged, "skipped": self.skipped}


def _place(f: dict) -> tuple:
    return (f.get("grid_id"), f.get("head_name"), re.sub(r"\s+", "", f.get("address") or ""))


def _same_place(earlier: tuple[int, str | None] | None, id_number: str | None) -> bool:
    """An earlier row (its number, its ID number) at the same place is the same household,
    unless both carry ID numbers and they differ (a father and son of one name)."""
    return earlier is not None and not (earlier[1] and id_number and earlier[1] != id_number)


def _existing(store: CentralStore) -> tuple[dict, dict, dict, dict]:
    """Households by id, and the ids by ID number, by 户号, and by grid, head and address
    (for rows with neither number: every household there)."""
    ent = ENTITIES["household"]
    cols = ["id", *ent.columns]
    by_id, by_idn, by_hh, by_place = {}, {}, {}, {}
    with store.lock:
        for raw in store.conn.execute(f"SELECT {','.join(cols)} FROM households"):
            row = decode_row(ent, dict(zip(cols, raw)))
            by_id[row["id"]] = row
            if row.get("id_number"):
                by_idn.setdefault(row["id_number"], row["id"])
            if row.get("hh_number"):
                by_hh.setdefault(row["hh_number"], row["id"])
            by_place.setdefault(_place(row), []).append(row["id"])
    return by_id, by_idn, by_hh, by_place


def check_table(table: Table, store: CentralStore, default_grid: str | None = None,
                today: dt.date | None = None, field_rules: bool = True) -> tuple[rr.Header, list[rr.Checked], int]:
    """(the header, every data row checked, rows skipped)."""
    header = rr.find_header(table.rows)
    if header is None:
        raise Unreadable("no header row naming the head of household (户主姓名) and another known column "
                         "was found in the first rows",
                         "前15行中没有找到表头：表头须包含“户主姓名”及至少一个其他已知列（如身份证号、住址）")
    with store.lock:
        grids = rr.Grids.of([{"id": r[0], "name": r[1], "village": r[2]} for r in
                             store.conn.execute("SELECT id, name, village FROM grids")])
    data = list(range(header.first_data, len(table.rows)))
    kept = [i for i in data if not rr.is_blank(table.rows[i]) and not rr.is_junk(table.rows[i], header.columns)]
    # lines under the table that are no household (a total, a signature): skipped
    last = max((i for i in kept if rr.looks_like_data(table.rows[i], header.columns)), default=-1)
    kept = [i for i in kept if i <= last]
    skipped = len(data) - len(kept)
    checked = []
    seen: dict[tuple, int] = {}
    seen_hh: dict[str, int] = {}
    seen_whole: dict[tuple, int] = {}
    seen_place: dict[tuple, tuple[int, str | None]] = {}   # place -> (row, its ID number)
    id_col = next((c for c, n in header.columns.items() if n == "id_number"), None)
    for i in kept:
        row = table.rows[i]
        raw = {name: (row[c] if c < len(row) else None) for c, name in header.columns.items()}
        got = rr.check_row(table.numbers[i], raw, grids, default_grid, today,
                           numeric_id=(i, id_col) in table.numeric, field_rules=field_rules)
        whole = tuple(sorted(got.values.items()))
        place = _place(got.fields)
        if whole in seen_whole:
            got.reasons.append(rr.Reason(f"与第{seen_whole[whole]}行完全相同（重复行）",
                                         f"The same as row {seen_whole[whole]} throughout (a repeated row)"))
        elif not got.reasons:
            if got.key in seen:
                got.reasons.append(_repeated(got.key[0] if got.key[0] in ("id", "hh") else "place", seen[got.key]))
            elif got.fields.get("hh_number") and got.fields["hh_number"] in seen_hh:
                got.reasons.append(_repeated("hh", seen_hh[got.fields["hh_number"]]))
            elif _same_place(seen_place.get(place), got.fields.get("id_number")):
                # the same head at the same address, one row with the ID number and one
                # without: one household (registered twice, then once more at every import)
                got.reasons.append(_repeated("place", seen_place[place][0]))
        seen_whole.setdefault(whole, got.row)
        if not got.reasons:
            seen.setdefault(got.key, got.row)
            seen_place.setdefault(place, (got.row, got.fields.get("id_number")))
            if got.fields.get("hh_number"):
                seen_hh.setdefault(got.fields["hh_number"], got.row)
        else:
            got.fields = {}
        checked.append(got)
    return header, checked, skipped


# what a row repeats of an earlier one in the file: (Chinese, English)
_REPEATED = {"id": ("身份证号", "ID number"), "hh": ("户号", "Household number"),
             "place": ("网格、户主姓名和住址", "Grid, head of household and address")}


def _repeated(what: str, row: int) -> rr.Reason:
    zh, en = _REPEATED[what]
    return rr.Reason(f"{zh}与第{row}行相同（文件内重复）", f"{en} the same as in row {row} (repeated in the file)")


def import_roster(store: CentralStore, principal: Principal, data: bytes, name: str,
                  default_grid: str | None = None, dry_run: bool = False,
                  today: dt.date | None = None, timings: dict | None = None) -> Outcome:
    """Read, check and (unless `dry_run`) write a roster as `principal`. Raises
    Unreadable when the file cannot be read at all; every other problem is a refused
    row of the outcome. Audited: who, the file's name and the counts. `timings`, when
    given, receives the seconds of each step (the benchmark's figures)."""
    clock = time.perf_counter
    t0 = clock()
    table = read_table(data, name)
    t1 = clock()
    # the field rules in the import too, before the repeats are judged: checked only at the
    # write, a row they refuse still counted as the first of its ID number, and the dry run
    # (which checked them here) and the import said different things of the rows after it
    header, checked, skipped = check_table(table, store, default_grid, today, field_rules=True)
    out = Outcome(file=os.path.basename(name), dry_run=dry_run, skipped=skipped, sheets_not_read=list(table.others))
    heads = [table.rows[i] for i in header.rows]
    for c, f in header.columns.items():
        out.columns[f] = " ".join(re.sub(r"\s+", "", rr.cell_text(h[c])) for h in heads if c < len(h) and h[c] is not None
                                  and not isinstance(h[c], rr.Bad)) or rr.label(f)
    out.unused = header.unused
    out.rows = len(checked)
    by_id, by_idn, by_hh, by_place = _existing(store)
    day = today or dt.datetime.now(CST).date()
    plan = []    # (checked row, record id, fields to write, before or None)
    taken: dict[str, int] = {}
    for got in checked:
        if got.reasons:
            out.refused.append(got)
            continue
        f = got.fields
        rid_idn = by_idn.get(f.get("id_number")) if f.get("id_number") else None
        rid_hh = by_hh.get(f.get("hh_number")) if f.get("hh_number") else None
        if rid_idn and rid_hh and rid_idn != rid_hh:
            got.reasons.append(rr.Reason("身份证号与户号分别对应登记簿中不同的住户，请核对",
                                         "The ID number and the household number are those of two different"
                                         " registered households: check them"))
        rid = rid_idn or rid_hh
        if rid is None:
            # no number matched: the same head at the same address in the same grid is
            # the same household (registered in the field without a number, or a roster
            # that has none), unless it holds another ID number
            # (when several are registered there, the one that fits; none fitting alone is
            # said, not registered once more: that made another copy at every import)
            fits = [h for h in by_place.get(_place(f), ())
                    if not f.get("id_number") or by_id[h].get("id_number") in (None, "", f["id_number"])]
            if len(fits) > 1:
                got.reasons.append(rr.Reason("登记簿中有多户网格、户主姓名和住址与此行相同，请填写身份证号或户号以区分",
                                             "Several registered households have this row's grid, head of household"
                                             " and address: give the ID number or household number to tell them"
                                             " apart"))
            rid = fits[0] if len(fits) == 1 else None
        if rid and rid in taken:
            got.reasons.append(rr.Reason(f"与第{taken[rid]}行对应登记簿中的同一住户",
                                         f"The same registered household as row {taken[rid]}"))
        if got.reasons:
            got.fields = {}
            out.refused.append(got)
            continue
        if rid is None:
            # active, and due for a first visit the day it is registered, as a form registers
            # one: imported without them, no household of a roster was ever on 今日
            plan.append((got, changes.new_id("r"), {"status": ACTIVE, "next_visit_due": day.isoformat(), **f}, None))
            continue
        taken[rid] = got.row
        before = by_id[rid]
        diff = rr.differences(before, f)
        if not diff:
            out.unchanged += 1
            continue
        plan.append((got, rid, diff, before))
    t2 = clock()
    if not dry_run:
        _write(store, principal, plan, out)
    else:
        for got, rid, f, before in plan:
            _count(out, got, f, before)
    if timings is not None:
        timings.update(read_s=t1 - t0, check_s=t2 - t1, write_s=clock() - t2)
    return out


def _count(out: Outcome, got: rr.Checked, f: dict, before: dict | None) -> None:
    head = f.get("head_name") or (before or {}).get("head_name") or ""
    if before is None:
        out.imported += 1
        out.changes.append((got.row, "新增", head, []))
    else:
        out.updated += 1
        out.changes.append((got.row, "更新", head, [(rr.FIELD_LABELS.get(k, k), rr.shown(k, before.get(k)),
                                                    rr.shown(k, v)) for k, v in f.items()]))


def _write(store: CentralStore, principal: Principal, plan: list, out: Outcome) -> None:
    """Every household as an ordinary change through the push admission (the write
    rules of `principal`), in one transaction; a change the admission refuses makes
    its row refused, with the rule's words."""
    author = principal.username
    device = principal.device or SERVER_DEVICE
    with store.lock, store.transaction(), gc_paused():
        store._load_clock()
        versions = {}
        updates = [rid for _, rid, _, before in plan if before is not None]
        if updates:
            versions = {rid: ver for rid, (_, ver) in store._load("household", updates).items()}
        for start in range(0, len(plan), BATCH):
            part = plan[start:start + BATCH]
            batch = []
            for got, rid, f, before in part:
                base = merge.bases(versions.get(rid, {}), f) if before is not None else None
                batch.append(changes.make("household", rid, f, store.clock.tick(), device, author, base))
            res = store.push(principal, batch)
            for (got, rid, f, before), r in zip(part, res.results):
                if r["status"] == "applied":
                    _count(out, got, f, before)
                else:
                    why = getattr(r, "field_errors", None) or []
                    got.reasons = [rr.field_reason(e) for e in why] or [
                        rr.Reason(r["reason"], r["reason"]) if r.get("reason")    # the API's words, English
                        else rr.Reason("服务器拒收", "Refused by the server")]
                    got.fields = {}
                    out.refused.append(got)
        # on the audit trail in the same commit as the rows: a process ending between
        # the two left 3,000 households imported by no one
        store.audit(principal.username, "household_import",
                    f"{out.file[:100]} " + " ".join(f"{k}={v}" for k, v in out.counts().items()),
                    device=principal.device)
    out.refused.sort(key=lambda c: c.row)


# --- the report --------------------------------------------------------------------------

def _report_sheets(out: Outcome) -> list[tuple[str, list, list, list]]:
    """(title, columns, widths, rows) of each sheet of the report."""
    cols = [f for f in rr.COLUMNS if f in out.columns]
    refused = [[got.row, *[got.values.get(f, "") for f in cols], "；".join(got.reasons)] for got in out.refused]
    made = []
    for row, kind, head, diff in out.changes:
        if not diff:
            made.append([row, kind, head, "", "", ""])
        for name, old, new in diff:
            made.append([row, kind, head, name, old, new])
    c = out.counts()
    summary = [[zh, c[k]] for k, zh in (("rows", "数据行"), ("imported", "新增"), ("updated", "更新"),
                                        ("unchanged", "无变化"), ("refused", "拒收"),
                                        ("skipped", "跳过的空行和表尾"))]
    summary.append(["文件", out.file])
    if out.dry_run:
        summary.append(["试运行", "未写入任何数据"])
    if out.unused:
        summary.append(["未使用的列", "、".join(out.unused)])
    if out.sheets_not_read:
        summary.append(["未导入的工作表", "、".join(out.sheets_not_read) + "（每次只导入第一个花名册工作表，请将其另存为单独的文件再导入）"])
    return [("拒收行", ["行号", *[rr.label(f) for f in cols], "拒收原因"], [8] + [16] * len(cols) + [60], refused),
            ("导入结果", ["行号", "操作", "户主姓名", "项目", "原值", "新值"], [8, 8, 12, 12, 30, 30], made),
            ("汇总", ["项目", "数量"], [20, 40], summary)]


def write_report(out: Outcome, dest) -> None:
    """An .xlsx the clerk opens in Excel: the refused rows (row number, the row's values,
    every reason), the changes made, and the counts. Written as the ledgers are
    (xlsx_stream: text is never run as a formula; a roster's =HYPERLINK(...) stays
    text), three sheets in one workbook."""
    import zipfile
    from xml.sax.saxutils import escape

    from . import xlsx_stream as xs
    sheets = _report_sheets(out)
    n = len(sheets)
    types = xs._CONTENT_TYPES.replace(
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument'
        '.spreadsheetml.worksheet+xml"/>',
        "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-'
                f'officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, n + 1)))
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                      f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
              'relationships/styles" Target="styles.xml"/></Relationships>')
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", xs._RELS)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/styles.xml", xs._STYLES)
        z.writestr("xl/workbook.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            + "".join(f'<sheet name="{escape(title)}" sheetId="{i}" r:id="rId{i}"/>'
                      for i, (title, *_rest) in enumerate(sheets, 1)) + "</sheets></workbook>"))
        for i, (title, columns, widths, rows) in enumerate(sheets, 1):
            cols = "".join(f'<col min="{j}" max="{j}" width="{w}" customWidth="1"/>' for j, w in enumerate(widths, 1))
            parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                     '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                     '<sheetViews><sheetView workbookViewId="0"' + (' tabSelected="1"' if i == 1 else "")
                     + '><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView>'
                     f'</sheetViews><cols>{cols}</cols><sheetData>'
                     + "<row>" + "".join(xs._text(c, xs.STYLE_BOLD) for c in columns) + "</row>"]
            parts += ["<row>" + "".join(map(xs._cell, row)) + "</row>" for row in rows]
            parts.append("</sheetData></worksheet>")
            z.writestr(f"xl/worksheets/sheet{i}.xml", "".join(parts))


def report_bytes(out: Outcome) -> bytes:
    buf = io.BytesIO()
    write_report(out, buf)
    return buf.getvalue()


def template_bytes() -> bytes:
    """The roster template with Chinese headers and one example row."""
    import openpyxl
    from openpyxl.styles import Font
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "住户花名册"
    ws.append(list(rr.TEMPLATE))
    ws.append(list(rr.TEMPLATE_EXAMPLE))
    for c in ws[1]:
        c.font = Font(bold=True)
    for c in ws["C"]:
        c.number_format = "@"    # ID numbers kept as text: Excel keeps 15 digits of a number
    for letter, w in zip("ABCDEFGHIJ", (10, 10, 22, 14, 12, 16, 28, 30, 20, 20)):
        ws.column_dimensions[letter].width = w
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# Reports made at the office, kept a short while for the one person who made them.
_REPORTS: dict[str, tuple[str, float, bytes]] = {}
_REPORTS_LOCK = threading.Lock()
REPORT_TTL_S = 30 * 60


def keep_report(username: str, data: bytes) -> str:
    key = secrets.token_urlsafe(16)
    now = time.monotonic()
    with _REPORTS_LOCK:
        for k in [k for k, v in _REPORTS.items() if now - v[1] > REPORT_TTL_S]:
            del _REPORTS[k]
        while len(_REPORTS) >= 100:
            _REPORTS.pop(next(iter(_REPORTS)))
        _REPORTS[key] = (username, now, data)
    return key


def kept_report(username: str, key: str) -> bytes | None:
    with _REPORTS_LOCK:
        got = _REPORTS.get(key)
    if got is None or got[0] != username or time.monotonic() - got[1] > REPORT_TTL_S:
        return None
    return got[2]


def export_file(store: CentralStore, p: Principal, kind: str, params: dict, address: str = "") -> bytes:
    """The template, or a report this person made at the office (downloads.py). A
    report is the office's: it names the rows of every grid in the file."""
    from .downloads import BadParams, NotAllowed
    if not p.sees_all:
        raise NotAllowed(kind)
    if kind == "roster_template.xlsx":
        return template_bytes()
    data = kept_report(p.username, str(params.get("report") or ""))
    if data is None:
        raise BadParams("report: no import report of this account under that key (kept 30 minutes)")
    store.audit(p.username, "export", "roster_report.xlsx", device=p.device, address=address)
    return data


# --- the command line --------------------------------------------------------------------

def import_command(args) -> int:
    """`gridbook household import FILE --db PATH [--grid GRID] [--report OUT.xlsx] [--dry-run]`:
    one JSON line of counts; non-zero only when the file cannot be read at all."""
    try:
        with open(args.file, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        print(f"error: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    from .cli import store_must_exist
    store_must_exist(args.db)
    store = CentralStore(args.db)
    if args.grid and store.get("grid", args.grid) is None:
        print(f"error: no grid {args.grid}: see 'gridbook grid list'", file=sys.stderr)
        return 2
    if args.report:
        from ..replica import private_file
        try:   # before anything is written: a report that cannot be made is said first
            private_file(args.report)   # created 0600: it holds names and ID numbers
        except OSError as e:
            print(f"error: cannot write the report {args.report}: {e.strerror or e}", file=sys.stderr)
            return 2
    p = Principal(SYSTEM_AUTHOR, "admin", frozenset(), SERVER_DEVICE)
    try:
        out = import_roster(store, p, data, args.file, args.grid, dry_run=args.dry_run)
    except Unreadable as e:
        print(f"error: cannot import {args.file}: {e}", file=sys.stderr)
        return 2
    if args.report:
        write_report(out, args.report)
    print(json.dumps({**out.counts(), **({"sheets_not_read": out.sheets_not_read} if out.sheets_not_read else {})},
                     ensure_ascii=False))
    if out.sheets_not_read:
        print(f"note: only the first roster sheet was read; not read: {', '.join(out.sheets_not_read)}"
              " (save each as a workbook of its own and import it)", file=sys.stderr)
    return 0
