"""The statutory documents (sync/server/documents.py): generated from the repository's
templates for a matter across a year end, read back with python-docx."""

import datetime as dt
import io

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm

from sync import codes
from sync.server import documents
from sync.server.documents import KINDS, NotAvailable, TemplateInvalid, TemplateMissing

D = dt.date
TODAY = D(2027, 3, 2)


def matter(**over):
    """A neighbours' dispute: received 2026-12-10, accepted 2026-12-15, 60 days to
    2027-02-13, extended once by 30 days to 2027-03-15, resolved 2027-03-01."""
    return {
        "id": "c-0001", "ref": "金山-2026-0001", "kind": "petition", "status": "resolved",
        "channel": "visit", "category": "02", "title": "养殖场污水流入承包地",
        "parties": ["王建国", "李秀英"],
        "description": "反映邻居李秀英家养猪场的污水流入自家承包地，玉米减产。\n要求停止排放并赔偿损失。",
        "received_on": "2026-12-10", "accepted_on": "2026-12-15", "notice_sent_on": "2026-12-16",
        "extended_days": 30, "extension_reason": "需会同县生态环境局现场取样检测",
        "deadline": "2027-03-15", "outcome": "supported",
        "method": "组织双方现场调解，养殖户修建沉淀池并赔偿损失1200元", "resolved_on": "2027-03-01",
        **over,
    }


def read(data: bytes) -> tuple[Document, str]:
    doc = Document(io.BytesIO(data))
    return doc, "\n".join(p.text for p in doc.paragraphs)


def paragraphs(doc) -> list[str]:
    return [p.text for p in doc.paragraphs if p.text.strip()]


def head_of(doc) -> list[str]:
    """issuing body, title, reference line, addressee: the first four lines of text."""
    return paragraphs(doc)[:4]


# --- the four documents, read back ------------------------------------------------------

def test_receipt_notice():
    doc, text = read(documents.render("receipt", matter(), "金山镇", TODAY))
    assert head_of(doc) == ["金山镇人民政府", "受理告知书", "编号：金山-2026-0001", "王建国："]
    assert "你于2026年12月10日以来访形式反映的“养殖场污水流入承包地”一事" in text
    assert "本机关已于2026年12月15日依法受理" in text
    # 60 days from acceptance, across the year end (the first period, before any extension)
    assert "自受理之日起60日内办结，即于2027年2月13日前" in text
    assert paragraphs(doc)[-3:] == ["金山镇人民政府", "2026年12月16日", "（联系单位：金山镇信访办）"]
    assert doc.core_properties.title == "受理告知书"


def test_a_noncharacter_stored_before_it_was_refused_leaves_the_notice_whole():
    """U+FFFF in a party's name (taken before the push refused it) made the templating
    library read the document's XML "recovering" and drop every <, > and & of it."""
    doc, text = read(documents.render("receipt", matter(title="损失<1万元 & >2万元", parties=["王五\uffff"]),
                                      "金山镇", TODAY))
    assert head_of(doc)[3] == "王五：" and "“损失<1万元 & >2万元”" in text


def test_written_opinion_states_the_outcome_the_method_and_the_review_right():
    doc, text = read(documents.render("opinion", matter(), "金山镇", TODAY))
    assert head_of(doc) == ["金山镇人民政府", "信访处理意见书", "编号：金山-2026-0001", "王建国："]
    assert "本机关于2026年12月15日受理" in text
    # each line typed is a paragraph of its own, in the text's style
    assert "反映邻居李秀英家养猪场的污水流入自家承包地，玉米减产。" in paragraphs(doc)
    assert "要求停止排放并赔偿损失。" in paragraphs(doc)
    assert "组织双方现场调解，养殖户修建沉淀池并赔偿损失1200元。" in paragraphs(doc)
    assert "处理结果：支持。" in paragraphs(doc)
    assert "第三十二条" in text and "本机关予以支持" in text
    assert "如对本处理意见不服，可以自收到本意见书之日起30日内向本机关的上一级行政机关请求复查" in text
    assert paragraphs(doc)[-2] == "2027年3月1日"   # dated the day it was resolved: the review runs from it


