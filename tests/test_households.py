"""Households in the field and at the office (issue 9, point 4): the rules as plain
functions, and the verbs over a real device replica and a real central store.

- the next visit due: a visit's day plus the shortest frequency of the needs, as the
  township sets it, on the phone and at the office; the worklist follows it
- archived households (moved out, head deceased) are kept, findable, and off the due lists
- what a household form is refused for, in Chinese, naming the field (a member's too)
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from fieldapp.worklist import today
from sync import clock, households, settings
from sync.device import ValidationError
from sync.server.central import CentralStore
from sync.server.office import CentralWorkspace

WORKER = {"username": "w1", "role": "grid_worker", "grids": ["g1"]}
OFFICE = {"username": "xinfang", "name": "镇信访办", "role": "office", "grids": []}
GOOD_ID = "330702199001011237"      # check digit right (GB 11643)
GOOD_CHILD_ID = "330702201506010029"
BAD_CHECK = "330702199001011234"    # the last digit should be 7
BAD_BIRTH = "330702199002301236"    # 30 February


@pytest.fixture
def office(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    st = CentralStore(str(tmp_path / "c.db"))
    st.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇", 29.07, 119.64)
    st.add_grid("g2", "高山村第1网格", "高山村", "金山镇", 29.08, 119.65)
    st.add_account("xinfang", "镇信访办", "office", "long-enough-1")
    yield CentralWorkspace(st, OFFICE)
    st.close()


def add(replica, rid, **fields) -> str:
    """A household as a sync brings it (written by the office)."""
    replica.create("household", {"grid_id": "g1", "head_name": "李四", "address": "白鹤村1组1号", **fields},
                   "office", record_id=rid)
    return rid


def visit_on(ws, hid, day: str, **extra) -> str:
    return ws.record_visit({"household_id": hid, "visited_at": f"{day}T10:00:00+08:00", "seen": "在家", **extra})


# --- the rule: next due by needs and the township's settings -------------------------
@pytest.mark.parametrize("needs, days", [
    ([], 90), (["dibao"], 30), (["elderly_alone"], 7), (["dibao", "elderly_alone", "disability"], 7),
    (["left_behind_child", "dibao"], 14)])
def test_next_visit_due_is_the_visit_day_plus_the_shortest_frequency_of_the_needs(needs, days):
    day = dt.date(2026, 3, 1)
    assert households.next_visit_due(day, needs, None) == day + dt.timedelta(days=days)


def test_the_townships_own_frequencies_win_over_the_defaults():
    stored = {"visit_every.dibao": settings.parse("visit_every.dibao", "20"), "visit_every.default": 60}
    day = dt.date(2026, 3, 1)
    assert households.next_visit_due(day, ["dibao"], stored) == dt.date(2026, 3, 21)
    assert households.next_visit_due(day, [], stored) == dt.date(2026, 4, 30)
    assert households.next_visit_due(day, ["dibao", "elderly_alone"], stored) == dt.date(2026, 3, 8)


def test_a_visit_day_is_the_townships_calendar_day():
    assert households.visit_day("2026-03-01T23:30:00+08:00") == dt.date(2026, 3, 1)
    assert households.visit_day("2026-03-01T17:30:00Z") == dt.date(2026, 3, 2)   # 01:30 in China
    assert households.visit_day("not a time") is None


def test_a_next_visit_is_due_within_a_year_before_registration_and_a_year_and_a_day_ahead():
    """The window a phone's next visit is taken in (the server's due_errors): reckoned
    from the registration or a visit, recorded at most a year late; at most the longest
    interval ahead."""
    today = dt.date(2026, 11, 29)
    assert households.due_window(today) == (dt.date(2025, 11, 28), dt.date(2027, 12, 1))
    # a household registered (or last visited) three years ago: a due reckoned two years back is no mistake
    assert households.due_window(today, dt.date(2023, 11, 29))[0] == dt.date(2022, 11, 28)
    assert households.due_window(today, dt.date(2027, 1, 1))[0] == dt.date(2025, 11, 28)   # a stamp ahead: today's
    for day, rule in [("2000-01-01", "due_too_early"), ("2025-11-27", "due_too_early"), ("2025-11-28", None),
                      ("2026-11-29", None), ("2027-12-01", None), ("2027-12-02", "due_too_far")]:
        got = households.due_errors({"next_visit_due": day}, today)
        assert [e.rule for e in got] == ([rule] if rule else []), day
    [e] = households.due_errors({"next_visit_due": "2000-01-01"}, today)
    assert e.field == "next_visit_due" and "2025-11-28" in e.message("en")
    assert e.message("zh") == "不能早于2025-11-28（从登记之日或走访之日算起）"
    # asked when the day is further back than a year only (it reads the store)
    assert households.due_errors({"next_visit_due": "2023-01-01"}, today, lambda: dt.date(2023, 11, 29)) == []
    assert households.due_errors({"next_visit_due": "2026-01-01"}, today, lambda: 1 / 0) == []
    assert households.due_errors({"note": "x"}, today) == []


# --- on the phone ----------------------------------------------------------------------
def test_a_visit_on_the_phone_moves_the_next_due_by_the_households_needs(ws, replica):
    add(replica, "h1", tags=["dibao"], next_visit_due="2026-03-01")
    visit_on(ws, "h1", "2026-03-02")
    assert ws.household("h1")["next_visit_due"] == "2026-04-01"       # 低保: monthly
    visit_on(ws, "h1", "2026-03-05", needs_found=["elderly_alone"])   # found living alone: weekly
    hh = ws.household("h1")
    assert hh["tags"] == ["dibao", "elderly_alone"] and hh["next_visit_due"] == "2026-03-12"


def test_the_phone_follows_the_frequencies_the_township_sent_with_the_last_pull(ws, replica):
    replica.set_meta("township_settings", json.dumps({"visit_every.dibao": 20}))
    add(replica, "h1", tags=["dibao"])
    visit_on(ws, "h1", "2026-03-02")
    assert ws.household("h1")["next_visit_due"] == "2026-03-22"


def test_a_visit_recorded_late_counts_from_the_latest_visit(ws, replica):
    add(replica, "h1", tags=["dibao"])
    visit_on(ws, "h1", "2026-03-10")
    visit_on(ws, "h1", "2026-03-01")   # typed in afterwards
    assert ws.household("h1")["next_visit_due"] == "2026-04-09"


def test_the_worklist_drops_a_visited_household_until_its_next_due_day(ws, replica):
    add(replica, "h1", tags=["elderly_alone"], next_visit_due="2026-03-01")
    assert [h["id"] for h in today(ws, dt.date(2026, 3, 2)).due] == ["h1"]
    visit_on(ws, "h1", "2026-03-02")
    assert today(ws, dt.date(2026, 3, 2)).due == []
    assert today(ws, dt.date(2026, 3, 8)).due == []
    assert [h["id"] for h in today(ws, dt.date(2026, 3, 9)).due] == ["h1"]   # a week later: due again


def test_new_needs_bring_the_next_visit_nearer_counted_from_the_last_visit(ws, replica):
    add(replica, "h1")
    visit_on(ws, "h1", "2026-03-01")
    assert ws.household("h1")["next_visit_due"] == "2026-05-30"       # no need: 90 days
    ws.edit_household("h1", {"tags": ["elderly_alone"]})
    assert ws.household("h1")["next_visit_due"] == "2026-03-08"


def test_a_household_added_in_the_field_is_due_for_its_first_visit_the_day_it_is_registered(ws):
    hid = ws.add_household({"grid_id": "g1", "head_name": " 王小红 ", "address": "白鹤村2组8号",
                            "id_number": "33070219900101123x".replace("x", "７"),
                            "phone": "138 1234 5678", "tags": ["temporary_aid"],
                            "members": [{"name": "刘洋", "relation": "子", "id_number": GOOD_CHILD_ID},
                                        {"name": "", "relation": "", "note": ""}]})
    hh = ws.household(hid)
    assert hh["head_name"] == "王小红" and hh["status"] == "active"
    assert hh["id_number"] == GOOD_ID and hh["phone"] == "13812345678"    # cleaned before it is checked
    assert hh["members"] == [{"name": "刘洋", "relation": "子", "id_number": GOOD_CHILD_ID}]  # the empty row left out
    assert hh["next_visit_due"] == households.visit_day(dt.datetime.now(households.CST).isoformat()).isoformat()
    assert ws.pending_count() == 1
    assert [h["id"] for h in ws.search_households("刘洋")] == [hid]      # found by a member's name


def test_an_edit_writes_only_what_changed_and_leaves_a_masked_number_as_held(ws, replica):
    add(replica, "h1", id_number="3307**********1237", phone="13812345678",
        members=[{"name": "刘洋", "relation": "子", "id_number": "3307**********0029"}])
    before = ws.pending_count()
    written = ws.edit_household("h1", {"grid_id": "g1", "head_name": "李四", "address": "白鹤村1组1号",
                                       "id_number": "3307**********1237", "phone": "13900001111",
                                       "members": [{"name": "刘洋", "relation": "子", "id_number": "3307**********0029"}],
                                       "tags": [], "note": "", "hh_number": "", "status": "active"})
    assert written == {"phone": "13900001111"}
    assert ws.pending_count() == before + 1
    assert ws.edit_household("h1", {"phone": "13900001111"}) == {}      # nothing changed: nothing queued
    assert ws.pending_count() == before + 1


def test_a_worker_cannot_register_a_household_in_another_grid(ws):
    with pytest.raises(ValidationError) as got:
        ws.add_household({"grid_id": "g2", "head_name": "外网格", "address": "高山村1号"})
    [err] = got.value.errors
    assert ws.pending_count() == 0 and err.rule == "forbidden" and "超出账号w1的权限范围" in err.message("zh")


# --- archived: kept, findable, off the due lists ------------------------------------
@pytest.mark.parametrize("status", ["moved_out", "deceased"])
def test_an_archived_household_is_kept_and_found_but_leaves_the_due_lists(ws, replica, status):
    add(replica, "h1", head_name="陈桂兰", next_visit_due="2026-03-01")
    visit_on(ws, "h1", "2026-01-01")
    ws.set_household_status("h1", status)
    hh = ws.household("h1")
    assert hh is not None and hh["status"] == status and households.archived(hh)
    assert [h["id"] for h in ws.search_households("陈桂兰")] == ["h1"]
    assert len(ws.household_visits("h1")) == 1                           # its history stays
    assert ws.due_households(dt.date(2026, 6, 1)) == [] and today(ws, dt.date(2026, 6, 1)).due == []
    ws.set_household_status("h1", "active")                               # back in the registry
    assert [h["id"] for h in ws.due_households(dt.date(2026, 6, 1))] == ["h1"]


def test_status_must_be_a_registry_status(ws, replica):
    add(replica, "h1")
    with pytest.raises(ValidationError) as got:
        ws.set_household_status("h1", "deleted")
    assert [e.field for e in got.value.errors] == ["status"]


# --- what a form is refused for --------------------------------------------------------
def problems(fields, before: dict | None = {}):   # {}: an edit of a household holding nothing
    return [(p.field, p.rule, p.message("zh")) for p in households.problems(households.normalize(fields, before),
                                                                            before, dt.date(2026, 11, 27))]


def test_a_wrong_check_digit_names_the_digit_expected():
    [(field, rule, zh)] = problems({"id_number": BAD_CHECK})
    assert (field, rule) == ("id_number", "check_digit") and "最后一位应为7" in zh


@pytest.mark.parametrize("number, rule, words", [
    (BAD_BIRTH, "birth_date", "出生日期（1990-02-30）不存在"), ("33070219900101", "length", "应为18位（现为14位）"),
    ("3307021990010112AB", "characters", "前17位须为数字"), ("330702203001011234", "birth_future", "尚未到来"),
    ("3307**********1237", "masked", "请输入完整号码")])
def test_each_id_number_rule_is_said_in_chinese(number, rule, words):
    [(field, got, zh)] = problems({"id_number": number})
    assert (field, got) == ("id_number", rule) and words in zh


@pytest.mark.parametrize("phone, rule", [("1381234567", "phone_mobile"), ("12345678901", "phone_mobile"),
                                         ("0579-123", "phone_landline"), ("电话13812345678", "phone_characters")])
def test_a_bad_phone_is_refused_with_the_rule(phone, rule):
    [(field, got, zh)] = problems({"phone": phone})
    assert (field, got) == ("phone", rule) and zh


@pytest.mark.parametrize("phone", ["13812345678", "+86 138 1234 5678", "0579-82345678", "057982345678"])
def test_mobile_and_landline_numbers_pass(phone):
    assert problems({"phone": phone}) == []


def test_a_new_household_needs_grid_head_and_address():
    got = problems({"head_name": "   ", "address": ""}, before=None)
    assert [(f, r) for f, r, _ in got] == [("grid_id", "required"), ("head_name", "required"),
                                           ("address", "required")]
    assert all(zh == "必填" for _, _, zh in got)


def test_each_member_problem_names_that_member_and_field():
    got = problems({"members": [{"name": "刘洋", "relation": "子", "id_number": GOOD_CHILD_ID},
                                {"name": "张三"}, {"relation": "女", "id_number": BAD_CHECK},
                                {"name": "李四", "relation": "父亲", "note": "长" * 61}]})
    assert [(f, r) for f, r, _ in got] == [("members.1.relation", "member_relation"),
                                           ("members.2.name", "member_name"),
                                           ("members.2.id_number", "check_digit"),
                                           ("members.3.note", "member_long")]
    assert got[0][2] == "请填写与户主的关系" and got[1][2] == "请填写成员姓名"


def test_a_masked_number_held_as_it_is_is_not_checked_again():
    before = {"id_number": "3307**********4417", "members": [{"name": "刘洋", "relation": "子",
                                                               "id_number": "3307**********0000"}]}
    assert problems({"id_number": "3307**********4417", "members": before["members"]}, before) == []
    [(field, rule, _)] = problems({"id_number": "3307**********9999"}, before)   # not the one held
    assert (field, rule) == ("id_number", "masked")


def test_a_refused_form_queues_nothing_and_says_every_problem(ws):
    with pytest.raises(ValidationError) as got:
        ws.add_household({"grid_id": "g1", "head_name": "", "address": "白鹤村", "id_number": BAD_CHECK,
                          "phone": "123", "members": [{"name": "刘洋"}]})
    assert [e.field for e in got.value.errors] == ["head_name", "id_number", "phone", "members.0.relation"]
    assert ws.pending_count() == 0
    assert ws.household_problems({"grid_id": "g1", "head_name": "王", "address": "白鹤村"}) == []


# --- at the office ---------------------------------------------------------------------
def test_a_visit_recorded_at_the_office_moves_the_next_due_by_the_townships_setting(office):
    office.replica.set_setting("visit_every.disability", "21")
    hid = office.add_household({"grid_id": "g2", "head_name": "赵六", "address": "高山村3组1号",
                                "id_number": GOOD_ID, "tags": ["disability"]})
    office.record_visit({"household_id": hid, "visited_at": "2026-03-01T10:00:00+08:00", "seen": "来镇反映情况"})
    hh = office.household(hid)
    assert hh["next_visit_due"] == "2026-03-22" and hh["id_number"] == GOOD_ID    # whole at the office
    [v] = office.household_visits(hid)
    assert v["grid_id"] == "g2" and v["visitor"] == "xinfang"


def test_the_office_moves_a_household_to_another_grid_and_archives_another(office):
    a = office.add_household({"grid_id": "g1", "head_name": "钱七", "address": "白鹤村1组2号"})
    b = office.add_household({"grid_id": "g1", "head_name": "孙八", "address": "白鹤村1组3号"})
    office.edit_household(a, {"grid_id": "g2"})
    office.set_household_status(b, "deceased")
    assert office.household(a)["grid_id"] == "g2"
    assert office.household_page(grid="g1")[1] == 1
    assert [h["id"] for h in office.household_page(status="archived")[0]] == [b]
    assert [h["id"] for h in office.household_page(status="active")[0]] == [a]


def test_the_office_list_finds_by_name_address_number_and_filters_a_long_list_page_by_page(office):
    st = office.replica
    with st.lock:
        for n in range(300):
            st.server_write("household", f"h{n:03d}", {
                "grid_id": "g1" if n % 3 else "g2", "head_name": f"住户{n}", "address": f"白鹤村{n % 10 + 1}组{n}号",
                "tags": ["dibao"] if n % 5 == 0 else [], "hh_number": f"HH{n:05d}",
                **({"status": "moved_out"} if n % 50 == 7 else {})}, author="xinfang")
    rows, total = office.household_page(limit=50)
    assert total == 300 and len(rows) == 50
    assert [r["address"] for r in rows[:3]] == ["白鹤村1组0号", "白鹤村1组10号", "白鹤村1组20号"]  # natural order
    last, _ = office.household_page(limit=50, offset=250)
    assert len(last) == 50 and not {r["id"] for r in last} & {r["id"] for r in rows}
    assert office.household_page(grid="g2")[1] == 100
    assert office.household_page(need="dibao")[1] == 60
    assert office.household_page(status="archived")[1] == 6
    assert office.household_page(status="moved_out", grid="g2")[1] == len([n for n in range(300)
                                                                          if n % 50 == 7 and n % 3 == 0])
    assert [r["head_name"] for r in office.household_page("HH00123")[0]] == ["住户123"]
    assert office.household_page("白鹤村7组")[1] == 30
    assert office.household_page("100%")[1] == 0                          # a % is searched for, not a wildcard


def test_a_grid_worker_at_the_office_list_sees_only_their_grids(office):
    office.add_household({"grid_id": "g1", "head_name": "甲", "address": "白鹤村"})
    office.add_household({"grid_id": "g2", "head_name": "乙", "address": "高山村"})
    worker = CentralWorkspace(office.replica, {"username": "w1", "role": "grid_worker", "grids": ["g1"]})
    rows, total = worker.household_page()
    assert total == 1 and rows[0]["head_name"] == "甲"


def test_the_empty_registry_lists_nothing(office, ws):
    assert office.household_page() == ([], 0)
    assert ws.search_households() == [] and ws.due_households(dt.date(2026, 3, 1)) == []


def test_saving_a_household_someone_else_wrote_untidily_changes_nothing_and_is_not_refused(ws, replica):
    """Another phone's household with a member's name in spaces and a member without a
    relation (the server took them): opening 编辑 and saving without touching anything
    must neither be refused for the other person's entry nor write the members again."""
    import types

    from fieldapp import i18n
    from fieldapp.screens.household_form import HouseholdForm
    add(replica, "h1", members=[{"name": " 李四 ", "relation": "子女"}, {"name": "王五"}])
    ctx = types.SimpleNamespace(t=lambda k, **kw: i18n.t(k, "zh", **kw), lang="zh", page=None)
    form = HouseholdForm(ctx, ws.household("h1"), [("g1", "白鹤村第1网格")], grid_editable=False, masked=True)
    before = ws.pending_count()
    assert ws.edit_household("h1", form.values()) == {}
    assert ws.pending_count() == before
    # a member this person adds is still held to the form's rules
    values = form.values()
    values["members"] = values["members"] + [{"name": "赵六"}]
    with pytest.raises(ValidationError) as got:
        ws.edit_household("h1", values)
    assert [e.field for e in got.value.errors] == ["members.2.relation"]


