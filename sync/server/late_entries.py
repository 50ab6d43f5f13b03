"""Entries that reached the server after their period had ended (补录).

A visit made on 31 October is October's work and is counted in October, even when the
phone that recorded it was offline until November; a letter received on 20 October and
entered by the office in November is October's matter. So a month's figures and ledger
can grow after the month was handed in. They are not moved out of their month; the
files say so instead: the monthly report and the dashboard of a period that has ended
say how many of its entries were entered after it ended, the ledger marks each such
row with the day it was entered (export.py, stats.py, fieldapp/office/dashboard.py).

When a record was entered is when the server first received it: the `received_ms` of
its first row in `changes` (the change log is only ever appended to, so rowid order is
the order received; the office's own entries go through the same log, stamped alike).
"""

from __future__ import annotations

import datetime as dt

TOWNSHIP_TZ = dt.timezone(dt.timedelta(hours=8))


# --- the rule ------------------------------------------------------------------------
def closed_ms(end: dt.date) -> int:
    """The moment a period ending `end` is over: midnight after its last day, township
    time (+08:00), in epoch milliseconds."""
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), TOWNSHIP_TZ)
    return int(after.timestamp() * 1000)


def entered_late(received_ms: int | None, end: dt.date) -> bool:
    """Whether a record first received at `received_ms` was entered after the period
    ending `end` was over (received after its last day, township time)."""
    return received_ms is not None and received_ms >= closed_ms(end)


def entered_on(received_ms: int) -> dt.date:
    """The township's day a record was entered."""
    return dt.datetime.fromtimestamp(received_ms / 1000, TOWNSHIP_TZ).date()


def first_received(alias: str, entity: str) -> str:
    """SQL: when the record `alias`.id was first received. One step down the changes
    index on `record` (its entries in rowid order) and one row read, per record."""
    return (f"(SELECT received_ms FROM changes WHERE record = {alias}.id AND entity = '{entity}'"
            " ORDER BY rowid LIMIT 1)")


# --- the words -------------------------------------------------------------------------
# (key in the counts, Chinese name, unit, English name), in the order of the report
KINDS = (
    ("reception_visits", "接访记录", "条", "reception records"),
    ("household_visits", "走访", "条", "household visits"),
    ("home_visits", "下访", "条", "leaders' home visits"),
    ("registered", "登记事项", "件", "matters registered"),
    ("callbacks", "回访", "次", "callbacks"),
)
REPORT_LABEL = "本月结束后补录"
PERIOD_LABEL = {"zh": "统计期间结束后补录", "en": "Entered after the period ended"}
NONE = {"zh": "无", "en": "none"}
RULE = ("本月结束后（北京时间次月1日0时起）才录入服务器的走访、登记事项、回访，仍按其记录时间或登记日期计入本月，"
        "在此列出条数；台账“补录”列为其录入日期。")


def listed(counts: dict, lang: str = "zh") -> str:
    """走访1条、登记事项2件、回访1次 (the kinds with any), or 无 when none."""
    if lang == "zh":
        parts = [f"{zh}{counts[k]}{unit}" for k, zh, unit, _ in KINDS if counts.get(k)]
        return "、".join(parts) or NONE["zh"]
    parts = [f"{en} {counts[k]}" for k, _, _, en in KINDS if counts.get(k)]
    return ", ".join(parts) or NONE["en"]


def note(counts: dict, lang: str = "zh") -> str:
    """The line the dashboard shows for a period that has ended."""
    return f"{PERIOD_LABEL['zh']}：{listed(counts, 'zh')}" if lang == "zh" else \
        f"{PERIOD_LABEL['en']}: {listed(counts, 'en')}"


def exported_at(now: dt.datetime | None = None) -> str:
    """导出时间 as the files write it: township time, to the second, with its offset."""
    now = (now or dt.datetime.now(TOWNSHIP_TZ)).astimezone(TOWNSHIP_TZ)
    return now.strftime("%Y-%m-%d %H:%M:%S +08:00")