@pytest.mark.parametrize("code", list(codes.OUTCOMES))
def test_every_outcome_is_stated_by_its_label(code):
    _, text = read(documents.render("opinion", matter(outcome=code), "金山镇", TODAY))
    assert f"处理结果：{codes.OUTCOMES[code]['zh']}。" in text
    assert documents.OUTCOME_TEXT[code] in text
    assert "自收到本意见书之日起30日内" in text


def test_review_days_come_from_the_statute(monkeypatch):
    monkeypatch.setattr(documents.statute, "REVIEW_REQUEST_DAYS", 45)
    _, text = read(documents.render("opinion", matter(), "金山镇", TODAY))
    assert "自收到本意见书之日起45日内" in text


def test_extension_notice_states_the_new_deadline_and_the_reason():
    doc, text = read(documents.render("extension", matter(), "金山镇", TODAY))
    assert head_of(doc) == ["金山镇人民政府", "延期告知书", "编号：金山-2026-0001", "王建国："]
    assert "本机关已于2026年12月15日受理，原定于2027年2月13日前办结" in text
    assert "延期理由：需会同县生态环境局现场取样检测。" in text
    assert "第三十四条" in text and "延长30日，至2027年3月15日前办结" in text
    assert paragraphs(doc)[-2] == "2027年3月2日"


def test_decline_notice_states_the_reason_and_where_to_turn():
    m = matter(status="declined", accepted_on=None, deadline=None, extended_days=None, outcome=None,
               resolved_on=None, method=None, decline_reason="该纠纷已由县人民法院立案审理。")
    doc, text = read(documents.render("decline", m, "金山镇", D(2026, 12, 18)))
    assert head_of(doc) == ["金山镇人民政府", "不予受理告知书", "编号：金山-2026-0001", "王建国："]
    assert "你于2026年12月10日以来访形式提出的“养殖场污水流入承包地”一事" in text
    assert "本机关决定不予受理" in text
    assert "理由：该纠纷已由县人民法院立案审理。" in paragraphs(doc)   # no second full stop
    assert "诉讼、仲裁、行政复议" in text and "可向金山镇信访办咨询" in text
    assert paragraphs(doc)[-2] == "2026年12月18日"


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_document_is_a4_with_cjk_fonts_named_for_word(kind):
    m = matter(status="declined", decline_reason="不属于本机关职权范围") if kind == "decline" else matter()
    doc, _ = read(documents.render(kind, m, "金山镇", TODAY))
    sec = doc.sections[0]
    assert abs(sec.page_width - Mm(210)) < Mm(1) and abs(sec.page_height - Mm(297)) < Mm(1)
    title = next(p for p in doc.paragraphs if p.text == KINDS[kind])
    assert title.style.element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    body = next(p for p in doc.paragraphs if p.text.startswith("你于"))
    assert body.style.element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"
    assert "{{" not in "\n".join(p.text for p in doc.paragraphs)


def test_township_and_subdistrict_issuers():
    _, text = read(documents.render("receipt", matter(), "东城街道", TODAY))
    assert "东城街道办事处" in text and "东城街道信访办" in text


def test_no_party_and_no_reference():
    doc, _ = read(documents.render("receipt", matter(parties=[], ref=None), "金山镇", TODAY))
    assert head_of(doc)[2:] == ["编号：", "信访人："]


def test_parties_as_stored_json_text():
    doc, _ = read(documents.render("receipt", matter(parties='["赵 铁柱", "钱多多"]'), "金山镇", TODAY))
    assert head_of(doc)[3] == "赵 铁柱："


def test_a_matter_without_a_title_is_named_by_its_description():
    _, text = read(documents.render("receipt", matter(title=None), "金山镇", TODAY))
    assert "反映的“反映邻居李秀英家养猪场的污水流入自家承包地，玉米减产”一事" in text
    long = "村东头" * 20 + "。"
    _, text = read(documents.render("receipt", matter(title="", description=long), "金山镇", TODAY))
    assert "反映的“" + long[:30] + "……”一事" in text


