"""(Re)builds the four Word templates of the statutory documents in this folder.

    .venv/bin/python assets/templates/make_templates.py

receipt.docx (受理告知书), opinion.docx (信访处理意见书), extension.docx (延期告知书) and
decline.docx (不予受理告知书) are ordinary Word files with placeholders such as
{{ petitioner }} or {{ accepted_on }}; sync/server/documents.py fills them with docxtpl.
An office may replace any of them with its own Word file (README.md lists the
placeholders): this script only makes the ones the product ships.

Layout after GB/T 9704 (党政机关公文格式) as far as a notice needs it: A4, margins
37/35/28/26 mm, the title in 黑体, the text in 宋体 with a two-character first-line
indent, the issuing body and the date at the bottom right. Fonts are named for Word
(w:eastAsia), so a Chinese Windows uses 宋体 and 黑体 for the Chinese text.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

HERE = Path(__file__).resolve().parent

BODY_FONT, TITLE_FONT, LATIN_FONT = "宋体", "黑体", "Times New Roman"
BODY_PT, TITLE_PT, ISSUER_PT, REF_PT = 14, 22, 16, 12     # 四号, 二号, 三号, 小四
LINE_PT = 25                                              # exact line pitch of the text


def _fonts(rpr_parent, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Name the fonts explicitly (w:ascii, w:hAnsi, w:eastAsia): Word takes w:eastAsia for
    Chinese characters, and no theme font may override it."""
    rpr = rpr_parent.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)
    # quotation marks and the like are "ambiguous": with the hint Word sets them in the
    # Chinese font, full width (“养殖场”), not in Times New Roman
    fonts.set(qn("w:hint"), "eastAsia")
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")


def _style(doc, name: str, base: str | None, font: str, size: int, *, style_id: str | None = None,
           bold=False, align=None, indent_chars=0, before=0, after=0, line_pt=LINE_PT, keep_next=False):
    """A paragraph style: its Chinese name is what a clerk sees in Word's style list,
    its id ASCII (as Word writes it)."""
    styles = doc.styles
    if name in [s.name for s in styles]:
        st = styles[name]
    else:
        st = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        st.style_id = style_id
    if base:
        st.base_style = styles[base]
    st.font.size = Pt(size)
    st.font.bold = bold
    _fonts(st.element, font)
    pf = st.paragraph_format
    pf.alignment = align
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = Pt(line_pt)
    pf.keep_with_next = keep_next
    pf.widow_control = True
    if indent_chars:
        # w:firstLineChars for Word (two characters whatever the size), w:firstLine for the rest
        pf.first_line_indent = Pt(size * indent_chars)
        ind = st.element.get_or_add_pPr().find(qn("w:ind"))
        ind.set(qn("w:firstLineChars"), str(indent_chars * 100))
    return st


def new_document(title: str):
    doc = Document()
    # the default fonts of the whole document, without the theme's
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    fonts = rpr_default.find(qn("w:rFonts"))
    for attr in list(fonts.attrib):
        del fonts.attrib[attr]
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), BODY_FONT)
    fonts.set(qn("w:cs"), LATIN_FONT)
    rpr_default.find(qn("w:lang")).set(qn("w:eastAsia"), "zh-CN")

    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
    sec.left_margin, sec.right_margin = Mm(28), Mm(26)
    sec.header_distance = sec.footer_distance = Mm(15)

    _style(doc, "Normal", None, BODY_FONT, BODY_PT)
    _style(doc, "文书正文", "Normal", BODY_FONT, BODY_PT, style_id="DocBody", align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent_chars=2)
    _style(doc, "发文机关", "Normal", TITLE_FONT, ISSUER_PT, style_id="DocIssuer", align=WD_ALIGN_PARAGRAPH.CENTER,
           line_pt=30, keep_next=True)
    _style(doc, "文书标题", "Normal", TITLE_FONT, TITLE_PT, style_id="DocTitle", align=WD_ALIGN_PARAGRAPH.CENTER,
           line_pt=36, after=6, keep_next=True)
    _style(doc, "文书编号", "Normal", BODY_FONT, REF_PT, style_id="DocRef", align=WD_ALIGN_PARAGRAPH.RIGHT, after=12,
           keep_next=True)
    _style(doc, "称谓", "Normal", BODY_FONT, BODY_PT, style_id="DocAddressee", align=WD_ALIGN_PARAGRAPH.LEFT)
    _style(doc, "小标题", "Normal", TITLE_FONT, BODY_PT, style_id="DocHeading", indent_chars=2, keep_next=True)
    _style(doc, "落款", "Normal", BODY_FONT, BODY_PT, style_id="DocSignature", align=WD_ALIGN_PARAGRAPH.RIGHT)
    doc.styles["落款"].paragraph_format.right_indent = Pt(BODY_PT * 2)
    doc.styles["落款"].paragraph_format.keep_with_next = True   # the body and date on one page
    doc.styles["落款"].paragraph_format.space_before = Pt(6)
    _style(doc, "联系单位", "Normal", BODY_FONT, REF_PT, style_id="DocContact", before=12)

    props = doc.core_properties
    props.title, props.author = title, "{{ issuer }}"
    props.subject = props.comments = props.keywords = props.category = ""
    props.last_modified_by = ""
    props.created = props.modified = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    return doc


