"""The documents the statute requires, filled from a matter and ready to print:
受理告知书 (art. 23), 信访处理意见书 (arts. 32, 33, 35), 延期告知书 (art. 34) and
不予受理告知书, as Word files, which is what township offices edit and print.

Each is a Word template in assets/templates/ (or the folder an office names in
GRIDBOOK_TEMPLATES) with Jinja placeholders, filled with docxtpl. An office replaces a
template with its own Word file; PLACEHOLDERS lists what it may write.

What a resident typed (parties, description, method, reasons) is only ever a value:
it is never read as a template, it is escaped for XML, and its control characters are
dropped, so a party called "{{ 7*7 }}" or "<w:p>" is printed as typed. The templates
themselves run in Jinja's sandbox and fail loudly on a placeholder they misspell.

Server side (python-docx, docxtpl): never imported by the phone.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path

from .. import codes, statute
from ..model import CONTROL_RE
from ..rules import HANDLE_DAYS, as_date, handle_by

KINDS = {"receipt": "受理告知书", "opinion": "信访处理意见书", "extension": "延期告知书", "decline": "不予受理告知书"}
KINDS_EN = {"receipt": "notice of acceptance", "opinion": "written opinion",
            "extension": "notice of extension", "decline": "notice of non-acceptance"}
EVENT_KIND = "document"  # the timeline entry (case_event.kind) of a document issued

TEMPLATES_ENV = "GRIDBOOK_TEMPLATES"
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "assets" / "templates"

# Who the petitioner may ask for 复查 (art. 35). A township's higher administrative body is
# its county (district) government: an office writes its name into its own template.
REVIEW_BODY = "本机关的上一级行政机关"
BLANK_DATE = "　　年　　月　　日"   # a date still to come, written in by hand
SUBJECT_CHARS = 30
END_MARKS = "。！？；…”’）)!?.;"

# How the matter reached the office, as the notice says it ("你于…以来访形式反映的").
REPORTED_AS = {"visit": "以来访形式", "letter": "以来信形式", "phone": "通过电话",
               "online": "通过网上信访渠道"}

# art. 32: the three outcomes of a written opinion; art. 33: an agreement instead.
OUTCOME_TEXT = {
    "supported": "你的信访请求事实清楚，符合法律、法规、规章或者其他有关规定，"
                 "依照《信访工作条例》第三十二条的规定，本机关予以支持。",
    "explained": "你的信访请求事由合理但缺乏法律依据，依照《信访工作条例》第三十二条的规定，"
                 "本机关作出解释说明。",
    "not_supported": "你的信访请求缺乏事实根据或者不符合法律、法规、规章或者其他有关规定，"
                     "依照《信访工作条例》第三十二条的规定，本机关不予支持。",
    "mediation": "经本机关主持调解，各方当事人在自愿、平等的基础上达成调解协议，"
                 "依照《信访工作条例》第三十三条的规定制作调解协议书（另附）。",
    "conciliation": "各方当事人经协商自愿达成和解协议，"
                    "依照《信访工作条例》第三十三条的规定制作和解协议书（另附）。",
}

# The placeholders a template may use: (what it holds, in Chinese; in English).
PLACEHOLDERS = {
    "title": ("文书名称，如“受理告知书”", "the document's name"),
    "ref": ("事项编号，如“金山-2026-0001”", "the matter's reference"),
    "township": ("乡镇名称，如“金山镇”", "the township"),
    "issuer": ("发文机关，如“金山镇人民政府”", "the issuing body"),
    "office": ("承办单位，如“金山镇信访办”", "the petition office"),
    "petitioner": ("受文的信访人（当事人中的第一人）", "the petitioner addressed (the first party)"),
    "parties": ("全部当事人，以顿号分隔", "all parties, joined by 、"),
    "subject": ("事项名称（标题，或事项描述的开头）", "the matter in a few words (title, or the description's start)"),
    "description": ("事项描述（信访人反映的问题）", "the matter as described"),
    "channel": ("信访形式，如“来访”", "the channel"),
    "reported_as": ("“以来访形式”等，非信访人本人提出的为空", "how the petitioner came (empty for other channels)"),
    "category": ("事项类别，如“邻里”", "the category"),
    "received_on": ("收到日期", "day received"),
    "accepted_on": ("受理日期", "day accepted"),
    "handle_days": ("办理期限天数（60）", "the handling period in days (60)"),
    "first_deadline": ("受理之日起60日的办结期限", "the 60th day from acceptance"),
    "deadline": ("现行办结期限（延期后为延长后的期限）", "the deadline now (after an extension, the new one)"),
    "extended_days": ("延长的天数", "days of extension"),
    "extension_reason": ("延期理由", "the reason of the extension"),
    "decline_reason": ("不予受理的理由", "the reason of non-acceptance"),
    "outcome": ("处理结果：支持、解释说明、不予支持、调解协议或和解协议", "the outcome label"),
    "outcome_code": ("处理结果代码：supported、explained、not_supported、mediation、conciliation",
                     "the outcome code"),
    "outcome_text": ("处理结果的法定表述（第三十二、三十三条）", "the outcome in the statute's words"),
    "method": ("办理情况（化解方式）", "how the matter was handled"),
    "resolved_on": ("办结日期", "day resolved"),
    "review_days": ("申请复查的期限天数（30）", "days to ask for a review (30)"),
    "review_due": ("按意见书日期计算的复查申请截止日", "last day to ask for a review, from the opinion's date"),
    "review_body": ("受理复查的机关（本机关的上一级行政机关）", "the body that reviews"),
    "higher_ref": ("上级交办编号", "the higher body's reference"),
    "date": ("文书落款日期", "the document's date"),
    "today": ("生成文书的日期", "the day it was generated"),
}


# --- errors ------------------------------------------------------------------------

class DocumentError(Exception):
    """A document could not be made; `message(lang)` says why in Chinese or English."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(f"{zh} ({en})")

    def message(self, lang: str = "en") -> str:
        return self.zh if lang == "zh" else self.en