# --- what a resident typed is printed as typed --------------------------------------------

def test_typed_text_is_never_a_template():
    m = matter(parties=["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}"],
               title="{{ ref }}<w:p>&amp;",
               description="{{ ''.__class__.__mro__ }} & <b>粗体</b> \"引号\" 'x'\x07\x0b",
               method="{%p if true %}\n{{ issuer }}")
    doc, text = read(documents.render("opinion", m, "金山镇", TODAY))
    assert head_of(doc)[3] == "{{ 7*7 }}："
    assert "49" not in text
    assert "“{{ ref }}<w:p>&amp;”一事" in text
    assert "{{ ''.__class__.__mro__ }} & <b>粗体</b> \"引号\" 'x'" in paragraphs(doc)
    assert "{%p if true %}" in paragraphs(doc) and "{{ issuer }}。" in paragraphs(doc)


# --- which documents a matter's state allows -------------------------------------------------

@pytest.mark.parametrize("fields, expected", [
    ({"status": "reported"}, []),
    ({"status": "declined", "decline_reason": "x"}, ["decline"]),
    ({"status": "accepted", "accepted_on": "2026-12-15"}, ["receipt"]),
    ({"status": "in_progress", "accepted_on": "2026-12-15", "extended_days": 30}, ["receipt", "extension"]),
    ({"status": "in_progress", "accepted_on": "2026-12-15", "extended_days": 0}, ["receipt"]),
    ({"status": "resolved", "accepted_on": "2026-12-15", "resolved_on": "2027-03-01"}, ["receipt"]),
    ({"status": "resolved", "accepted_on": "2026-12-15", "resolved_on": "2027-03-01", "outcome": "explained"},
     ["receipt", "opinion"]),
    ({"status": "closed", "accepted_on": "2026-12-15", "extended_days": 30, "resolved_on": "2027-03-01",
      "outcome": "mediation"}, ["receipt", "opinion", "extension"]),
])
def test_available_per_state(fields, expected):
    assert documents.available(fields) == expected


def test_a_document_the_state_does_not_allow_is_refused_in_both_languages():
    with pytest.raises(NotAvailable) as e:
        documents.render("opinion", {"status": "accepted", "accepted_on": "2026-12-15"}, "金山镇", TODAY)
    assert e.value.kind == "opinion" and e.value.reason == "not_resolved"
    assert "信访处理意见书" in e.value.message("zh") and "written opinion" in e.value.message("en")
    with pytest.raises(NotAvailable):
        documents.render("receipt", {"status": "declined", "accepted_on": "2026-12-15"}, "金山镇", TODAY)
    with pytest.raises(ValueError):
        documents.render("summons", matter(), "金山镇", TODAY)


# --- templates: missing, broken, an office's own --------------------------------------------

def test_missing_template_names_the_file(tmp_path):
    with pytest.raises(TemplateMissing) as e:
        documents.render("receipt", matter(), "金山镇", TODAY, template_dir=tmp_path)
    assert str(tmp_path / "receipt.docx") in str(e.value)
    assert "受理告知书" in e.value.message("zh") and "receipt.docx" in e.value.message("en")


def test_templates_folder_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDBOOK_TEMPLATES", str(tmp_path))
    with pytest.raises(TemplateMissing) as e:
        documents.render("extension", matter(), "金山镇", TODAY)
    assert e.value.path == tmp_path / "extension.docx"
    monkeypatch.delenv("GRIDBOOK_TEMPLATES")
    assert documents.template_path("extension") == documents.DEFAULT_TEMPLATES / "extension.docx"
    assert documents.template_path("extension").is_file()


def test_an_offices_own_template_is_used(tmp_path):
    own = Document()
    own.add_paragraph("金山镇信访事项受理通知")
    # as Word saves a placeholder typed in two goes: split across runs
    p = own.add_paragraph()
    p.add_run("致 {{ petit")
    p.add_run("ioner }}：你反映的事项已于{{ accepted_on }}受理（{{ ref }}），请于{{ first_deadline }}后来电查询。")
    own.save(tmp_path / "receipt.docx")
    doc, text = read(documents.render("receipt", matter(), "金山镇", TODAY, template_dir=tmp_path))
    assert paragraphs(doc) == ["金山镇信访事项受理通知",
                               "致 王建国：你反映的事项已于2026年12月15日受理（金山-2026-0001），请于2027年2月13日后来电查询。"]


