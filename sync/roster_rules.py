"""Reading a household roster (户籍 / 网格人口台账) as rules: which column is which, where
the header is, which rows are junk, and what is wrong with a row, in Chinese.

Pure functions over plain values: the file readers (sync/server/roster.py) turn an
.xlsx or .csv into rows of cell values, with a formula or an error cell given as a
`Bad` value; everything here decides what those rows mean. The reasons are said the
way a clerk reads them next to the row number Excel shows, in Chinese, with the English
beside (`Reason`) for an office shown in English.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass, field

from . import codes, idnumber
from .model import ENTITIES, validate_fields, visible


@dataclass(frozen=True)
class Bad:
    """A cell that holds no value one can take: a formula (=HYPERLINK(...)) or an error
    (#N/A). Kept apart from text so that a name is never read from a formula."""
    kind: str   # "formula" or "error"
    text: str

    def __str__(self) -> str:
        return self.text


# field -> (the label used in messages and in the template, the header names taken)
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "hh_number": ("户号", ("户号", "户编号", "户籍编号", "户口编号")),
    "head_name": ("户主姓名", ("户主姓名", "户主", "姓名", "户主名", "户主名称")),
    "id_number": ("身份证号", ("身份证号", "公民身份号码", "身份证号码", "身份证", "户主身份证号",
                              "户主身份证号码", "户主公民身份号码", "证件号码", "身份号码")),
    "phone": ("联系电话", ("联系电话", "电话", "手机号", "手机", "手机号码", "电话号码", "联系方式",
                          "户主电话", "户主联系电话")),
    "village": ("村（社区）", ("村(社区)", "村", "所属村", "村社区", "社区", "村居", "所属村(社区)",
                              "村(居)", "行政村")),
    "grid": ("网格", ("网格", "所属网格", "网格名称", "网格编号", "网格号")),
    "address": ("住址", ("住址", "地址", "家庭住址", "现住址", "居住地址", "详细地址", "家庭地址")),
    "members": ("家庭成员", ("家庭成员", "家庭成员及关系", "家庭成员(姓名及与户主关系)", "成员",
                            "家庭成员情况", "同住人员", "家庭成员姓名及关系")),
    "tags": ("关注类别", ("关注类别", "需求", "关注类型", "重点人群", "人员类别", "需求类别",
                         "重点关注", "困难类别", "帮扶需求")),
    "status": ("状态", ("状态", "户籍状态", "在册状态")),
    "note": ("备注", ("备注", "说明", "情况说明")),
    "lat": ("纬度", ("纬度",)),
    "lon": ("经度", ("经度",)),
}
# Columns a roster often has that the registry does not keep: known, so not "unused".
IGNORED = ("序号", "编号", "家庭人口", "人口数", "人数", "性别", "年龄", "出生日期", "民族", "与户主关系")
REQUIRED = ("head_name", "address")
TEMPLATE = ("户号", "户主姓名", "身份证号", "联系电话", "村（社区）", "网格", "住址", "家庭成员",
            "关注类别", "备注")
TEMPLATE_EXAMPLE = ("BH-0001", "张建国", "330702195803124411", "13857901234", "白鹤村", "白鹤村第1网格",
                    "金山镇白鹤村3组12号", "李秀英（配偶）、张伟（子）", "独居老人、低保", "")
JUNK_START = ("合计", "总计", "小计", "制表", "填表", "审核", "注：", "注:", "说明：", "说明:", "备注：",
              "备注:", "负责人", "联系人", "统计", "签字", "日期：", "日期:")
_WS = re.compile(r"\s+")
HEADER_ROWS = 15   # a header is looked for within the first rows (a title above it)

_VARIANTS: dict[str, str] = {}


@functools.lru_cache(maxsize=4096)
def _normalize(text: str) -> str:
    t = unicodedata.normalize("NFKC", text)
    t = re.sub(r"\s+", "", t)
    return t.replace("*", "").replace("(必填)", "").replace("必填", "").replace("(选填)", "").rstrip(":")


def normalize_header(text) -> str:
    """A header as compared: full-width made half-width, spaces and line breaks gone,
    required marks (*, 必填) gone."""
    if text is None or isinstance(text, Bad):
        return ""
    return _normalize(str(text))


for _field, (_label, _names) in COLUMNS.items():
    for _n in _names + (_label,):
        _VARIANTS.setdefault(normalize_header(_n), _field)
_IGNORED = {normalize_header(n) for n in IGNORED}


