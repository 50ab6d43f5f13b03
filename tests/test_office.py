"""The office's verbs over a real central store: the process, its rules, its trace."""

import datetime as dt

import pytest

from sync.server.central import CentralStore, WriteRefused
from sync.server.office import CentralWorkspace, Missing
from sync import statute
from sync.rules import RuleError

OFFICE = {"username": "xinfang", "name": "镇信访办", "role": "office", "grids": []}


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    st = CentralStore(str(tmp_path / "c.db"))
    st.add_grid("g1", "一组", "白鹤村", "金山镇", 29.07, 119.64)
    st.add_account("xinfang", "镇信访办", "office", "long-enough-1")
    st.add_account("lizhen", "李振华", "leader", "long-enough-1")
    st.add_account("w1", "王芳", "grid_worker", "long-enough-1", ["g1"])
    return CentralWorkspace(st, OFFICE)


def matter(ws, on=dt.date(2026, 1, 20), **over) -> str:
    return ws.register_matter({"channel": "visit", "category": "10", "grid_id": "g1",
                               "parties": ["赵师傅"], "description": "拖欠工资", **over}, on=on)


def test_registration_gets_a_reference_and_a_computed_register_by_date(ws):
    c = ws.case(matter(ws))
    assert c["ref"] == "金山-2026-0001"      # the year of the report, numbered by the server
    assert (c["received_on"], c["register_by"]) == ("2026-01-20", "2026-02-04")
    assert c["status"] == "reported"


def test_the_process_from_acceptance_to_a_satisfied_callback_leaves_its_trace(ws, monkeypatch):
    cid = matter(ws)
    ws.accept(cid, on=dt.date(2026, 1, 31))
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2026, 2, 3))
    assert ws.case(cid)["deadline"] == "2026-04-01"   # 60 days across February
    assert ws.grade(cid, "yellow", "urgent", ["repeated", "level_skipping"]) == "red"
    ws.consult(cid, dt.date(2026, 2, 3), ["人社所"], "先行垫付", "lizhen")
    assert ws.case(cid)["status"] == "assigned" and ws.case(cid)["owner"] == "lizhen"
    ws.extend(cid, 30, "需等待法院执行")
    assert ws.case(cid)["deadline"] == "2026-05-01"
    with pytest.raises(RuleError):
        ws.extend(cid, 10, "再延一次")
    with pytest.raises(RuleError):
        ws.call_back(cid, "phone", "satisfied")      # no callback before resolution
    ws.resolve_case(cid, "mediation", "签订调解协议")
    assert ws.call_back(cid, "phone", "satisfied") == "called_back"
    kinds = [it["kind"] for it in ws.timeline(cid) if it["type"] == "event"]
    assert kinds[:1] == ["note"] and {"accept", "grade", "consultation", "assign", "extension",
                                       "resolution"} <= set(kinds)
    assert all(it["by"] == "xinfang" for it in ws.timeline(cid) if it["type"] == "event")


def test_an_unsatisfied_callback_reopens_the_matter(ws):
    cid = matter(ws)
    ws.accept(cid)
    ws.resolve_case(cid, "explained", "已解释政策")
    assert ws.call_back(cid, "visit", "unsatisfied", "仍有异议") == "reopened"
    assert ws.case(cid)["status"] == "reopened"


def test_declining_needs_a_reason(ws):
    cid = matter(ws)
    with pytest.raises(Missing):
        ws.decline(cid, "  ")
    ws.decline(cid, "不属于本机关职权范围")
    assert ws.case(cid)["status"] == "declined"


def test_likely_duplicates_by_party_and_category_and_by_place_and_text(ws):
    today = dt.date.today()
    first = ws.register_matter({"channel": "phone", "category": "10", "grid_id": "g1", "parties": ["赵师傅"],
                                "description": "建材厂拖欠十二名农民工工资约二十万元", "lat": 29.07, "lon": 119.64},
                               on=today)
    same_party = ws.likely_duplicates({"category": "10", "parties": ["赵师傅", "钱某"], "description": "另一件"})
    assert [(c["id"], why) for c, why in same_party] == [(first, "same_party")]
    near = ws.likely_duplicates({"category": "02", "parties": ["孙某"], "lat": 29.0705, "lon": 119.6402,
                                 "description": "建材厂拖欠十二名农民工工资二十万"})
    assert [why for _, why in near] == ["near_similar"]
    assert ws.likely_duplicates({"category": "02", "parties": ["孙某"], "description": "邻里噪音"}) == []


def test_merging_keeps_both_histories_on_the_kept_matter(ws):
    keep, dup = matter(ws), matter(ws, parties=["赵师傅", "李某"])
    ws.merge(dup, keep)
    assert ws.case(dup)["merged_into"] == keep
    merged = [it for it in ws.timeline(keep) if it.get("merged_from") == dup]
    assert merged and merged[0]["type"] == "report"


def test_two_matters_cannot_be_merged_into_each_other_and_a_stored_loop_still_shows(ws):
    a, b, c = matter(ws), matter(ws, parties=["李某"]), matter(ws, parties=["孙某"])
    ws.merge(a, b)
    ws.merge(b, c)
    with pytest.raises(WriteRefused) as refused:
        ws.merge(c, a)   # c <- b <- a: folding c into a closes the loop
    assert [e["rule"] for e in refused.value.errors] == ["merged_cycle"]
    assert ws.case(c)["merged_into"] is None
    # a loop stored before this rule (or by the system, which no rule binds) never
    # breaks the matter's page: each history is shown once
    ws.replica.server_write("case", c, {"merged_into": a})
    for cid in (a, b, c):
        reports = [it for it in ws.timeline(cid) if it["type"] == "report"]
        assert len(reports) == 3, cid


def test_a_grid_worker_at_the_browser_cannot_assign_an_owner(ws):
    worker = CentralWorkspace(ws.replica, {"username": "w1", "name": "王芳", "role": "grid_worker",
                                           "grids": ["g1"]})
    cid = matter(ws)
    with pytest.raises(WriteRefused):
        worker.update("case", cid, {"owner": "lizhen"})
    assert worker.case(cid)["owner"] is None


def test_overdue_and_due_soon_lists(ws):
    late, soon, later = matter(ws, on=dt.date(2025, 11, 30)), matter(ws, on=dt.date(2026, 1, 2)), matter(ws)
    on = dt.date(2026, 3, 1)
    for cid, told in ((late, dt.date(2025, 12, 1)), (soon, dt.date(2026, 1, 3)), (later, dt.date(2026, 1, 21))):
        ws.notice(cid, told)
    ws.accept(late, on=dt.date(2025, 12, 1))
    ws.accept(soon, on=dt.date(2026, 1, 3))      # due 2026-03-04
    ws.accept(later, on=dt.date(2026, 2, 20))
    assert [c["id"] for c in ws.overdue(on)] == [late]
    assert [c["id"] for c in ws.due_soon(on)] == [soon]


def test_the_overdue_list_holds_every_statutory_limit_passed(ws):
    waiting = matter(ws, on=dt.date(2026, 1, 2))            # never accepted nor declined
    untold = matter(ws, on=dt.date(2026, 1, 2))
    ws.accept(untold, on=dt.date(2026, 1, 5))                # accepted, but nobody told the petitioner
    in_time = matter(ws, on=dt.date(2026, 1, 20))
    ws.accept(in_time, on=dt.date(2026, 1, 21))
    ws.notice(in_time, dt.date(2026, 1, 22))
    got = {c["id"] for c in ws.overdue(dt.date(2026, 1, 25))}
    assert got == {waiting, untold}


def test_a_higher_bodys_earlier_deadline_applies_and_a_reopened_matter_starts_afresh(ws):
    cid = matter(ws, higher_deadline="2026-02-28", channel="handed_down", higher_ref="县信访局交〔2026〕3号")
    ws.accept(cid, on=dt.date(2026, 1, 21))
    assert ws.case(cid)["deadline"] == "2026-02-28"          # not 2026-03-22
    ws.consult(cid, dt.date(2026, 1, 22), ["人社所"], "先行垫付", "lizhen")
    ws.resolve_case(cid, "supported", "已支付")
    ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到")
    case = ws.case(cid)
    assert case["status"] == "reopened" and case["deadline"] > dt.date.today().isoformat()


def test_a_petitioner_not_reached_is_called_back_closable_and_left_out_of_the_satisfaction(ws, monkeypatch):
    from sync.server import stats
    from sync import rules
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2026, 1, 31))
    reached, unreached = matter(ws), matter(ws)
    for cid in (reached, unreached):
        ws.accept(cid, on=dt.date(2026, 1, 21))
        ws.consult(cid, dt.date(2026, 1, 22), ["人社所"], "先行垫付", "lizhen")
        ws.resolve_case(cid, "supported", "已支付")
    assert ws.call_back(unreached, "phone", "unreachable", "三次电话无人接听") == "called_back"
    ws.close(unreached)                                   # not left in the callback queue for good
    assert ws.case(unreached)["status"] == "closed"
    # the township's day, which the callbacks are stamped in: the machine's own (UTC on CI)
    # is the day before from 16:00, and the figures then missed both callbacks
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    f = stats.figures(ws.replica.conn, dt.date(today.year, 1, 1), today, today=today)
    assert (f["callbacks"], f["callbacks_unreached"], f["satisfaction_rate"]) == (1, 1, None)
    ws.call_back(reached, "phone", "basically")
    f = stats.figures(ws.replica.conn, dt.date(today.year, 1, 1), today, today=today)
    assert (f["callbacks"], f["callbacks_unreached"], f["satisfied"], f["satisfaction_rate"]) == (2, 1, 1, 1.0)
    assert [(r["key"], r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_owner"]] == [
        ("lizhen", 1, 1.0)]
    assert rules.satisfaction_rate(["unreachable", "unsatisfied", "satisfied"]) == 0.5
    assert rules.satisfaction_rate(["unreachable"]) is None


def test_a_higher_deadline_missed_before_acceptance_stays_the_deadline_and_the_matter_is_overdue(ws, monkeypatch):
    cid = matter(ws, on=dt.date(2026, 5, 1), higher_deadline="2026-05-04", channel="handed_down",
                 higher_ref="县信访局交〔2026〕12号")
    assert [c["id"] for c in ws.overdue(dt.date(2026, 5, 5))] == [cid]     # still waiting, already late
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2026, 5, 6))
    ws.accept(cid, on=dt.date(2026, 5, 6))
    case = ws.case(cid)
    assert (case["deadline"], statute.deadline_source(case)) == ("2026-05-04", "higher")   # not a fresh 60 days
    assert [c["id"] for c in ws.overdue(dt.date(2026, 5, 6))] == [cid]
    assert "上级要求" in [it for it in ws.timeline(cid) if it.get("kind") == "accept"][0]["text"]