def test_a_name_pasted_with_a_zero_width_space_is_stored_as_it_reads_on_the_phone_and_at_the_office(ws, office):
    """A zero-width space pasted from a chat made a second 张建国 that looks the same and
    that a search for 张建国 misses: the forms drop it, wherever the household is written."""
    pasted = {"grid_id": "g1", "head_name": "张建\u200b国", "address": "\ufeff白鹤村3组12号",
              "members": [{"name": "李\u2060四", "relation": "子"}]}
    for workspace in (ws, office):
        hid = workspace.add_household(dict(pasted))
        hh = workspace.household(hid)
        assert (hh["head_name"], hh["address"]) == ("张建国", "白鹤村3组12号")
        assert hh["members"] == [{"name": "李四", "relation": "子"}]
        assert [h["id"] for h in workspace.search_households("张建国")] == [hid]
        workspace.edit_household(hid, {"head_name": "张建国\u2060"})   # an edit as well: nothing to write
        assert workspace.household(hid)["head_name"] == "张建国"
    cid = ws.report_case({"grid_id": "g1", "category": "02", "description": "邻里纠纷",
                          "parties": ["王\u200b五"], "title": "邻里纠纷"})
    assert ws.case(cid)["parties"] == ["王五"]


def test_a_phone_whose_date_is_set_days_ahead_records_its_visit_on_the_townships_day(ws, replica, monkeypatch):
    """Its date three days ahead, the phone dated the visit on a day to come: the server
    refused the visit and took the household's next due date, three months off, without
    it. The phone learnt the server's time at its last sync: it dates by that."""
    from sync import clock
    real = clock.wall_ms()
    ahead = dt.timedelta(days=3)                                       # the date set three days ahead
    replica.clock.now = lambda: clock.wall_ms() + int(ahead.total_seconds() * 1000)
    monkeypatch.setattr("sync.workspace.now_iso", lambda: (dt.datetime.now(households.CST) + ahead).replace(
        microsecond=0).isoformat())                                    # the phone's own reading of it
    replica.learn_server_time(real)                                   # a sync: the server's time
    add(replica, "h1", tags=["dibao"])
    vid = ws.record_visit({"household_id": "h1", "seen": "在家"})
    today = dt.datetime.now(households.CST).date()
    assert replica.get("visit", vid)["visited_at"][:10] == today.isoformat()
    assert ws.household("h1")["next_visit_due"] == (today + dt.timedelta(days=30)).isoformat()   # 低保: monthly


