"""Code tables: the closed lists the data may hold, with Chinese and English labels.

They are data, read by validation, screens and exports alike; a township that uses
other labels changes them here and nowhere else. Sources are in ../shared/domain.md.
"""

from __future__ import annotations

Table = dict[str, dict[str, str]]


def _t(*rows: tuple[str, str, str]) -> Table:
    return {code: {"zh": zh, "en": en} for code, zh, en in rows}


ROLES = _t(
    ("grid_worker", "网格员", "grid worker"),
    ("leader", "包案领导", "leader"),
    ("office", "信访办", "petition office"),
    ("admin", "管理员", "administrator"),
)

# 矛盾纠纷 categories, the code table of a city mediation centre.
CATEGORIES = _t(
    ("01", "婚姻家庭", "marriage and family"),
    ("02", "邻里", "neighbours"),
    ("03", "房产宅基地", "housing and homestead"),
    ("04", "合同", "contract"),
    ("05", "生产经营", "production and business"),
    ("06", "损害赔偿", "damages"),
    ("07", "山林土地", "forest and land"),
    ("08", "征地拆迁", "land acquisition and demolition"),
    ("09", "环境污染", "environmental pollution"),
    ("10", "劳动争议", "labour dispute (incl. unpaid wages)"),
    ("11", "旅游", "tourism"),
    ("12", "消费", "consumer"),
    ("13", "医疗", "medical"),
    ("14", "道路交通事故", "road traffic accident"),
    ("15", "物业", "property management"),
    ("16", "知识产权", "intellectual property"),
    ("17", "互联网", "internet"),
    ("99", "其他", "other"),
)

CHANNELS = _t(
    ("visit", "来访", "walk-in"),
    ("letter", "来信", "letter"),
    ("phone", "电话", "phone"),
    ("online", "网上", "online"),
    ("grid", "网格员上报", "grid worker report"),
    ("screening", "排查", "village screening"),
    ("discipline", "纪检", "discipline referral"),
    ("handed_down", "上级交办", "handed down"),
)

CASE_KINDS = _t(
    ("dispute", "矛盾纠纷", "dispute"),
    ("petition", "信访事项", "petition matter"),
)

# Local colour scheme; a township may relabel it (domain.md: no national scheme).
RISK_LEVELS = _t(
    ("red", "红色", "red"),
    ("orange", "橙色", "orange"),
    ("yellow", "黄色", "yellow"),
    ("blue", "蓝色", "blue"),
)

CASE_STATUSES = _t(
    ("reported", "已上报", "reported"),
    ("accepted", "已受理", "accepted"),
    ("declined", "不予受理", "declined"),
    ("assigned", "已分派", "assigned"),
    ("in_progress", "办理中", "in progress"),
    ("resolved", "已办结", "resolved"),
    ("called_back", "已回访", "called back"),
    ("closed", "已结案", "closed"),
    ("reopened", "已重办", "reopened"),
)

OUTCOMES = _t(
    ("supported", "支持", "supported"),
    ("explained", "解释说明", "explained"),
    ("not_supported", "不予支持", "not supported"),
    ("mediation", "调解协议", "mediation agreement"),
    ("conciliation", "和解协议", "conciliation agreement"),
)

VISIT_KINDS = _t(
    ("household", "走访", "household visit"),
    ("home", "下访", "leader's home visit"),
    ("callback", "回访", "follow-up visit"),
    ("reception", "接访", "reception"),
)

LOCATION_SOURCES = _t(
    ("gps", "定位", "GPS"),
    ("manual", "手动", "manual"),
)

# Household needs found on visits: a separate list from dispute categories.
NEEDS = _t(
    ("serious_illness", "大病救助", "critical-illness aid"),
    ("dibao", "低保", "minimum living allowance"),
    ("temporary_aid", "临时救助", "temporary assistance"),
    ("disability", "残疾", "disability"),
    ("elderly_alone", "独居老人", "elderly living alone"),
    ("left_behind_child", "留守儿童", "left-behind child"),
    ("poverty_by_illness", "因病致贫", "impoverished by illness"),
    ("unemployed", "失业", "unemployed"),
)

URGENCY = _t(
    ("normal", "一般", "normal"),
    ("urgent", "紧急", "urgent"),
    ("critical", "特急", "critical"),
)

# Escalation signals (domain.md): each raises the risk grade.
SIGNALS = _t(
    ("group", "集体访（5人以上）", "group of more than 5"),
    ("repeated", "重复访", "repeated petition"),
    ("level_skipping", "越级访", "level-skipping petition"),
    ("criminal", "民转刑风险", "risk of turning criminal"),
    ("extreme", "扬言极端", "threat of extreme acts"),
    ("beijing", "进京非访", "irregular petition in Beijing"),
)

EVENT_KINDS = _t(
    ("note", "备注", "note"),
    ("progress", "进展", "progress"),
    ("visit", "下访", "home visit"),
    ("status", "状态变更", "status change"),
    ("assign", "分派", "assignment"),
    ("consultation", "会商", "joint consultation"),
    ("extension", "延期", "extension"),
    ("resolution", "办结", "resolution"),
    ("accept", "受理", "accepted"),
    ("decline", "不予受理", "declined"),
    ("grade", "分级", "graded"),
    ("merge", "合并", "merged"),
    ("reopen", "重办", "reopened"),
    ("callback", "回访", "callback"),
    ("notice", "告知", "petitioner told"),
    ("document", "文书", "document issued"),
    ("review", "复查", "review"),
    ("recheck", "复核", "re-review"),
)

# What a review (复查) or re-review (复核) decided about the opinion (art. 35, 36).
REVIEW_OUTCOMES = _t(
    ("upheld", "维持", "upheld"),
    ("changed", "变更", "changed"),
    ("revoked", "撤销", "revoked"),
)

CALLBACK_METHODS = _t(
    ("phone", "电话", "phone"),
    ("visit", "上门", "visit"),
)

SATISFACTION = _t(
    ("satisfied", "满意", "satisfied"),
    ("basically", "基本满意", "basically satisfied"),
    ("unsatisfied", "不满意", "unsatisfied"),
    # tried and not reached (no answer, a number out of use): the attempt is recorded and
    # the matter may be closed, but no one answered, so 满意度 does not count it
    ("unreachable", "联系不上", "not reached"),
)


def label(table: Table, code: str | None, lang: str = "zh") -> str:
    """The label of a code, or the code itself when a newer server sent one we lack."""
    if code is None:
        return ""
    row = table.get(code)
    return row[lang] if row else code

# A household's place in the registry: kept whatever happens, never deleted.
HOUSEHOLD_STATUSES = _t(
    ("active", "在册", "registered"),
    ("moved_out", "已迁出", "moved out"),
    ("deceased", "户主已故", "head deceased"),
)

# What a record may carry besides its text (the bytes travel apart: attachments).
ATTACHMENT_KINDS = _t(
    ("photo", "照片", "photo"),
    ("audio", "录音", "voice note"),
)
