"""The entities the replicas hold, their fields, and the validation rules.

Every entity is a flat record with a client-generated id. Its fields are declared
here once; the SQLite tables, the push validation and the screens' forms all read
these declarations. Validation returns `FieldError`s that name the field and the
rule, with the message in English (the API) and Chinese (the screens).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from . import codes, idnumber

# Field kinds and the SQLite column type each is stored as. "id" names another record
# or an account (letters, digits and _.:- only), so it can never smuggle text.
COLUMN_TYPES = {
    "str": "TEXT", "text": "TEXT", "code": "TEXT", "date": "TEXT", "datetime": "TEXT", "id": "TEXT",
    "int": "INTEGER", "float": "REAL", "bool": "INTEGER",
    "codes": "TEXT", "strs": "TEXT", "members": "TEXT", "attachments": "TEXT",
}
JSON_KINDS = {"codes", "strs", "members", "attachments"}
# Anchored with \Z, not $: "$" also matches before a final line end, and "c3\n" would pass
# for an id beside "c3".
HASH_RE = re.compile(r"^[0-9a-f]{64}\Z")  # SHA-256 of an attachment's bytes
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024

ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
# ISO 8601 with the offset from UTC: a time without one means a different instant on
# every phone, and the township's figures count days in its own time zone.
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})\Z")
# The dates a record may hold: wide enough for any real matter, narrow enough that
# every later reading (exports, deadlines, time zones) stays within the calendar.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
MAX_ERRORS = 20  # per change: a change with 600,000 bad fields gets a short answer
# Characters XML 1.0 forbids (Word and Excel files are XML): dropped from every value
# written into one, whatever was stored before the checks below.
XML_ILLEGAL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Characters no one types: a NUL or an escape in a name breaks exports and screens; the
# noncharacters U+FFFE and U+FFFF made the Word documents' library drop every <, > and &
# of a notice (its XML read "recovering" from them).
# The bidirectional overrides and isolates turn the rest of a row around on every phone
# ("\u202e张建国" read "国建张" and the address after it backwards).
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\u202a-\u202e\u2066-\u2069]")
# A line end in a one-line field (a name, an address, a title): twenty of them made one
# household fill the first screen of every phone's list. Notes and descriptions keep theirs.
LINE_END_RE = re.compile(r"[\n\r\x85\u2028\u2029]")
# Characters that take no room on screen, in a name, an address, a party or a member: a
# zero-width space pasted from a chat made two 张建国 rows that look the same and a search
# for 张建国 that misses one. Forms and imports drop them (visible); a push that holds one
# is refused. Notes and descriptions keep them. The zero-width joiner and non-joiner and
# the Mongolian vowel separator are not among them: Mongolian, Uyghur and Tibetan names
# are written with them (and a joiner is part of an emoji).
INVISIBLE_RE = re.compile(r"[\u00ad\u200b\u200e\u200f\u2060-\u2064\ufeff]")
# What a one-line field may not hold, in one search for the common case of _check_value.
_NOT_ONE_LINE_RE = re.compile("[" + LINE_END_RE.pattern[1:-1] + INVISIBLE_RE.pattern[1:-1] + "]")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "str"
    required: bool = False          # must be present when the record is created
    max_len: int = 200              # characters for strings, items for lists
    table: codes.Table | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    fields: tuple[Field, ...]
    # Appended things (visits, timeline events, callbacks) are written once and never
    # edited: they cannot conflict, and a correction is a new record.
    append_only: bool = False
    # Written only by the township server (admin commands); phones read them.
    server_only: bool = False
    parent: str | None = None       # field naming the case a child record belongs to
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)
    # the fields' names in order: asked for each row written or read, so made once
    columns: tuple[str, ...] = field(init=False, repr=False, compare=False)
    # the names of the required fields, asked for each change admitted
    required: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})
        object.__setattr__(self, "columns", tuple(f.name for f in self.fields))
        object.__setattr__(self, "required", tuple(f.name for f in self.fields if f.required))


_LOCATION = (
    Field("lat", "float", min=-90, max=90),
    Field("lon", "float", min=-180, max=180),
    Field("accuracy_m", "float", min=0, max=100_000),
    Field("location_source", "code", table=codes.LOCATION_SOURCES),
    Field("mocked", "bool"),
)

ENTITIES: dict[str, Entity] = {e.name: e for e in (
    Entity("grid", server_only=True, fields=(
        Field("name", required=True, max_len=60),
        Field("village", required=True, max_len=60),
        Field("township", required=True, max_len=60),
        Field("lat", "float", min=-90, max=90),
        Field("lon", "float", min=-180, max=180),
    )),
    Entity("staff", server_only=True, fields=(
        Field("username", required=True, max_len=40),
        Field("name", required=True, max_len=40),
        Field("role", "code", required=True, table=codes.ROLES),
        Field("grids", "strs", max_len=100),
        Field("active", "bool"),
    )),
    Entity("household", fields=(
        Field("grid_id", "id", required=True, max_len=64),
        Field("head_name", required=True, max_len=40),
        Field("id_number", max_len=18),
        Field("address", required=True, max_len=200),
        Field("phone", max_len=20),
        Field("members", "members", max_len=30),
        Field("tags", "codes", table=codes.NEEDS, max_len=20),
        Field("lat", "float", min=-90, max=90),
        Field("lon", "float", min=-180, max=180),
        Field("note", "text", max_len=2000),
        Field("next_visit_due", "date"),
        Field("hh_number", max_len=40),            # 户号, where the roster has one
        Field("status", "code", table=codes.HOUSEHOLD_STATUSES),  # moved out, deceased: kept, archived
        Field("attachments", "attachments", max_len=10),
    )),
    Entity("visit", append_only=True, parent="case_id", fields=(
        Field("grid_id", "id", required=True, max_len=64),
        Field("household_id", "id", max_len=64),
        Field("case_id", "id", max_len=64),
        Field("kind", "code", required=True, table=codes.VISIT_KINDS),
        Field("visited_at", "datetime", required=True),
        Field("visitor", "id", required=True, max_len=40),
        *_LOCATION,
        # no two points on the Earth are further apart than half the equator (20,037.5 km)
        Field("distance_m", "float", min=0, max=20_040_000),
        Field("far_from_home", "bool"),
        Field("seen", "text", max_len=4000),
        Field("requests", "text", max_len=4000),
        Field("needs_found", "codes", table=codes.NEEDS, max_len=20),
        Field("cards", "int", min=0, max=1000),    # 明白卡 handed out on the visit
        Field("attachments", "attachments", max_len=10),
    )),
    Entity("case", fields=(
        Field("grid_id", "id", required=True, max_len=64),
        Field("ref", max_len=40),
        Field("kind", "code", required=True, table=codes.CASE_KINDS),
        Field("channel", "code", required=True, table=codes.CHANNELS),
        Field("category", "code", required=True, table=codes.CATEGORIES),
        Field("title", max_len=100),
        Field("parties", "strs", max_len=50),
        Field("household_id", "id", max_len=64),
        # the petitioner's number (信访人联系电话): on the matter itself, so whoever may work
        # the matter can call them, and no one else receives it (docs/security.md)
        Field("petitioner_phone", max_len=20),
        Field("place", max_len=200),
        *_LOCATION,
        Field("description", "text", required=True, max_len=8000),
        Field("risk", "code", table=codes.RISK_LEVELS),
        Field("status", "code", required=True, table=codes.CASE_STATUSES),
        Field("owner", "id", max_len=40),
        Field("departments", "strs", max_len=30),
        Field("deadline", "date"),
        Field("outcome", "code", table=codes.OUTCOMES),
        Field("method", "text", max_len=2000),
        Field("reported_by", "id", required=True, max_len=40),
        Field("reported_at", "datetime", required=True),
        # the office's process (集分研化评): dates are the township's calendar days
        Field("received_on", "date"),              # entered the office's ledger
        Field("register_by", "date"),              # 15 days to register and route (art. 22)
        Field("accepted_on", "date"),              # the 60 days run from here (art. 31)
        Field("extended_days", "int", min=0, max=30),
        Field("extension_reason", "text", max_len=2000),
        Field("urgency", "code", table=codes.URGENCY),
        Field("signals", "codes", table=codes.SIGNALS, max_len=10),
        Field("decline_reason", "text", max_len=2000),
        Field("reception_leader", "id", max_len=40),     # the leader receiving visitors that day
        Field("higher_ref", max_len=60),           # the higher body's reference (上级交办)
        Field("higher_deadline", "date"),
        Field("plan", "text", max_len=8000),       # the resolution plan (化解方案)
        Field("consulted_on", "date"),             # the joint consultation (会商)
        Field("resolved_on", "date"),
        Field("merged_into", "id", max_len=64),          # a duplicate, folded into this case
        Field("notice_sent_on", "date"),           # the petitioner told (art. 23)
        Field("visitors", "int", min=1, max=10_000),  # people who came (a group visit: more than 5)
        Field("litigation", "bool"),               # 涉法涉诉
        # after the written opinion: 复查 (art. 35) and 复核 (art. 36)
        # the day the petitioner received the opinion, when later than its day: the 30 days
        # to ask for 复查 run from the receipt (art. 35), by post some days after
        Field("opinion_received_on", "date"),
        Field("review_requested_on", "date"),
        Field("review_due", "date"),
        Field("review_answered_on", "date"),
        Field("review_outcome", "code", table=codes.REVIEW_OUTCOMES),
        Field("review_answer_received_on", "date"),   # ... and 复核's from the 复查 answer's (art. 36)
        Field("recheck_requested_on", "date"),
        Field("recheck_due", "date"),
        Field("recheck_answered_on", "date"),
        Field("recheck_outcome", "code", table=codes.REVIEW_OUTCOMES),
        Field("attachments", "attachments", max_len=10),
    )),
    Entity("case_event", append_only=True, parent="case_id", fields=(
        Field("case_id", "id", required=True, max_len=64),
        Field("kind", "code", required=True, table=codes.EVENT_KINDS),
        Field("at", "datetime", required=True),
        Field("by", "id", required=True, max_len=40),
        Field("text", "text", max_len=8000),
        Field("attachments", "attachments", max_len=10),
    )),
    Entity("callback", append_only=True, parent="case_id", fields=(
        Field("case_id", "id", required=True, max_len=64),
        Field("at", "datetime", required=True),
        Field("by", "id", required=True, max_len=40),
        Field("method", "code", required=True, table=codes.CALLBACK_METHODS),
        Field("answer", "code", required=True, table=codes.SATISFACTION),
        Field("comment", "text", max_len=2000),
    )),
)}


# --- validation -------------------------------------------------------------------

_MESSAGES = {
    "unknown_field": ("is not a field of {entity}", "不是{entity_zh}的字段"),
    "too_many_fields": ("names more fields than a {entity} has ({n})", "字段数超过{entity_zh}的字段总数（{n}）"),
    "unknown_key": ("is not part of a change (id, entity, record, fields, base, hlc, device, author)",
                    "不是变更记录的组成部分"),
    "required": ("is required", "必填"),
    "type": ("must be {expected}", "须为{expected_zh}"),
    "too_long": ("must be at most {max_len} characters", "最多{max_len}个字符"),
    "control": ("must not hold control characters", "含有不可见的控制字符"),
    "too_many": ("must have at most {max_len} items", "最多{max_len}项"),
    "range": ("must be between {min:g} and {max:g}", "须在{min:g}到{max:g}之间"),
    "code": ("must be one of {choices}", "不是有效的选项"),
    "date": ("must be a date written YYYY-MM-DD, for example 2026-11-27", "格式应为 2026-11-27"),
    "date_range": ("must be between 2000-01-01 and 2100-12-31", "须在2000-01-01至2100-12-31之间"),
    "datetime": ("must be an ISO 8601 date and time with its offset, for example 2026-11-27T09:30:00+08:00",
                 "格式应为 2026-11-27T09:30:00+08:00（含时区）"),
    "id": ("must be 1-64 letters, digits or _.:-", "编号格式不正确"),
    "unknown_entity": ("is not a known entity (one of {choices})", "不是已知的记录类型"),
    "clock": ("is not a clock stamp of this device", "时钟标记格式不正确"),
    "clock_ahead": ("is {hours:.1f} hours ahead of the server's clock: set the phone's date and time",
                    "比服务器时间快{hours:.1f}小时：请校正手机的日期和时间"),
    "base": ("must map fields to lists of earlier clock stamps", "基础版本格式不正确"),
    "no_fields": ("must name at least one field", "至少要有一个字段"),
    "append_only": ("{entity} records are never edited: record a new one", "此类记录不可修改，请另行新增"),
    "unknown_record": ("names a {entity} this server does not hold", "服务器上没有这条{entity_zh}记录"),
    "server_only": ("{entity} records are managed on the township server", "此类记录只能在镇服务器上管理"),
    "forbidden": ("is outside what account {user} may change", "超出账号{user}的权限范围"),
    "reassigned": ("belongs to a matter the office has given to {owner}: the visits and notes made on it"
                   " are kept, a change of the matter itself is theirs now",
                   "此事项已改由{owner}包案：已记录的走访和进展会保留，事项本身的修改须由现包案领导办理"),
    "author": ("must be the signed-in account", "须为当前登录账号"),
    "device": ("must be the device the account signed in on", "须为当前登录的设备"),
    "server_assigned": ("is assigned by the township server", "由镇服务器分配"),
    "held": ("waits for an earlier change of this record, which was refused: {reason}",
             "此记录之前的修改被退回，本条随之等待（原因见被退回的那一条）"),
    # the write rules (permissions.py)
    "create_forbidden": ("a {role_en} may not create {entity} records", "{role_zh}不能新增{entity_zh}记录"),
    "update_forbidden": ("a {role_en} may not change {entity} records", "{role_zh}不能修改{entity_zh}记录"),
    "field_forbidden": ("may not be written by a {role_en}", "{role_zh}不能填写或修改此项"),
    "state": ("cannot be changed by a {role_en} while the case is {status_en}",
              "事项为“{status_zh}”时，{role_zh}不能修改"),
    "transition": ("a {role_en} may not move a case from {from_en} to {to_en}",
                   "{role_zh}不能将事项从“{from_zh}”改为“{to_zh}”"),
    "set_once": ("is written when the record is created and never changed", "登记后不能修改"),
    "initial_status": ("a new case starts as reported", "新登记的事项状态须为“已上报”"),
    "role_value": ("{value_en} may not be recorded by a {role_en}", "{role_zh}不能记录“{value_zh}”"),
    "not_leader": ("must name a leader's account", "须为包案领导的账号"),
    "household_grid": ("must be the grid of the household visited", "须与所走访户的网格一致"),
    "case_grid": ("must be the grid of the matter visited", "须与所走访事项的网格一致"),
    "merged_self": ("cannot name the case itself", "不能并入自身"),
    "id_taken": ("is the id of another change already stored: a change needs an id of its own",
                 "已被另一条记录使用，请重新生成"),
    "id_reserved": ("begins with {prefix}, which the server keeps for its own log entries (erasures,"
                    " exits, references): a change needs an id of its own", "为服务器保留的编号，请重新生成"),
    "merged_chain": ("cannot name a case that is itself merged into another: name the case kept",
                     "所选事项已并入其他事项，请并入最终保留的事项"),
    "merged_not_reported": ("only a case still reported is merged into another; this one is {status_en}",
                            "只有“已上报”的事项可以并入其他事项，此件为“{status_zh}”"),
    "merged_into_finished": ("names a case that is {status_en}: a duplicate is merged only into a case still being"
                             " handled; accept or decline this one on its own",
                             "所选事项为“{status_zh}”，只能并入仍在办理的事项：本件请单独受理或不予受理"),
    "merged_cycle": ("cannot name a case that is itself merged into this one", "所并入的事项已并入本事项，不能互相并入"),
    "outcome_needed": ("a case is resolved with an outcome", "办结须选择办理结果"),
    "callback_before_try": ("is before the callback that reached no one ({at}): the next callback is dated after it",
                            "早于上次联系不上的回访（{at}），再次回访的时间应在其后"),
    "callback_answered": ("the case was called back and the petitioner answered: it is called back again only"
                          " after a callback that reached no one", "此事项已回访，信访人已作答：只有“联系不上”的才能再次回访"),
    "extension_not_open": ("is given only while the case is being handled; it is {status_en}",
                           "事项当前为“{status_zh}”，不能延期"),
    "result_without_resolution": ("is written with the case's resolution (status resolved), not on a case"
                                  " still in progress", "办理结果随办结一并填写，事项尚未办结"),
    "resolved_on_needed": ("a case is resolved with the day it was resolved", "办结须填写办结日期"),
    "method_needed": ("a case is resolved with how it was resolved", "办结须填写办理情况"),
    "base_unknown": ("names more versions this server does not hold for the field than a phone is ever given"
                     " (sync, then edit again)", "所依据的版本服务器上没有：请同步后重新修改"),
    "status_moved_on": ("was moved on to {status_en} since this change's author last saw the case: the change is"
                        " not taken (sync, then decide again)",
                        "事项已改为“{status_zh}”，此改动是在那之前作出的，未被接受：请同步后重新处理"),
    "resolution_not_theirs": ("records a resolution the matter does not have: it is {status_en}, not resolved"
                              " by this account", "事项为“{status_zh}”，并非由您办结：此办结记录未被接受"),
    "date_before": ("cannot be before the {other_en}", "不能早于{other_zh}"),
    "date_after": ("cannot be after the {other_en}", "不能晚于{other_zh}"),
    "date_future": ("is a day that has not come yet", "是尚未到来的日期"),
    "time_future": ("is a time that has not come yet (check the phone's clock)", "是尚未到来的时间（请核对手机的时间）"),
    "date_long_past": ("is over a year ago: a phone records what happens as it happens (set the phone's"
                       " date and time)", "是一年以前的时间：手机记录的是当下的事，请校正手机的日期和时间"),
    "due_too_far": ("is further off than the longest visit interval reaches ({days} days)",
                    "超出最长走访间隔（{days}天）"),
    "due_too_early": ("must be on or after {earliest}: a next visit is reckoned from the day the household was"
                      " registered or from a visit of it, recorded at most a year late",
                      "不能早于{earliest}（从登记之日或走访之日算起）"),
    "one_line": ("must be one line", "须为一行，不能换行"),
    "invisible": ("holds a character that cannot be seen (a zero-width space, a direction mark, a byte-order mark)",
                  "含有看不见的字符（如零宽空格），请删除后重新输入"),
    "position_pair": ("a position has both a latitude and a longitude", "位置须同时有纬度和经度"),
    "time_zone": ("must be in China Standard Time (+08:00), as the app writes it", "须为北京时间（+08:00）"),
    "empty_visit": ("a household visit records something: what was seen, what was asked for, a need found, "
                    "explanation cards handed out or a photo",
                    "走访记录不能为空：请至少填写看到的情况、群众诉求、发现的需求、发放明白卡数量或照片中的一项"),
    "empty_home_visit": ("a home visit records something: what was seen, what was asked for or a photo",
                         "下访记录不能为空：请至少填写看到的情况、群众诉求或照片中的一项"),
    "id_written": ("must be written as the form writes it: half-width digits and X, no spaces",
                   "须按表单格式填写：半角数字和X，不含空格"),
    "phone_written": ("must be written as the form writes it: half-width digits, no spaces, no +86",
                      "须按表单格式填写：半角数字，不含空格和+86"),
    "masked": ("is a masked number that stands for none this record holds: type the whole number",
               "是隐去部分数字的号码，与本户记录不符：请输入完整号码"),
}
# The ID and phone number rules (idnumber.py) as the server refuses a pushed household:
# "id_" before the ID number's own rule names, which other rules use here ("masked").
NUMBER_RULES = {("id_" + rule if not rule.startswith("phone_") else rule): rule
                for rule in idnumber.MESSAGES if rule not in ("empty", "masked", "length_15")}
_MESSAGES.update({name: idnumber.MESSAGES[rule] for name, rule in NUMBER_RULES.items()})
_TYPE_ZH = {"a string": "文字", "a number": "数字", "true or false": "是或否",
            "a list of strings": "文字列表", "a list of members": "成员列表", "an object": "对象",
            "a list of attachments": "附件列表"}
# Labels of the dates the office's rules compare (statute.DATE_ORDER), for messages
# that name the other field; the screens' own labels are in fieldapp/i18n.py.
DATE_LABELS_ZH = {"received_on": "登记日期", "accepted_on": "受理日期", "consulted_on": "会商日期",
                  "resolved_on": "办结日期", "higher_deadline": "上级要求办结日期", "notice_sent_on": "告知日期",
                  "review_requested_on": "申请复查日期", "review_answered_on": "复查答复日期",
                  "opinion_received_on": "收到处理意见日期", "review_answer_received_on": "收到复查意见日期",
                  "recheck_requested_on": "申请复核日期", "recheck_answered_on": "复核答复日期",
                  "reported_at": "上报日期", "deadline": "办理期限", "register_by": "登记转送期限",
                  "review_due": "复查答复期限", "recheck_due": "复核答复期限"}
DATE_LABELS_EN = {"received_on": "registration date", "accepted_on": "acceptance date",
                  "consulted_on": "consultation date", "resolved_on": "resolution date",
                  "higher_deadline": "higher body's deadline", "notice_sent_on": "notification date",
                  "review_requested_on": "review request date", "review_answered_on": "review answer date",
                  "opinion_received_on": "opinion receipt date", "review_answer_received_on": "review answer receipt date",
                  "recheck_requested_on": "recheck request date", "recheck_answered_on": "recheck answer date",
                  "reported_at": "report date", "deadline": "deadline", "register_by": "register-by date",
                  "review_due": "review due date", "recheck_due": "recheck due date"}
ENTITY_ZH = {"grid": "网格", "staff": "人员", "household": "住户", "visit": "走访", "case": "事项",
             "case_event": "办理记录", "callback": "回访"}
# where a code a role may not record is looked up: an entry's kinds first (a "callback"
# refused is an entry's: a visit's callback is every role's), then a visit's
_VALUE_TABLES = (codes.EVENT_KINDS, codes.VISIT_KINDS)
# params naming a code: shown by its label, so a person reads 已结案, not "closed"
_LABELLED = {"role": codes.ROLES, "status": codes.CASE_STATUSES, "from": codes.CASE_STATUSES,
             "to": codes.CASE_STATUSES}


@dataclass(frozen=True)
class FieldError:
    field: str
    rule: str
    params: tuple = ()

    def message(self, lang: str = "en") -> str:
        en, zh = _MESSAGES[self.rule]
        p = dict(self.params)
        if "expected" in p:
            p["expected_zh"] = _TYPE_ZH.get(p["expected"], p["expected"])
        if "entity" in p:
            p["entity_zh"] = ENTITY_ZH.get(p["entity"], p["entity"])
        if "other" in p:
            p["other_zh"] = DATE_LABELS_ZH.get(p["other"], p["other"])
            p["other_en"] = DATE_LABELS_EN.get(p["other"], p["other"])
        if "value" in p:   # a code a role may not record (permissions.ROLE_CODES): by its label
            table = codes.CHANNELS if self.field == "channel" else next(
                (t for t in _VALUE_TABLES if p["value"] in t), {})
            p["value_en"] = codes.label(table, p["value"], "en") if p["value"] in table else p["value"]
            p["value_zh"] = codes.label(table, p["value"], "zh") if p["value"] in table else p["value"]
        for name, table in _LABELLED.items():
            if name in p:
                p[f"{name}_en"] = codes.label(table, p[name], "en")
                p[f"{name}_zh"] = codes.label(table, p[name], "zh")
        return (zh if lang == "zh" else en).format(**p)

    def __str__(self) -> str:
        return f"{self.field}: {self.message('en')}"


def _err(name, rule, **params) -> FieldError:
    return FieldError(name, rule, tuple(sorted(params.items())))


def check_date(v: str) -> str | None:
    """None for a calendar date in range, else the rule it breaks ("date", "date_range")."""
    if not DATE_RE.match(v):
        return "date"
    try:
        d = dt.date.fromisoformat(v)
    except ValueError:
        return "date"
    return None if FIRST_DAY <= d <= LAST_DAY else "date_range"


def check_datetime(v: str) -> str | None:
    """None for an ISO 8601 time with its offset within the calendar's range."""
    if not DATETIME_RE.match(v):
        return "datetime"
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return "datetime"
    if abs(t.utcoffset()) > dt.timedelta(hours=14):
        return "datetime"
    return None if FIRST_DAY <= t.date() <= LAST_DAY else "date_range"


