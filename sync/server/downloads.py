"""The office's files (ledgers, the monthly report) and the one-time links that fetch them.

A browser tab cannot add a token header to a download, so the office's screen asks for
a ticket bound to the person, the file and a few minutes, and opens
/api/v1/export/<ticket>. Every file made is audited (who, which, with which
parameters; never its content).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import threading
from dataclasses import dataclass

from .. import clock
from ..access import Principal
from ..model import FIRST_DAY, LAST_DAY

EXPORTS = {  # kind -> (media type, file name)
    "ledger.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "信访事项台账.xlsx"),
    "ledger.csv": ("text/csv; charset=utf-8", "信访事项台账.csv"),
    "supervision.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "领导包案督办台账.xlsx"),
    "monthly.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "信访工作月报.xlsx"),
    "audit.csv": ("text/csv; charset=utf-8", "审计日志.csv"),
    # one of the statutory documents of a matter (documents.py); its name is the matter's
    "document": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "文书.docx"),
    # the household roster's template and an import's report (roster.py)
    "roster_template.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "住户花名册模板.xlsx"),
    "roster_report.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "花名册导入报告.xlsx"),
}
ROSTER_FILES = {"roster_template.xlsx", "roster_report.xlsx"}
OFFICE_ONLY = {"document"}  # written on the matter's timeline as the office's act
ADMIN_ONLY = {"audit.csv"}  # the trail of everyone's reading is the admin's to review
CST = dt.timezone(dt.timedelta(hours=8))


class NotAllowed(PermissionError):
    """The file is not this person's to take."""


