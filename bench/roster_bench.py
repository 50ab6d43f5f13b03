"""Importing a 20,000-row household roster (issue 9): read the .xlsx, check every row,
write every household as a change through the push admission in one transaction, and
write the report (target: 10 s for the whole, the report included). Then the same
roster again with a tenth of the rows changed (re-import: matching, differences,
updates) and its report.

The roster is generated beforehand as Excel saves one (text in the shared strings
table; openpyxl's own files, inline strings with character references, read about
half a second slower): 20,000 households over 10 grids of 2 villages, about 1 row in 50
broken (bad check digit, unknown grid, bad phone), so the report has refused rows.
The store is a fresh file with the grids in it.

Prints one JSON line. Usage: python bench/roster_bench.py [--rows 20000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import openpyxl.utils  # noqa: E402

from sync import idnumber  # noqa: E402
from sync.access import Principal  # noqa: E402
from sync.server import roster  # noqa: E402
from sync.server.central import SERVER_DEVICE, SYSTEM_AUTHOR, CentralStore  # noqa: E402

GRIDS = [(f"g{v}{n}", f"{village}第{n}网格", village) for v, village in enumerate(("白鹤村", "高山村"))
         for n in range(1, 6)]


def make_id(i: int) -> str:
    first = f"330702{1930 + i % 80}{i % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}"
    return first + idnumber.check_char(first)


def excel_like(rows: list[list]) -> bytes:
    """An .xlsx as Excel and WPS save one: text in the shared strings table, in UTF-8
    (openpyxl writes every cell as an inline string, every Chinese character as a
    character reference, which no spreadsheet program does)."""
    import zipfile
    from xml.sax.saxutils import escape
    strings: dict[str, int] = {}
    out = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, v in enumerate(row):
            ref = f"{openpyxl.utils.get_column_letter(c + 1)}{r}"
            if v is None or v == "":
                continue
            if isinstance(v, (int, float)):
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            else:
                n = strings.setdefault(str(v), len(strings))
                cells.append(f'<c r="{ref}" t="s"><v>{n}</v></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
                   'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/'
                   'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
                   'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                   '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                   'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                   '</Relationships>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
                   '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
                   '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target='
                   '"worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="http://'
                   'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="花名册" '
                   'sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst {ns} count="{len(strings)}"'
                   f' uniqueCount="{len(strings)}">' + "".join(f"<si><t>{escape(t)}</t></si>" for t in strings)
                   + "</sst>")
        z.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}>'
                   f'<sheetData>{"".join(out)}</sheetData></worksheet>')
    return buf.getvalue()


def roster_xlsx(rows: int, changed: bool = False) -> bytes:
    table = []
    table.append(["序号", "户号", "户主姓名", "身份证号", "联系电话", "村（社区）", "网格", "住址", "家庭成员",
               "关注类别", "备注"])
    for i in range(rows):
        grid = GRIDS[i % len(GRIDS)]
        idn = make_id(i)
        phone = f"138{i:08d}" if not (changed and i % 10 == 0) else f"139{i:08d}"
        if i % 50 == 7:
            idn = idn[:17] + ("0" if idn[17] != "0" else "1")
        if i % 50 == 17:
            grid = ("g99", "白鹤村第99网格", "白鹤村")
        if i % 50 == 27:
            phone = "1385790"
        table.append([i + 1, f"HH{i:06d}", f"王建{i}", idn, phone, grid[2], grid[1],
                   f"{grid[2]}{i % 12 + 1}组{i}号", "李秀英（配偶）、张伟（子）",
                   "低保" if i % 7 == 0 else ("独居老人、残疾" if i % 11 == 0 else ""), ""])
    return excel_like(table)


def run(store, data: bytes, name: str, report: str) -> dict:
    p = Principal(SYSTEM_AUTHOR, "admin", frozenset(), SERVER_DEVICE)
    timings: dict = {}
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    out = roster.import_roster(store, p, data, name, timings=timings)
    t1 = time.perf_counter()
    roster.write_report(out, report)
    t2 = time.perf_counter()
    return {"total_s": round(t2 - t0, 2), "cpu_s": round(time.process_time() - cpu0, 2),
            "import_s": round(t1 - t0, 2), "report_s": round(t2 - t1, 2),
            **{k: round(v, 2) for k, v in timings.items()}, **out.counts(),
            "report_kb": os.path.getsize(report) // 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    args = ap.parse_args()
    first, second = roster_xlsx(args.rows), roster_xlsx(args.rows, changed=True)
    with tempfile.TemporaryDirectory() as d:
        store = CentralStore(os.path.join(d, "township.db"))
        for gid, name, village in GRIDS:
            store.add_grid(gid, name, village, "金山镇")
        fresh = run(store, first, "roster.xlsx", os.path.join(d, "report1.xlsx"))
        again = run(store, second, "roster2.xlsx", os.path.join(d, "report2.xlsx"))
        households = store.count("household")
    print(json.dumps({"rows": args.rows, "file_kb": len(first) // 1024, "target_s": 10,
                      "load_avg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
                      "first_import": fresh, "reimport_10pct_changed": again, "households": households}))


if __name__ == "__main__":
    main()
