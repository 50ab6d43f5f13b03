"""What the Today screen decides: what is due, what is late, what needs a look.

Plain functions over plain data, so they are tested without a browser.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

CST = dt.timezone(dt.timedelta(hours=8))


def today_cst() -> dt.date:
    return dt.datetime.now(CST).date()


def days_left(deadline: str | None, today: dt.date | None = None) -> int | None:
    """Calendar days until a deadline (negative when past); None for no or bad date."""
    if not deadline:
        return None
    try:
        d = dt.date.fromisoformat(deadline[:10])
    except ValueError:
        return None
    return (d - (today or today_cst())).days


def overdue_days(due: str | None, today: dt.date | None = None) -> int:
    n = days_left(due, today)
    return -n if n is not None and n < 0 else 0


@dataclass
class Today:
    on: dt.date | None = None   # the township's day the list is of
    due: list[dict] = field(default_factory=list)
    due_total: int = 0          # all that are due: `due` holds the first SHOWN_DUE of them
    changed: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    conflicted: list[tuple[str, dict]] = field(default_factory=list)
    owned_due: list[dict] = field(default_factory=list)   # a leader's matters due soon or late
    left: list[dict] = field(default_factory=list)        # cases that left this phone, unread

    @property
    def owned_shown(self) -> list[dict]:
        """The leader's matters 今日 lists: the most pressing SHOWN_OWNED_DUE."""
        return self.owned_due[:SHOWN_OWNED_DUE]

    @property
    def owned_more(self) -> int:
        return len(self.owned_due) - len(self.owned_shown)

    @property
    def problems(self) -> int:
        return len(self.quarantined) + len(self.conflicted)


SHOWN_DUE = 100   # households due listed on 今日; the count says how many there are in all
SOON_DAYS = 7     # a leader's matter is listed on 今日 this many days before its deadline
# a leader's matters due listed on 今日, the most pressing first: 372 overdue ones pushed
# 有更新 and 同步问题 out of reach; the header counts them all, 我的包案 lists them all
SHOWN_OWNED_DUE = 20


def span_words(lang: str, minutes: int) -> str:
    """A clock's offset as a person says it: 3天, 5小时, 40分钟 (days, hours, minutes)."""
    m = abs(minutes)
    n, unit = (m // 1440, ("天", " days")) if m >= 1440 else (m // 60, ("小时", " hours")) if m >= 60 \
        else (m, ("分钟", " minutes"))
    return f"{n}{unit[0]}" if lang == "zh" else f"{n}{unit[1]}"


def owned_due(cases: list[dict], on: dt.date) -> list[dict]:
    """Of a leader's open matters, those whose deadline has passed or falls within
    SOON_DAYS of `on`, the most pressing first: the day a time limit runs out is the
    day 今日 must say so."""
    due = [(n, c) for c in cases if (n := days_left(c.get("deadline"), on)) is not None and n <= SOON_DAYS]
    return [c for _, c in sorted(due, key=lambda nc: (nc[0], nc[1].get("id") or ""))]


def today(ws, on: dt.date | None = None) -> Today:
    """Today's work for the person signed in on this phone, on the township's day as the
    phone knows it (ws.now(): the time it stamps its records with, not its own date,
    which may be wrong by days)."""
    on = on or ws.now().date()
    due = ws.due_households(on, limit=SHOWN_DUE) if ws.role != "leader" else []
    total = ws.due_count(on) if len(due) == SHOWN_DUE else len(due)
    mine = []
    if ws.role == "leader":
        mine = owned_due([c for c in ws.cases(owner=ws.username, open_only=True, limit=1000)
                          if not ws.handed_over(c["id"])], on)
    return Today(on=on, due=due, due_total=total, changed=ws.changed_cases(), quarantined=ws.quarantined(),
                 conflicted=ws.conflicted(), owned_due=mine, left=ws.left_cases())


def split_parties(text: str) -> list[str]:
    """"张三、李四, 王五" → ["张三", "李四", "王五"]: people type any separator."""
    for sep in ("、", "，", ";", "；", "\n"):
        text = text.replace(sep, ",")
    return [p.strip() for p in text.split(",") if p.strip()]