class TemplateMissing(DocumentError):
    def __init__(self, kind: str, path: Path):
        self.kind, self.path = kind, Path(path)
        super().__init__(f"找不到《{KINDS[kind]}》的模板文件：{self.path}",
                         f"the template of the {KINDS_EN[kind]} is missing: {self.path}")


class TemplateInvalid(DocumentError):
    """The template is not a Word file, or its placeholders are wrong (a typo, a tag left open)."""

    def __init__(self, kind: str, path: Path, detail: str):
        self.kind, self.path, self.detail = kind, Path(path), detail
        super().__init__(f"《{KINDS[kind]}》的模板文件有误：{self.path}：{detail}",
                         f"the template of the {KINDS_EN[kind]} cannot be filled: {self.path}: {detail}")


_WHY = {
    "not_accepted": ("事项尚未受理", "the matter has not been accepted"),
    "declined": ("事项已决定不予受理", "the matter was declined"),
    "not_resolved": ("事项尚未办结，或未填写处理结果", "the matter is not resolved, or has no outcome"),
    "not_extended": ("办理期限未延长", "the handling period was not extended"),
    "not_declined": ("事项未作不予受理决定", "the matter was not declined"),
}


class NotAvailable(DocumentError):
    """The matter's state does not allow this document (a receipt before acceptance...)."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason
        zh, en = _WHY[reason]
        super().__init__(f"不能出具《{KINDS[kind]}》：{zh}", f"no {KINDS_EN[kind]} can be issued: {en}")


# --- which documents a matter allows ------------------------------------------------

def _why_not(kind: str, case: dict) -> str | None:
    declined = case.get("status") == "declined"
    if kind == "receipt":
        return "declined" if declined else (None if case.get("accepted_on") else "not_accepted")
    if kind == "opinion":
        # a matter taken up again (不满意, 重办) has no opinion until it is resolved anew:
        # the old one would give the old outcome and a review period already running
        finished = case.get("status") in statute.FINISHED
        return None if finished and case.get("resolved_on") and case.get("outcome") else "not_resolved"
    if kind == "extension":
        return None if case.get("extended_days") else "not_extended"
    if kind == "decline":
        return None if declined else "not_declined"
    raise ValueError(f"unknown document kind {kind!r} (one of {', '.join(KINDS)})")


def available(case: dict) -> list[str]:
    """The documents the matter's state allows, in the order of KINDS."""
    return [k for k in KINDS if _why_not(k, case) is None]