def test_a_consultation_dated_before_the_matter_was_received_is_refused_naming_the_date(ws):
    cid = matter(ws)
    ws.accept(cid, on=dt.date(2026, 1, 21))
    with pytest.raises(WriteRefused) as e:
        ws.consult(cid, dt.date(2019, 6, 1), ["人社所"], "先行垫付", "lizhen")
    assert [(x.field, x.rule) for x in e.value.field_errors][:1] == [("consulted_on", "date_before")]
    assert "不能早于登记日期" in e.value.field_errors[0].message("zh")
    # in English, the date by its English name (it said "received_on (登记日期)")
    assert e.value.field_errors[0].message("en") == "cannot be before the registration date"
    assert ws.case(cid)["status"] == "accepted"


def test_every_action_the_server_audits_has_a_label_in_both_languages():
    """The audit screen and its CSV name actions in words: an action written anywhere
    without a label would show as its code."""
    import re
    from pathlib import Path
    from sync.server import audit
    root = Path(__file__).resolve().parents[1]
    written = set()
    for path in list((root / "sync").rglob("*.py")) + list((root / "fieldapp").rglob("*.py")):
        for m in re.finditer(r"\baudit\(\s*[^,()]+(?:\([^()]*\))?[^,()]*,\s*(?:\"([a-z_]+)\"(?:\s+if\s+[^\"]+\s+else\s+\"([a-z_]+)\")?)",
                             path.read_text(encoding="utf-8")):
            written.update(x for x in m.groups() if x)
    assert {"login", "export", "attachment_upload"} <= written  # the scan finds them
    missing = sorted(a for a in written if a not in audit.ACTIONS)
    assert not missing, missing
    assert all(zh and en and zh != en for zh, en in audit.ACTIONS.values())


def test_a_refusal_at_the_office_is_said_in_the_clerks_language(ws):
    """The rules' refusal reaches the clerk's snack bar in Chinese, naming the field by
    its label (the API's words are English)."""
    import flet as ft

    from fieldapp.office.context import OfficeContext
    from tests.test_office_erasure import Page, texts
    a, b = matter(ws), matter(ws, parties=["李某"])
    ws.merge(a, b)
    ctx = OfficeContext(Page(), ws.replica, tickets=None)
    ctx.ws = ws
    assert ctx.act(ws.merge, b, a) is False
    [bar] = [d for d in ctx.page.dialogs if isinstance(d, ft.SnackBar)]
    said = texts(bar)
    assert "所并入的事项已并入本事项" in said and "cannot" not in said, said
    assert ws.case(b)["merged_into"] is None


# --- from a clerk's probe of the workflow (eleventh session) -----------------------------

def test_extending_a_reopened_matter_never_moves_its_deadline_back_to_a_passed_higher_deadline(ws):
    cid = matter(ws, higher_deadline="2026-02-28", channel="handed_down", higher_ref="县信访局交〔2026〕3号")
    ws.accept(cid, on=dt.date(2026, 1, 21))
    ws.consult(cid, dt.date(2026, 1, 22), ["人社所"], "先行垫付", "lizhen")
    ws.resolve_case(cid, "supported", "已支付")
    ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到")
    fresh = ws.case(cid)["deadline"]
    ws.extend(cid, 30, "需等待法院执行")
    extended = ws.case(cid)["deadline"]
    assert extended > fresh > "2026-02-28"       # it took the matter back to February, overdue at once
    assert (dt.date.fromisoformat(extended) - dt.date.fromisoformat(fresh)).days == 30


def test_an_extension_the_higher_deadline_would_swallow_is_refused_and_not_spent(ws):
    soon = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    cid = matter(ws, on=dt.date.today(), higher_deadline=soon, channel="handed_down", higher_ref="县交〔2026〕9号")
    ws.accept(cid, on=dt.date.today())
    assert ws.case(cid)["deadline"] == soon
    with pytest.raises(RuleError) as e:
        ws.extend(cid, 30, "需协调县自然资源局")
    assert e.value.code == "extension_no_effect" and soon in e.value.message("zh")
    case = ws.case(cid)
    assert (case["deadline"], case["extended_days"]) == (soon, None)   # the one extension is still there


def test_only_a_matter_still_reported_is_merged_and_never_into_one_merged_away(ws):
    worked, keep, dup, late = matter(ws), matter(ws, parties=["李某"]), matter(ws, parties=["孙某"]), matter(ws)
    ws.accept(worked, on=dt.date(2026, 1, 21))
    ws.consult(worked, dt.date(2026, 1, 22), ["人社所"], "先行垫付", "lizhen")
    with pytest.raises(WriteRefused) as e:
        ws.merge(worked, keep)   # a stale page's 并入此件: the leader is working it
    assert [x.rule for x in e.value.field_errors] == ["merged_not_reported"]
    assert "已分派" in e.value.field_errors[0].message("zh")
    assert ws.case(worked)["merged_into"] is None and worked in {c["id"] for c in ws.due_soon(dt.date(2026, 3, 20))}
    ws.merge(dup, keep)
    with pytest.raises(WriteRefused) as e:
        ws.merge(late, dup)      # z → y → x: name the matter kept
    assert [x.rule for x in e.value.field_errors] == ["merged_chain"]


def test_a_new_petition_is_never_folded_into_a_matter_declined_or_closed_and_the_page_does_not_offer_it(ws):
    """查重 offered a declined matter, and 并入此件 folded an eight-person walk-in into it: the
    new petition left 待受理 and every figure, and no one was left to accept or decline it."""
    import flet as ft

    from fieldapp.office.matter import open_matter
    from tests.test_i18n_punct import Views, office, shown
    declined, walk_in = matter(ws, parties=["赵某"]), matter(ws, parties=["赵某", "张三"])
    ws.decline(declined, "不属于本机关职责范围")
    with pytest.raises(WriteRefused) as e:
        ws.merge(walk_in, declined)
    [err] = e.value.field_errors
    assert (err.field, err.rule) == ("merged_into", "merged_into_finished")
    assert "不予受理" in err.message("zh") and "单独受理或不予受理" in err.message("zh")
    assert ws.case(walk_in)["merged_into"] is None and walk_in in {c["id"] for c in ws.acceptance_queue()}

    ctx = office(ws, "zh", Views())
    open_matter(ctx, walk_in)
    page = shown(ctx.page.views[-1])
    assert ws.case(declined)["ref"] in page   # still shown: the clerk may decline this one as repeated

    def merge_buttons(c, found):
        if isinstance(c, ft.TextButton) and c.content == "并入此件":
            found.append(c)
        for child in [getattr(c, "trailing", None), *(getattr(c, "controls", None) or [])]:
            if isinstance(child, ft.Control):
                merge_buttons(child, found)
        return found
    assert merge_buttons(ctx.page.views[-1], []) == []
    open_one = matter(ws, parties=["赵某"])   # one still being handled is offered, and takes it
    ctx.page.views.clear()   # the page opened afresh
    open_matter(ctx, walk_in)
    [offer] = merge_buttons(ctx.page.views[-1], [])
    offer.on_click(None)
    assert ws.case(walk_in)["merged_into"] == open_one


def test_a_merged_matter_leaves_the_due_soon_list(ws):
    keep, dup = matter(ws), matter(ws, parties=["李某"])
    ws.replica.server_write("case", dup, {"status": "accepted", "accepted_on": "2026-01-21",
                                          "deadline": "2026-03-22", "merged_into": keep})   # stored before the rule
    assert dup not in {c["id"] for c in ws.due_soon(dt.date(2026, 3, 20))}


def test_grading_keeps_the_group_size_and_saving_the_same_grade_again_gives_the_same_grade(ws):
    from sync import rules
    cid = matter(ws)
    assert ws.grade(cid, "orange", "urgent", [], group_size=8) == "red"
    c = ws.case(cid)
    assert (c["visitors"], c["signals"]) == (8, ["group"])
    assert "集体访（5人以上）" in [it["text"] for it in ws.timeline(cid) if it.get("kind") == "grade"][0]
    # the dialog shows the assessed base again: saved unchanged, nothing is raised twice
    for base in rules.RISK_ORDER:
        for signals in ([], ["repeated"], ["repeated", "level_skipping"], ["group", "repeated", "level_skipping"]):
            graded = rules.grade(base, signals)
            assert rules.grade(rules.base_risk(graded, signals), signals) == graded, (base, signals)


def test_a_matter_reopened_while_a_review_was_asked_can_be_resolved_again(ws):
    cid = matter(ws)
    ws.accept(cid, on=dt.date(2026, 1, 21))
    ws.consult(cid, dt.date(2026, 1, 22), ["人社所"], "先行垫付", "lizhen")
    ws.replica.server_write("case", cid, {"status": "resolved", "outcome": "supported", "method": "已支付",
                                          "resolved_on": "2026-02-01", "review_requested_on": "2026-02-09"})
    ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到")
    ws.resolve_case(cid, "supported", "全部支付")
    assert ws.case(cid)["status"] == "resolved"