def test_a_visit_dated_a_day_ahead_counts_the_next_one_from_today(ws, replica):
    """A visit dated tomorrow 23:59 (a clock hours ahead, which the server takes) put the
    next one due a day late."""
    today = dt.datetime.now(households.CST).date()
    add(replica, "h1", tags=["dibao"])
    visit_on(ws, "h1", (today + dt.timedelta(days=1)).isoformat())
    assert ws.household("h1")["next_visit_due"] == (today + dt.timedelta(days=30)).isoformat()


def test_saving_the_office_form_writes_only_what_the_clerk_changed_not_what_a_sync_brought_meanwhile(office):
    """The clerk opens a household; a grid worker's new phone number arrives; the clerk
    changes the note and saves: the form's old phone number was written back over it."""
    hid = office.add_household({"grid_id": "g1", "head_name": "张建国", "address": "白鹤村3组12号",
                                "phone": "13857901234"})
    shown = office.household(hid)
    form = {k: shown.get(k) for k in ("grid_id", "head_name", "address", "phone", "note", "tags", "members")}
    office.replica.server_write("household", hid, {"phone": "13900001111"}, author="w1")   # the worker's sync
    written = office.edit_household(hid, {**form, "note": "已核实"}, shown)
    assert written == {"note": "已核实"}
    hh = office.household(hid)
    assert (hh["phone"], hh["note"]) == ("13900001111", "已核实")