# --- names ------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\s\x00-\x1f\x7f]+')


def filename(kind: str, case: dict) -> str:
    """受理告知书-金山-2026-0001.docx: the document and the matter's reference (or its id)."""
    ref = _UNSAFE_NAME.sub("-", str(case.get("ref") or case.get("id") or "")).strip("-.") or "事项"
    return f"{KINDS[kind]}-{ref[:60]}.docx"


def timeline_text(kind: str, case: dict) -> str:
    """The text of the timeline entry (case_event kind "document") for a document issued."""
    ref = case.get("ref") or ""
    return f"出具《{KINDS[kind]}》" + (f"（{ref}）" if ref else "")


def issuer(township: str) -> str:
    """The issuing body: a township's people's government, a subdistrict's office."""
    township = (township or "").strip() or "镇"
    return f"{township}办事处" if township.endswith("街道") else f"{township}人民政府"


def zh_date(value) -> str:
    """2026年11月27日 (months and days without a leading zero, GB/T 9704); a blank to
    write in by hand when there is no date."""
    day = as_date(value)
    return f"{day.year}年{day.month}月{day.day}日" if day else BLANK_DATE


# --- the values of the placeholders -----------------------------------------------

def _text(value) -> str:
    """What a person typed, as plain text on one line: control characters dropped,
    runs of spaces and line ends made one space."""
    if value is None:
        return ""
    return " ".join(CONTROL_RE.sub("", str(value)).split())