def _check_value(f: Field, v) -> FieldError | None:
    if v is None:
        return _err(f.name, "required") if f.required else None
    k = f.kind
    # the values nearly every change carries, checked without the general path below
    if k == "str" or k == "text":
        if (type(v) is str and 0 < len(v) <= f.max_len and (not f.required or not v.isspace())
                and not CONTROL_RE.search(v) and (k == "text" or not _NOT_ONE_LINE_RE.search(v))):
            return None
    elif k == "code":
        if type(v) is str and v in f.table:
            return None
    elif k == "id":
        if type(v) is str and len(v) <= f.max_len and ID_RE.match(v):
            return None
    elif k == "float":
        if (type(v) is float or type(v) is int) and (f.min is None or f.min <= v) and (
                f.max is None or v <= f.max):
            return None
    if k in ("str", "text", "code", "date", "datetime", "id"):
        if not isinstance(v, str):
            return _err(f.name, "type", expected="a string")
        if k == "code":
            if v not in f.table:
                return _err(f.name, "code", choices=", ".join(f.table))
        elif len(v) > f.max_len and k in ("str", "text", "id"):
            return _err(f.name, "too_long", max_len=f.max_len)
        if k in ("str", "text") and CONTROL_RE.search(v):
            return _err(f.name, "control")
        if k == "str" and LINE_END_RE.search(v):
            return _err(f.name, "one_line")
        if k == "str" and INVISIBLE_RE.search(v):
            return _err(f.name, "invisible")
        if k == "id" and not ID_RE.match(v):
            return _err(f.name, "id")
        if k == "date":
            rule = check_date(v)
            if rule:
                return _err(f.name, rule)
        if k == "datetime":
            rule = check_datetime(v)
            if rule:
                return _err(f.name, rule)
        if f.required and k in ("str", "text") and not v.strip():
            return _err(f.name, "required")
        return None
    if k in ("int", "float"):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (k == "int" and not isinstance(v, int)):
            return _err(f.name, "type", expected="a number")
        if v != v or (f.min is not None and v < f.min) or (f.max is not None and v > f.max):
            return _err(f.name, "range", min=f.min, max=f.max)
        return None
    if k == "bool":
        return None if isinstance(v, bool) else _err(f.name, "type", expected="true or false")
    if k in ("codes", "strs"):
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            return _err(f.name, "type", expected="a list of strings")
        if len(v) > f.max_len:
            return _err(f.name, "too_many", max_len=f.max_len)
        if k == "codes":
            bad = [x for x in v if x not in f.table]
            if bad:
                return _err(f.name, "code", choices=", ".join(f.table))
        elif any(len(x) > 200 for x in v):
            return _err(f.name, "too_long", max_len=200)
        elif any(CONTROL_RE.search(x) for x in v):
            return _err(f.name, "control")
        elif any(INVISIBLE_RE.search(x) for x in v):
            return _err(f.name, "invisible")
        elif any(LINE_END_RE.search(x) for x in v):
            # a party, a department, a grid: a name, one line (the ledger's cell showed the
            # first line of "张\n\n\n\n三" alone)
            return _err(f.name, "one_line")
        return None
    if k == "attachments":
        ok = isinstance(v, list) and all(
            isinstance(a, dict) and set(a) <= {"hash", "kind", "size", "name"}
            and isinstance(a.get("hash"), str) and HASH_RE.match(a["hash"])
            and a.get("kind") in codes.ATTACHMENT_KINDS
            and type(a.get("size")) is int and 0 < a["size"] <= MAX_ATTACHMENT_BYTES
            and (a.get("name") is None or (isinstance(a["name"], str) and len(a["name"]) <= 100
                                           and not CONTROL_RE.search(a["name"])))
            for a in v)
        if not ok:
            return _err(f.name, "type", expected="a list of attachments")
        if len(v) > f.max_len:
            return _err(f.name, "too_many", max_len=f.max_len)
        return None
    if k == "members":
        if not isinstance(v, list) or not all(
                isinstance(m, dict) and all(isinstance(x, str) and len(x) <= 60 and not CONTROL_RE.search(x)
                                            for x in m.values())
                and set(m) <= {"name", "relation", "id_number", "note"} for m in v):
            return _err(f.name, "type", expected="a list of members")
        if len(v) > f.max_len:
            return _err(f.name, "too_many", max_len=f.max_len)
        if any(INVISIBLE_RE.search(x) for m in v for x in m.values()):
            return _err(f.name, "invisible")
        if any(LINE_END_RE.search(x) for m in v for x in m.values()):
            return _err(f.name, "one_line")
        return None
    raise AssertionError(f"unknown field kind {k}")