def para(doc, style: str, text: str = ""):
    p = doc.add_paragraph(style=style)
    if text:
        run = p.add_run(text)  # one run per placeholder line: Jinja sees each tag whole
        run._r.get_or_add_rPr().get_or_add_rFonts().set(qn("w:hint"), "eastAsia")
    return p


def head(doc, title: str) -> None:
    para(doc, "发文机关", "{{ issuer }}")
    para(doc, "文书标题", title)
    para(doc, "文书编号", "编号：{{ ref }}")
    para(doc, "称谓", "{{ petitioner }}：")


def sign(doc, told: bool = True) -> None:
    """The close: the issuing body and the date, kept on one page with the last lines of
    the text (a page holding only the seal is what GB/T 9704 tells to avoid)."""
    if told:
        para(doc, "文书正文", "特此告知。")
    doc.paragraphs[-1].paragraph_format.keep_with_next = True
    para(doc, "Normal").paragraph_format.keep_with_next = True
    para(doc, "落款", "{{ issuer }}")
    para(doc, "落款", "{{ date }}")
    para(doc, "联系单位", "（联系单位：{{ office }}）")


# --- the four documents -------------------------------------------------------------

def receipt():
    doc = new_document("受理告知书")
    head(doc, "受理告知书")
    para(doc, "文书正文", "你于{{ received_on }}{{ reported_as }}反映的“{{ subject }}”一事，"
                         "本机关已于{{ accepted_on }}依法受理。")
    para(doc, "文书正文", "依照《信访工作条例》的规定，本机关将自受理之日起{{ handle_days }}日内办结，"
                         "即于{{ first_deadline }}前作出处理，并出具信访处理意见书书面答复你。"
                         "情况复杂需要延长办理期限的，将另行书面告知延期理由。")
    para(doc, "文书正文", "办理期间，你可以向本机关了解办理进展。")
    sign(doc)
    return doc


def opinion():
    doc = new_document("信访处理意见书")
    head(doc, "信访处理意见书")
    para(doc, "文书正文", "你于{{ received_on }}{{ reported_as }}反映的“{{ subject }}”一事，"
                         "本机关于{{ accepted_on }}受理。经调查核实，现出具处理意见如下：")
    para(doc, "小标题", "一、信访事项")
    para(doc, "文书正文", "{{ description }}")
    para(doc, "小标题", "二、办理情况")
    para(doc, "文书正文", "{{ method }}")
    para(doc, "小标题", "三、处理意见")
    para(doc, "文书正文", "处理结果：{{ outcome }}。")
    para(doc, "文书正文", "{{ outcome_text }}")
    para(doc, "小标题", "四、复查权利")
    para(doc, "文书正文", "如对本处理意见不服，可以自收到本意见书之日起{{ review_days }}日内向{{ review_body }}"
                         "请求复查（《信访工作条例》第三十五条）。")
    sign(doc, told=False)
    return doc


def extension():
    doc = new_document("延期告知书")
    head(doc, "延期告知书")
    para(doc, "文书正文", "你于{{ received_on }}{{ reported_as }}反映的“{{ subject }}”一事，"
                         "本机关已于{{ accepted_on }}受理，原定于{{ first_deadline }}前办结。")
    para(doc, "文书正文", "延期理由：{{ extension_reason }}")
    para(doc, "文书正文", "依照《信访工作条例》第三十四条的规定，经本机关负责人批准，"
                         "该事项办理期限延长{{ extended_days }}日，至{{ deadline }}前办结。")
    sign(doc)
    return doc


def decline():
    doc = new_document("不予受理告知书")
    head(doc, "不予受理告知书")
    para(doc, "文书正文", "你于{{ received_on }}{{ reported_as }}提出的“{{ subject }}”一事，"
                         "经审查，本机关决定不予受理。")
    para(doc, "文书正文", "理由：{{ decline_reason }}")
    para(doc, "文书正文", "依照《信访工作条例》的有关规定，依法应当通过诉讼、仲裁、行政复议等法定途径解决的，"
                         "请依照有关法律、行政法规规定的程序向有关机关提出；属于其他机关、单位职权范围的，"
                         "请向有权处理的机关、单位提出。如有疑问，可向{{ office }}咨询。")
    sign(doc)
    return doc


BUILDERS = {"receipt": receipt, "opinion": opinion, "extension": extension, "decline": decline}


def main(out_dir: Path = HERE) -> list[Path]:
    out = []
    for kind, build in BUILDERS.items():
        path = Path(out_dir) / f"{kind}.docx"
        build().save(path)
        out.append(path)
    return out


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(p)