def test_no_written_opinion_is_offered_for_a_matter_taken_up_again(ws):
    from sync.server import documents
    cid = matter(ws)
    ws.accept(cid, on=dt.date(2026, 1, 21))
    ws.consult(cid, dt.date(2026, 1, 22), ["人社所"], "先行垫付", "lizhen")
    ws.resolve_case(cid, "supported", "已支付")
    assert "opinion" in documents.available(ws.case(cid))
    ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到")
    assert "opinion" not in documents.available(ws.case(cid))


def test_the_callback_queue_lists_the_longest_waiting_first_and_counts_them_all(ws):
    """It held the 500 newest reports among the resolved: past 500 the matters waiting
    longest for their callback were the ones left out, and its header said 500."""
    ids = []
    for n, resolved in enumerate(("2026-03-05", "2026-02-01", "2026-04-10")):
        cid = matter(ws, parties=[f"当事人{n}"])
        ws.replica.server_write("case", cid, {"status": "resolved", "outcome": "supported", "method": "已支付",
                                              "accepted_on": "2026-01-21", "resolved_on": resolved})
        ids.append(cid)
    dup = matter(ws, parties=["重复件"])
    ws.replica.server_write("case", dup, {"status": "resolved", "outcome": "supported", "method": "已支付",
                                          "accepted_on": "2026-01-21", "resolved_on": "2026-01-25",
                                          "merged_into": ids[0]})
    assert [c["id"] for c in ws.callback_queue(limit=2)] == [ids[1], ids[0]]
    assert ws.callbacks_waiting() == 3


def test_erasing_a_matter_erases_the_duplicates_folded_into_it(ws):
    """A duplicate merged into a matter showed the person's name and telephone on the
    erased matter's own timeline."""
    from sync import erasure_rules
    from sync.server import erasure
    keep = matter(ws, parties=["欧阳秀兰"], description="欧阳秀兰反映拖欠工资")
    dup = matter(ws, parties=["欧阳秀兰"], description="欧阳秀兰电话13512345678")
    ws.merge(dup, keep)
    assert {t for t, _ in erasure.targets(ws.replica, "case", keep)} >= {"case"}
    erasure.erase(ws.replica, "case", keep, by="xinfang", compact=False)
    for cid in (keep, dup):
        c = ws.case(cid)
        assert c["parties"] == [] and c["description"] == erasure_rules.ERASED_TEXT, cid
    assert "13512345678" not in str(ws.timeline(keep))


def test_the_overdue_and_due_soon_lists_take_the_ledgers_search(ws):
    """Under 已超期 and 7日内到期 the ledger's search box was ignored: 共 10 件 listed for
    words no matter holds."""
    late = matter(ws, on=dt.date(2025, 11, 30), description="拖欠工资")
    other = matter(ws, on=dt.date(2025, 11, 30), parties=["李某"], description="宅基地纠纷")
    soon = matter(ws, on=dt.date(2026, 1, 2), description="拖欠工资")
    for cid, told, accepted in ((late, dt.date(2025, 12, 1), dt.date(2025, 12, 1)),
                                (other, dt.date(2025, 12, 1), dt.date(2025, 12, 1)),
                                (soon, dt.date(2026, 1, 3), dt.date(2026, 1, 3))):
        ws.notice(cid, told)
        ws.accept(cid, on=accepted)
    on = dt.date(2026, 3, 1)
    assert {c["id"] for c in ws.overdue(on)} == {late, other}
    assert [c["id"] for c in ws.overdue(on, search="宅基地")] == [other]
    assert ws.overdue(on, search="不存在的词") == []
    assert [c["id"] for c in ws.due_soon(on, search="拖欠")] == [soon]
    assert ws.due_soon(on, search="宅基地") == []


def resolved_on_feb_1(ws, monkeypatch, today: dt.date) -> str:
    """A matter accepted on 21 January and resolved on 1 February; the office's today set."""
    cid = matter(ws)
    ws.accept(cid, on=dt.date(2026, 1, 21))
    ws.replica.server_write("case", cid, {"status": "resolved", "outcome": "supported", "method": "已支付",
                                          "resolved_on": "2026-02-01"})
    monkeypatch.setattr("sync.server.office.today", lambda: today)
    return cid


def test_a_review_request_s_day_is_refused_at_its_own_field_in_words(ws, monkeypatch):
    """The dialog said a mistyped future day at its foot, as "此记录：已超过30日申请期限"."""
    cid = resolved_on_feb_1(ws, monkeypatch, dt.date(2026, 2, 10))
    with pytest.raises(RuleError) as e:
        ws.request_review(cid, "review", dt.date(2027, 2, 9))
    assert e.value.params["field"] == "review_requested_on"
    assert e.value.message("zh") == "申请日期2027-02-09是尚未到来的日期"
    with pytest.raises(RuleError) as e:
        ws.request_review(cid, "review", dt.date(2026, 1, 31))
    assert (e.value.code, e.value.params["field"]) == ("review_before_opinion", "review_requested_on")
    ws.request_review(cid, "review", dt.date(2026, 2, 10))
    with pytest.raises(RuleError) as e:
        ws.request_review(cid, "review", dt.date(2026, 2, 10))
    assert (e.value.code, e.value.params["field"]) == ("review_review_exists", "record")
    assert ws.case(cid)["review_due"] == "2026-03-12"


def test_a_matter_taken_up_again_after_its_callback_keeps_the_petitioners_right_to_a_review(ws, monkeypatch):
    """Unsatisfied at the callback, the petitioner asks for 复查 of the opinion given on
    1 February: 30 days from it still run (art. 35), and the page offers it."""
    from fieldapp.office.dialogs import offered
    from sync.rules import OFFICE_ACTIONS
    cid = resolved_on_feb_1(ws, monkeypatch, dt.date(2026, 2, 5))
    assert ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到") == "reopened"
    case = ws.case(cid)
    assert "review" in OFFICE_ACTIONS[case["status"]] and offered("review", case)
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2026, 2, 20))
    ws.request_review(cid, "review", dt.date(2026, 2, 20))
    assert (ws.case(cid)["review_requested_on"], ws.case(cid)["review_due"]) == ("2026-02-20", "2026-03-22")
    assert ws.case(cid)["status"] == "reopened"                 # the township works on meanwhile


def test_a_declined_matter_taken_up_again_has_no_opinion_to_review(ws):
    cid = matter(ws)
    ws.decline(cid, "不属于信访事项")
    ws.reopen_declined(cid)
    with pytest.raises(RuleError) as e:
        ws.request_review(cid, "review", dt.date.today())
    assert e.value.code == "review_no_opinion"


def test_the_30_days_to_ask_for_a_review_run_from_the_petitioners_receipt_of_the_opinion(ws, monkeypatch):
    """Art. 35: 自收到书面答复之日起30日内. Resolved on 1 February, the opinion posted and
    received on 1 March: a request on 20 March is in time, the day of receipt said."""
    cid = resolved_on_feb_1(ws, monkeypatch, dt.date(2026, 3, 20))
    with pytest.raises(RuleError) as e:                       # counted from 1 February: too late
        ws.request_review(cid, "review", dt.date(2026, 3, 20))
    assert e.value.code == "review_window_closed"
    with pytest.raises(RuleError) as e:                       # received before it was given
        ws.request_review(cid, "review", dt.date(2026, 3, 20), received=dt.date(2026, 1, 30))
    assert (e.value.code, e.value.params["field"]) == ("review_received_before", "opinion_received_on")
    assert e.value.message("zh") == "收到日期早于处理意见（复查意见）出具日期"
    with pytest.raises(RuleError) as e:                       # received after asking about it
        ws.request_review(cid, "review", dt.date(2026, 3, 20), received=dt.date(2026, 3, 21))
    assert (e.value.code, e.value.params["field"]) == ("review_received_after_request", "opinion_received_on")
    ws.request_review(cid, "review", dt.date(2026, 3, 20), received=dt.date(2026, 3, 1))
    case = ws.case(cid)
    assert (case["opinion_received_on"], case["review_due"]) == ("2026-03-01", "2026-04-19")
    # the 复查 answered on 10 April, received on 20 April: 复核 on 15 May is in time (art. 36)
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2026, 5, 15))
    ws.answer_review(cid, "review", dt.date(2026, 4, 10), "upheld")
    with pytest.raises(RuleError) as e:
        ws.request_review(cid, "recheck", dt.date(2026, 5, 15))
    assert e.value.code == "review_window_closed"
    ws.request_review(cid, "recheck", dt.date(2026, 5, 15), received=dt.date(2026, 4, 20))
    assert ws.case(cid)["review_answer_received_on"] == "2026-04-20"


def test_an_opinion_issued_after_the_resolution_is_received_no_sooner(ws, monkeypatch):
    """The opinion bears the day of the resolution (1 February) but was made on 10 February:
    the petitioner had it no sooner, and the 30 days run from then without anyone typing it."""
    cid = resolved_on_feb_1(ws, monkeypatch, dt.date(2026, 3, 5))
    ws.replica.server_write("case_event", "ev-opinion", {
        "case_id": cid, "kind": "document", "at": "2026-02-10T10:00:00+08:00", "by": "xinfang",
        "text": "出具《信访处理意见书》"}, author="xinfang")
    assert ws.opinion_issued_on(cid) == dt.date(2026, 2, 10)
    ws.request_review(cid, "review", dt.date(2026, 3, 5))
    assert ws.case(cid)["opinion_received_on"] == "2026-02-10"


