"""English lines joined English words with Chinese punctuation: "Parties -Alice、@Bob",
"Departments：Justice、Police；Resolution plan：…", "2026-01-01 — 2026-12-31（Counted to …）"
(helper BI). The app's own separators now follow the language; Chinese lines stay as
they were, and what people typed is left alone."""

import datetime as dt

import flet as ft

from fieldapp import i18n
from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
from tests.test_office import matter, ws  # noqa: F401  (ws: the fixture)
from tests.test_office_erasure import Page, texts

FULL_WIDTH = set("、：；（）")


class Views(Page):
    """A page that holds the stack of screens, as a matter's page is pushed onto it."""
    def __init__(self):
        super().__init__()
        self.views = []


def shown(control) -> str:
    """Every word a control shows, a list tile's subtitle too."""
    out = []

    def walk(c):
        for attr in ("value", "label", "content", "title", "subtitle"):
            v = getattr(c, attr, None)
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, ft.Control):
                walk(v)
        for child in getattr(c, "controls", None) or []:
            walk(child)
    walk(control)
    return "\n".join(out)


def office(ws, lang, page=None):
    from fieldapp.office.context import OfficeContext
    ctx = OfficeContext(page or Page(), ws.replica, tickets=None)
    ctx.ws, ctx._lang = ws, lang
    return ctx


def test_the_separators_are_each_languages_own():
    assert i18n.listed(["张三", "李四"]) == "张三、李四"
    assert i18n.listed(iter(["Alice", "Bob"]), "en") == "Alice, Bob"
    assert i18n.listed([], "en") == "" and i18n.listed(["A"], "en") == "A"
    assert i18n.labelled("协办部门", "司法所") == "协办部门：司法所"
    assert i18n.labelled("Departments", "Justice", "en") == "Departments: Justice"
    assert i18n.clauses(["距离 80 米", "模拟定位"]) == "距离 80 米；模拟定位"
    assert i18n.clauses(("80 m away", "mocked"), "en") == "80 m away; mocked"


def test_a_screen_says_them_in_its_own_language():
    from fieldapp.navigation import Screens

    class English(Screens):
        lang = "en"
    zh, en = Screens(), English()
    assert (zh.listed(["a", "b"]), zh.labelled("x", "y"), zh.clauses(["p", "q"])) == ("a、b", "x：y", "p；q")
    assert (en.listed(["a", "b"]), en.labelled("x", "y"), en.clauses(["p", "q"])) == ("a, b", "x: y", "p; q")


def test_the_ledger_row_lists_parties_and_overdue_limits_as_each_language_does(ws, monkeypatch):
    from fieldapp.office.ledger import matter_row
    monkeypatch.setattr("fieldapp.office.ledger.today_cst", lambda: dt.date(2026, 11, 20))
    cid = matter(ws, on=dt.date(2026, 6, 1), parties=["-Alice", "@Bob"])
    ws.accept(cid, on=dt.date(2026, 6, 30))       # no notice sent, and its 60 days gone by
    c = ws.case(cid)
    zh = texts(matter_row(office(ws, "zh"), c, {}, lambda cid: None))
    assert "-Alice、@Bob" in zh and "告知超期、办理超期 2026-08-29" in zh, zh
    en = texts(matter_row(office(ws, "en"), c, {}, lambda cid: None))
    assert "-Alice, @Bob" in en and "notice overdue, handling overdue 2026-08-29" in en, en
    assert not FULL_WIDTH & set(en), en


def test_the_supervision_row_labels_and_separates_as_each_language_does(ws):
    from fieldapp.office.lists import supervision_line, supervision_panel
    cid = matter(ws, on=dt.date.today())
    ws.accept(cid, on=dt.date.today())
    ws.consult(cid, dt.date.today(), ["Justice", "Police"], "mediate at home", "lizhen")
    c = ws.case(cid)
    assert "协办部门：Justice、Police；化解方案：mediate at home；办理期限：" in shown(supervision_panel(office(ws, "zh")))
    en = shown(supervision_panel(office(ws, "en")))
    assert "Departments: Justice, Police; Resolution plan: mediate at home; Deadline: " in en, en
    assert not FULL_WIDTH & set(en), en
    bare = dict(c, departments=[], plan=None, deadline=None)
    assert supervision_line(office(ws, "zh"), bare, None, []) == "协办部门：—；化解方案：—；办理期限：—"
    assert (supervision_line(office(ws, "en"), c, 3, [{"at": "2026-11-20T10:00", "text": "met them"}])
            == f"Departments: Justice, Police; Resolution plan: mediate at home; Deadline: {c['deadline']}"
               " (3 days left)\n2026-11-20 met them")