def _paragraphs(value, sentence: bool = False) -> str:
    """Text of several lines as paragraphs: each line typed becomes a paragraph of the
    placeholder's own style (docxtpl reads "\\a" as a new paragraph; a line break inside
    a justified paragraph would spread the line before it across the page). With
    `sentence`, a full stop ends it when the person typed none."""
    if value is None:
        return ""
    lines = [_text(line) for line in str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if sentence and lines and lines[-1][-1] not in END_MARKS:
        lines[-1] += "。"
    return "\a".join(lines)


def _parties(case: dict) -> list[str]:
    raw = case.get("parties") or []
    if isinstance(raw, str):  # a row read straight from SQLite holds the JSON text
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = [raw]
        if not isinstance(raw, list):
            raw = [raw]
    return [t for t in (_text(p) for p in raw) if t]


def _subject(case: dict) -> str:
    """The matter in a few words: its title, else the first sentence of its description
    (cut at 30 characters)."""
    title = _text(case.get("title"))
    if title:
        return title
    lines = str(case.get("description") or "").splitlines()
    first = next((t for t in (_text(line) for line in lines) if t), "")
    first = re.split(r"[。！？!?；;]", first, maxsplit=1)[0].rstrip("，,、：: ")
    return first if len(first) <= SUBJECT_CHARS else first[:SUBJECT_CHARS] + "……"


def _doc_date(kind: str, case: dict, today: dt.date) -> dt.date:
    """The date the document bears: the opinion is dated the day the matter was resolved
    (the review window runs from it, statute.opinion_day); a receipt notice the day the
    petitioner was told, once recorded; else the day it is made."""
    if kind == "opinion":
        return statute.opinion_day(case) or today
    if kind == "receipt":
        return as_date(case.get("notice_sent_on")) or today
    return today


def context(kind: str, case: dict, township: str, today: dt.date) -> dict[str, str]:
    """The value of every placeholder (PLACEHOLDERS) for this document of this matter."""
    parties = _parties(case)
    accepted = as_date(case.get("accepted_on"))
    extended = case.get("extended_days") or 0
    first_deadline = handle_by(accepted) if accepted else None
    deadline = as_date(case.get("deadline")) or (handle_by(accepted, extended) if accepted else None)
    outcome = case.get("outcome") or ""
    date = _doc_date(kind, case, today)
    township = _text(township) or "镇"
    review_due = (date + dt.timedelta(days=statute.REVIEW_REQUEST_DAYS)) if kind == "opinion" else None
    values = {
        "title": KINDS[kind],
        "ref": _text(case.get("ref")),
        "township": township,
        "issuer": issuer(township),
        "office": f"{township}信访办",
        "petitioner": parties[0] if parties else "信访人",
        "parties": "、".join(parties),
        "subject": _subject(case),
        "description": _paragraphs(case.get("description")),
        "channel": codes.label(codes.CHANNELS, case.get("channel")),
        "reported_as": REPORTED_AS.get(case.get("channel") or "", ""),
        "category": codes.label(codes.CATEGORIES, case.get("category")),
        "received_on": zh_date(statute.received(case)),
        "accepted_on": zh_date(accepted),
        "handle_days": str(HANDLE_DAYS),
        "first_deadline": zh_date(first_deadline),
        "deadline": zh_date(deadline),
        "extended_days": str(extended),
        "extension_reason": _paragraphs(case.get("extension_reason"), sentence=True),
        "decline_reason": _paragraphs(case.get("decline_reason"), sentence=True),
        "outcome": codes.label(codes.OUTCOMES, outcome) if outcome else "",
        "outcome_code": outcome,
        "outcome_text": OUTCOME_TEXT.get(outcome, ""),
        "method": _paragraphs(case.get("method"), sentence=True),
        "resolved_on": zh_date(case.get("resolved_on")),
        "review_days": str(statute.REVIEW_REQUEST_DAYS),
        "review_due": zh_date(review_due),
        "review_body": REVIEW_BODY,
        "higher_ref": _text(case.get("higher_ref")),
        "date": zh_date(date),
        "today": zh_date(today),
    }
    return values


# --- filling a template --------------------------------------------------------------

def template_dir(folder: str | os.PathLike | None = None) -> Path:
    """The folder of the templates: the one given, else GRIDBOOK_TEMPLATES, else the
    repository's assets/templates/."""
    return Path(folder or os.environ.get(TEMPLATES_ENV) or DEFAULT_TEMPLATES)


def template_path(kind: str, folder: str | os.PathLike | None = None) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r} (one of {', '.join(KINDS)})")
    return template_dir(folder) / f"{kind}.docx"


def _jinja_env():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment
    # autoescape: every value is escaped for XML (docxtpl's render sets it too);
    # StrictUndefined: a misspelt placeholder in an office's template is an error, not a blank
    return SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def render(kind: str, case: dict, township: str, today: dt.date,
           template_dir: str | os.PathLike | None = None) -> bytes:
    """The .docx of one document of one matter. Raises NotAvailable when the matter's
    state does not allow it, TemplateMissing when its template is not there, and
    TemplateInvalid when the template cannot be filled."""
    reason = _why_not(kind, case)
    if reason:
        raise NotAvailable(kind, reason)
    path = template_path(kind, template_dir)
    if not path.is_file():
        raise TemplateMissing(kind, path)
    values = context(kind, case, township, today)
    from docxtpl import DocxTemplate
    try:
        doc = DocxTemplate(str(path))
        doc.render(values, jinja_env=_jinja_env(), autoescape=True)
        out = io.BytesIO()
        doc.save(out)
    except Exception as exc:  # not a Word file, a tag left open, an unknown placeholder...
        raise TemplateInvalid(kind, path, f"{type(exc).__name__}: {exc}") from exc
    return out.getvalue()