def recheck_answered(ws, cid: str, monkeypatch) -> None:
    """复查 asked on 10 February and upheld, then 复核 asked and upheld: 复核终结."""
    ws.request_review(cid, "review", dt.date(2026, 2, 10))
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2026, 3, 10))
    ws.answer_review(cid, "review", dt.date(2026, 3, 1), "upheld")
    ws.request_review(cid, "recheck", dt.date(2026, 3, 10))
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2026, 4, 10))
    ws.answer_review(cid, "recheck", dt.date(2026, 4, 1), "upheld")


def test_an_unsatisfied_callback_after_the_recheck_answered_is_counted_and_does_not_reopen(ws, monkeypatch):
    """复查 and 复核 answered (复核终结: the same matter is not taken up again); the
    township's callback finds the petitioner unsatisfied. It reopened the matter with a
    fresh 60 days: it is called back now, the callback counted, the timeline says why."""
    cid = resolved_on_feb_1(ws, monkeypatch, dt.date(2026, 2, 10))
    recheck_answered(ws, cid, monkeypatch)
    assert ws.call_back(cid, "phone", "unsatisfied", "仍不服") == "called_back"
    case = ws.case(cid)
    assert (case["status"], case["accepted_on"]) == ("called_back", "2026-01-21")
    said = [e["text"] for e in ws.timeline(cid) if e.get("kind") == "callback"]
    assert said == ["仍不服。复核已终结，同一事项不再受理，不重新办理"]
    assert ws.replica.conn.execute("SELECT answer FROM callbacks WHERE case_id=?", (cid,)).fetchall() \
        == [("unsatisfied",)]


def test_the_callback_dialog_says_what_unsatisfied_does_before_and_after_the_recheck_answered(ws, monkeypatch):
    """The dialog said "不满意 reopens the matter" after 复核终结 too, where it does not."""
    import types

    import flet as ft

    from fieldapp import i18n
    from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.dialogs import callback_dialog
    cid = resolved_on_feb_1(ws, monkeypatch, dt.date(2026, 2, 10))
    shown = []
    ctx = types.SimpleNamespace(t=lambda k, **kw: i18n.t(k, "zh", **kw), lang="zh",
                                page=types.SimpleNamespace(show_dialog=shown.append), ws=ws)

    def said() -> list[str]:
        callback_dialog(ctx, ws.case(cid), lambda: None)
        return [c.value for c in shown[-1].content.controls if isinstance(c, ft.Text)]
    assert "选择“不满意”将重新办理，并重新计算办理期限。" in said()
    recheck_answered(ws, cid, monkeypatch)
    assert "复核已终结，同一事项不再受理：选择“不满意”只记录回访，不重新办理。" in said()


def test_the_office_s_form_says_a_rule_at_its_field_and_a_whole_record_s_refusal_alone(ws, monkeypatch):
    import types

    import flet as ft

    from fieldapp import i18n
    from fieldapp.office.forms import Form
    cid = resolved_on_feb_1(ws, monkeypatch, dt.date(2026, 2, 10))
    ctx = types.SimpleNamespace(t=lambda k, **kw: i18n.t(k, "zh", **kw), lang="zh", touch=lambda: None,
                                session_problem=lambda: None)
    when = ft.TextField()
    form = Form(ctx, {"review_requested_on": when})
    assert not form.run(ws.request_review, cid, "review", dt.date(2027, 2, 9))
    assert when.error == "申请日期2027-02-09是尚未到来的日期" and not form.foot.visible
    form.clear()
    assert form.run(ws.request_review, cid, "review", dt.date(2026, 2, 9))
    assert not form.run(ws.request_review, cid, "review", dt.date(2026, 2, 9))
    assert form.foot.value == "已申请过复查" and not when.error


def test_a_late_extension_is_refused_and_last_month_s_overdue_stays(ws, monkeypatch):
    from sync.server import stats
    from tests.test_past_periods import Calendar
    Calendar(monkeypatch, ws.replica).set(dt.date(2025, 10, 1))   # the office's day and the server's
    cid = matter(ws, on=dt.date(2025, 10, 1))
    ws.accept(cid, on=dt.date(2025, 10, 1))
    assert ws.case(cid)["deadline"] == "2025-11-30"
    nov = stats.figures(ws.replica.conn, dt.date(2025, 11, 1), dt.date(2025, 11, 30), today=dt.date(2025, 12, 1))
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2025, 12, 10))
    with pytest.raises(RuleError) as e:
        ws.extend(cid, 30, "补充调查")
    assert e.value.code == "extension_late"
    assert ws.case(cid)["deadline"] == "2025-11-30" and not ws.case(cid).get("extended_days")
    again = stats.figures(ws.replica.conn, dt.date(2025, 11, 1), dt.date(2025, 11, 30), today=dt.date(2025, 12, 10))
    assert again["overdue_handling"] == nov["overdue_handling"] == 1
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2025, 11, 30))   # its last day: granted
    ws.extend(cid, 30, "补充调查")
    assert ws.case(cid)["deadline"] == "2025-12-30"


def test_the_report_of_a_month_not_begun_is_refused_naming_today():
    from sync.server import downloads
    assert downloads.report_month(2026, 11, today=dt.date(2026, 11, 28)) == (2026, 11)
    assert downloads.report_month(2025, 12, today=dt.date(2026, 11, 28)) == (2025, 12)
    with pytest.raises(downloads.BadParams) as e:
        downloads.report_month(2026, 12, today=dt.date(2026, 11, 28))
    assert str(e.value) == "year, month: 2026-12 has not begun (today is 2026-11-28)"


def test_a_number_typed_is_read_as_the_person_typed_it_or_refused():
    """"①" passed str.isdigit and int() refused it: typed in 来访人数 it took the office's
    screens down; full-width digits are a number as typed on a Chinese keyboard."""
    from fieldapp.office.forms import whole_number
    assert [whole_number(t) for t in ("30", " ３０ ", "①", "²", "3.5", "-3", "", None)] == [
        30, 30, None, None, None, None, None, None]


def test_a_review_s_answer_is_not_dated_after_today_and_a_recheck_not_before_that_answer(ws, monkeypatch):
    """An answer dated tomorrow was taken (the write rules allow a day for a phone's
    clock), and the re-review asked today was then refused as "早于处理意见日期"."""
    cid = resolved_on_feb_1(ws, monkeypatch, dt.date(2026, 2, 20))
    ws.request_review(cid, "review", dt.date(2026, 2, 10))
    with pytest.raises(RuleError) as e:
        ws.answer_review(cid, "review", dt.date(2026, 2, 21), "upheld")
    assert (e.value.code, e.value.params["field"]) == ("review_answer_in_future", "review_answered_on")
    assert e.value.message("zh") == "答复日期2026-02-21是尚未到来的日期"
    ws.answer_review(cid, "review", dt.date(2026, 2, 18), "upheld")
    with pytest.raises(RuleError) as e:
        ws.request_review(cid, "recheck", dt.date(2026, 2, 17))
    assert (e.value.code, e.value.params["field"]) == ("review_before_answer", "recheck_requested_on")
    assert e.value.message("zh") == "申请日期早于复查答复日期"
    ws.request_review(cid, "recheck", dt.date(2026, 2, 20))