def test_the_dashboard_heading_brackets_its_counted_day_as_each_language_does(ws):
    from fieldapp.office.dashboard import period_heading
    start, end = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    assert period_heading(office(ws, "zh"), start, end, "2026-11-29") == "2026-01-01 — 2026-12-31（统计截至 2026-11-29）"
    assert period_heading(office(ws, "en"), start, end, "2026-11-29") == "2026-01-01 — 2026-12-31 (Counted to 2026-11-29)"
    assert period_heading(office(ws, "en"), start, end, "2026-12-31") == "2026-01-01 — 2026-12-31"


def test_the_matter_page_in_english_says_its_lists_and_timeline_without_full_width_marks(ws):
    from fieldapp.office.matter import open_matter
    cid = matter(ws, on=dt.date.today(), parties=["Alice", "Bob"], signals=["group", "repeated"])
    ws.accept(cid, on=dt.date.today())
    ws.consult(cid, dt.date.today(), ["Justice", "Police"], "mediate", "lizhen")
    ctx = office(ws, "en", Views())
    open_matter(ctx, cid)
    page, timeline = shown(ctx.page.views[-1]).split("\nTimeline\n")
    assert "Alice, Bob" in page and "Justice, Police" in page and "repeated petition" in page, page
    assert not FULL_WIDTH & set(page), page
    # the events' own words are the server's (Chinese), the label before them the screen's
    assert "note · 镇信访办: 登记" in timeline, timeline
    zh = office(ws, "zh", Views())
    open_matter(zh, cid)
    page, timeline = shown(zh.page.views[-1]).split("\n办理过程\n")
    assert "Alice、Bob" in page and "Justice、Police" in page and "备注 · 镇信访办：登记" in timeline, timeline


def test_a_forms_refusals_are_joined_as_each_language_does():
    from types import SimpleNamespace

    from fieldapp.office.forms import Form
    from fieldapp.screens.household_form import mark
    for lang, both, named in (("zh", "too long；not a date", "申请复查日期：bad"),
                              ("en", "too long; not a date", ": bad")):
        ctx = SimpleNamespace(t=lambda k, _l=lang, **kw: i18n.t(k, _l, **kw), lang=lang)
        field = ft.TextField()
        form = Form(ctx, {"when": field})
        form.say("when", "too long")
        form.say("when", "not a date")
        assert field.error == both
        form.say("review_requested_on", "bad")
        assert form.foot.value.endswith(named) and (lang == "zh" or "：" not in form.foot.value), form.foot.value
        other = ft.TextField()
        mark(other, None, "too long", lang)
        mark(other, None, "not a date", lang)
        assert other.error == both


def test_the_phone_s_case_page_lists_parties_and_departments_as_each_language_does():
    from fieldapp.screens.case_detail import case_rows
    from tests.test_fieldapp_logic import FakeCtx
    case = {"id": "c1", "category": "10", "channel": "visit", "status": "accepted", "parties": ["Alice", "Bob"],
            "departments": ["Justice", "Police"], "signals": ["group", "repeated"]}
    ctx = FakeCtx()
    assert "Alice、Bob" in "\n".join(shown(r) for r in case_rows(ctx, case, {}))
    ctx.lang = "en"
    en = "\n".join(shown(r) for r in case_rows(ctx, case, {}))
    assert "Alice, Bob" in en and "Justice, Police" in en and "、" not in en, en


def test_a_handed_down_matter_waiting_past_the_higher_deadline_shows_that_day_late_in_ledger_and_page(
        ws, monkeypatch):
    """Listed under 已超期 by its higher body's deadline, the row read "办理超期 None" and the
    page marked nothing late (helper BK)."""
    from fieldapp.office import matter as matter_page
    from fieldapp.office.ledger import matter_row
    monkeypatch.setattr("fieldapp.office.ledger.today_cst", lambda: dt.date(2026, 5, 10))
    monkeypatch.setattr("fieldapp.office.matter.today_cst", lambda: dt.date(2026, 5, 10))
    cid = matter(ws, on=dt.date(2026, 5, 1), channel="handed_down", higher_ref="县信访局交〔2026〕12号",
                 higher_deadline="2026-05-04", notice_sent_on="2026-05-01")
    c = ws.case(cid)
    assert "办理超期 2026-05-04" in texts(matter_row(office(ws, "zh"), c, {}, lambda cid: None))
    rows = [texts(r) for r in matter_page.limit_rows(office(ws, "zh"), c)]
    assert any("2026-05-04" in r and "上级要求" in r and "超期 6 天" in r for r in rows), rows