def test_an_offices_template_with_conditions_as_word_types_them(tmp_path):
    """Word turns typed quotes into curly ones; a whole paragraph may be conditional."""
    own = Document()
    own.add_paragraph("{% if outcome_code == “supported” %}予以支持{% else %}其他{% endif %}")
    own.add_paragraph("{%p if higher_ref %}")
    own.add_paragraph("上级交办编号：{{ higher_ref }}")
    own.add_paragraph("{%p endif %}")
    own.add_paragraph("复查截止：{{ review_due }}")
    own.save(tmp_path / "opinion.docx")
    doc, _ = read(documents.render("opinion", matter(), "金山镇", TODAY, template_dir=tmp_path))
    assert paragraphs(doc) == ["予以支持", "复查截止：2027年3月31日"]
    doc, _ = read(documents.render("opinion", matter(outcome="explained", higher_ref="县信访局〔2026〕12号"),
                                   "金山镇", TODAY, template_dir=tmp_path))
    assert paragraphs(doc) == ["其他", "上级交办编号：县信访局〔2026〕12号", "复查截止：2027年3月31日"]


def test_a_misspelt_placeholder_or_a_broken_file_is_named(tmp_path):
    own = Document()
    own.add_paragraph("{{ petitoner }}：")
    own.save(tmp_path / "receipt.docx")
    with pytest.raises(TemplateInvalid) as e:
        documents.render("receipt", matter(), "金山镇", TODAY, template_dir=tmp_path)
    assert "petitoner" in str(e.value) and "receipt.docx" in str(e.value)
    (tmp_path / "opinion.docx").write_text("not a Word file")
    with pytest.raises(TemplateInvalid):
        documents.render("opinion", matter(), "金山镇", TODAY, template_dir=tmp_path)


def test_a_template_cannot_reach_python(tmp_path):
    own = Document()
    own.add_paragraph("{{ petitioner.__class__.__mro__[1].__subclasses__() }}")
    own.save(tmp_path / "receipt.docx")
    with pytest.raises(TemplateInvalid):
        documents.render("receipt", matter(), "金山镇", TODAY, template_dir=tmp_path)


def test_every_placeholder_has_a_value_and_a_description():
    values = documents.context("opinion", matter(), "金山镇", TODAY)
    assert values.keys() == documents.PLACEHOLDERS.keys()
    assert all(isinstance(v, str) for v in values.values())
    assert values["review_due"] == "2027年3月31日"


def test_the_shipped_templates_are_the_generators(tmp_path):
    """assets/templates/*.docx are what make_templates.py builds: same paragraphs and styles."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_templates", documents.DEFAULT_TEMPLATES / "make_templates.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for path in mod.main(tmp_path):
        built, shipped = Document(path), Document(documents.DEFAULT_TEMPLATES / path.name)
        assert [(p.style.name, p.text) for p in built.paragraphs] == \
               [(p.style.name, p.text) for p in shipped.paragraphs], path.name


# --- names and the timeline ----------------------------------------------------------------

def test_filename_and_timeline_text():
    assert documents.filename("receipt", matter()) == "受理告知书-金山-2026-0001.docx"
    assert documents.filename("decline", {"id": "r-1", "ref": "金山/2026 0002"}) == "不予受理告知书-金山-2026-0002.docx"
    assert documents.filename("opinion", {"id": "r-7"}) == "信访处理意见书-r-7.docx"
    assert documents.timeline_text("extension", matter()) == "出具《延期告知书》（金山-2026-0001）"
    assert documents.EVENT_KIND in codes.EVENT_KINDS


def test_chinese_dates():
    assert documents.zh_date("2027-02-03") == "2027年2月3日"
    assert documents.zh_date(D(2026, 11, 27)) == "2026年11月27日"
    assert documents.zh_date(None) == documents.BLANK_DATE