class BadParams(ValueError):
    """Parameters of an export that name no period: the message says which and why."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date


def ledger_period(start: str | None, end: str | None, today: dt.date | None = None) -> Period:
    """The period of a ledger: this year unless given; both days within the calendar the
    store accepts, the end not before the start."""
    today = today or dt.datetime.now(CST).date()
    out = []
    for name, value, default in (("start", start, today.replace(month=1, day=1)),
                                 ("end", end, today.replace(month=12, day=31))):
        if value in (None, ""):
            out.append(default)
            continue
        try:
            day = dt.date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise BadParams(f"{name}: must be a date written YYYY-MM-DD, for example 2026-11-27")
        if not FIRST_DAY <= day <= LAST_DAY:
            raise BadParams(f"{name}: must be between {FIRST_DAY} and {LAST_DAY}")
        out.append(day)
    if out[1] < out[0]:
        raise BadParams("end: must not be before start")
    return Period(*out)


def report_month(year, month, today: dt.date | None = None) -> tuple[int, int]:
    today = today or dt.datetime.now(CST).date()
    year = today.year if year in (None, "") else year
    month = today.month if month in (None, "") else month
    try:
        year, month = int(year), int(month)
    except (TypeError, ValueError):
        raise BadParams("year, month: must be whole numbers")
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise BadParams(f"year: must be between {FIRST_DAY.year} and {LAST_DAY.year}")
    if not 1 <= month <= 12:
        raise BadParams("month: must be between 1 and 12")
    if (year, month) > (today.year, today.month):
        # counted to today, it held today's overdue matters as if they were the month's
        raise BadParams(f"year, month: {year}-{month:02d} has not begun (today is {today.isoformat()})")
    return year, month


def build_export(store, p: Principal, kind: str, params: dict, address: str = "") -> bytes:
    """The bytes of one of the office's files, for what this person may see, audited
    with who, from where and what. Raises KeyError for an unknown kind and BadParams for
    parameters naming no period."""
    from . import export, late_entries, stats
    from ..queries import Scope
    if kind not in EXPORTS:
        raise KeyError(kind)
    if kind in ADMIN_ONLY and p.role != "admin":
        raise NotAllowed(kind)
    if kind in OFFICE_ONLY and not p.sees_all:
        raise NotAllowed(kind)
    if kind == "document":
        return build_document(store, p, params.get("case") or "", params.get("document") or "", address)[0]
    if kind in ROSTER_FILES:
        from . import roster
        return roster.export_file(store, p, kind, params, address)
    scope = None if p.sees_all else Scope(frozenset(p.grids), p.username)
    out = io.BytesIO()
    if kind == "monthly.xlsx":
        year, month = report_month(params.get("year"), params.get("month"))
    else:
        period = ledger_period(params.get("start"), params.get("end"))
    # Rows stream from the store into the file: a year's ledger is never all in memory.
    # On a read connection of its own, in one snapshot: a long export never holds the
    # writer's lock, so phones' pushes go on meanwhile.
    made = late_entries.exported_at()   # every file says when it was made (导出时间)
    with store.readers.snapshot() as conn:
        if kind in ("ledger.xlsx", "ledger.csv"):
            rows = export.ledger_rows(conn, period.start, period.end, scope)
            (export.write_csv if kind.endswith(".csv") else export.write_xlsx)(rows, out, exported_at=made)
        elif kind == "supervision.xlsx":
            export.write_xlsx(export.supervision_rows(conn, scope), out, title="领导包案督办台账", exported_at=made)
        elif kind == "audit.csv":
            from . import audit
            audit.write_csv(audit.query(conn, user=params.get("user") or None,
                                        action=params.get("action") or None, since=period.start,
                                        until=period.end, limit=10_000_000), out)
        else:
            f = stats.figures(conn, *stats.month_period(year, month))
            export.monthly_report_xlsx(stats.labelled(f), out, f"{year}年{month}月", exported_at=made,
                                       late=f["late_entries"])
    store.audit(p.username, "export", f"{kind} {json.dumps(params, ensure_ascii=False, sort_keys=True)}",
                device=p.device, address=address)
    return out.getvalue()


def build_document(store, p: Principal, case_id: str, kind: str, address: str = "") -> tuple[bytes, str]:
    """(the .docx, its file name) of one statutory document of a matter, put on the
    matter's timeline in the name of the person who made it."""
    from .. import changes
    from ..workspace import now_iso
    from . import documents
    from .central import township_today
    case = store.get("case", case_id)
    if case is None:
        raise BadParams(f"case: no matter {case_id[:64]}")
    if kind not in documents.KINDS:
        raise BadParams(f"document: one of {', '.join(documents.KINDS)}")
    with store.readers.snapshot() as conn:
        row = conn.execute("SELECT township FROM grids ORDER BY id LIMIT 1").fetchone()
    try:
        data = documents.render(kind, case, row[0] if row else "", township_today(store.now()))
    except documents.DocumentError as e:
        raise BadParams(e.message("en"))
    store.server_write("case_event", changes.new_id("r"), {
        "case_id": case_id, "kind": "document", "at": now_iso(), "by": p.username,
        "text": documents.timeline_text(kind, case)}, author=p.username, principal=p)
    store.audit(p.username, "export", f"{documents.KINDS[kind]} {case.get('ref') or case_id}", device=p.device,
                address=address)
    return data, documents.filename(kind, case)


def disposition(kind: str, name: str | None = None) -> dict:
    from urllib.parse import quote
    media, default = EXPORTS[kind]
    name = name or default
    # names, ID numbers and complaints: kept by no proxy and no browser cache on a shared
    # office computer (the attachments say the same: blobs.py)
    return {"media_type": media,
            "headers": {"Content-Disposition": f"attachment; filename=\"{kind}\"; filename*=UTF-8''{quote(name)}",
                        "Cache-Control": "private, no-store"}}


class Tickets:
    """One-time links for the office's downloads, valid a few minutes, at most MAX live,
    and only while the sign-in that asked for one holds (`session`, checked when the
    link is opened: an account disabled or signed out meanwhile takes no file)."""

    TTL_MS = 5 * 60 * 1000
    MAX = 10_000

    def __init__(self):
        self._tickets: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def issue(self, principal: Principal, kind: str, params: dict, session: tuple | None = None) -> str:
        now = clock.wall_ms()
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._tickets = {k: v for k, v in self._tickets.items() if v[3] > now}
            while len(self._tickets) >= self.MAX:
                self._tickets.pop(next(iter(self._tickets)))
            self._tickets[ticket] = (principal, kind, dict(params), now + self.TTL_MS, session)
        return ticket

    def redeem(self, ticket: str):
        with self._lock:
            got = self._tickets.pop(ticket, None)
        if got is None or got[3] < clock.wall_ms():
            return None
        return (*got[:3], got[4])