def test_the_office_keeps_working_after_the_servers_clock_that_ran_ahead_is_put_right(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    from sync import clock
    shift = {"ms": 8 * 3600_000}   # a hardware clock read as local time: eight hours ahead
    st = CentralStore(str(tmp_path / "c.db"), now=lambda: clock.wall_ms() + shift["ms"])
    st.add_grid("g1", "一组", "白鹤村", "金山镇", 29.07, 119.64)
    st.add_account("xinfang", "镇信访办", "office", "long-enough-1")
    ws = CentralWorkspace(st, OFFICE)
    cid = matter(ws)
    shift["ms"] = 0                # the clock is put right
    ws.accept(cid, on=dt.date(2026, 1, 31))
    other = matter(ws, description="另一件事")
    assert ws.case(cid)["status"] == "accepted" and ws.case(other)["ref"] == "金山-2026-0002"


def test_a_notice_or_a_consultation_dated_tomorrow_is_refused_at_its_date(ws):
    from sync.server.office import today
    cid = matter(ws, on=today())
    ws.accept(cid, on=today())
    tomorrow = today() + dt.timedelta(days=1)
    with pytest.raises(RuleError) as e:
        ws.notice(cid, tomorrow)
    assert e.value.params["field"] == "notice_sent_on" and "尚未到来" in e.value.message("zh")
    with pytest.raises(RuleError) as e:
        ws.consult(cid, tomorrow, ["司法所"], "调解", "lizhen")
    assert e.value.params["field"] == "consulted_on"
    assert not ws.case(cid).get("notice_sent_on") and ws.case(cid)["status"] == "accepted"
    ws.notice(cid, today())
    assert ws.case(cid)["notice_sent_on"] == today().isoformat()


def test_the_supervision_ledger_lists_the_matters_being_worked_leader_by_leader_and_narrows(ws):
    """督办: the matters being worked first (a year of finished ones buried them), each
    leader's together, narrowed by the chip, the leader and words, a page at a time."""
    ws.replica.add_account("zhangmin", "张敏", "leader", "long-enough-1")
    today = dt.date.today()

    def owned(owner, on, place="", resolve=False):
        cid = matter(ws, on=on, place=place)
        ws.accept(cid, on=on)
        ws.consult(cid, on, ["司法所"], "上门调解", owner)
        if resolve:
            ws.resolve_case(cid, "mediation", "签订调解协议")
        return cid
    working, finished = owned("lizhen", today), owned("lizhen", today - dt.timedelta(days=3), resolve=True)
    late = owned("zhangmin", today - dt.timedelta(days=90), place="白鹤村3组溪边")
    matter(ws)                                                    # nobody's: not supervised

    def ids(**kw):
        return [c["id"] for c in ws.supervision(**kw)]
    assert sorted(ids()) == sorted([working, late])               # finished ones wait behind the chip
    assert ids(which="all", leader="lizhen") == [working, finished]   # finished last within a leader
    assert ids(which="overdue") == [late]
    assert ids(leader="zhangmin") == [late]
    assert ids(which="all", search="3组溪边") == [late]             # the place is searched too
    every = ids(which="all")
    assert [ids(which="all", limit=1, offset=k)[0] for k in range(3)] == every and len(every) == 3
    owners = [c["owner"] for c in ws.supervision(which="all")]
    assert owners == sorted(owners, key=owners.index)            # one leader's matters together
    assert ws.supervision_counts() == {"lizhen": (1, 0), "zhangmin": (1, 1)}
    assert ws.supervision_counts("all") == {"lizhen": (2, 0), "zhangmin": (1, 1)}
    assert ws.supervision_counts("overdue", search="赵师傅") == {"zhangmin": (1, 1)}
    assert ws.supervision_counts("open", search="没有这个人") == {}


def test_every_list_of_matters_searches_the_same_fields_the_place_too(ws):
    """待受理 missed a matter the ledger's 全部 found by its place (two copies of the words
    searched, one without the place)."""
    waiting = matter(ws, place="村口桥头")
    assert [c["id"] for c in ws.cases(search="桥头")] == [waiting]
    assert [c["id"] for c in ws.acceptance_queue(search="桥头")] == [waiting]


def test_the_ledger_s_row_dates_a_matter_as_its_export_does(ws):
    """A letter registered on the 29th as received on 30 October: the exported ledger,
    its October filter and the figures said 2026-10-30, the screen the 29th."""
    from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.context import OfficeContext
    from fieldapp.office.ledger import matter_row
    from sync.server import export
    from tests.test_office_erasure import Page, texts
    cid = matter(ws, on=dt.date(2026, 10, 30))
    ctx = OfficeContext(Page(), ws.replica, tickets=None)
    ctx.ws = ws
    shown = texts(matter_row(ctx, ws.case(cid), {}, lambda cid: None))
    [row] = list(export.ledger_rows(ws.replica.conn, dt.date(2026, 10, 1), dt.date(2026, 10, 31)))
    assert "2026-10-30" in shown and str(row["登记日期"])[:10] == "2026-10-30", (shown, row)


def test_the_exports_offer_every_year_the_ledger_holds_and_this_one(ws, monkeypatch):
    """In January the year gone by is due: the buttons gave only the running year."""
    import types

    import flet as ft

    from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.context import OfficeContext
    from fieldapp.office.ledger import export_row
    from tests.test_office_erasure import Page, texts
    monkeypatch.setattr("sync.server.office.today", lambda: dt.date(2027, 1, 4))
    assert ws.ledger_years() == [2027]                       # an empty ledger: this year
    matter(ws, on=dt.date(2025, 12, 30))
    matter(ws, on=dt.date(2026, 6, 1))
    assert ws.ledger_years() == [2027, 2026, 2025]
    ctx = OfficeContext(Page(), ws.replica, tickets=None)
    ctx.ws = ws
    asked = []
    ctx.download = lambda kind, **params: asked.append((kind, params))
    row = export_row(ctx)
    year, month = [c.content for c in row.controls if hasattr(c, "content") and hasattr(c.content, "options")]
    assert [o.key for o in year.options] == ["2027", "2026", "2025"]
    last_month = month.options[1].key                        # "YYYY-MM", the month gone by

    def choose(dropdown, value):
        dropdown.value = value
        dropdown.on_select(types.SimpleNamespace(control=dropdown))
    choose(year, "2026")
    choose(month, last_month)
    for button in [c for c in row.controls if isinstance(c, ft.OutlinedButton)]:
        button.on_click(None)
    assert ("ledger.xlsx", {"start": "2026-01-01", "end": "2026-12-31"}) in asked
    assert ("monthly.xlsx", {"year": int(last_month[:4]), "month": int(last_month[5:])}) in asked


# --- from a clerk's probe of the office's states (sixteenth session) ----------------------

def test_a_notice_dated_before_a_phones_report_is_refused_and_the_matter_stays_acceptable(ws):
    """A report from a phone has no 登记日期 until accepted: a notice dated before the
    report was taken, and 受理 (dating the matter from the report) was refused for ever."""
    cid = "case-from-phone"
    ws.replica.server_write("case", cid, {
        "grid_id": "g1", "kind": "dispute", "channel": "grid", "category": "02", "description": "漏水",
        "status": "reported", "reported_by": "w1", "reported_at": "2026-11-26T09:00:00+08:00"}, author="w1")
    with pytest.raises(WriteRefused) as refused:
        ws.notice(cid, dt.date(2026, 11, 1))
    assert [(e.field, e.rule) for e in refused.value.field_errors] == [("notice_sent_on", "date_before")]
    assert refused.value.field_errors[0].message("zh") == "不能早于上报日期"
    assert ws.case(cid)["notice_sent_on"] is None
    ws.notice(cid, dt.date(2026, 11, 26))
    ws.accept(cid, on=dt.date(2026, 11, 27))
    assert ws.case(cid)["status"] == "accepted"


def test_a_stale_pages_extension_or_resolution_of_a_matter_resolved_meanwhile_is_refused_in_words(ws):
    """Two clerks: one resolved the matter while the other's 延期 dialog was open; the
    extension was saved after 办结 (a deadline moved on a finished matter), and a second
    办结 was refused as "不能从已办结变为已办结"."""
    cid = matter(ws)
    ws.accept(cid)
    ws.resolve_case(cid, "explained", "已解释政策")
    with pytest.raises(RuleError) as late:
        ws.extend(cid, 10, "需等待鉴定")
    assert late.value.code == "extension_not_open" and "已办结" in late.value.message("zh")
    with pytest.raises(WriteRefused) as written:      # whatever path writes it
        ws.update("case", cid, {"extended_days": 10})
    assert [(e.field, e.rule) for e in written.value.field_errors] == [("extended_days", "extension_not_open")]
    with pytest.raises(RuleError) as twice:
        ws.resolve_case(cid, "supported", "再次办结")
    assert twice.value.code == "already_in_state" and "可能已由他人办理" in twice.value.message("zh")
    assert ws.case(cid)["outcome"] == "explained" and not ws.case(cid).get("extended_days")


def test_typing_in_a_form_is_not_idleness(ws):
    """The office signs an idle tab out (30 minutes): a clerk typing a long account without
    a click for that long was signed out mid-sentence, and the text was lost."""
    import time

    from fieldapp.office import context as office_context
    from fieldapp.office.context import OfficeContext
    from fieldapp.office.forms import text_field
    from tests.test_office_erasure import Page
    ctx = OfficeContext(Page(), ws.replica, tickets=None)
    ctx.ws = ws
    description = text_field(ctx, "description", multiline=True)
    ctx.last_active = time.monotonic() - office_context.IDLE_S + 1     # a second from the limit
    description.on_change(None)                                        # a keystroke
    assert time.monotonic() - ctx.last_active < office_context.IDLE_S / 2


def test_the_supervision_ledger_follows_its_dropdown_when_the_leader_chosen_owns_nothing_now(ws):
    """A clerk chose 张敏; her one matter went to 李振华. Drawn again, the dropdown could
    only say 全部领导 while the list stayed on 张敏: "共 0 件"."""
    from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.context import OfficeContext
    from fieldapp.office.lists import supervision_panel
    from tests.test_office_erasure import Page, texts
    ws.replica.add_account("zhangmin", "张敏", "leader", "long-enough-1")
    cid = matter(ws)
    ws.accept(cid)
    ws.consult(cid, dt.date.today(), ["司法所"], "上门调解", "zhangmin")
    ctx = OfficeContext(Page(), ws.replica, tickets=None)
    ctx.ws = ws
    ctx.supervision_state["leader"] = "zhangmin"
    assert "张敏（1）" in texts(supervision_panel(ctx))
    ws.consult(cid, dt.date.today(), ["司法所"], "改由李振华包案", "lizhen")
    shown = texts(supervision_panel(ctx))
    assert "李振华（1）" in shown and "共 1 件" in shown and ctx.supervision_state["leader"] == "", shown


def test_opening_the_conflicts_screen_on_a_household_is_on_the_audit_trail(ws):
    """Two phones corrected one head's ID number at once: the 冲突 screen shows both numbers
    whole, as the household's dialog does, and writes who read them, as it does."""
    from sync import changes, clock, idnumber
    from sync.access import Principal
    from fieldapp.office.conflicts import conflicts_panel
    from fieldapp.office.context import OfficeContext
    from tests.test_office_erasure import Page, texts

    st = ws.replica
    st.server_write("household", "h1", {"grid_id": "g1", "head_name": "甄秘密", "address": "一组9号"}, author="xinfang")
    numbers = [n + idnumber.check_char(n) for n in ("33070219800101456", "33070219800101789")]
    now = clock.wall_ms()
    for i, number in enumerate(numbers):
        ch = changes.make("household", "h1", {"id_number": number}, clock.encode(now + i, 0, f"p{i}"), f"p{i}", "w1")
        assert st.push(Principal("w1", "grid_worker", frozenset({"g1"}), f"p{i}"), [ch]).counts["applied"] == 1
    assert st.conflicts("household", "h1")
    ctx = OfficeContext(Page(), st, tickets=None)
    ctx.start_session(st.account("xinfang"), "10.0.0.7")
    panel = conflicts_panel(ctx)
    assert all(n in texts(panel) for n in numbers)      # the clerk sees both, to choose
    rows = st.conn.execute("SELECT username, detail, address FROM audit WHERE action='view'").fetchall()
    assert rows == [("xinfang", "household h1", "10.0.0.7")]


def _controls(c) -> list:
    """Every control under c, depth first."""
    import flet as ft
    out = [c]
    for attr in ("controls", "actions"):
        for child in getattr(c, attr, None) or []:
            out += _controls(child)
    for attr in ("content", "title"):
        child = getattr(c, attr, None)
        if isinstance(child, ft.Control):
            out += _controls(child)
    return out


def test_a_double_click_on_save_registers_one_matter_and_writes_one_entry(ws):
    """Clicks run one after another on the page, so a double click's second, queued behind
    the first, registered the same matter again with the next reference, and wrote a
    second 进展 entry after its dialog had closed."""
    import flet as ft

    from fieldapp.office import dialogs, words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.context import OfficeContext
    from fieldapp.office.register import register_panel
    from tests.test_office_erasure import Page
    ctx = OfficeContext(Page(), ws.replica, tickets=None)
    ctx.ws = ws
    opened = []
    import fieldapp.office.matter as office_matter
    office_matter_open, office_matter.open_matter = office_matter.open_matter, lambda ctx, cid: opened.append(cid)
    try:
        panel = register_panel(ctx)
        found = _controls(panel)
        by_label = {getattr(c, "label", None): c for c in found if getattr(c, "label", None)}
        by_label["纠纷类别 *"].value = "10"
        by_label["网格 *"].value = "g1"
        [desc] = [c for c in found if isinstance(c, ft.TextField) and c.multiline]
        desc.value = "拖欠工资十二万元"
        [save] = [c for c in found if isinstance(c, ft.FilledButton) and c.content == "保存"]
        save.on_click(None)
        save.on_click(None)
        assert ws.replica.conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 1
        assert len(set(opened)) == 1
        desc.value = "另一件：拖欠工资三万元"          # changed, it is another matter
        save.on_click(None)
        assert ws.replica.conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 2
    finally:
        office_matter.open_matter = office_matter_open

    cid = opened[0]
    ws.accept(cid)
    dialogs.progress_dialog(ctx, ws.case(cid), lambda: None)
    shown = ctx.page.dialogs[-1]
    [text] = [c for c in _controls(shown) if isinstance(c, ft.TextField)]
    text.value = "约谈双方"
    [ok] = [c for c in shown.actions if isinstance(c, ft.FilledButton)]
    ok.on_click(None)
    ok.on_click(None)
    assert [e["text"] for e in ws.timeline(cid) if e["kind"] == "progress"] == ["约谈双方"]


def test_a_letter_received_last_week_is_registered_on_the_day_it_came_and_its_limits_run_from_then(ws):
    """The 登记 form had no date: a letter that came a week ago was registered as received
    the day it was typed, its 15 days to register and to tell the petitioner ran a week
    late, and the notice told him he had written that day. A day not yet come, or written
    another way, is refused at the field, and nothing is registered."""
    import flet as ft

    from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.context import OfficeContext
    from fieldapp.office.register import register_panel
    from fieldapp.worklist import today_cst
    from tests.test_office_erasure import Page
    ctx = OfficeContext(Page(), ws.replica, tickets=None)
    ctx.ws = ws
    opened = []
    import fieldapp.office.matter as office_matter
    office_matter_open, office_matter.open_matter = office_matter.open_matter, lambda ctx, cid: opened.append(cid)
    try:
        found = _controls(register_panel(ctx))
        by_label = {getattr(c, "label", None): c for c in found if getattr(c, "label", None)}
        received = by_label["登记日期 *"]
        assert received.value == today_cst().isoformat()   # a walk-in today needs no typing
        by_label["来源 *"].value = "letter"
        by_label["纠纷类别 *"].value = "10"
        by_label["网格 *"].value = "g1"
        [desc] = [c for c in found if isinstance(c, ft.TextField) and c.multiline]
        desc.value = "来信反映村道被占用"
        [save] = [c for c in found if isinstance(c, ft.FilledButton) and c.content == "保存"]
        for wrong, said in (((today_cst() + dt.timedelta(days=3)).isoformat(), "尚未到来"),
                            ("2026/11/3", "2026-11-27")):
            received.value, received.error = wrong, None
            save.on_click(None)
            assert said in (received.error or ""), (wrong, received.error)
            assert ws.replica.conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
        week_ago = today_cst() - dt.timedelta(days=7)
        received.value, received.error = week_ago.isoformat(), None
        save.on_click(None)
    finally:
        office_matter.open_matter = office_matter_open
    [cid] = opened
    case = ws.case(cid)
    assert (case["received_on"], case["register_by"]) == (
        week_ago.isoformat(), (week_ago + dt.timedelta(days=15)).isoformat())


def test_a_dialog_left_open_while_another_clerk_resolved_the_matter_saves_nothing(ws):
    """Clerk A's 会商 saved after clerk B's 办结 gave the resolved matter to another leader
    and overwrote its plan; a 记录进展, 分级 or 告知 from a page drawn before is refused
    the same way, naming the state the matter is in now."""
    from sync.rules import RuleError
    cid = matter(ws)
    ws.accept(cid, on=dt.date(2026, 1, 20))
    ws.consult(cid, dt.date(2026, 1, 21), ["司法所"], "约谈双方", "lizhen")
    ws.notice(cid, dt.date(2026, 1, 21))
    ws.resolve_case(cid, "mediation", "签订调解协议")
    before = ws.case(cid)
    attempts = [lambda: ws.consult(cid, dt.date(2026, 1, 22), ["派出所"], "另议", "w1"),
                lambda: ws.add_progress(cid, "已约谈"),
                lambda: ws.grade(cid, "red"),
                lambda: ws.extend(cid, 30, "情况复杂")]
    for attempt in attempts:
        with pytest.raises(RuleError) as got:
            attempt()
        assert got.value.message("zh").startswith("此事项现为“已办结”") or got.value.code == "extension_not_open"
    after = ws.case(cid)
    assert {k: after.get(k) for k in ("owner", "plan", "status", "risk")} == \
           {k: before.get(k) for k in ("owner", "plan", "status", "risk")}
    assert [e["kind"] for e in ws.timeline(cid)].count("consultation") == 1
    # what the resolved matter still offers goes through
    ws.call_back(cid, "phone", "satisfied")
    assert ws.case(cid)["status"] == "called_back"


def test_a_document_the_matter_no_longer_allows_is_refused_on_the_page_in_the_clerks_words(ws):
    """The 不予受理告知书 button drawn while the matter was declined, clicked after another
    clerk took it up again: the download link replaced the office with the server's JSON,
    in English. The page says why, in Chinese, and stays."""
    import flet as ft

    from fieldapp.office import dialogs, words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.context import OfficeContext
    from tests.test_office_erasure import Page
    ctx = OfficeContext(Page(), ws.replica, tickets=None)
    ctx.ws = ws
    said, asked = [], []
    ctx.snack = lambda text, error=False: said.append((text, error))
    ctx.download = lambda kind, **params: asked.append((kind, params))
    cid = matter(ws)
    ws.decline(cid, "不属于信访事项")
    row = dialogs.documents_row(ctx, ws.case(cid), lambda: None)
    [button] = [c for c in row.controls if isinstance(c, ft.OutlinedButton) and c.content == "不予受理告知书"]
    ws.reopen_declined(cid)                   # another clerk, meanwhile
    button.on_click(None)
    assert asked == [] and len(said) == 1 and said[0][1] is True
    assert "不予受理" in said[0][0] and not any("a" <= ch <= "z" for ch in said[0][0].lower())


def test_a_grid_worker_turned_away_by_the_office_sign_in_leaves_no_password_in_the_form(ws):
    """The office's computer is shared: after 此页面供镇信访办使用 the password stayed in
    the field (with its eye to show it), as it did not after a wrong password."""
    import flet as ft

    from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.app import login_view
    from fieldapp.office.context import OfficeContext
    from tests.test_office_erasure import Page, texts
    page = Page()
    page.client_ip = "10.0.0.5"
    ctx = OfficeContext(page, ws.replica, tickets=None)
    view = login_view(ctx)
    found = _controls(view)
    user, pw = [c for c in found if isinstance(c, ft.TextField)]
    user.value, pw.value = "w1", "long-enough-1"
    [sign_in] = [c for c in found if isinstance(c, ft.FilledButton)]
    sign_in.on_click(None)
    assert "此页面供镇信访办使用" in texts(view) and pw.value == "" and ctx.session is None


# --- the petitioner reached after 联系不上 (a second callback) ------------------------------

def called_back_unreached(ws, cal, day: dt.date, close: bool = True) -> str:
    """A matter resolved and called back on `day` without reaching the petitioner; closed."""
    cal.set(day)
    cid = matter(ws, on=day - dt.timedelta(days=12))
    ws.accept(cid, on=day - dt.timedelta(days=10))
    ws.consult(cid, day - dt.timedelta(days=9), ["人社所"], "先行垫付", "lizhen")
    ws.resolve_case(cid, "supported", "已支付")
    assert ws.call_back(cid, "phone", "unreachable", "三次电话无人接听") == "called_back"
    if close:
        ws.close(cid)
    return cid


def callback_figures(ws, start: dt.date, end: dt.date, today: dt.date) -> tuple:
    from sync.server import stats
    f = stats.figures(ws.replica.conn, start, end, today=today)
    return ((f["callbacks"], f["callbacks_unreached"], f["satisfied"], f["satisfaction_rate"]),
            [(r["key"], r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_owner"]],
            [(r["key"], r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_department"]])


def test_a_petitioner_reached_after_his_matter_was_closed_unreached_gives_his_answer_and_it_counts(ws, monkeypatch):
    """Closed on a try that reached no one, the petitioner rings the office back a week
    later: his answer is recorded (the matter stays closed), counts in 满意度, overall, for
    the leader and the department, and no longer under 联系不上; the timeline keeps both.
    It was refused (the matter was not 已办结), so the office could only leave it unsaid."""
    from tests.test_past_periods import Calendar
    cal = Calendar(monkeypatch, ws.replica)
    cid = called_back_unreached(ws, cal, dt.date(2026, 11, 2))
    year, today = (dt.date(2026, 1, 1), dt.date(2026, 12, 31)), dt.date(2026, 11, 29)
    assert callback_figures(ws, *year, today) == ((1, 1, 0, None), [], [])
    cal.set(dt.date(2026, 11, 9))
    assert ws.call_back(cid, "phone", "basically", "本人回电：工资已领到") == "closed"
    assert ws.case(cid)["status"] == "closed"
    assert [(it["kind"], it["text"]) for it in ws.timeline(cid) if it["type"] == "callback"] == [
        ("unreachable", "三次电话无人接听"), ("basically", "本人回电：工资已领到")]
    assert callback_figures(ws, *year, today) == ((1, 0, 1, 1.0), [("lizhen", 1, 1.0)], [("人社所", 1, 1.0)])
    # his answer is his last word: no third callback, by the verb or by a write of its own
    with pytest.raises(RuleError) as e:
        ws.call_back(cid, "phone", "satisfied")
    assert e.value.code == "callback_answered"
    with pytest.raises(WriteRefused) as refused:
        ws.replica.server_write("callback", "cb-third", {"case_id": cid, "at": "2026-11-09T12:30:00+08:00",
                                                         "by": "xinfang", "method": "phone", "answer": "satisfied"},
                                author="xinfang", principal=ws.principal)
    assert [(x.field, x.rule) for x in refused.value.field_errors] == [("record", "callback_answered")]
    assert ws.replica.conn.execute("SELECT count(*) FROM callbacks WHERE case_id=?", (cid,)).fetchone()[0] == 2


def test_an_answer_entered_with_a_time_before_the_try_it_follows_is_refused_naming_the_try(ws, monkeypatch):
    """A paper callback entered through the API, dated three hours before the 联系不上 try
    already recorded, was taken: the figures and the queue, which take the latest callback
    by its time, still saw the try, the page offered 回访 again, and a second answer
    reopened the matter over the first. Callbacks of a matter are now in time order."""
    from tests.test_past_periods import Calendar
    cal = Calendar(monkeypatch, ws.replica)
    cid = called_back_unreached(ws, cal, dt.date(2026, 11, 2))
    [(tried,)] = ws.replica.conn.execute("SELECT at FROM callbacks WHERE case_id=?", (cid,)).fetchall()
    before = (dt.datetime.fromisoformat(tried) - dt.timedelta(hours=3)).isoformat()
    with pytest.raises(WriteRefused) as refused:
        ws.replica.server_write("callback", "cb-paper", {"case_id": cid, "at": before, "by": "xinfang",
                                                         "method": "visit", "answer": "satisfied"},
                                author="xinfang", principal=ws.principal)
    [err] = refused.value.field_errors
    assert (err.field, err.rule) == ("at", "callback_before_try")
    assert tried[:16].replace("T", " ") in err.message("zh") and "联系不上" in err.message("zh")
    year, today = (dt.date(2026, 1, 1), dt.date(2026, 12, 31)), dt.date(2026, 11, 29)
    assert callback_figures(ws, *year, today) == ((1, 1, 0, None), [], [])
    assert ws.last_callback_answer(cid) == "unreachable"   # still awaiting his answer, as every list says
    after = (dt.datetime.fromisoformat(tried) + dt.timedelta(days=1)).isoformat()
    ws.replica.server_write("callback", "cb-paper", {"case_id": cid, "at": after, "by": "xinfang",
                                                     "method": "visit", "answer": "satisfied"},
                            author="xinfang", principal=ws.principal)
    assert callback_figures(ws, *year, today)[0] == (1, 0, 1, 1.0)
    with pytest.raises(RuleError) as e:
        ws.call_back(cid, "phone", "unsatisfied")
    assert e.value.code == "callback_answered"


def test_an_unsatisfied_answer_after_a_try_that_reached_no_one_reopens_the_matter_as_a_first_one_does(ws, monkeypatch):
    from tests.test_past_periods import Calendar
    cal = Calendar(monkeypatch, ws.replica)
    cid = called_back_unreached(ws, cal, dt.date(2026, 11, 2), close=False)
    # tried again the same day and still no one: one try counted, the matter awaits its answer
    assert ws.call_back(cid, "visit", "unreachable", "上门，家中无人") == "called_back"
    year, today = (dt.date(2026, 1, 1), dt.date(2026, 12, 31)), dt.date(2026, 11, 29)
    assert callback_figures(ws, *year, today) == ((1, 1, 0, None), [], [])
    cal.set(dt.date(2026, 11, 9))
    assert ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到") == "reopened"
    case = ws.case(cid)
    assert (case["status"], case["deadline"]) == ("reopened", "2027-01-08")   # a fresh 60 days, as a first one
    assert [e["text"] for e in ws.timeline(cid) if e.get("kind") == "reopen"] == [
        "仍有两人未领到，重新办理，办理期限 2027-01-08"]
    assert [it["kind"] for it in ws.timeline(cid) if it["type"] == "callback"] == [
        "unreachable", "unreachable", "unsatisfied"]
    assert callback_figures(ws, *year, today) == ((1, 0, 0, 0.0), [("lizhen", 1, 0.0)], [("人社所", 1, 0.0)])


def test_a_month_handed_in_keeps_its_unreached_callback_answered_the_month_after(ws, monkeypatch):
    """October's report counted the try that reached no one: the answer given in November
    counts in November and does not rewrite October."""
    from tests.test_past_periods import Calendar
    cal = Calendar(monkeypatch, ws.replica)
    cid = called_back_unreached(ws, cal, dt.date(2026, 10, 28))
    cal.set(dt.date(2026, 11, 3))
    ws.call_back(cid, "phone", "satisfied", "本人回电")
    today = dt.date(2026, 11, 29)
    october = callback_figures(ws, dt.date(2026, 10, 1), dt.date(2026, 10, 31), today)
    november = callback_figures(ws, dt.date(2026, 11, 1), dt.date(2026, 11, 30), today)
    assert (october[0], november[0]) == ((1, 1, 0, None), (1, 0, 1, 1.0))


def test_the_matter_page_offers_the_callback_again_after_a_try_that_reached_no_one_and_not_after_an_answer(ws, monkeypatch):
    """The clerk opens the closed matter, 回访 is there; she records his answer in its dialog,
    and the page drawn again offers no other callback."""
    import flet as ft

    from fieldapp.office.matter import open_matter
    from tests.test_i18n_punct import Views, office, shown
    from tests.test_past_periods import Calendar
    cal = Calendar(monkeypatch, ws.replica)
    cid = called_back_unreached(ws, cal, dt.date(2026, 11, 2))
    cal.set(dt.date(2026, 11, 9))
    ctx = office(ws, "zh", Views())

    def buttons() -> dict:
        found = {}

        def walk(c):
            if isinstance(c, ft.FilledButton) and isinstance(c.content, str):
                found[c.content] = c
            for child in getattr(c, "controls", None) or []:
                walk(child)
        walk(ctx.page.views[-1])
        return found
    open_matter(ctx, cid)
    assert "已结案" in shown(ctx.page.views[-1]) and "回访" in buttons()
    buttons()["回访"].on_click(None)
    dlg = ctx.page.dialogs[-1]
    [answer] = [c for c in dlg.content.controls if isinstance(c, ft.RadioGroup) and
                {r.value for r in c.content.controls} == {"satisfied", "basically", "unsatisfied", "unreachable"}]
    answer.value = "satisfied"
    [save] = [a for a in dlg.actions if isinstance(a, ft.FilledButton)]
    save.on_click(None)
    assert ws.replica.conn.execute("SELECT answer FROM callbacks WHERE case_id=? ORDER BY rowid", (cid,)).fetchall() \
        == [("unreachable",), ("satisfied",)]
    open_matter(ctx, cid)
    assert "回访" not in buttons()


def test_the_office_sign_in_s_password_eye_is_named_by_what_it_does_in_the_clerk_s_language(ws):
    """A screen reader said only "button" for the eye beside the password (Flet's own
    reveal icon takes no name). Now it is a button named Show password / 显示密码, then
    Hide password / 不显示密码 once the password shows."""
    import flet as ft

    from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.app import login_view
    from fieldapp.office.context import OfficeContext
    from tests.test_fieldapp_logic import eye_name
    from tests.test_office_erasure import Page
    for lang, show, hide in (("zh", "显示密码", "不显示密码"), ("en", "Show password", "Hide password")):
        ctx = OfficeContext(Page(), ws.replica, tickets=None)
        ctx._lang = lang
        [pw] = [c for c in _controls(login_view(ctx)) if isinstance(c, ft.TextField) and c.password]
        eye = pw.suffix_icon
        assert not pw.can_reveal_password and isinstance(eye, ft.IconButton) and eye_name(eye) == show
        eye.on_click(None)
        assert pw.password is False and eye_name(eye) == hide
        eye.on_click(None)
        assert pw.password is True and eye_name(eye) == show


# --- the callback queue: the petitioners not reached, to be called again --------------------

def test_the_callback_queue_lists_apart_the_matters_whose_petitioner_was_not_reached_oldest_try_first(ws, monkeypatch):
    """A matter whose latest callback reached no one waited in no list: the clerk had to
    remember it or search the ledger. It is listed apart from the resolved ones, the
    oldest try first with the day of that try, in one list only; answered, it leaves;
    closed, it leaves 30 days after its last try (its page still takes his answer)."""
    from sync import rules
    from tests.test_past_periods import Calendar
    cal = Calendar(monkeypatch, ws.replica)
    left_open = called_back_unreached(ws, cal, dt.date(2026, 10, 20), close=False)
    closed = called_back_unreached(ws, cal, dt.date(2026, 11, 2))
    twice = called_back_unreached(ws, cal, dt.date(2026, 11, 5))
    cal.set(dt.date(2026, 11, 12))
    ws.call_back(twice, "visit", "unreachable", "上门，家中无人")
    answered = called_back_unreached(ws, cal, dt.date(2026, 11, 3))
    cal.set(dt.date(2026, 11, 9))
    ws.call_back(answered, "phone", "satisfied", "本人回电")
    long_ago = called_back_unreached(ws, cal, dt.date(2026, 9, 1))
    cal.set(dt.date(2026, 11, 20))
    resolved = matter(ws, on=dt.date(2026, 11, 1), parties=["钱女士"])
    ws.accept(resolved, on=dt.date(2026, 11, 2))
    ws.resolve_case(resolved, "supported", "已支付")
    cal.set(dt.date(2026, 11, 29))

    def retries():
        return [(c["id"], c["last_try"]) for c in ws.callback_retries()]
    assert [c["id"] for c in ws.callback_queue()] == [resolved] and ws.callbacks_waiting() == 1
    assert retries() == [(left_open, "2026-10-20"), (closed, "2026-11-02"), (twice, "2026-11-12")]
    assert ws.callback_retries_waiting() == 3
    assert [c["id"] for c in ws.callback_retries(limit=1)] == [left_open]
    # the one closed on a try in September is off the list, and still takes his answer
    assert rules.can_call_back(ws.case(long_ago), ws.last_callback_answer(long_ago))
    # a try counts once as 联系不上 in the figures, whichever list it waits in
    year, today = (dt.date(2026, 1, 1), dt.date(2026, 12, 31)), dt.date(2026, 11, 29)
    assert callback_figures(ws, *year, today)[0] == (5, 4, 1, 1.0)
    ws.call_back(closed, "phone", "basically", "本人回电")
    ws.call_back(left_open, "phone", "unsatisfied", "还差一人")   # reopened: waits in neither list
    assert retries() == [(twice, "2026-11-12")] and ws.callback_retries_waiting() == 1
    assert [c["id"] for c in ws.callback_queue()] == [resolved]
    # closed on its tries, it leaves the list 30 days after the last one
    cal.set(dt.date(2026, 12, 12))
    assert retries() == [(twice, "2026-11-12")]
    cal.set(dt.date(2026, 12, 13))
    assert retries() == [] and ws.callback_retries_waiting() == 0


def test_the_callback_queue_shows_the_petitioners_not_reached_under_a_heading_of_their_own_and_the_day_tried(
        ws, monkeypatch):
    from fieldapp.office.lists import callbacks_panel
    from tests.test_i18n_punct import Views, office, shown
    from tests.test_past_periods import Calendar
    cal = Calendar(monkeypatch, ws.replica)
    tried = ws.case(called_back_unreached(ws, cal, dt.date(2026, 11, 2)))["ref"]
    cal.set(dt.date(2026, 11, 20))
    waiting = matter(ws, on=dt.date(2026, 11, 1), parties=["钱女士"])
    ws.accept(waiting, on=dt.date(2026, 11, 2))
    ws.resolve_case(waiting, "supported", "已支付")
    cal.set(dt.date(2026, 11, 29))
    zh = shown(callbacks_panel(office(ws, "zh", Views())))
    assert "回访（2）\n其中待回访 1 件，联系不上待再次回访 1 件" in zh
    assert "联系不上，待再次回访（1）" in zh and f"联系不上，待再次回访；上次回访 2026-11-02\n{tried}" in zh
    assert zh.index(ws.case(waiting)["ref"]) < zh.index("联系不上，待再次回访（1）") < zh.index(tried)
    en = shown(callbacks_panel(office(ws, "en", Views())))
    assert "Callbacks (2)\n1 awaiting their callback, 1 not reached and to be called again" in en
    assert f"Not reached, to be called again; last tried 2026-11-02\n{tried}" in en


def test_a_phones_sync_redraws_a_matters_page_only_when_what_it_shows_changed(ws, monkeypatch):
    """A sync touching the matter redrew its whole page even when it brought nothing the
    page did not show already (it had landed before the page was drawn, its notice came
    after): every button was replaced, and the clerk's click on 回访 landing then was lost."""
    import asyncio

    import flet as ft

    from fieldapp.office.matter import open_matter
    from tests.test_i18n_punct import Views, office, shown
    from tests.test_past_periods import Calendar
    cal = Calendar(monkeypatch, ws.replica)
    cal.set(dt.date(2026, 11, 2))
    cid = matter(ws, on=dt.date(2026, 10, 20))
    ws.accept(cid, on=dt.date(2026, 10, 21))
    ws.resolve_case(cid, "supported", "已支付")
    ctx = office(ws, "zh", Views())
    open_matter(ctx, cid)

    def callback_button():
        found = []

        def walk(c):
            if isinstance(c, ft.FilledButton) and c.content == "回访":
                found.append(c)
            for child in getattr(c, "controls", None) or []:
                walk(child)
        walk(ctx.page.views[-1])
        return found[0]

    clicked = callback_button()
    asyncio.run(ctx.arrived({"cases": [cid], "applied": 1, "by": "lizhen"}))   # nothing new for this page
    assert callback_button() is clicked
    ws.call_back(cid, "phone", "unreachable", "电话无人接听")   # the same matter, something new on it
    asyncio.run(ctx.arrived({"cases": [cid], "applied": 1, "by": "xinfang"}))
    assert "电话无人接听" in shown(ctx.page.views[-1]) and "已回访" in shown(ctx.page.views[-1])


def test_a_visit_saved_with_no_position_is_reviewed_as_doubtful_not_as_fine(ws):
    """A visit saved with the location refused and none typed reached the office with no
    position at all, was left out of 走访核查's doubtful visits and read 位置正常: turning
    the GPS off got a visit past every check. A reception at the office needs none."""
    import flet as ft

    from fieldapp.office.visits import visits_panel
    from sync import households
    from tests.test_i18n_punct import Views, office
    ws.replica.server_write("household", "hh-1", {"grid_id": "g1", "head_name": "张建国", "address": "白鹤村3组12号",
                                                  "lat": 29.07, "lon": 119.64}, author="w1")
    ws.replica.server_write("visit", "v-blind", {"household_id": "hh-1", "grid_id": "g1", "kind": "household",
                                                 "visitor": "w1", "visited_at": "2026-11-20T10:00:00+08:00",
                                                 "seen": "老人在家"}, author="w1")
    ws.replica.server_write("visit", "v-here", {"household_id": "hh-1", "grid_id": "g1", "kind": "household",
                                                "visitor": "w1", "visited_at": "2026-11-21T10:00:00+08:00",
                                                "seen": "老人在家", "lat": 29.0701, "lon": 119.6401,
                                                "accuracy_m": 9.0}, author="w1")
    assert households.unplaced(ws.replica.get("visit", "v-blind"))
    assert not households.unplaced(ws.replica.get("visit", "v-here"))
    assert not households.unplaced({"kind": "reception"})
    ctx = office(ws, "zh", Views())
    rows = []

    def walk(c):
        if isinstance(c, ft.Row) and any(isinstance(x, ft.Text) and x.value == "王芳" for x in c.controls):
            rows.append([x.value for x in c.controls if isinstance(x, ft.Text)])
        for child in [getattr(c, "content", None), *(getattr(c, "controls", None) or [])]:
            if isinstance(child, ft.Control):
                walk(child)
    walk(visits_panel(ctx))
    assert [r[0] for r in rows] == ["2026-11-20 10:00"]   # only the doubtful ones, at first
    assert "无定位" in rows[0][-1] and "位置正常" not in rows[0][-1]


def test_the_register_form_takes_the_petitioners_number_by_the_phone_rules_and_the_matter_page_shows_it(ws):
    """信访人联系电话: typed at 登记, refused at its field when no phone can dial it, kept as
    the household form keeps a number; the office's matter page shows it whole, for the
    clerk's desk telephone (the leader's phone masks it and dials it)."""
    import flet as ft

    from fieldapp.office import words  # noqa: F401  (the office's words join the string table)
    from fieldapp.office.matter import open_matter
    from fieldapp.office.register import register_panel
    from tests.test_i18n_punct import Views, office, shown
    ctx = office(ws, "zh")
    opened = []
    import fieldapp.office.matter as office_matter
    office_matter_open, office_matter.open_matter = office_matter.open_matter, lambda ctx, cid: opened.append(cid)
    try:
        found = _controls(register_panel(ctx))
        by_label = {getattr(c, "label", None): c for c in found if getattr(c, "label", None)}
        by_label["纠纷类别 *"].value = "10"
        by_label["网格 *"].value = "g1"
        [desc] = [c for c in found if isinstance(c, ft.TextField) and c.multiline]
        desc.value = "秦红秀来访反映宅基地纠纷"
        phone = by_label["联系电话"]
        [save] = [c for c in found if isinstance(c, ft.FilledButton) and c.content == "保存"]
        phone.value = "138 1234 567"
        save.on_click(None)
        assert "11位" in (phone.error or ""), phone.error
        assert ws.replica.conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
        phone.value, phone.error = "138 1234 5678", None
        save.on_click(None)
    finally:
        office_matter.open_matter = office_matter_open
    [cid] = opened
    assert ws.case(cid)["petitioner_phone"] == "13812345678"

    page = office(ws, "zh", Views())
    open_matter(page, cid)
    words_shown = shown(page.page.views[-1])
    # whole at the office, whose clerk calls back from a desk telephone: no tel: button there
    assert "联系电话" in words_shown and "13812345678" in words_shown
    assert not [c for c in _controls(page.page.views[-1]) if isinstance(c, ft.OutlinedButton) and c.content == "拨打电话"]