def field_of(header) -> str | None:
    return _VARIANTS.get(normalize_header(header))


# what the office's screen in English calls each column (the file's headers stay Chinese)
EN_LABELS = {"hh_number": "Household number", "head_name": "Head of household", "id_number": "ID number",
             "phone": "Phone", "village": "Village (community)", "grid": "Grid", "address": "Address",
             "members": "Members", "tags": "Needs", "status": "Status", "note": "Note", "lat": "Latitude",
             "lon": "Longitude", "grid_id": "Grid"}


def label(name: str, lang: str = "zh") -> str:
    if lang == "en":
        return EN_LABELS.get(name, name)
    return COLUMNS[name][0] if name in COLUMNS else name


class Reason(str):
    """Why a row is refused: the Chinese as the string itself (the report, the command
    line and every check of it read that), the English kept beside it, so an office
    shown in English says the reason in English (`said`)."""

    def __new__(cls, zh: str, en: str):
        self = super().__new__(cls, zh)
        self.en = en
        return self

    def __getnewargs__(self):
        return str(self), self.en

    def said(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else str(self)


def said(reason: str, lang: str = "zh") -> str:
    """A reason in the person's language (a plain string is said as it is)."""
    return reason.said(lang) if isinstance(reason, Reason) else reason


@dataclass
class Header:
    rows: tuple[int, ...]               # the indexes (0-based) of the header's rows
    columns: dict[int, str]             # column index -> field
    unused: list[str] = field(default_factory=list)   # headers of columns not taken

    @property
    def first_data(self) -> int:
        return self.rows[-1] + 1


def _labels(top: list, low: list | None) -> list[str]:
    """A header's column names: one row, or two (a group name over its columns, merged
    cells already filled in by the reader)."""
    out = []
    width = max(len(top), len(low or []))
    for i in range(width):
        a = normalize_header(top[i] if i < len(top) else None)
        if low is None:
            out.append(a)
            continue
        b = normalize_header(low[i] if i < len(low) else None)
        out.append(a if not b or b == a else (b if not a else a + "|" + b))
    return out


def _match(labels: list[str]) -> tuple[dict[int, str], list[str]]:
    columns, unused, taken = {}, [], set()
    for i, text in enumerate(labels):
        if not text:
            continue
        options = [text] if "|" not in text else [text.replace("|", ""), text.split("|", 1)[1]]
        got = next((_VARIANTS[o] for o in options if o in _VARIANTS), None)
        if got and got not in taken:
            columns[i] = got
            taken.add(got)
        elif not any(o in _IGNORED for o in options):
            unused.append(text.replace("|", ""))
    return columns, unused


def find_header(rows: list[list]) -> Header | None:
    """The header among the first rows: the row (or pair of rows) naming most of the
    registry's fields, and at least the head's name. None when no row does."""
    best, best_key = None, None
    top = rows[:HEADER_ROWS]
    for i, row in enumerate(top):
        for pair in (False, True):
            if pair and i + 1 >= len(top):
                continue
            labels = _labels(row, top[i + 1] if pair else None)
            columns, unused = _match(labels)
            fields = set(columns.values())
            if "head_name" not in fields or len(fields) < 2:
                continue
            end = i + (1 if pair else 0)
            # most fields; then the header ending first (a data row is never part of it);
            # then one row over two
            key = (len(fields), -end, not pair)
            if best_key is None or key > best_key:
                best_key = key
                best = Header(tuple(range(i, end + 1)), columns, unused)
    return best


# --- cells -----------------------------------------------------------------------------

def cell_text(value) -> str:
    """A plain cell as text: numbers without a trailing .0, dates as YYYY-MM-DD."""
    if type(value) is str:
        return visible(value).strip()   # a pasted zero-width space made a name no search finds
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def is_blank(row: list) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def is_junk(row: list, columns: dict[int, str]) -> bool:
    """A line under the table that is no household: a total, a signature, a note."""
    for v in row:
        if v is None or isinstance(v, Bad):
            continue
        text = cell_text(v)
        if text:
            return text.startswith(JUNK_START)
    return False


def looks_like_data(row: list, columns: dict[int, str]) -> bool:
    """A household, however badly written: its head's name, or two of the registry's
    columns, filled. (A last row holding a name alone, its address forgotten, was taken
    for a line under the table and skipped unsaid; anywhere else it was refused with its
    reasons. A total or a signature is told by its words: is_junk.)"""
    filled = [columns[i] for i in columns if i < len(row) and row[i] is not None
              and (not isinstance(row[i], str) or row[i].strip())]
    return len(filled) >= 2 or "head_name" in filled


# --- a row -----------------------------------------------------------------------------

@dataclass
class Grids:
    """The township's grids as a roster names them: by id, by name, by village."""
    by_id: dict[str, dict]
    _names: dict = field(default_factory=dict)
    _villages: dict = field(default_factory=dict)

    def __post_init__(self):
        for g in self.by_id.values():
            self._names.setdefault(normalize_header(g.get("name")), g)
            self._names.setdefault(g["id"].lower(), g)
            self._villages.setdefault(normalize_header(g.get("village")), []).append(g)

    @classmethod
    def of(cls, rows: list[dict]) -> "Grids":
        return cls({g["id"]: g for g in rows})

    def find(self, text: str) -> dict | None:
        """A grid named by its id or its name (as the township wrote it)."""
        if text in self.by_id:
            return self.by_id[text]
        t = normalize_header(text)
        return self._names.get(t) or self._names.get(t.lower())

    def villages(self) -> set[str]:
        return set(self._villages)

    def has_village(self, village: str) -> bool:
        return normalize_header(village) in self._villages

    def of_village(self, village: str) -> list[dict]:
        return self._villages.get(normalize_header(village), [])


NEED_BY_LABEL = {normalize_header(v["zh"]): k for k, v in codes.NEEDS.items()}
NEED_BY_LABEL.update({normalize_header(k): k for k in codes.NEEDS})
STATUS_BY_LABEL = {normalize_header(v["zh"]): k for k, v in codes.HOUSEHOLD_STATUSES.items()}
STATUS_BY_LABEL.update({"正常": "active", "迁出": "moved_out", "死亡": "deceased", "已故": "deceased"})
_SPLIT = re.compile(r"[、,，;；/\s]+")
_MEMBER = re.compile(r"^(.+?)[(（]([^()（）]+)[)）]$")
RELATIONS = ("配偶", "妻", "夫", "妻子", "丈夫", "子", "女", "儿子", "女儿", "父", "母", "父亲", "母亲", "孙子",
             "孙女", "外孙", "外孙女", "儿媳", "女婿", "兄", "弟", "姐", "妹", "祖父", "祖母", "其他")


def parse_members(text: str) -> tuple[list[dict], list[str]]:
    """家庭成员 as written: 李秀英（配偶）、张伟（子）, or 李秀英 配偶; returns the members
    and the pieces that could not be read."""
    members, bad = [], []
    # a closing bracket ends a member too: "李秀英（配偶） 张伟（子）" is two, where it was
    # one member named "李秀英（配偶） 张伟"
    for part in re.split(r"[、,，;；\n]+|(?<=[)）])\s*(?=\S)", text):
        part = part.strip()
        if not part:
            continue
        m = _MEMBER.match(part)
        if m and not re.search(r"[()（）]", m.group(1)):
            members.append({"name": m.group(1).strip(), "relation": m.group(2).strip()})
            continue
        bits = part.split()
        if len(bits) == 2 and len(bits[1]) <= 4:
            members.append({"name": bits[0], "relation": bits[1]})
        elif len(bits) == 1 and 1 < len(part) <= 20:
            members.append({"name": part, "relation": ""})
        else:
            bad.append(part)
    return members, bad


def members_text(members: list[dict] | None) -> str:
    return "、".join(f"{m.get('name', '')}（{m['relation']}）" if m.get("relation") else m.get("name", "")
                    for m in members or [])


@dataclass
class Checked:
    row: int                    # the row number as Excel shows it
    values: dict                # field -> text as read (for the report)
    fields: dict                # the household's fields, when the row is good
    reasons: list[str]          # every reason it is refused: Reason, Chinese with its English
    key: tuple = ()             # what identifies it within the file (for duplicates)


def _bad_reason(name: str, cell: Bad) -> Reason:
    if cell.kind == "formula":
        return Reason(f"{label(name)}是公式（{cell.text[:60]}），请复制后“粘贴为数值”再导入",
                      f"{label(name, 'en')} is a formula ({cell.text[:60]}): copy it and paste it as values,"
                      " then import again")
    return Reason(f"{label(name)}是错误值 {cell.text}，请改为实际内容",
                  f"{label(name, 'en')} is an error value {cell.text}: put in what it should say")


def check_row(row_number: int, raw: dict, grids: Grids, default_grid: str | None = None,
              today: dt.date | None = None, numeric_id: bool = False, field_rules: bool = True) -> Checked:
    """One row of the roster: the household it describes, or every reason it cannot be
    taken. `raw` maps each field to the cell as read (text, a number, or `Bad`);
    `numeric_id`: the ID number cell held a number (Excel keeps only 15 digits);
    `field_rules`: check the registry's field rules here too (lengths, characters); a
    write's admission checks them again and says the same words."""
    reasons: list[Reason] = []
    values, text = {}, {}
    for name, v in raw.items():
        if isinstance(v, Bad):
            reasons.append(_bad_reason(name, v))
            values[name] = v.text
        else:
            values[name] = text[name] = cell_text(v)
    f: dict = {}
    for name in REQUIRED:
        if name not in raw:
            reasons.append(Reason(f"花名册中没有“{label(name)}”列",
                                  f"The roster has no {label(name, 'en')} column ({label(name)})"))
        elif not isinstance(raw[name], Bad) and not text.get(name):
            reasons.append(Reason(f"{label(name)}未填写", f"{label(name, 'en')} is empty"))
    if text.get("head_name"):
        f["head_name"] = _WS.sub("", text["head_name"])
    if text.get("address"):
        f["address"] = " ".join(text["address"].split())   # a cell's line breaks: one line
    idn = text.get("id_number", "")
    if idn:
        if numeric_id and len(idn) > 15:
            reasons.append(Reason("身份证号被存成了数字，Excel只保留15位有效数字，后几位已改变：请将该列设为“文本”后重新填写",
                                  "The ID number was stored as a number, and Excel keeps only 15 digits of it: the"
                                  " last ones have changed. Format the column as Text and type the numbers again"))
        else:
            n = idnumber.normalize_id(idn)
            problem = idnumber.id_problem(n, today=today, allow_15=True)
            if not problem and len(n) == 15:
                # a first-generation card's number, as old rosters keep many: the same
                # person's 18-digit number is reckoned from it (GB 11643), and only that
                # form is stored, so the two never stand for two people
                n = idnumber.upgrade_15(n)
            if problem:
                params = idnumber.id_params(n)
                reasons.append(Reason("身份证号：" + idnumber.message(problem, "zh", **params),
                                      "ID number: " + idnumber.message(problem, "en", **params)))
            else:
                f["id_number"] = n
    phone = text.get("phone", "")
    if phone:
        problem = idnumber.phone_problem(phone)
        if problem:
            reasons.append(Reason("联系电话：" + idnumber.message(problem, "zh"),
                                  "Phone: " + idnumber.message(problem, "en")))
        else:
            f["phone"] = idnumber.normalize_phone(phone)
    if text.get("hh_number"):
        f["hh_number"] = _WS.sub("", text["hh_number"])
    # the grid: named, or the village's only grid, or the one given for the whole file
    grid = None
    village = text.get("village", "")
    if village and not grids.has_village(village):
        reasons.append(Reason(f"村（社区）“{village}”不在本镇的网格名单中",
                              f"Village (community) “{village}” is not among the township's grids"))
        village = ""
    if text.get("grid"):
        grid = grids.find(text["grid"])
        if grid is None:
            reasons.append(Reason(f"网格“{text['grid']}”不存在：请填写本镇已有网格的名称或编号",
                                  f"Grid “{text['grid']}” does not exist: write the name or id of one of the"
                                  " township's grids"))
        elif village and normalize_header(grid.get("village")) != normalize_header(village):
            reasons.append(Reason(f"网格“{text['grid']}”不属于村（社区）“{village}”",
                                  f"Grid “{text['grid']}” is not in village (community) “{village}”"))
    elif not isinstance(raw.get("grid"), Bad):
        if village and len(grids.of_village(village)) == 1:
            grid = grids.of_village(village)[0]
        elif default_grid and default_grid in grids.by_id:
            grid = grids.by_id[default_grid]
            if village and normalize_header(grid.get("village")) != normalize_header(village):
                reasons.append(_several_grids(village))
                grid = None
        elif village:
            reasons.append(_several_grids(village))
        else:
            reasons.append(Reason("网格未填写（也可在导入时指定默认网格）",
                                  "Grid is empty (or choose one under “Rows naming no grid go to” when"
                                  " importing)"))
    if grid is not None:
        f["grid_id"] = grid["id"]
    if text.get("members"):
        members, bad = parse_members(text["members"])
        if bad:
            reasons.append(Reason(f"家庭成员“{'、'.join(bad)[:40]}”无法识别，应写作 姓名（关系），用顿号分隔",
                                  f"Members “{'、'.join(bad)[:40]}” cannot be read: write each as name (relation),"
                                  " separated by commas"))
        else:
            f["members"] = members
    if text.get("tags"):
        tags, unknown = [], []
        for part in _SPLIT.split(text["tags"]):
            if not part:
                continue
            code = NEED_BY_LABEL.get(normalize_header(part))
            (tags.append(code) if code else unknown.append(part))
        if unknown:
            options = [v["zh"] for v in codes.NEEDS.values()]
            reasons.append(Reason(f"关注类别“{'、'.join(unknown)[:40]}”不是可选项（可选：{'、'.join(options)}）",
                                  f"Needs “{'、'.join(unknown)[:40]}” is not one of the options (write one of:"
                                  f" {', '.join(options)})"))
        else:
            f["tags"] = sorted(set(tags))
    if text.get("status"):
        code = STATUS_BY_LABEL.get(normalize_header(text["status"]))
        if code is None:
            reasons.append(Reason(f"状态“{text['status']}”不是可选项（可选：在册、已迁出、户主已故）",
                                  f"Status “{text['status']}” is not one of the options (write one of: 在册, 已迁出,"
                                  " 户主已故)"))
        else:
            f["status"] = code
    if text.get("note"):
        f["note"] = text["note"]
    for name in ("lat", "lon"):
        if text.get(name):
            try:
                f[name] = float(text[name])
            except ValueError:
                reasons.append(Reason(f"{label(name)}：应为数字", f"{label(name, 'en')}: must be a number"))
    if not reasons and field_rules:
        # the registry's own field rules (lengths, ranges, characters), in the clerk's words
        for e in validate_fields(ENTITIES["household"], f, creating=True):
            reasons.append(field_reason(e))
    key = (("id", f["id_number"]) if f.get("id_number") else ("hh", f["hh_number"]) if f.get("hh_number")
           else ("row", f.get("grid_id"), f.get("head_name"), _WS.sub("", f.get("address") or "")))
    return Checked(row_number, values, {} if reasons else f, reasons, key)


_FIELD_COLUMN = {"grid_id": "grid"}


def _several_grids(village: str) -> Reason:
    return Reason(f"未填写网格，且村（社区）“{village}”有多个网格：请填写网格",
                  f"No grid given, and village (community) “{village}” has several: write the grid")


def field_reason(e) -> Reason:
    """A field rule of the registry broken (model.validate_fields, or the write's
    admission), naming the column."""
    name = _FIELD_COLUMN.get(e.field, e.field)
    return Reason(f"{label(name)}：{e.message('zh')}", f"{label(name, 'en')}: {e.message('en')}")


# what a field of the registry is called in a report of changes
FIELD_LABELS = {**{k: v[0] for k, v in COLUMNS.items()}, "grid_id": "网格"}


def shown(name: str, value) -> str:
    """A stored value as the report of changes says it."""
    if value is None:
        return ""
    if name == "members":
        return members_text(value)
    if name == "tags":
        return "、".join(codes.label(codes.NEEDS, t) for t in value)
    if name == "status":
        return codes.label(codes.HOUSEHOLD_STATUSES, value)
    return str(value)


def differences(before: dict, fields: dict) -> dict:
    """The fields of the roster's row that differ from the stored household: those
    alone are written. Members are compared by name and relation; whatever else a
    member has (an ID number the office typed) is kept."""
    out = {}
    for name, value in fields.items():
        old = before.get(name)
        if name == "members":
            old_pairs = [(m.get("name"), m.get("relation") or "") for m in old or []]
            kept = {m.get("name"): m for m in old or []}
            # a relation the roster leaves empty leaves the stored one, as an empty cell does
            value = [{**kept.get(m["name"], {}), **{k: v for k, v in m.items() if v not in (None, "")}}
                     for m in value]
            if old_pairs == [(m.get("name"), m.get("relation") or "") for m in value]:
                continue
        elif name == "tags":
            if sorted(old or []) == sorted(value):
                continue
        elif old == value:
            continue
        out[name] = value
    return out


__all__ = ["Bad", "COLUMNS", "Reason", "said", "find_header", "check_row", "Checked", "Grids", "differences",
           "is_blank", "is_junk", "looks_like_data", "field_of", "normalize_header", "parse_members", "TEMPLATE"]