# What a household or home visit must hold at least one of (empty text does not count): a
# visit with nothing recorded would count in the figures as a visit made.
VISIT_CONTENT = ("seen", "requests", "needs_found", "cards", "attachments")


# The visits made on the ground, which the figures count as made (走访, 下访): each records
# something. A reception (接访) is the office's entry of a walk-in, the matter its record.
RECORDING_VISITS = ("household", "home")


def visit_problems(fields: dict) -> list[FieldError]:
    """A new household visit (走访) or a leader's home visit (下访) that records nothing,
    refused naming the form's first field ("seen")."""
    if fields.get("kind", "household") not in RECORDING_VISITS:
        return []
    for name in VISIT_CONTENT:
        v = fields.get(name)
        if isinstance(v, str) and v.strip() or isinstance(v, list) and v or (
                isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
            return []
    return [_err("seen", "empty_home_visit" if fields.get("kind") == "home" else "empty_visit")]


def position_problems(before: dict | None, fields: dict) -> list[FieldError]:
    """A position is a latitude and a longitude together, as the record will hold it: a
    latitude alone took the map away from every phone of its grid."""
    if "lat" not in fields and "lon" not in fields:
        return []
    after = {**(before or {}), **fields}
    lat, lon = after.get("lat"), after.get("lon")
    if (lat is None) == (lon is None):
        return []
    return [_err("lon" if lon is None else "lat", "position_pair")]


def visible(text: str) -> str:
    """The text without the characters that take no room on screen (INVISIBLE_RE)."""
    return INVISIBLE_RE.sub("", text)


def tidy(entity: Entity, fields: dict) -> dict:
    """The fields as a form or an import stores them: invisible characters dropped from
    one-line texts, lists of names and members' entries (what a push may not hold)."""
    out = None
    for name, v in fields.items():
        f = entity.by_name.get(name)
        if f is None:
            continue
        if f.kind == "str" and type(v) is str:
            new = visible(v)
        elif f.kind == "strs" and isinstance(v, list):
            new = [visible(x) if isinstance(x, str) else x for x in v]
        elif f.kind == "members" and isinstance(v, list):
            new = [{k: visible(x) if isinstance(x, str) else x for k, x in m.items()} if isinstance(m, dict) else m
                   for m in v]
        else:
            continue
        if new != v:
            out = out if out is not None else dict(fields)
            out[name] = new
    return fields if out is None else out


def value_errors(entity: Entity, fields: dict) -> list[FieldError]:
    """The problems of each value on its own: its field known, its type, length, code or
    range. They depend on nothing stored, so the server finds them before its writer
    (central.precheck); what depends on the record held is in validate_fields."""
    if len(fields) > len(entity.fields):
        return [_err("fields", "too_many_fields", entity=entity.name, n=len(entity.fields))]
    errors = []
    for name, v in fields.items():
        f = entity.by_name.get(name)
        if f is None:
            errors.append(_err(name if len(name) <= 64 else name[:64] + "…", "unknown_field", entity=entity.name))
            continue
        e = _check_value(f, v)
        if e:
            errors.append(e)
    return errors


def validate_fields(entity: Entity, fields: dict, creating: bool,
                    values: list[FieldError] | None = None) -> list[FieldError]:
    """Every problem with these field values, each naming its field and rule (at most
    MAX_ERRORS: the answer to a hostile change stays short). `values`: value_errors of
    these fields, when already found."""
    errors = value_errors(entity, fields) if values is None else list(values)
    if errors and errors[0].rule == "too_many_fields":
        return errors
    if creating:
        for name in entity.required:
            if fields.get(name) is None and name not in {e.field for e in errors}:
                errors.append(_err(name, "required"))
        if entity.name == "visit" and not errors:
            errors += visit_problems(fields)
    return errors[:MAX_ERRORS]


def valid_id(value) -> bool:
    return isinstance(value, str) and bool(ID_RE.match(value))