def test_a_phone_adding_a_member_while_the_office_corrected_anothers_number_makes_a_conflict_not_a_refusal(office):
    """The phone sends the members back with their numbers masked, as it holds them; the
    office had corrected the son's number meanwhile: the masked number stood for none the
    record held, and the newborn the grid worker added was refused ("masked")."""
    from sync import changes, merge, privacy
    from sync.access import Principal
    st = office.replica
    old_id, new_id = "330702198501011239", "330702198501011247"
    hid = office.add_household({"grid_id": "g1", "head_name": "张建国", "address": "白鹤村3组12号",
                                "members": [{"name": "张伟", "relation": "子", "id_number": old_id}]})
    row, ver = st._load("household", [hid])[hid]
    on_phone = [{**m, "id_number": privacy.mask_id(m["id_number"])} for m in row["members"]]
    base = merge.bases(ver, ["members"])
    office.edit_household(hid, {"members": [{"name": "张伟", "relation": "子", "id_number": new_id}]})
    worker = Principal("w1", "grid_worker", frozenset({"g1"}), "dev-w1")
    stamp = clock.encode(clock.wall_ms() + 5, 0, "dev-w1")
    ch = changes.make("household", hid, {"members": on_phone + [{"name": "张小宝", "relation": "孙子"}]},
                      stamp, "dev-w1", "w1", base)
    assert st.push(worker, [ch]).results == [{"status": "applied"}]
    conflict = [c for c in office.conflicts("household", hid) if c["field"] == "members"]
    assert conflict, "both sides kept, for the office to settle"
    sides = [office.household(hid)["members"], conflict[0]["value"]]
    assert any(m["name"] == "张小宝" for m in sides[0] + sides[1])
    assert {m.get("id_number") for s in sides for m in s if m["name"] == "张伟"} == {old_id, new_id}
