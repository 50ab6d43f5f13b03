"""The screen logic that decides things, tested in plain Python (no browser):
positions and the far-from-home flag, masking, due dates, the words on screen, and
the workspace verbs and reads over a real device replica."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import string

import pytest
from geopy.distance import geodesic

from fieldapp import i18n
from fieldapp.navigation import Screens
from fieldapp.geo import Fix, format_distance, parse_manual, visit_location_fields
from fieldapp.privacy import mask_id, mask_phone
from fieldapp.syncer import SyncRunner, error_state
from fieldapp.worklist import days_left, overdue_days, split_parties, today
from sync import changes, clock, codes, merge
from sync.client import SyncClient
from sync.device import DeviceReplica
from sync.errors import AuthRequired, ProtocolMismatch, Refused, ServerTrouble, SyncError, Unreachable
from sync.workspace import DeviceWorkspace

HOME = (29.07, 119.65)          # a household's registered location
WORKER = {"username": "w1", "role": "grid_worker", "grids": ["g1"]}
LEADER = {"username": "l1", "role": "leader", "grids": []}


def point(metres: float, bearing: float = 0.0, origin=HOME) -> tuple[float, float]:
    p = geodesic(meters=metres).destination(origin, bearing)
    return p.latitude, p.longitude


def household(**over) -> dict:
    return {"id": "h1", "lat": HOME[0], "lon": HOME[1], **over}


# --- positions on a visit -------------------------------------------------------------
def test_visit_400m_from_registered_location_is_flagged_far_with_threshold_300():
    fix = Fix(*point(400), accuracy_m=10)
    out = visit_location_fields(fix, household(), far_m=300)
    assert out["far_from_home"] is True
    assert out["distance_m"] == pytest.approx(400, abs=1)


def test_visit_200m_from_registered_location_is_not_flagged():
    out = visit_location_fields(Fix(*point(200, 90), accuracy_m=10), household(), far_m=300)
    assert out["far_from_home"] is False
    assert out["distance_m"] == pytest.approx(200, abs=1)


def test_far_threshold_is_configurable_per_township():
    fix = Fix(*point(400), accuracy_m=10)
    assert visit_location_fields(fix, household(), far_m=500)["far_from_home"] is False
    assert visit_location_fields(fix, household(), far_m=150)["far_from_home"] is True


def test_default_threshold_flags_400m_but_not_200m():
    assert visit_location_fields(Fix(*point(400)), household())["far_from_home"] is True
    assert visit_location_fields(Fix(*point(200)), household())["far_from_home"] is False


@pytest.mark.parametrize("accuracy, poor", [(5, False), (50, False), (50.1, True), (120, True),
                                            (None, True)])
def test_gps_fix_warns_of_poor_accuracy_only_over_50m(accuracy, poor):
    assert Fix(*HOME, accuracy_m=accuracy).poor is poor


def test_manual_position_is_marked_manual_and_gets_no_accuracy_warning():
    fix, errors = parse_manual("29.0712", "119.6534")
    assert errors == {}
    assert fix.source == "manual" and not fix.poor
    out = visit_location_fields(fix, household())
    assert out["location_source"] == "manual"
    assert (out["lat"], out["lon"]) == (29.0712, 119.6534)
    assert "accuracy_m" not in out


def test_manual_position_accepts_a_comma_as_decimal_mark():
    fix, errors = parse_manual(" 29,07 ", "119，65")
    assert errors == {} and (fix.lat, fix.lon) == (29.07, 119.65)


def test_mocked_fix_keeps_its_mocked_flag_on_the_visit():
    out = visit_location_fields(Fix(*HOME, accuracy_m=3, mocked=True), household())
    assert out["mocked"] is True and out["location_source"] == "gps"
    assert visit_location_fields(Fix(*HOME, accuracy_m=3), household())["mocked"] is False


def test_parse_manual_names_latitude_for_text_that_is_not_a_number():
    fix, errors = parse_manual("abc", "119.65")
    assert fix is None and errors == {"lat": "number"}


def test_parse_manual_names_latitude_91_as_out_of_range():
    fix, errors = parse_manual("91", "119.65")
    assert fix is None and errors == {"lat": "range"}


def test_parse_manual_names_both_fields_when_both_are_wrong():
    assert parse_manual("", "181")[1] == {"lat": "number", "lon": "range"}


@pytest.mark.parametrize("hh", [None, {"id": "h1"}, {"id": "h1", "lat": 29.07, "lon": None}])
def test_household_without_registered_location_gets_no_distance_or_flag(hh):
    out = visit_location_fields(Fix(*point(5000), accuracy_m=8), hh)
    assert "distance_m" not in out and "far_from_home" not in out
    assert out["accuracy_m"] == 8.0


def test_no_fix_gives_no_location_fields():
    assert visit_location_fields(None, household()) == {}


def test_distance_is_written_in_metres_then_kilometres():
    assert format_distance(412.4) == "412 m"
    assert format_distance(2345) == "2.3 km"
    assert format_distance(None) == ""


# --- privacy --------------------------------------------------------------------------
def test_mask_id_shows_only_first_and_last_four_of_18_digits():
    assert mask_id("330702199001011234") == "3307**********1234"


@pytest.mark.parametrize("value, shown", [("12345678", "********"), ("123", "***"), ("", ""),
                                          (None, "")])
def test_mask_id_hides_short_or_empty_numbers_entirely(value, shown):
    assert mask_id(value) == shown


def test_mask_phone_hides_the_middle_of_a_mobile_number():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(" 13812345678 ") == "138****5678"


@pytest.mark.parametrize("value, shown", [
    ("12345", "*****"),
    ("8234567", "*******"),             # a 7-digit landline was shown whole
    ("82345678", "****5678"),           # an 8-digit landline: only the last four
    ("0579-82345678", "057******5678"),
])
def test_mask_phone_hides_at_least_half_of_a_short_or_landline_number(value, shown):
    assert mask_phone(value) == shown


def test_mask_phone_of_nothing_is_empty():
    assert mask_phone(None) == "" and mask_phone("") == ""


# --- worklist -------------------------------------------------------------------------
@pytest.mark.parametrize("deadline, on, left", [
    ("2026-03-01", dt.date(2026, 2, 28), 1),          # end of a common February
    ("2028-03-01", dt.date(2028, 2, 28), 2),          # leap year
    ("2027-01-01", dt.date(2026, 12, 31), 1),         # end of a year
    ("2026-05-01", dt.date(2026, 4, 30), 1),
    ("2026-04-30", dt.date(2026, 5, 2), -2),          # past: negative
    ("2026-04-30T18:00:00+08:00", dt.date(2026, 4, 30), 0),
])
def test_days_left_counts_calendar_days_across_month_ends(deadline, on, left):
    assert days_left(deadline, on) == left


@pytest.mark.parametrize("bad", ["2026-02-30", "soon", "", None])
def test_days_left_of_a_bad_or_missing_date_is_none(bad):
    assert days_left(bad, dt.date(2026, 2, 1)) is None


def test_overdue_days_counts_only_past_due():
    on = dt.date(2026, 3, 2)
    assert overdue_days("2026-02-27", on) == 3
    assert overdue_days("2026-03-02", on) == 0
    assert overdue_days("2026-03-09", on) == 0
    assert overdue_days(None, on) == 0 and overdue_days("bad", on) == 0


def test_split_parties_accepts_any_mix_of_separators():
    text = "张三、李四，王五; 赵六；钱七\n孙八, 周九,, "
    assert split_parties(text) == ["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九"]


def test_split_parties_of_blank_text_is_empty():
    assert split_parties("  、 ，") == []


# --- the words on screen --------------------------------------------------------------
def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_string_has_chinese_and_english_words():
    empty = [k for k, (zh, en) in i18n.STRINGS.items() if not zh.strip() or not en.strip()]
    assert empty == []


def test_every_string_has_the_same_placeholders_in_chinese_and_english():
    differ = {k: (_placeholders(zh), _placeholders(en)) for k, (zh, en) in i18n.STRINGS.items()
              if _placeholders(zh) != _placeholders(en)}
    assert differ == {}


def test_every_string_with_placeholders_formats_in_both_languages():
    # the office's and the roster screen's words join the table when imported: checked
    # only after some other test had imported them, "{m:02d}" passed two whole runs
    from fieldapp.office import roster, words  # noqa: F401
    for key, (zh, _) in i18n.STRINGS.items():
        kw = {name: "7" for name in _placeholders(zh)}
        for lang in ("zh", "en"):
            text = i18n.t(key, lang, **kw)
            assert "{" not in text, (key, lang, text)


# --- workspace and reads over a real device replica --------------------------------
def add_household(replica, rid, **fields) -> str:
    base = {"grid_id": "g1", "head_name": "李四", "address": "白鹤村1组1号"}
    replica.create("household", {**base, **fields}, "office", record_id=rid)
    return rid


def add_case(replica, rid, **fields) -> str:
    base = {"grid_id": "g1", "kind": "dispute", "channel": "visit", "category": "02",
            "description": "邻里纠纷", "status": "assigned", "reported_by": "office",
            "reported_at": "2026-03-01T09:00:00+08:00"}
    replica.create("case", {**base, **fields}, "office", record_id=rid)
    return rid


def pull_edit(replica, entity, rid, fields, author="office"):
    """Another person's edit arriving with a sync, built on what this phone holds."""
    versions = replica.versions(entity, rid)
    base = {name: merge.heads(versions, name)[:1] for name in fields if merge.heads(versions, name)}
    stamp = clock.encode(replica.clock.last_ms + 1000, 0, "server")
    ch = changes.make(entity, rid, fields, stamp, "server", author, base)
    replica.apply_pulled([ch], cursor="1")


def test_record_visit_stores_gps_fields_and_far_flag_and_fills_grid(ws, replica):
    hid = add_household(replica, "h1", lat=HOME[0], lon=HOME[1])
    loc = visit_location_fields(Fix(*point(400), accuracy_m=12.3), ws.household(hid), far_m=300)
    vid = ws.record_visit({"household_id": hid, "seen": "家中两位老人", **loc})
    [visit] = ws.household_visits(hid)
    assert visit["id"] == vid
    assert visit["grid_id"] == "g1" and visit["visitor"] == "w1" and visit["kind"] == "household"
    assert visit["far_from_home"] is True and visit["distance_m"] == pytest.approx(400, abs=1)
    assert visit["accuracy_m"] == 12.3 and visit["location_source"] == "gps"
    assert visit["mocked"] is False
    assert (visit["lat"], visit["lon"]) == (loc["lat"], loc["lon"])
    # the household's create, the visit and the household's next due date wait to be pushed
    assert ws.pending_count() == 3
    assert ws.household(hid)["next_visit_due"] > visit["visited_at"][:10]


def test_record_visit_adds_newly_found_needs_to_household_tags(ws, replica):
    hid = add_household(replica, "h1", tags=["elderly_alone"])
    ws.record_visit({"household_id": hid, "needs_found": ["dibao", "elderly_alone"]})
    assert ws.household(hid)["tags"] == ["dibao", "elderly_alone"]
    assert [h["id"] for h in ws.search_households(need="dibao")] == [hid]


def test_record_visit_leaves_out_unanswered_fields(ws, replica):
    hid = add_household(replica, "h1")
    ws.record_visit({"household_id": hid, "seen": "", "requests": None, "needs_found": [], "cards": 2})
    [visit] = ws.household_visits(hid)
    assert visit["seen"] is None and visit["requests"] is None and visit["needs_found"] is None
    assert visit["cards"] == 2
    assert ws.household(hid)["tags"] is None


def test_report_case_creates_a_reported_grid_case_by_the_worker(ws):
    cid = ws.report_case({"grid_id": "g1", "category": "09", "description": "养殖污染",
                          "parties": split_parties("张三、李四")})
    case = ws.case(cid)
    assert case["status"] == "reported" and case["channel"] == "grid"
    assert case["reported_by"] == "w1" and case["kind"] == "dispute"
    assert case["parties"] == ["张三", "李四"]
    assert [c["id"] for c in ws.cases(reported_by="w1")] == [cid]
    assert [x["type"] for x in ws.timeline(cid)] == ["report"]


@pytest.fixture
def village(replica):
    add_household(replica, "h-wang", head_name="王建国", address="白鹤村3组12号",
                  phone="13812345678", tags=["dibao"])
    add_household(replica, "h-li", head_name="李秀英", address="青山村1组5号",
                  phone="13900001111", members=[{"name": "李小明", "relation": "子"}])
    add_household(replica, "h-pct", head_name="赵六", address="新村50%安置房2号")
    add_household(replica, "h-us", head_name="钱七", address="新村A_1栋")
    return replica


def ids(rows):
    return sorted(r["id"] for r in rows)


@pytest.mark.parametrize("text, found", [
    ("建国", ["h-wang"]),          # a name fragment
    ("白鹤村", ["h-wang"]),        # address
    ("1381234", ["h-wang"]),       # phone
    ("小明", ["h-li"]),            # a member's name
    ("新村", ["h-pct", "h-us"]),
    ("不存在", []),
])
def test_search_households_finds_by_name_address_phone_or_member(ws, village, text, found):
    assert ids(ws.search_households(text)) == found


def test_search_households_by_need(ws, village):
    assert ids(ws.search_households(need="dibao")) == ["h-wang"]
    assert ids(ws.search_households("青山", need="dibao")) == []


@pytest.mark.parametrize("text, found", [("%", ["h-pct"]), ("_", ["h-us"]), ("50%", ["h-pct"]),
                                         ("A_1", ["h-us"]), ("\\", [])])
def test_search_takes_percent_and_underscore_literally(ws, village, text, found):
    assert ids(ws.search_households(text)) == found


def test_search_households_pages_in_address_order(ws, village):
    first = ws.search_households(limit=2)
    rest = ws.search_households(limit=2, offset=2)
    assert [h["address"] for h in first + rest] == sorted(h["address"] for h in first + rest)
    assert len({h["id"] for h in first + rest}) == 4


def test_nearest_households_are_ordered_by_true_distance(ws, replica):
    # 0.0043° of longitude here is ~418 m, 0.0040° of latitude ~443 m: comparing raw
    # degrees would put the northern household first.
    add_household(replica, "north", lat=HOME[0] + 0.0040, lon=HOME[1])
    add_household(replica, "east", lat=HOME[0], lon=HOME[1] + 0.0043)
    add_household(replica, "far", lat=HOME[0] - 0.02, lon=HOME[1])
    add_household(replica, "near", lat=HOME[0] + 0.0001, lon=HOME[1] - 0.0001)
    add_household(replica, "nowhere")  # no registered location: never listed
    got = ws.nearest_households(*HOME, 10)
    assert [h["id"] for _, h in got] == ["near", "east", "north", "far"]
    for d, h in got:
        assert d == pytest.approx(geodesic(HOME, (h["lat"], h["lon"])).meters, abs=0.01)
    assert [h["id"] for _, h in ws.nearest_households(*HOME, 2)] == ["near", "east"]


def test_due_households_lists_most_overdue_first_and_excludes_future(ws, replica):
    add_household(replica, "late3", next_visit_due="2026-02-27")
    add_household(replica, "late10", next_visit_due="2026-02-20")
    add_household(replica, "today", next_visit_due="2026-03-02")
    add_household(replica, "future", next_visit_due="2026-03-03")
    add_household(replica, "never")
    due = ws.due_households(dt.date(2026, 3, 2))
    assert [h["id"] for h in due] == ["late10", "late3", "today"]
    assert [overdue_days(h["next_visit_due"], dt.date(2026, 3, 2)) for h in due] == [10, 3, 0]


def test_today_lists_due_households_for_a_worker_and_none_for_a_leader(replica):
    add_household(replica, "late", next_visit_due="2026-02-27")
    assert [h["id"] for h in today(DeviceWorkspace(replica, WORKER), dt.date(2026, 3, 2)).due] == ["late"]
    leader_day = today(DeviceWorkspace(replica, LEADER), dt.date(2026, 3, 2))
    assert leader_day.due == [] and leader_day.problems == 0


def panel_texts(ctx, control=None) -> list[str]:
    """Every text of a screen as built (the Today panel unless told), walked without a browser."""
    import dataclasses

    import flet as ft

    from fieldapp.screens.today import today_panel
    texts = []

    def walk(c):
        if isinstance(c, ft.Text):
            texts.append(c.value)
        for f in dataclasses.fields(c):
            v = getattr(c, f.name, None)
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, ft.Control):
                    walk(x)
    walk(control or today_panel(ctx))
    return texts


def test_a_leaders_today_lists_the_twenty_most_pressing_and_says_how_many_more(replica):
    """372 overdue matters filled 今日 and pushed 有更新 and 同步问题 out of reach (helper AA)."""
    on = dt.date(2026, 3, 2)
    for i in range(25):
        add_case(replica, f"late-{i:02d}", owner="l1", deadline=(on - dt.timedelta(days=30 - i)).isoformat(),
                 title=f"逾期事项{i:02d}")
    ws = DeviceWorkspace(replica, LEADER)
    for i in range(25):
        ws.mark_seen(f"late-{i:02d}")   # read already: not listed again under 有更新
    work = today(ws, on)
    assert len(work.owned_due) == 25 and work.owned_more == 5 and work.changed == []
    assert [c["id"] for c in work.owned_shown] == [f"late-{i:02d}" for i in range(20)]   # the latest first
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"))
    texts = panel_texts(ctx)
    assert "临近期限的包案事项 (25)" in texts and "另有5件，可在“我的包案”中查看" in texts
    shown = {t for t in texts if t.startswith("逾期事项")}
    assert shown == {f"逾期事项{i:02d}" for i in range(20)}


def test_today_lists_a_leaders_matters_due_within_a_week_the_most_pressing_first(replica):
    """A leader's 今日 said nothing on the day a matter's time limit ran out."""
    on = dt.date(2026, 3, 2)
    add_case(replica, "late", owner="l1", deadline="2026-02-27", ref="金山-2026-0001")
    add_case(replica, "today", owner="l1", deadline="2026-03-02")
    add_case(replica, "week", owner="l1", deadline="2026-03-09")
    add_case(replica, "later", owner="l1", deadline="2099-03-10")
    add_case(replica, "done", owner="l1", deadline="2026-02-20", status="resolved", outcome="mediation")
    add_case(replica, "others", owner="l2", deadline="2026-03-01")
    ws = DeviceWorkspace(replica, LEADER)
    assert [c["id"] for c in today(ws, on).owned_due] == ["late", "today", "week"]
    assert today(DeviceWorkspace(replica, WORKER), on).owned_due == []
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"))
    assert "临近期限的包案事项 (3)" in panel_texts(ctx)


def test_a_case_that_left_the_phone_is_told_on_today_until_read(replica):
    """A matter given to another leader, with nothing unsent on it, vanished from the
    phone without a word: 今日 names it (reference, day; nothing of its parties) until
    the person taps 知道了."""
    add_case(replica, "given", owner="l1", ref="金山-2026-0007", parties=["赵师傅"])
    replica.acknowledge(list(replica.outbox_ids()))     # sent: nothing unsent holds it
    replica.apply_pulled([], "5.x", exits=["given"])
    assert replica.get("case", "given") is None
    ws = DeviceWorkspace(replica, LEADER)
    left = today(ws).left
    assert [(c["ref"], c["reported_on"]) for c in left] == [("金山-2026-0007", "2026-03-01")]
    assert "赵师傅" not in str(left)
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"))
    texts = panel_texts(ctx)
    # its kind beside its number: a leader knew it as a 邻里纠纷, not as 0007
    kind = i18n.code(codes.CATEGORIES, "02", "zh")
    assert "已离开本机的事项 (1)" in texts and f"金山-2026-0007 {kind} · 2026-03-01上报" in texts
    ws.forget_left_cases()
    assert today(ws).left == [] and "已离开本机的事项 (1)" not in panel_texts(ctx)


def test_a_record_refused_in_a_grid_the_worker_no_longer_holds_says_so(replica):
    """The office moved the worker to another grid before their new household went: the
    refusal said only "超出账号w1的权限范围", and they looked for a fault in what they typed."""
    from fieldapp.screens.me import refused_reasons
    replica.create("grid", {"name": "白鹤村第2网格", "village": "白鹤村", "township": "金山镇"}, "office",
                   record_id="g2")
    ws = DeviceWorkspace(replica, WORKER)          # holds g1 only
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw))
    err = [{"field": "record", "rule": "forbidden", "message": "is outside what account w1 may change"}]
    for grid, address in (("g2", "二组"), ("g1", "一组")):
        replica.create("household", {"grid_id": grid, "head_name": "李四", "address": address}, "w1")
        replica.quarantine(replica.pending()[-1][0], "refused", err)
    moved, mine = ws.quarantined()
    said = refused_reasons(ctx, moved)
    # and, a new household being correctable, where to mend it: 更正 offers the person's grids
    assert "“白鹤村第2网格”已不在您负责的网格内" in said and "可点“更正”改选网格" in said
    assert "已不在您负责的网格内" not in refused_reasons(ctx, mine)


def test_a_handed_over_case_does_not_read_as_the_leaders_own_or_as_resolved(replica):
    """Resolved offline, then given to another leader: kept for the refused resolution,
    the page showed the leader themself as 包案领导 and their own 已办结, outcome and
    method, under a banner saying the matter was no longer theirs."""
    import flet as ft

    from fieldapp.screens.case_detail import case_rows
    from fieldapp.screens.widgets import case_tile
    add_case(replica, "held", owner="l1", status="resolved", outcome="mediation", method="本人现场调解",
             resolved_on="2026-03-01")
    replica.conn.execute("INSERT INTO held_exits VALUES ('held')")
    ws = DeviceWorkspace(replica, LEADER)
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"))
    names = {"l1": "李镇长"}
    texts = panel_texts(ctx, ft.Column(case_rows(ctx, ws.case("held"), names, handed_over=True)))
    assert "李镇长" not in texts and "已移交他人" in texts
    assert "本人现场调解" not in texts and "调解" not in " ".join(texts)
    tile = panel_texts(ctx, case_tile(ctx, ws.case("held"), lambda cid: None, names))
    assert not any("李镇长" in t for t in tile) and any("已移交他人" in t for t in tile)
    # a case of theirs reads as it is
    assert "李镇长" in panel_texts(ctx, ft.Column(case_rows(ctx, ws.case("held"), names)))


def test_today_counts_every_household_due_though_it_lists_the_first(replica):
    """The header of 今日 said 待走访住户 (200) when 5,011 were due: the list stops, the
    count does not, and the list says how many more there are."""
    with replica.transaction():
        for n in range(250):
            add_household(replica, f"due{n:03d}", next_visit_due="2026-02-27")
    add_household(replica, "later", next_visit_due="2099-03-09")   # not due on either day
    ws = DeviceWorkspace(replica, WORKER)
    day = today(ws, dt.date(2026, 3, 2))
    assert day.due_total == 250 and len(day.due) >= 100
    # the panel as the phone builds it, on today's date (the households are all overdue)
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw))
    texts = panel_texts(ctx)
    assert "待走访住户 (250)" in texts and "另有150户待走访，可在“住户”中查找" in texts


def test_todays_work_and_deadlines_count_from_the_township_day_not_the_phones_date(tmp_path):
    from types import SimpleNamespace

    from fieldapp.screens.today import today_panel
    from fieldapp.screens.widgets import deadline_text
    township = int(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp() * 1000)
    wall, boot = [township], [50_000]
    replica = DeviceReplica(str(tmp_path / "p.db"), now=lambda: wall[0], boot=lambda: boot[0])
    replica.learn_server_time(township)        # the last sync
    add_household(replica, "due-today", next_visit_due="2026-03-02")
    wall[0] -= 10 * 86_400_000                 # the phone's date set ten days back; the same boot
    boot[0] += 60_000
    ws = DeviceWorkspace(replica, WORKER)
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw))
    assert [h["id"] for h in today(ws).due] == ["due-today"]
    assert deadline_text(ctx, "2026-03-02")[0] == i18n.t("due_today", "zh")
    assert deadline_text(ctx, "2026-03-01")[0] == i18n.t("overdue", "zh", n=1)
    assert today_panel(ctx) is not None


def test_leaders_cases_are_ordered_by_deadline_with_undated_last(replica):
    add_case(replica, "c-none", owner="l1")
    add_case(replica, "c-may", owner="l1", deadline="2026-05-01")
    add_case(replica, "c-mar", owner="l1", deadline="2026-03-15")
    add_case(replica, "c-other", owner="l2", deadline="2026-01-01")
    ws = DeviceWorkspace(replica, LEADER)
    assert [c["id"] for c in ws.cases(owner="l1")] == ["c-mar", "c-may", "c-none"]


def test_case_list_is_newest_first(ws, replica):
    add_case(replica, "c-old", reported_at="2026-03-01T09:00:00+08:00")
    add_case(replica, "c-new", reported_at="2026-03-05T09:00:00+08:00")
    add_case(replica, "c-done", reported_at="2026-03-03T09:00:00+08:00", status="resolved")
    assert [c["id"] for c in ws.cases()] == ["c-new", "c-done", "c-old"]
    assert [c["id"] for c in ws.cases(open_only=True)] == ["c-new", "c-old"]


def test_timeline_merges_report_events_visits_and_callbacks_oldest_first_across_zones(replica):
    cid = add_case(replica, "c1", owner="l1", reported_at="2026-03-01T09:00:00+08:00")
    # written in UTC: 10:30 and 11:00 in China, after the 10:00 visit below
    replica.create("case_event", {"case_id": cid, "kind": "progress", "at": "2026-03-01T02:30:00+00:00",
                                  "by": "l1", "text": "约谈双方"}, "l1", record_id="e1")
    replica.create("callback", {"case_id": cid, "at": "2026-03-01T03:00:00Z", "by": "office",
                                "method": "phone", "answer": "satisfied"}, "office", record_id="cb1")
    ws = DeviceWorkspace(replica, LEADER)
    ws.record_visit({"case_id": cid, "kind": "home", "visited_at": "2026-03-01T10:00:00+08:00",
                     "seen": "上门了解情况", "requests": "要求赔偿"})
    items = ws.timeline(cid)
    assert [x["type"] for x in items] == ["report", "visit", "event", "callback"]
    assert items[1]["text"] == "上门了解情况\n要求赔偿" and items[1]["by"] == "l1"
    assert items[2]["text"] == "约谈双方" and items[3]["kind"] == "satisfied"
    assert replica.get("visit", items[1]["id"])["grid_id"] == "g1"  # taken from the case


def test_progress_and_resolution_move_an_assigned_case_on(replica):
    cid = add_case(replica, "c1", owner="l1", status="assigned")
    ws = DeviceWorkspace(replica, LEADER)
    ws.add_progress(cid, "已协调村委")
    assert ws.case(cid)["status"] == "in_progress"
    ws.resolve_case(cid, "mediation", "签订调解协议")
    case = ws.case(cid)
    assert (case["status"], case["outcome"], case["method"]) == ("resolved", "mediation", "签订调解协议")
    # both written within the same second: the clock stamps keep the order they were made in
    items = ws.timeline(cid)
    assert [(x["type"], x["kind"], x["text"]) for x in items[1:]] == [
        ("event", "progress", "已协调村委"), ("event", "resolution", "签订调解协议")]


def test_a_visit_on_or_after_the_due_date_takes_the_household_off_the_due_list(ws, replica):
    add_household(replica, "late", next_visit_due="2026-02-20")
    add_household(replica, "old_visit", next_visit_due="2026-02-20")
    ws.record_visit({"household_id": "late", "visited_at": "2026-02-25T10:00:00+08:00", "seen": "在家"})
    ws.record_visit({"household_id": "old_visit", "visited_at": "2026-01-05T10:00:00+08:00", "seen": "在家"})
    # each visit sets the next one at its day + the frequency (no need recorded: 90 days)
    assert ws.household("late")["next_visit_due"] == "2026-05-26"
    assert ws.household("old_visit")["next_visit_due"] == "2026-04-05"
    assert ws.due_households(dt.date(2026, 3, 2)) == []
    assert [h["id"] for h in ws.due_households(dt.date(2026, 4, 5))] == ["old_visit"]


def test_changed_cases_shows_a_case_another_person_changed_after_mark_seen(ws, replica):
    cid = ws.report_case({"grid_id": "g1", "category": "02", "description": "邻里纠纷"})
    ws.mark_seen(cid)
    assert ws.changed_cases() == []
    pull_edit(replica, "case", cid, {"status": "accepted"})
    assert [c["id"] for c in ws.changed_cases()] == [cid]
    ws.mark_seen(cid)
    assert ws.changed_cases() == []


def test_changed_cases_ignores_a_case_only_i_changed(ws, replica):
    cid = ws.report_case({"grid_id": "g1", "category": "02", "description": "邻里纠纷"})
    ws.mark_seen(cid)
    ws.update("case", cid, {"description": "邻里纠纷，已初步调解"})
    ws.add_progress(cid, "再次上门")
    assert ws.changed_cases() == []


def test_changed_cases_shows_an_owned_case_to_its_leader(replica):
    cid = add_case(replica, "c1", owner="l1")
    ws = DeviceWorkspace(replica, LEADER)
    ws.mark_seen(cid)
    pull_edit(replica, "case", cid, {"deadline": "2026-04-01"})
    assert [c["id"] for c in ws.changed_cases()] == [cid]


def test_a_leaders_first_sync_is_where_today_starts_from_and_what_the_office_changes_after_is_listed(replica):
    """Right after a sign-in the first sync brought every matter of the leader's, and 今日
    listed each one under 有更新, as if the office had just changed them all."""
    replica.start_seen_afresh()   # signed in on a phone holding nothing of what they had read
    for i in range(12):
        add_case(replica, f"m{i:02d}", owner="l1", title=f"包案事项{i:02d}")
        if i == 3:
            pull_edit(replica, "case", "m00", {"status": "in_progress"})   # changed before they ever looked
    ws = DeviceWorkspace(replica, LEADER)
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"))
    assert "我关注的案件有更新 (0)" in panel_texts(ctx)   # the first sync is still coming in
    assert replica.take_starting_point("l1", "leader") == 12   # ... and now through
    texts = panel_texts(ctx)
    assert "我关注的案件有更新 (0)" in texts and "没有新的案件变化。" in texts
    assert not any(t.startswith("包案事项") for t in texts if t)

    pull_edit(replica, "case", "m05", {"status": "in_progress"})   # the office moves one on
    add_case(replica, "new", owner="l1", title="新交办的事项")       # ... and gives them another
    assert sorted(c["id"] for c in today(ws).changed) == ["m05", "new"]
    texts = panel_texts(ctx)
    assert "我关注的案件有更新 (2)" in texts and {"包案事项05", "新交办的事项"} <= set(texts)
    ws.mark_seen("m05")   # opened: it leaves the list
    assert [c["id"] for c in today(ws).changed] == ["new"]


# --- the background sync --------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sync_against_a_closed_port_reports_offline_and_keeps_pending(replica):
    replica.set_meta("token", "t-1")
    add_household(replica, "h1")
    runner = SyncRunner(lambda: SyncClient(replica, f"http://127.0.0.1:{closed_port()}",
                                           retries=0, timeout_s=2))
    seen = []
    runner.subscribe(seen.append)
    ok = asyncio.run(runner.sync_once())
    assert ok is False
    assert runner.status.state == "offline"
    assert runner.status.pending == 1 and runner.status.progress is None
    assert "reach" in runner.status.detail
    assert [s.state for s in seen][0] == "syncing"
    assert replica.pending_count() == 1


def test_sync_without_a_token_reports_signed_out(replica):
    runner = SyncRunner(lambda: SyncClient(replica, f"http://127.0.0.1:{closed_port()}", retries=0))
    assert asyncio.run(runner.sync_once()) is True
    assert runner.status.state == "signed_out"


@pytest.mark.parametrize("exc, state", [
    (Unreachable("no answer"), "offline"),
    (ServerTrouble("the server's disk is full", 503, "disk_full"), "server_full"),
    (ServerTrouble("the server failed with HTTP 500", 500), "server_trouble"),
    (AuthRequired("token revoked", 401), "signed_out"),
    (ProtocolMismatch("update the app", 426), "outdated"),
    (Refused("too large", 413), "error"),
    (SyncError("something else"), "error"),
])
def test_error_state_maps_each_sync_error_to_a_screen_state(exc, state):
    assert error_state(exc) == state


# --- issue "The office as a clerk finds it" -------------------------------------------
# (what these tests use that the code before the issue lacked is imported in each test,
# so each fails on that code by itself)
from types import SimpleNamespace  # noqa: E402

from sync.device import ValidationError  # noqa: E402


# 1. an empty household visit is refused, on the form's first field, and nothing is queued
@pytest.mark.parametrize("content", [{}, {"seen": "   ", "requests": ""}, {"needs_found": []}, {"cards": 0}])
def test_a_household_visit_with_nothing_recorded_is_refused_and_nothing_is_queued(ws, replica, content):
    hid = add_household(replica, "h1")
    before = ws.pending_count()
    with pytest.raises(ValidationError) as got:
        ws.record_visit({"household_id": hid, **content})
    [err] = got.value.errors
    assert (err.field, err.rule) == ("seen", "empty_visit")
    assert "走访记录不能为空" in err.message("zh") and "household visit" in err.message("en")
    with pytest.raises(ValidationError):  # the workspace's own write path refuses it too
        ws.create("visit", {"grid_id": "g1", "household_id": hid, "kind": "household",
                            "visited_at": "2026-03-01T10:00:00+08:00", "visitor": "w1", "lat": 29.07, "lon": 119.65})
    assert ws.pending_count() == before and ws.household_visits(hid) == []


@pytest.mark.parametrize("content", [{"seen": "屋顶漏雨"}, {"requests": "申请补助"}, {"needs_found": ["dibao"]},
                                     {"cards": 1}])
def test_a_household_visit_with_any_one_thing_recorded_is_saved(ws, replica, content):
    hid = add_household(replica, "h1")
    ws.record_visit({"household_id": hid, **content})
    assert len(ws.household_visits(hid)) == 1


def test_a_leaders_empty_home_visit_is_refused_and_one_with_anything_recorded_is_saved(replica):
    """An empty 下访 was saved, reached the server, counted among the leader's home visits
    and stood in the timeline as "下访 · 李振华" with nothing under it (helper BC)."""
    cid = add_case(replica, "c1", owner="l1")
    leader = DeviceWorkspace(replica, LEADER)
    for empty in ({}, {"seen": "  ", "requests": ""}):
        with pytest.raises(ValidationError) as got:
            leader.record_visit({"case_id": cid, "kind": "home", **empty})
        [err] = got.value.errors
        assert (err.field, err.rule) == ("seen", "empty_home_visit") and "下访记录不能为空" in err.message("zh")
    assert queries_visits(replica, cid) == []
    leader.record_visit({"case_id": cid, "kind": "home", "requests": "要求三日内答复"})
    assert [v["kind"] for v in queries_visits(replica, cid)] == ["home"]


def queries_visits(replica, cid):
    from sync import queries
    return queries.visits(replica, case_id=cid)


def test_the_visit_forms_card_count_takes_whole_numbers_0_to_1000():
    from fieldapp.screens.visit_form import parse_cards
    assert parse_cards("") == (None, True) and parse_cards(" 3 ") == (3, True)
    assert parse_cards("1000") == (1000, True)
    assert parse_cards("-1")[1] is False and parse_cards("1001")[1] is False and parse_cards("两")[1] is False


# 2. addresses in natural order
def test_natural_key_orders_numbers_by_value_whatever_their_width():
    from sync.replica import natural_key
    addrs = ["白鹤村10组1号", "白鹤村1组12号", "白鹤村1组3号", "白鹤村2组5号", "白鹤村１组２号", "白鹤村01组04号"]
    assert sorted(addrs, key=natural_key) == ["白鹤村１组２号", "白鹤村1组3号", "白鹤村01组04号", "白鹤村1组12号",
                                               "白鹤村2组5号", "白鹤村10组1号"]
    assert natural_key(None) is None and natural_key("新村A栋") == "新村A栋"


def test_households_are_listed_and_paged_in_natural_address_order(ws, replica):
    for i, addr in enumerate(["白鹤村10组1号", "白鹤村1组12号", "白鹤村2组5号", "白鹤村1组3号", "白鹤村9组20号"]):
        add_household(replica, f"h{i}", address=addr)
    first, rest = ws.search_households(limit=2), ws.search_households(limit=10, offset=2)
    assert [h["address"] for h in first + rest] == ["白鹤村1组3号", "白鹤村1组12号", "白鹤村2组5号",
                                                     "白鹤村9组20号", "白鹤村10组1号"]
    assert "_address_key" not in first[0] and "_address_key" not in ws.household("h0")
    assert [h["address"] for h in ws.search_households("白鹤村1")] == ["白鹤村1组3号", "白鹤村1组12号",
                                                                       "白鹤村10组1号"]
    replica.update("household", "h1", {"address": "白鹤村1组2号"}, "w1")  # an edit moves it
    assert ws.search_households(limit=1)[0]["id"] == "h1"


def test_a_replica_from_before_the_sort_key_gets_its_keys_when_opened(tmp_path):
    path = str(tmp_path / "old.db")
    r = DeviceReplica(path, device_id="dold")
    add_household(r, "a", address="村10组")
    add_household(r, "b", address="村9组")
    r.conn.execute("UPDATE households SET _address_key=NULL")
    r.close()
    r = DeviceReplica(path)
    assert [h["id"] for h in DeviceWorkspace(r, WORKER).search_households()] == ["b", "a"]
    r.close()


# 3. the case page: plan, urgency, signals, departments, which deadline, review stage
class FakeCtx:
    lang = "zh"

    class ws:   # the phone's idea of the township's time: here, the machine's
        @staticmethod
        def now():
            return dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))

    def t(self, key, **kw):
        return i18n.t(key, self.lang, **kw)

    def code(self, table, value):
        return i18n.code(table, value, self.lang)


def texts(controls) -> list[str]:
    out = []
    for c in controls:
        if getattr(c, "value", None) and isinstance(c.value, str):
            out.append(c.value)
        out += texts(getattr(c, "controls", None) or [])
        if getattr(c, "content", None) is not None and not isinstance(c.content, str):
            out += texts([c.content])   # a row held in its own accessibility node (widgets._row)
    return out


def test_the_case_page_shows_plan_urgency_signals_the_limit_and_the_review_stage_in_words():
    from fieldapp.screens.case_detail import case_rows
    case = {"id": "c1", "ref": "金山-2026-0007", "category": "10", "channel": "handed_down", "status": "in_progress",
            "urgency": "urgent", "signals": ["group", "repeated"], "plan": "先行垫付一半工资，余款一月内付清",
            "departments": ["人社所", "司法所"], "owner": "l1", "reported_by": "office1", "reception_leader": "l1",
            "reported_at": "2026-03-01T09:00:00+08:00", "accepted_on": "2026-03-02", "higher_deadline": "2026-03-20",
            "deadline": "2026-03-20", "description": "拖欠工资", "review_requested_on": "2026-04-01",
            "review_due": "2026-05-01"}
    shown = "\n".join(texts(case_rows(FakeCtx(), case, {"l1": "李振华", "office1": "镇信访办"})))
    for words in ("化解方案", "先行垫付一半工资", "紧急程度", "紧急", "升级信号", "集体访（5人以上）", "重复访",
                  "人社所、司法所", "2026-03-20", "上级要求", "已申请复查，答复期限 2026-05-01", "李振华", "镇信访办",
                  "上级交办", "劳动争议"):
        assert words in shown, words
    for raw in ("urgent", "group", "repeated", "handed_down", "l1", "office1", "in_progress"):
        assert raw not in shown, raw   # codes by their labels, accounts by names
    statutory = dict(case, higher_deadline=None, deadline="2026-05-01")
    shown = "\n".join(texts(case_rows(FakeCtx(), statutory, {})))
    assert "法定期限" in shown and "上级要求" not in shown


def test_the_case_page_says_which_deadline_applies_in_english_too():
    from fieldapp.screens.case_detail import deadline_words, stage_words
    ctx = FakeCtx()
    ctx.lang = "en"
    case = {"status": "accepted", "accepted_on": "2026-03-02", "higher_deadline": "2026-03-20", "deadline": "2026-03-20"}
    assert deadline_words(ctx, case).endswith("higher body's deadline")
    assert stage_words(ctx, {"recheck_answered_on": "2026-06-01"}).startswith("Re-review answered")
    assert stage_words(ctx, {}) == ""


# 4. a fix is fresh, or it is not used
def test_a_fix_over_a_minute_old_or_far_from_where_the_phone_is_is_stale():
    from fieldapp.geo import MAX_FIX_AGE_S, fix_age_s, stale_reason
    now = 1_800_000_000_000
    fresh = Fix(*HOME, accuracy_m=9, taken_ms=now - 5_000)
    assert stale_reason(fresh, now) is None and fix_age_s(fresh, now) == 5
    assert stale_reason(Fix(*HOME, taken_ms=now - int(MAX_FIX_AGE_S * 1000) - 1), now) == "old"
    assert stale_reason(Fix(*HOME), now) == "old"  # when it was taken is unknown
    here = Fix(*point(2000), accuracy_m=15, taken_ms=now)
    assert stale_reason(fresh, now, here=here) == "moved"
    assert stale_reason(fresh, now, here=Fix(*point(50), accuracy_m=10, taken_ms=now)) is None
    assert stale_reason(Fix(*HOME, source="manual"), now) is None  # typed: the person's word


def test_a_positions_time_is_read_with_its_zone_and_a_zoneless_one_as_local():
    from fieldapp.geo import position_time_ms
    received = 1_800_000_000_000
    aware = dt.datetime.fromtimestamp((received - 90_000) / 1000, dt.timezone.utc)
    assert position_time_ms(aware, received) == received - 90_000
    naive = dt.datetime.fromtimestamp((received - 3_000) / 1000)  # the phone's local time
    assert position_time_ms(naive, received) == received - 3_000
    hours_off = dt.datetime.fromtimestamp((received - 5 * 3_600_000) / 1000)
    assert position_time_ms(hours_off, received) == received  # another zone: the arrival
    assert position_time_ms(None, received) == received


# 5. discarding or correcting a refused change, on a real device replica
def server_change(entity, record, fields, n=0, base=None, author="office"):
    return changes.make(entity, record, fields, clock.encode(1_790_000_000_000 + n, 0, "server"), "server",
                        author, base)


CASE = {"grid_id": "g1", "kind": "dispute", "channel": "grid", "category": "02", "description": "邻里纠纷",
        "status": "reported", "reported_by": "w1", "reported_at": "2026-03-01T09:00:00+08:00"}


@pytest.fixture
def accepted_case(replica):
    """A report the server accepted (and numbered), then an edit by the office, pulled."""
    first = server_change("case", "c1", CASE, author="w1")
    replica.apply_pulled([first], cursor="1", refs={"c1": "金山-2026-0001"})
    edit = server_change("case", "c1", {"risk": "orange"}, 1, base={})
    replica.apply_pulled([edit], cursor="2")
    return [first, edit]


def reference_rows(tmp_path, accepted, ref=None):
    """The rows a phone holds that pulled only what the server accepted."""
    other = DeviceReplica(str(tmp_path / "reference.db"), device_id="dref")
    other.apply_pulled(accepted, cursor="1", refs={"c1": ref} if ref else None)
    rows = other.table_rows("case")
    other.close()
    return rows


def test_discarding_a_refused_edit_returns_the_record_to_its_accepted_state_and_drops_what_was_held(
        ws, replica, accepted_case, tmp_path):
    ws.update("case", "c1", {"description": "邻里纠纷，已调解"})
    ws.update("case", "c1", {"place": "白鹤村3组"})
    refused, held = [cid for cid, _ in replica.pending()]
    replica.quarantine(refused, "description: refused", [{"field": "description", "rule": "state", "message": "x"}])
    assert replica.hold_behind_refused() == 1
    plan = ws.discard_plan(refused)
    assert plan["later"] == [held] and not plan["gone"] and plan["dependents"] == []
    ws.discard(refused)
    assert [d["change_id"] for d in replica.pending_discards()] == [refused]
    assert ws.case("c1")["description"] == "邻里纠纷，已调解"  # until the server answers: as it was
    done = replica.apply_discard(refused, accepted_case, "金山-2026-0001")
    assert set(done["dropped"]) == {refused, held}
    assert replica.table_rows("case") == reference_rows(tmp_path, accepted_case, "金山-2026-0001")
    assert ws.quarantined() == [] and replica.pending_count() == 0
    assert replica.outbox_ids().isdisjoint({refused, held})
    seen = {r[0] for r in replica.conn.execute("SELECT change_id FROM seen")}
    assert {c["id"] for c in accepted_case} <= seen and not seen & {refused, held}
    # a later pull of the same changes changes nothing
    replica.apply_pulled(accepted_case, cursor="3")
    assert replica.table_rows("case") == reference_rows(tmp_path, accepted_case, "金山-2026-0001")


def test_a_discard_keeps_the_unsent_changes_made_before_the_refused_one(ws, replica, accepted_case):
    ws.update("case", "c1", {"place": "白鹤村3组"})                # waits, not refused
    ws.update("case", "c1", {"description": "邻里纠纷，已调解"})    # refused
    earlier, refused = [cid for cid, _ in replica.pending()]
    replica.quarantine(refused, "refused")
    ws.discard(refused)
    replica.apply_discard(refused, accepted_case)
    case = ws.case("c1")
    assert (case["place"], case["description"], case["risk"]) == ("白鹤村3组", "邻里纠纷", "orange")
    assert case["ref"] == "金山-2026-0001"   # kept: the server's, set by a pull
    assert [cid for cid, _ in replica.pending()] == [earlier]


def test_discarding_a_report_the_server_never_took_deletes_it_with_its_unsent_progress(ws, replica):
    cid = ws.report_case({"grid_id": "g1", "category": "02", "description": "邻里纠纷"})
    ws.add_progress(cid, "已上门")
    report = replica.pending()[0][0]
    replica.quarantine(report, "refused")
    plan = ws.discard_plan(report)
    assert plan["gone"] and plan["later"] == [] and len(plan["dependents"]) == 1
    ws.discard(report)
    done = replica.apply_discard(report, [])
    assert done["record"] is None and len(done["dropped"]) == 2
    assert ws.case(cid) is None and ws.timeline(cid) == [] and replica.pending_count() == 0
    assert replica.count("case_event") == 0 and ws.quarantined() == []


def test_a_change_made_while_a_discard_waits_is_held_and_discarded_with_it(ws, replica, accepted_case):
    ws.update("case", "c1", {"description": "邻里纠纷，已调解"})
    refused = replica.pending()[0][0]
    replica.quarantine(refused, "refused")
    ws.discard(refused)
    ws.update("case", "c1", {"place": "村口"})
    assert replica.hold_behind_refused() == 1 and replica.pending_count() == 0
    replica.apply_discard(refused, accepted_case)
    assert replica.outbox_ids() == set() and ws.case("c1")["place"] is None


def test_correcting_a_refused_visit_writes_the_corrected_one_in_its_place(ws, replica):
    hid = add_household(replica, "h1", lat=HOME[0], lon=HOME[1])
    replica.acknowledge([cid for cid, _ in replica.pending()])
    vid = ws.record_visit({"household_id": hid, "seen": "老人在家", "visited_at": "2026-03-01T10:00:00+08:00",
                           "lat": HOME[0], "lon": HOME[1], "accuracy_m": 8.0, "location_source": "gps"})
    refused = replica.pending()[0][0]
    replica.quarantine(refused, "seen: refused", [{"field": "seen", "rule": "too_long", "message": "x"}])
    [item] = ws.quarantined()
    assert ws.correctable(item)
    with pytest.raises(ValidationError) as got:  # corrected to nothing: refused now, with the field named
        ws.correct(refused, {"seen": "", "requests": ""})
    assert got.value.errors[0].rule == "empty_visit"
    assert replica.quarantined()[0]["state"] == "quarantined"
    ws.correct(refused, {"seen": "老人在家，腿脚不便", "needs_found": ["disability"]})
    [waiting] = ws.quarantined()
    assert waiting["state"] == "discarding" and waiting["correction"]["fields"]["seen"] == "老人在家，腿脚不便"
    done = replica.apply_discard(refused, [])
    visit = ws.replica.get("visit", vid)
    assert visit["seen"] == "老人在家，腿脚不便" and visit["needs_found"] == ["disability"]
    assert visit["visited_at"] == "2026-03-01T10:00:00+08:00" and visit["accuracy_m"] == 8.0  # as recorded
    assert done["written"]["record"] == vid and done["written"]["id"] in [cid for cid, _ in replica.pending()]
    # besides the corrected visit only the household's next due date waits
    assert {e for e, in replica.conn.execute("SELECT entity FROM outbox WHERE state='pending'")} == {"visit", "household"}
    assert ws.quarantined() == []


def test_a_new_household_refused_in_a_grid_no_longer_held_is_corrected_into_one_of_the_persons_grids(ws, replica):
    """The office moved the worker out of g9 while a household recorded there waited:
    refused ("forbidden"). 更正 writes it anew in the grid the person chooses, as typed,
    where it was recorded; the form's values are checked as a new household's."""
    typed = {"grid_id": "g9", "head_name": "孙建军", "address": "白鹤村7组3号", "id_number": "330702195803124411",
             "lat": HOME[0], "lon": HOME[1], "members": [{"name": "孙小红", "relation": "女"}]}
    rid = replica.create("household", typed, "w1")["record"]
    refused = replica.pending()[0][0]
    # a visit made there while it waited: refused with it (the household unknown to the server)
    visit = replica.create("visit", {"grid_id": "g9", "household_id": rid, "kind": "household", "visitor": "w1",
                                     "visited_at": "2026-03-01T10:00:00+08:00", "seen": "一家五口，住房困难",
                                     "lat": HOME[0], "lon": HOME[1], "accuracy_m": 8.0,
                                     "location_source": "gps"}, "w1")
    forbidden = [{"field": "grid_id", "rule": "forbidden", "message": "outside your permissions"}]
    replica.quarantine(refused, "outside your permissions", forbidden)
    replica.quarantine(visit["id"], "outside your permissions", forbidden)
    item = ws.quarantined()[0]
    assert ws.correctable(item)
    form = {k: typed[k] for k in ("head_name", "address", "id_number", "members")}
    with pytest.raises(ValidationError) as got:   # no grid chosen: said on the grid
        ws.correct(refused, {**form, "grid_id": None})
    assert got.value.errors[0].field == "grid_id" and got.value.errors[0].rule == "required"
    with pytest.raises(ValidationError) as got:   # a number mistyped while mending: said on the number
        ws.correct(refused, {**form, "grid_id": "g1", "id_number": "330702195803124417"})
    assert [e.field for e in got.value.errors] == ["id_number"]
    with pytest.raises(ValidationError) as got:   # another grid not the person's: refused here, not at the server
        ws.correct(refused, {**form, "grid_id": "g9"})
    assert got.value.errors and replica.quarantined()[0]["state"] == "quarantined"
    ws.correct(refused, {**form, "grid_id": "g1", "phone": "138 1234 5678"})
    replica.apply_discard(refused, [])
    hh = ws.household(rid)
    assert (hh["grid_id"], hh["head_name"], hh["phone"], hh["status"]) == ("g1", "孙建军", "13812345678", "active")
    assert (hh["lat"], hh["lon"]) == HOME and hh["members"] == [{"name": "孙小红", "relation": "女"}]
    assert hh["next_visit_due"]   # due for its first visit, as a household registered anew
    [(cid, body)] = replica.pending()
    assert json.loads(body)["fields"]["grid_id"] == "g1"
    # the visit stays (the correction dropped it with the refused household), and is
    # corrected in turn: into the household's grid as the phone now holds it
    [left] = ws.quarantined()
    assert left["change_id"] == visit["id"] and ws.correctable(left)
    ws.correct(visit["id"], {})
    replica.apply_discard(visit["id"], [])
    assert ws.replica.get("visit", visit["record"])["grid_id"] == "g1" and ws.quarantined() == []
    assert [json.loads(b)["entity"] for _, b in replica.pending()][:2] == ["household", "visit"]


def test_a_refused_edit_of_a_household_is_not_offered_a_form(ws, replica):
    add_household(replica, "h1")
    replica.acknowledge([cid for cid, _ in replica.pending()])
    ws.edit_household("h1", {"phone": "13812345678"})
    refused = replica.pending()[0][0]
    replica.quarantine(refused, "refused")
    assert not ws.correctable(ws.quarantined()[0])


def test_a_report_refused_for_a_pasted_zero_width_space_is_mended_by_saving_it_again(ws, replica, monkeypatch):
    """An app from before the forms dropped them queued 王\u200b五 among the parties; the
    server refuses it ("invisible"): the correction the person saves is written clean."""
    import re

    from sync import model
    with monkeypatch.context() as old_rules:    # the rules of that older app
        old_rules.setattr(model, "INVISIBLE_RE", re.compile("(?!)"))
        cid = ws.report_case({"grid_id": "g1", "category": "02", "description": "邻里纠纷", "parties": ["王\u200b五"]})
    assert ws.case(cid)["parties"] == ["王\u200b五"]
    refused = replica.pending()[0][0]
    replica.quarantine(refused, "parties: refused", [{"field": "parties", "rule": "invisible", "message": "x"}])
    ws.correct(refused, {})
    replica.apply_discard(refused, [])
    assert ws.case(cid)["parties"] == ["王五"]


def test_correcting_a_refused_edit_of_a_report_writes_only_what_changed(ws, replica, accepted_case):
    ws.update("case", "c1", {"description": "x" * 10})
    refused = replica.pending()[0][0]
    replica.quarantine(refused, "refused")
    ws.correct(refused, {"description": "邻里纠纷，双方同意调解", "category": "02", "grid_id": "g1"})
    done = replica.apply_discard(refused, accepted_case)
    assert done["written"]["fields"] == {"description": "邻里纠纷，双方同意调解"}
    assert ws.case("c1")["description"] == "邻里纠纷，双方同意调解" and ws.case("c1")["risk"] == "orange"


def test_a_discard_waits_in_the_outbox_while_the_server_cannot_be_reached(ws, replica, accepted_case):
    replica.set_meta("token", "t-1")
    ws.update("case", "c1", {"description": "邻里纠纷，已调解"})
    refused = replica.pending()[0][0]
    replica.quarantine(refused, "refused")
    ws.discard(refused)
    client = SyncClient(replica, f"http://127.0.0.1:{closed_port()}", retries=0, timeout_s=2)
    with pytest.raises(Unreachable):
        client.sync()
    assert [d["change_id"] for d in replica.pending_discards()] == [refused]
    assert ws.case("c1")["description"] == "邻里纠纷，已调解"


def test_a_refusal_is_said_in_chinese_naming_the_field_by_its_label():
    from fieldapp.screens.me import refused_reasons
    from fieldapp.screens.widgets import refusal_text
    ctx = SimpleNamespace(lang="zh", ws=SimpleNamespace(username="w1", role="grid_worker"),
                          t=lambda key, **kw: i18n.t(key, "zh", **kw))
    item = {"entity": "case", "reason": "title: must be at most 100 characters", "errors": [
        {"field": "title", "rule": "too_long", "message": "must be at most 100 characters"},
        {"field": "record", "rule": "state",
         "message": "cannot be changed by a grid worker while the case is accepted"}]}
    said = refused_reasons(ctx, item)
    assert "最多100个字符" in said and "事项为“已受理”时，网格员不能修改" in said
    assert said.startswith(i18n.field_label("title", "zh") + "：")
    assert refusal_text(ctx, "case", {"field": "x", "rule": "unknown", "message": "as said"}) == "as said"
    ctx.lang = "en"
    assert refusal_text(ctx, "case", item["errors"][1]) == "cannot be changed by a grid worker while the case is accepted"
    # an edit held behind a refused one: the server's English reason stays off a Chinese
    # screen (the refused one is listed with its own words); a date named in both languages
    held = {"field": "record", "rule": "held", "message": "waits for an earlier change of this record, which was"
                                                          " refused: grid_id: is outside what account w1 may change"}
    before = {"field": "resolved_on", "rule": "date_before", "message": "cannot be before the acceptance date"}
    assert refusal_text(ctx, "case", before) == "cannot be before the acceptance date"
    ctx.lang = "zh"
    assert refusal_text(ctx, "case", held) == "此记录之前的修改被退回，本条随之等待（原因见被退回的那一条）"
    assert refusal_text(ctx, "case", before) == "不能早于受理日期"


def test_a_next_visit_refused_as_too_early_is_said_in_the_phones_language_with_its_day():
    """The server refuses a next visit years back in English, naming the earliest day; a
    phone says it in Chinese (or English) under the household's 下次走访日期."""
    from fieldapp.screens.me import refused_reasons
    from fieldapp.screens.widgets import refusal_text
    from sync import households
    [err] = households.due_errors({"next_visit_due": "2000-01-01"}, dt.date(2026, 11, 29))
    said = {"field": "next_visit_due", "rule": err.rule, "message": err.message("en")}
    ctx = SimpleNamespace(lang="zh", ws=SimpleNamespace(username="w1", role="grid_worker"),
                          t=lambda key, **kw: i18n.t(key, "zh", **kw))
    assert refusal_text(ctx, "household", said) == "不能早于2025-11-28（从登记之日或走访之日算起）"
    shown = refused_reasons(ctx, {"entity": "household", "reason": "", "errors": [said]})
    assert shown.startswith("下次走访日期：不能早于2025-11-28")
    ctx.lang = "en"
    assert refusal_text(ctx, "household", said).startswith("must be on or after 2025-11-28: a next visit")


def test_a_number_the_server_refused_is_said_in_chinese_on_the_member_it_belongs_to():
    """The server refuses a household's wrong ID and phone numbers by rule, in English (as
    the API speaks); the phone says each in Chinese, naming the member as its form does, with what
    the check character should be."""
    import datetime as dt

    from fieldapp.screens.me import refused_reasons
    from sync import households
    ctx = SimpleNamespace(lang="zh", ws=SimpleNamespace(username="w1", role="grid_worker"),
                          t=lambda key, **kw: i18n.t(key, "zh", **kw))
    errors = households.number_errors(
        {"id_number": "330702199001011234", "phone": "1391234567",
         "members": [{"name": "甲", "relation": "户主"},
                     {"name": "乙", "relation": "子女", "id_number": "3307021990010112"}]},
        None, dt.date(2026, 11, 27))
    item = {"entity": "household", "reason": changes.describe(errors), "errors": changes.error_list(errors)}
    said = refused_reasons(ctx, item).split("；")
    assert said == ["身份证号：校验位不符，最后一位应为7，请核对是否输错",
                    "成员2 身份证号：应为18位（现为16位）",
                    "电话：手机号应为以13至19开头的11位数字"]
    # the household form names a member's field the same way under its own controls
    from fieldapp.screens.household_form import problem_label
    assert problem_label(ctx, "members.2.name") == "成员3 姓名" and problem_label(ctx, "members.0.note") == "成员1 备注"


def test_a_discard_of_a_case_the_person_no_longer_sees_lets_it_go_whole(ws, replica, accepted_case):
    replica.set_meta("account", '{"username": "w1", "role": "grid_worker", "grids": ["g1"]}')
    visit = server_change("visit", "v1", {"grid_id": "g2", "case_id": "c1", "kind": "home", "visitor": "l1",
                                          "visited_at": "2026-03-02T10:00:00+08:00", "seen": "上门"}, 2)
    replica.apply_pulled([visit], cursor="3")
    ws.update("case", "c1", {"description": "邻里纠纷，已调解"})
    refused = replica.pending()[0][0]
    replica.quarantine(refused, "refused")
    ws.discard(refused)
    done = replica.apply_discard(refused, [])   # moved out of the person's grids: the server shows nothing
    assert done["record"] is None and ws.case("c1") is None and replica.get("visit", "v1") is None
    assert replica.conn.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
    replica.apply_pulled(accepted_case + [visit], cursor="4")   # given back: it arrives whole
    assert ws.case("c1")["risk"] == "orange" and replica.get("visit", "v1")["seen"] == "上门"


class _Words:
    """The app's Chinese words."""

    def t(self, key: str, **kw) -> str:
        return i18n.STRINGS[key][0].format(**kw)


def test_the_sync_bar_says_all_synced_only_after_a_sync(tmp_path):
    from fieldapp.phone import Phone
    from fieldapp.screens.widgets import last_sync_text, status_text
    from fieldapp.syncer import SyncStatus
    fresh = _Words()
    words, _ = status_text(fresh, SyncStatus(state="idle"))
    assert words == "尚未同步" and last_sync_text(fresh, SyncStatus()) == ""   # said once, not twice
    assert status_text(fresh, SyncStatus(state="offline"))[0] == "尚未同步 · 离线，稍后自动重试"
    assert status_text(fresh, SyncStatus(state="idle", pending=2))[0] == "待同步 2"
    # the phone is online and the server could not take it: not "离线"
    assert status_text(fresh, SyncStatus(state="server_full", pending=2))[0] == (
        "待同步 2 · 服务器存储空间已满，记录保存在本机，稍后自动重试；请告知镇信访办")
    assert last_sync_text(fresh, SyncStatus(pending=2)) == "尚未同步"
    synced = SyncStatus(state="idle", last_sync_ms=1_795_700_000_000)
    assert status_text(fresh, synced)[0] == "已全部同步"
    # the app restarted after a sync: its replica remembers it, and the bar says so at once
    phone = Phone(str(tmp_path / "phone"))
    assert phone.runner.status.last_sync_ms is None
    phone.replica.set_meta("last_sync_ms", "1795700000000")
    phone.replica.close()
    again = Phone(str(tmp_path / "phone")).runner.status
    assert status_text(fresh, again)[0] == "已全部同步" and last_sync_text(fresh, again).startswith("上次同步 ")
    garbled = Phone(str(tmp_path / "garbled"))
    garbled.replica.set_meta("last_sync_ms", "garbage")
    garbled.replica.close()
    assert status_text(fresh, Phone(str(tmp_path / "garbled")).runner.status)[0] == "尚未同步"


def test_a_photo_the_phone_cannot_fetch_says_why_in_the_persons_words():
    """The server answers in English; the photo's dialog says its usual refusals as the
    office does (not yours to see; the phone that took it has not sent it yet, which is
    also what a claimed file is until its bytes come) and no network as the sync does;
    other failures by their message."""
    from fieldapp.screens.attachments import fetch_failure
    from sync.errors import Refused, Unreachable
    ctx = SimpleNamespace(t=lambda key, **kw: i18n.t(key, "zh", **kw))
    assert fetch_failure(ctx, Refused("this attachment belongs to a record this account may not see", 403)) \
        == "无权查看"
    assert fetch_failure(ctx, Refused("hash: the phone that attached this file has not sent its bytes yet", 404)) \
        == "手机尚未上传"
    assert fetch_failure(ctx, Unreachable("cannot reach the server: ConnectError")) == "离线，稍后自动重试"
    assert fetch_failure(ctx, Refused("the file arrived damaged: open it again", 422)) \
        == "the file arrived damaged: open it again"


def test_a_record_holding_half_a_position_leaves_the_map_standing(tmp_path):
    """Stored before the server refused it: a household with a latitude alone made the
    map tab fail for every phone of its grid (the centre summed a None)."""
    from fieldapp.screens.map_view import centre, map_points
    from sync import clock
    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    r = DeviceReplica(str(tmp_path / "phone.db"))
    ws = DeviceWorkspace(r, {"username": "wangfang", "role": "grid_worker", "grids": ["bh-01"]})
    ms = clock.wall_ms()
    r.apply_pulled([
        changes.make("household", "hh-1", {"grid_id": "bh-01", "head_name": "张建国", "address": "白鹤村3组12号",
                                           "lat": 29.0715, "lon": 119.6473}, clock.encode(ms, 0, "server"),
                     "server", "office"),
        changes.make("household", "hh-half", {"grid_id": "bh-01", "head_name": "只有纬度", "address": "白鹤村7组7号",
                                              "lat": 29.07}, clock.encode(ms + 1, 0, "server"), "server", "office")],
        cursor="1")
    cases, households = map_points(ws)
    assert [h["id"] for h in households] == ["hh-1"]
    assert centre(cases, households, ws.grid_list()) == (29.0715, 119.6473)


def test_the_map_opens_on_the_grid_and_keeps_its_households_when_far_ones_outnumber_them(tmp_path, monkeypatch):
    """Households placed far off (a hostile phone's, or typed with a wrong sign) pushed a
    grid's own off the map, which took the first ones by address, and one at the pole
    opened the map on empty ground (the mean of every point)."""
    from fieldapp.screens import map_view
    from sync import clock
    from sync.device import DeviceReplica
    from sync.workspace import DeviceWorkspace
    monkeypatch.setattr(map_view, "MAX_MARKERS", 20)
    r = DeviceReplica(str(tmp_path / "phone.db"))
    ws = DeviceWorkspace(r, {"username": "wangfang", "role": "grid_worker", "grids": ["bh-01"]})
    ms = clock.wall_ms()

    def household(rid, n, address, lat, lon):
        return changes.make("household", rid, {"grid_id": "bh-01", "head_name": rid, "address": address,
                                               "lat": lat, "lon": lon}, clock.encode(ms + n, 0, "server"),
                            "server", "office")
    own = [household(f"hh-{n}", n, f"白鹤村9组{n}号", 29.07 + n / 1e4, 119.64) for n in range(3)]
    r.apply_pulled([*own, household("pole", 5, "白鹤村1组1号", -89.9, -179.9)], cursor="1")
    cases, households = map_view.map_points(ws)
    assert len(households) == 4
    assert map_view.centre(cases, households, ws.grid_list()) == (29.07, 119.64)  # the pole moves nothing

    r.apply_pulled([household(f"far-{n}", 10 + n, f"白鹤村1组{n}号", -89.9, -179.9) for n in range(30)]
                   + [changes.make("grid", "bh-01", {"name": "白鹤村第1网格", "village": "白鹤村", "lat": 29.07,
                                                     "lon": 119.64}, clock.encode(ms + 99, 0, "server"), "server",
                                   "office")], cursor="2")
    cases, households = map_view.map_points(ws)
    assert {f"hh-{n}" for n in range(3)} <= {h["id"] for h in households} and len(households) == 20
    assert map_view.centre(cases, households, ws.grid_list()) == (29.07, 119.64)   # where the office placed the grid


def test_a_phone_that_starts_over_with_nothing_unsent_keeps_nothing_of_the_scope_it_lost(tmp_path):
    """start_over kept every row when the outbox was empty ("id NOT IN (NULL)" is true of
    no row): a worker taken off a grid kept its households on the phone."""
    from sync import clock
    from sync.device import DeviceReplica
    r = DeviceReplica(str(tmp_path / "phone.db"))
    ms = clock.wall_ms()
    r.apply_pulled([changes.make("household", "hh-1", {"grid_id": "g1", "head_name": "张建国", "address": "3组12号"},
                                 clock.encode(ms, 0, "server"), "server", "office")], cursor="1")
    assert r.pending_count() == 0 and r.get("household", "hh-1") is not None
    r.start_over()
    assert r.get("household", "hh-1") is None and r.meta("cursor") is None


def test_a_case_that_leaves_a_leaders_phone_takes_its_home_visits_with_it(tmp_path):
    """A leader holds no grid: "grid_id NOT IN (NULL)" matched no visit, and the home
    visits of a matter given to another leader stayed on the first one's phone."""
    from sync import clock
    from sync.device import DeviceReplica
    r = DeviceReplica(str(tmp_path / "phone.db"))
    ms = clock.wall_ms()
    r.apply_pulled([
        changes.make("case", "c1", {"grid_id": "g1", "kind": "petition", "channel": "visit", "category": "10",
                                    "description": "拖欠工资", "status": "assigned", "owner": "lizhen"},
                     clock.encode(ms, 0, "server"), "server", "office"),
        changes.make("visit", "v1", {"grid_id": "g1", "case_id": "c1", "kind": "home", "visitor": "lizhen",
                                     "visited_at": "2026-11-20T10:00:00+08:00", "seen": "赵师傅情绪稳定"},
                     clock.encode(ms + 1, 0, "server"), "server", "office")], cursor="1")
    r.apply_pulled([], cursor="2", exits=["c1"], grids=frozenset())
    assert r.get("case", "c1") is None and r.get("visit", "v1") is None


def test_signing_out_keeps_no_credential_on_the_phone(tmp_path):
    from sync.client import SyncClient, sign_out
    from sync.device import DeviceReplica
    r = DeviceReplica(str(tmp_path / "phone.db"))
    r.set_meta("token", "t-123")
    sign_out(r)
    assert "t-123" not in [v for _, v in r.conn.execute("SELECT key, value FROM meta")]
    assert "Authorization" not in SyncClient(r, "http://127.0.0.1:9")._headers()


# --- a form's 保存 ------------------------------------------------------------------------
class _Page:
    def update(self, *controls) -> None:
        pass


class _Ctx:
    page = _Page()

    @staticmethod
    def t(key: str, **kw) -> str:
        return i18n.t(key, "zh", **kw)


def eye_name(eye) -> str | None:
    """What a screen reader calls a password's eye: its icon's label, the button's own
    node's name in the browser (its tooltip, for the mouse, says the same)."""
    label = getattr(eye.icon, "semantics_label", None)
    return label if label == eye.tooltip else f"{label!r} but a tooltip of {eye.tooltip!r}"


def test_the_phone_sign_in_s_password_eye_is_named_by_what_it_does_in_the_person_s_language():
    """A screen reader said only "button" for the eye beside the password, at the sign-in
    and at signing in again (Flet's own reveal icon takes no name)."""
    import flet as ft

    from fieldapp.screens.login import login_view
    from types import SimpleNamespace

    class Ctx(_Ctx):
        phone = SimpleNamespace(settings=SimpleNamespace(server="http://10.0.0.2:8000"),
                                replica=SimpleNamespace(pending_count=lambda: 0))

        def __init__(self, lang):
            self.lang = lang

        def t(self, key, **kw):
            return i18n.t(key, self.lang, **kw)

        def pop(self):
            pass
    for lang, show, hide in (("zh", "显示密码", "不显示密码"), ("en", "Show password", "Hide password")):
        for again in (None, {"username": "w1"}):
            view = login_view(Ctx(lang), lambda: None, again)
            [pw] = [c for c in view.controls if isinstance(c, ft.TextField) and c.password]
            eye = pw.suffix_icon
            assert not pw.can_reveal_password and isinstance(eye, ft.IconButton) and eye_name(eye) == show
            eye.on_click(None)
            assert pw.password is False and eye_name(eye) == hide
            eye.on_click(None)
            assert pw.password is True and eye_name(eye) == show


def test_a_second_tap_while_a_save_runs_is_ignored_and_a_saved_form_saves_no_more():
    from fieldapp.screens.widgets import save_button
    calls, done = [], asyncio.Event()

    async def save(e):      # a fresh position fix that takes seconds on a cheap phone
        calls.append(e)
        await done.wait()
        return True
    button = save_button(_Ctx(), save)

    async def taps():
        first = asyncio.ensure_future(button.on_click("tap 1"))
        await asyncio.sleep(0)
        assert button.disabled and button.content == "正在保存…"
        await button.on_click("tap 2")      # the worker, seeing nothing happen, taps again
        done.set()
        await first
        await button.on_click("tap 3")
    asyncio.run(taps())
    assert calls == ["tap 1"]


def test_a_save_that_was_refused_can_be_tapped_again():
    from fieldapp.screens.widgets import save_button
    answers = [False, True]

    async def save(e):
        return answers.pop(0)
    button = save_button(_Ctx(), save)
    asyncio.run(button.on_click(None))
    assert not button.disabled and button.content == "保存"   # the fields say what to fix; the button is back
    asyncio.run(button.on_click(None))
    assert answers == [] and button.disabled


@pytest.mark.parametrize("error, words", [
    ("Location permission denied: User denied Geolocation.", "本应用没有定位权限，请在手机设置中允许使用位置信息"),
    ("Location services are disabled.", "手机的定位服务已关闭，请打开定位"),
    ("", "没有取得位置")])
def test_why_there_is_no_position_is_said_in_chinese_with_what_to_do(error, words):
    from fieldapp.screens.position import failure_words
    said = i18n.t("no_fix", "zh", why=failure_words(FakeCtx(), RuntimeError(error)))
    assert said == f"无法定位：{words}。可手动输入位置。"
    assert not any("a" <= ch.lower() <= "z" for ch in said)


class _Screens:
    """The app's stack of screens (navigation.Screens) over a page that only holds them."""

    def __new__(cls):
        from fieldapp.navigation import Screens

        class Page:
            def __init__(self):
                self.views, self.dialogs = [], []

            def update(self, *a):
                pass

            def show_dialog(self, d):
                self.dialogs.append(d)

            def pop_dialog(self):
                return self.dialogs.pop() if self.dialogs else None

        class Ctx(Screens):
            def __init__(self):
                self.page = Page()
        return Ctx()


def test_going_back_while_a_save_runs_waits_for_it_and_the_save_closes_only_its_own_screen():
    import flet as ft

    from fieldapp.screens.widgets import save_button, typed
    ctx = _Screens()
    ctx.page.views += [ft.View(route="/"), ft.View(route="/household/h1")]
    seen, fix, written = ft.TextField(value=""), asyncio.Event(), []

    async def save(e):                      # as the forms end: written, then their own screen closed
        await fix.wait()                    # a fresh position fix: seconds on a cheap phone
        written.append(seen.value)
        ctx.close_screen(form)
        return True
    saver = save_button(_Ctx(), save)
    form = ft.View(route="/visit", controls=[seen, saver])
    ctx.push(form)
    opened = typed([seen])
    ctx.guard_leaving(form, lambda: typed([seen]) != opened, saver.data)

    async def worker():
        seen.value = "家中老人身体好"
        tap = asyncio.ensure_future(saver.on_click(None))   # 保存
        await asyncio.sleep(0)
        ctx.pop()                                           # 返回 meanwhile: waits, asks nothing
        assert ctx.page.dialogs == [] and ctx.page.views[-1] is form
        fix.set()
        await tap
    asyncio.run(worker())
    assert [v.route for v in ctx.page.views] == ["/", "/household/h1"] and written == ["家中老人身体好"]

    ctx.push(form)
    camera = ft.View(route="/camera")
    ctx.push(camera)                        # a screen opened over the form before its save ended
    ctx.close_screen(form)
    assert ctx.page.views[-1] is camera     # the form's end closes nothing but the form


class _FormPage:
    """Flet 1.0.5's page as the screens use it, nothing drawn: its screens, and its stack
    of dialogs (flet/controls/base_page.py: show_dialog opens one on top, pop_dialog
    closes the last one open, a snack bar included; Flutter reports a dismissal)."""

    def __init__(self):
        self.views, self._dialogs = [], SimpleNamespace(controls=[])

    def update(self, *a): pass

    def show_dialog(self, d):
        if d in self._dialogs.controls:
            raise RuntimeError("Dialog is already opened")
        d.open = True
        self._dialogs.controls.append(d)

    def pop_dialog(self):
        d = next((x for x in reversed(self._dialogs.controls) if x.open), None)
        if d is not None:
            d.open = False
        return d

    def dismissed(self, d) -> None:
        """Closed on the phone (its back key): Flutter says so, Flet calls on_dismiss."""
        d.open = False
        self._dialogs.controls.remove(d)
        if d.on_dismiss:
            d.on_dismiss(SimpleNamespace(data=None))

    def open_dialogs(self) -> list:
        return [d for d in self._dialogs.controls if d.open]


class _FormContext(Screens):
    """What the forms ask of the app, on a real workspace (no page drawn): the screens'
    own dialogs, snack bars and stack (navigation.Screens), the rest a no-op."""
    lang = "zh"

    def __init__(self, ws):
        self.ws, self.page, self.pushed = ws, _FormPage(), []

    def t(self, key, **kw): return i18n.t(key, "zh", **kw)
    def code(self, table, c): return i18n.code(table, c, "zh")

    def push(self, view):
        before = len(self.page.views)
        super().push(view)
        if len(self.page.views) > before:
            self.pushed.append(view)

    def __getattr__(self, name): return lambda *a, **k: None   # wrote, close_screen...


def _texts(control) -> list[str]:
    out = [control.value] if isinstance(getattr(control, "value", None), str) else []
    for ch in getattr(control, "controls", None) or []:
        out += _texts(ch)
    return out


def _correction_form(ws, item, monkeypatch):
    """The household form opened to correct `item`: (its save, its photos editor, its fields)."""
    import gc

    from fieldapp.screens import attachments as att_mod
    from fieldapp.screens.household_form import HouseholdForm, open_household_form

    class NoFiles:
        def states(self, hashes): return {}
        def state(self, h): return None
        def thumbnail(self, h): return None
    monkeypatch.setattr(att_mod, "store", lambda ctx: NoFiles())
    ctx = _FormContext(ws)
    open_household_form(ctx, correcting=item)

    def walk(c):
        for ch in (getattr(c, "controls", None) or []):
            yield ch
            yield from walk(ch)
    save = next(c for c in walk(ctx.pushed[-1]) if getattr(c, "on_click", None) and "保存" in str(c.content))
    editor = next(o for o in gc.get_objects() if isinstance(o, att_mod.AttachmentEditor) and o.ctx is ctx)
    form = next(o for o in gc.get_objects() if isinstance(o, HouseholdForm) and o.ctx is ctx)
    return (lambda: asyncio.run(save.on_click(None))), editor, form


def test_a_household_corrected_on_its_form_keeps_a_later_edit_and_loses_the_photos_taken_out(
        ws, replica, monkeypatch):
    """Refused (a number rule an older app did not keep), then its phone added (held behind
    the refusal): the form showed the first values only and the correction dropped the
    edit; and photos taken out on the form came back with the refused values (helper AB)."""
    replica.create("grid", {"name": "白鹤村第1网格", "village": "白鹤村", "township": "金山镇"}, "office",
                   record_id="g1")
    replica.acknowledge([cid for cid, _ in replica.pending()])
    photo = {"hash": "a" * 64, "kind": "photo", "name": "house.jpg", "size": 1000}
    rid = replica.create("household", {"grid_id": "g1", "head_name": "孙建军", "address": "白鹤村7组3号",
                                       "lat": HOME[0], "lon": HOME[1], "attachments": [photo]}, "w1")["record"]
    refused = replica.pending()[0][0]
    replica.quarantine(refused, "refused", [{"field": "id_number", "rule": "id_written", "message": "written"}])
    ws.edit_household(rid, {"phone": "13812345678"}, ws.household(rid))
    replica.hold_behind_refused()
    item = next(q for q in ws.quarantined() if q["change_id"] == refused)
    save, photos, form = _correction_form(ws, item, monkeypatch)
    assert form.phone.value == "13812345678" and photos.value == [photo]
    # why, at the foot of the form too (it was said only when the grid had moved)
    assert any(t.startswith("退回原因") for t in _texts(form.ctx.pushed[-1])), _texts(form.ctx.pushed[-1])
    photos.items = []                      # the person takes the photo out
    save()
    assert next(q for q in ws.quarantined() if q["change_id"] == refused)["state"] == "discarding"
    replica.apply_discard(refused, [])
    hh = ws.household(rid)
    assert (hh["phone"], hh.get("attachments")) == ("13812345678", None)
    assert ws.quarantined() == []


def test_the_timeline_shows_its_newest_twenty_and_never_hides_a_refused_entry():
    from fieldapp.screens.case_detail import TIMELINE_SHOWN, timeline_hidden
    items = [{"id": f"e{i}"} for i in range(45)]
    assert TIMELINE_SHOWN == 20 and timeline_hidden(items, set()) == 25
    assert timeline_hidden(items, {"e3"}) == 3        # refused, then 41 more: in sight with them
    assert timeline_hidden(items, {"e40"}) == 25
    assert timeline_hidden(items[:20], set()) == 0 and timeline_hidden([], {"x"}) == 0


def test_a_phone_whose_date_reads_before_its_last_sync_says_its_records_are_timed_at_that_sync(replica):
    """Restarted with its date reset years back, offline: its records were dated at the
    last sync (never years back) without a word, the visits of a whole day at the same
    minute. 今日 says so and asks for the date to be set; once the date is right, or in
    the same boot as the sync, nothing is said."""
    ws = DeviceWorkspace(replica, WORKER)
    replica.set_meta("token", "t-1")
    synced = int(dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"))
    booted = clock.boot_ms()
    for wall, anchor_boot, said in ((946_684_800_000, booted + 10 ** 9, True),   # reset to 2000, restarted
                                    (synced + 3_600_000, booted + 10 ** 9, False),  # the date put right
                                    (946_684_800_000, 0, False)):                  # same boot: the boot clock
        replica.clock.now = lambda: wall
        replica.set_meta("clock", json.dumps([synced, 0, 0, synced, anchor_boot]))
        at = ws.clock_floored_at()
        assert (at is not None) == said
        shown = [t for t in panel_texts(ctx) if "手机日期早于上次同步的时间" in t]
        assert shown == (["手机日期早于上次同步的时间（2026-11-28 17:00）：新记录暂按上次同步的时间记。请校正手机的日期和时间"]
                         if said else [])
        assert ws.now() >= dt.datetime.fromtimestamp(synced / 1000, dt.timezone.utc)


def test_after_a_restart_a_phone_whose_date_was_wrong_at_its_last_sync_says_its_times_are_a_guess(replica):
    """Its date was three days behind at the last sync; it restarted since, offline: its
    times are its date plus three days, right if the date is still wrong, three days
    ahead if the person put it right meanwhile. 今日 says so, and asks for a sync."""
    ws = DeviceWorkspace(replica, WORKER)
    replica.set_meta("token", "t-1")
    behind = 3 * 24 * 3600 * 1000
    now = clock.wall_ms()
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"))
    booted = clock.boot_ms()
    for anchor_boot, offset, said in ((booted + 10 ** 9, behind, 3 * 24 * 60),   # restarted since
                                      (0, behind, None),                             # same boot: known
                                      (booted + 10 ** 9, 120_000, None)):           # two minutes: drift
        replica.set_meta("clock", json.dumps([now, 0, offset, now + offset, anchor_boot]))
        assert ws.clock_guess_minutes() == said
        shown = any("上次同步时手机日期与服务器相差3天" in t for t in panel_texts(ctx))
        assert shown == (said is not None)


def test_a_paste_longer_than_a_field_takes_is_said_beside_it_in_words():
    """A 4,100-character note pasted into 所见情况 was cut at 4,000 and only the counter
    said so: the rest was lost without a word. The field says it while it is full."""
    import flet as ft

    from fieldapp.screens.widgets import say_when_full
    ctx = SimpleNamespace(t=lambda key, **kw: i18n.t(key, "zh", **kw))
    earlier = []
    field = ft.TextField(max_length=4000, on_change=lambda e: earlier.append(field.value))
    say_when_full(ctx, field)
    field.update = lambda: None
    field.value = "见" * 4000
    field.on_change(None)
    assert field.helper == "已达4000字上限，超出的部分没有输入：请精简，或分成两条记录"
    field.value = "见" * 3990
    field.on_change(None)
    assert field.helper is None and len(earlier) == 2          # the field's own handler still runs
    assert i18n.t("text_full", "en", n=4000).startswith("The 4000-character limit is reached")


def test_a_refused_edit_of_a_matter_is_named_by_the_matter_and_the_move(ws, replica):
    """A leader's refused 办结 read "上报事项 · case-1": a report they never made, by an id
    nobody knows. It names the matter as the phone has it, and the move."""
    from fieldapp.screens.me import refused_summary
    cid = ws.report_case({"grid_id": "g1", "category": "02", "title": "宅基地边界纠纷", "description": "两户争执"})
    ctx = SimpleNamespace(ws=ws, lang="zh", t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"))
    edit = {"entity": "case", "record": cid, "change": {"fields": {"status": "resolved", "method": "调解"},
                                                         "base": {"status": ["1-00000-x"]}}}
    assert refused_summary(ctx, edit) == "事项的修改（已办结） · 宅基地边界纠纷"
    report = {"entity": "case", "record": cid, "change": {"fields": {"title": "宅基地边界纠纷", "status": "reported"}}}
    assert refused_summary(ctx, report) == "上报事项 · 宅基地边界纠纷"
    gone = {"entity": "case", "record": "case-x", "change": {"fields": {"risk": "red"}, "base": {"risk": ["1-00000-x"]}}}
    assert refused_summary(ctx, gone) == "事项的修改 · case-x"        # not on this phone: its id, as before
    ctx.lang, ctx.t = "en", lambda key, **kw: i18n.t(key, "en", **kw)
    assert refused_summary(ctx, edit).startswith("A change to a matter (")


def test_retry_is_not_offered_for_a_refusal_no_retry_can_answer(ws):
    """A move made on a state the matter has left was refused again, the same words,
    at every 重试: the button is not offered; 放弃 is."""
    stale = {"errors": [{"field": "status", "rule": "status_moved_on"}]}
    assert ws.retry_futile(stale)
    assert not ws.retry_futile({"errors": [{"field": "record", "rule": "unknown_record"}]})
    assert not ws.retry_futile({"errors": []}) and not ws.retry_futile({})


def test_a_double_tap_on_a_dialogs_save_records_the_progress_once(replica):
    """A page runs its handlers one after another: the second tap of a double tap, queued
    behind the first, recorded the same 进展 again after the dialog had closed, and both
    went to the server."""
    import flet as ft

    from fieldapp.screens.case_detail import progress_dialog
    add_case(replica, "c1", owner="l1", status="assigned")
    ws = DeviceWorkspace(replica, LEADER)
    ctx = _FormContext(ws)
    progress_dialog(ctx, "c1", lambda: None)
    shown = ctx.page.open_dialogs()
    [box] = [c for c in shown[-1].content.controls if isinstance(c, ft.TextField)]
    box.value = "约谈双方，已达成初步意向"
    [save] = [c for c in shown[-1].actions if isinstance(c, ft.FilledButton)]
    save.on_click(None)
    save.on_click(None)
    assert [x["text"] for x in ws.timeline("c1") if x["kind"] == "progress"] == ["约谈双方，已达成初步意向"]


def test_a_full_phone_is_said_and_the_background_sync_lives_on_until_there_is_room(replica):
    """The phone's storage filled while the app ran: opening the replica for the next
    round failed outside the round's own guard, the loop ended for good, the bar stayed
    on 同步出错：OperationalError and 立即同步 woke nothing. Now the bar says the phone is
    full, and the loop goes on; once there is room it syncs (here: finds itself offline)."""
    import sqlite3
    calls = []

    def make_client():
        calls.append(1)
        if len(calls) <= 2:
            raise sqlite3.OperationalError("database or disk is full")
        replica.set_meta("token", "t-1")
        return SyncClient(replica, f"http://127.0.0.1:{closed_port()}", retries=0, timeout_s=2)
    runner = SyncRunner(make_client, first_pause_s=0.01, max_pause_s=0.05)
    seen = []
    runner.subscribe(seen.append)

    async def run():
        runner.start()
        for _ in range(3000):           # waits on the state, not on a fixed time
            if runner.status.state == "offline":
                break
            await asyncio.sleep(0.01)
        runner._task.cancel()
    asyncio.run(run())
    assert "phone_full" in [s.state for s in seen] and runner.status.state == "offline" and len(calls) >= 3
    assert i18n.t("phone_full", "zh").startswith("手机存储空间已满")


def test_a_kind_a_role_may_not_record_is_named_by_its_label_not_its_code():
    """A leader's 下访 still waiting when the account became a grid worker's: it read
    网格员不能记录“home”, and "home may not be recorded by a grid worker"."""
    from fieldapp.screens.widgets import refusal_text
    from sync.model import FieldError
    err = FieldError("kind", "role_value", (("role", "grid_worker"), ("value", "home")))
    assert err.message("zh") == "网格员不能记录“下访”"
    assert err.message("en") == "leader's home visit may not be recorded by a grid worker"
    ctx = SimpleNamespace(lang="zh", ws=SimpleNamespace(username="w1", role="grid_worker"),
                          t=lambda key, **kw: i18n.t(key, "zh", **kw))
    said = {"field": "kind", "rule": "role_value", "message": err.message("en")}
    assert refusal_text(ctx, "visit", said) == "网格员不能记录“下访”"
    entry = FieldError("kind", "role_value", (("role", "grid_worker"), ("value", "resolution")))
    assert entry.message("zh") == "网格员不能记录“办结”"
    called = FieldError("kind", "role_value", (("role", "grid_worker"), ("value", "callback")))   # an entry's
    assert called.message("en") == "callback may not be recorded by a grid worker"
    assert refusal_text(ctx, "case_event", {"field": "kind", "rule": "role_value",
                                            "message": called.message("en")}) == "网格员不能记录“回访”"


# --- a leader's phone walked through (helper BC) ---------------------------------------

def _progress_box(dlg):
    import flet as ft
    [box] = [c for c in dlg.content.controls if isinstance(c, ft.TextField)]
    return box


def _button(dlg, kind):
    [b] = [c for c in dlg.actions if isinstance(c, kind)]
    return b


def test_a_double_tap_on_record_progress_opens_one_dialog_and_its_cancel_closes_it_after_a_snack(replica):
    """A double tap on 记录进展 opened two dialogs: after the first was saved an empty one
    stayed, and its 取消 closed the snack bar shown since (page.pop_dialog takes the last
    one shown), not the dialog, which could then not be closed."""
    import flet as ft

    from fieldapp.screens.case_detail import progress_dialog
    add_case(replica, "c1", owner="l1", status="assigned")
    ctx = _FormContext(DeviceWorkspace(replica, LEADER))
    progress_dialog(ctx, "c1", lambda: None)
    progress_dialog(ctx, "c1", lambda: None)            # the second tap
    [dlg] = ctx.page.open_dialogs()
    assert dlg.modal                                     # a touch beside it does not close it
    ctx.snack("已同步")                                   # the background sync says something
    _button(dlg, ft.TextButton).on_click(None)           # 取消
    assert [type(d).__name__ for d in ctx.page.open_dialogs()] == ["SnackBar"]
    progress_dialog(ctx, "c1", lambda: None)             # opens again once closed
    [again] = [d for d in ctx.page.open_dialogs() if isinstance(d, ft.AlertDialog)]
    _progress_box(again).value = "约谈双方"
    _button(again, ft.FilledButton).on_click(None)       # 保存: closed, the snack says so
    assert not [d for d in ctx.page.open_dialogs() if isinstance(d, ft.AlertDialog)]


def test_a_note_typed_in_a_dialog_closed_by_the_back_key_is_there_when_it_is_opened_again(replica):
    """The back key (or a touch beside a dialog that was not modal) closed 记录进展 and the
    long note typed in a petitioner's kitchen was gone. It is kept as a draft for the
    next opening; 取消 and 保存 leave none. The same for 办结's outcome and method."""
    import flet as ft

    from fieldapp.screens.case_detail import progress_dialog
    add_case(replica, "c1", owner="l1", status="assigned")
    ctx = _FormContext(DeviceWorkspace(replica, LEADER))
    progress_dialog(ctx, "c1", lambda: None)
    [dlg] = ctx.page.open_dialogs()
    _progress_box(dlg).value = "约谈双方，已达成初步意向：下周三前付清首期款"
    ctx.page.dismissed(dlg)                              # the back key
    progress_dialog(ctx, "c1", lambda: None)
    [dlg] = ctx.page.open_dialogs()
    assert _progress_box(dlg).value == "约谈双方，已达成初步意向：下周三前付清首期款"
    _button(dlg, ft.TextButton).on_click(None)           # 取消: given up
    progress_dialog(ctx, "c1", lambda: None)
    [dlg] = ctx.page.open_dialogs()
    assert _progress_box(dlg).value == ""
    ctx.page.dismissed(dlg)                              # nothing typed: no draft
    progress_dialog(ctx, "c2", lambda: None)             # another matter's dialog holds its own
    [other] = ctx.page.open_dialogs()
    assert _progress_box(other).value == ""


def test_the_resolution_typed_before_the_back_key_is_there_when_resolve_is_opened_again(replica):
    """办结's outcome and method, and a double tap on a case's row opening it once."""
    import flet as ft

    from fieldapp.screens.case_detail import open_case
    add_case(replica, "c1", owner="l1", status="in_progress")
    ctx = _FormContext(DeviceWorkspace(replica, LEADER))
    open_case(ctx, "c1")
    open_case(ctx, "c1")                                 # a double tap on the row
    assert len(ctx.pushed) == 1
    body = ctx.pushed[0].controls[0]
    resolve = next(b for b in _walk(body) if isinstance(b, ft.OutlinedButton) and b.content == ctx.t("resolve"))
    resolve.on_click(None)
    [dlg] = ctx.page.open_dialogs()
    group = next(c for c in dlg.content.controls if isinstance(c, ft.RadioGroup))
    method = next(c for c in dlg.content.controls if isinstance(c, ft.TextField))
    group.value, method.value = "mediation", "双方签订调解协议"
    ctx.page.dismissed(dlg)
    resolve.on_click(None)
    [dlg] = ctx.page.open_dialogs()
    assert next(c for c in dlg.content.controls if isinstance(c, ft.RadioGroup)).value == "mediation"
    assert next(c for c in dlg.content.controls if isinstance(c, ft.TextField)).value == "双方签订调解协议"


def _walk(control):
    yield control
    for name in ("controls", "content"):
        child = getattr(control, name, None)
        for c in (child if isinstance(child, list) else [child] if child is not None else []):
            if hasattr(c, "__dict__"):
                yield from _walk(c)


def _dialling_ctx(ws):
    """A form context whose launcher records the URLs the phone would open."""
    ctx = _FormContext(ws)
    ctx.dialled = []
    ctx.launcher = SimpleNamespace(launch_url=lambda url: url)
    ctx.page.run_task = lambda fn, *a, **k: ctx.dialled.append(fn(*a, **k))
    return ctx


def test_a_leaders_matter_page_shows_the_petitioners_number_masked_and_dials_it_whole(replica):
    """李振华 on a home visit (下访) holds no households on his phone: his matter's page shows
    秦红秀's number masked, as a household's page does, and 拨打电话 dials it whole."""
    import flet as ft

    from fieldapp.screens.case_detail import open_case
    add_case(replica, "c1", owner="l1", status="in_progress", parties=["秦红秀"], petitioner_phone="13812345678")
    add_case(replica, "c2", owner="l1", status="in_progress", parties=["周大勇"])
    ctx = _dialling_ctx(DeviceWorkspace(replica, LEADER))
    open_case(ctx, "c1")
    body = ctx.pushed[-1].controls[0]
    shown = "\n".join(texts([body]))
    assert "联系电话" in shown and "138****5678" in shown and "13812345678" not in shown
    [call] = [b for b in _walk(body) if isinstance(b, ft.OutlinedButton) and b.content == "拨打电话"]
    call.on_click(None)
    assert ctx.dialled == ["tel:13812345678"]
    open_case(ctx, "c2")                      # no number on the matter: nothing to dial
    body = ctx.pushed[-1].controls[0]
    assert not [b for b in _walk(body) if isinstance(b, ft.OutlinedButton) and b.content == "拨打电话"]


def test_a_report_keeps_the_petitioners_number_as_the_household_form_writes_it_and_refuses_a_wrong_one(replica):
    ws = DeviceWorkspace(replica, WORKER)
    report = {"grid_id": "g1", "category": "02", "description": "邻里纠纷", "parties": ["秦红秀"]}
    cid = ws.report_case({**report, "petitioner_phone": "138 1234 5678"})
    assert ws.case(cid)["petitioner_phone"] == "13812345678"
    with pytest.raises(ValidationError) as err:
        ws.report_case({**report, "petitioner_phone": "1381234"})
    [fe] = err.value.errors
    assert fe.field == "petitioner_phone" and fe.message("zh") == "手机号应为以13至19开头的11位数字"
    assert i18n.field_label("petitioner_phone") == "联系电话"


def test_the_report_form_from_a_household_fills_the_petitioners_number(replica):
    import flet as ft

    from fieldapp.screens import case_form
    ws = DeviceWorkspace(replica, WORKER)
    hid = ws.add_household({"grid_id": "g1", "head_name": "秦红秀", "address": "金山镇白鹤村2组8号",
                            "phone": "13812345678"})
    ctx = _dialling_ctx(ws)
    case_form.open_case_form(ctx, household=ws.household(hid))
    [f.close() for f in ctx.dialled if hasattr(f, "close")]    # the position's tasks, not run here
    fields = {c.label: c.value for c in _walk(ctx.pushed[-1]) if isinstance(c, ft.TextField)}
    assert fields["联系电话"] == "13812345678" and fields["当事人（用逗号或顿号分隔）"] == "秦红秀"


def test_the_leaders_case_list_refreshed_by_a_sync_keeps_the_search_and_the_chip(replica):
    """A sync that brought anything rebuilt 我的包案: the words typed in 查找案件 went, the
    whole list came back under the finger, the chip chosen was reset. Refreshed in
    place now (the shell calls panel.data), it keeps them and shows what arrived."""
    import flet as ft

    from fieldapp.screens import cases
    for i in range(3):
        add_case(replica, f"c{i}", owner="l1", title=f"{'拖欠工资' if i else '宅基地'}纠纷{i}", status="in_progress")
    ctx = _FormContext(DeviceWorkspace(replica, LEADER))
    panel = cases.owned_cases(ctx)
    search = next(c for c in _walk(panel) if isinstance(c, ft.TextField))
    chips = [c for c in _walk(panel) if isinstance(c, ft.Chip)]
    assert [c.label.value for c in chips] == ["未办结", "全部"]     # a leader holds no grid: not 本网格
    chips[1].on_select(None)
    search.value = "拖欠"
    search.on_change(SimpleNamespace(control=search))

    def listed():
        return sorted(t.title.value for t in _walk(panel) if isinstance(t, ft.ListTile) and t.title)
    assert len(listed()) == 2
    add_case(replica, "c9", owner="l1", title="拖欠工资纠纷9", status="resolved")   # arrives with a sync
    assert callable(panel.data)
    panel.data()
    assert search.value == "拖欠" and chips[1].selected and len(listed()) == 3


def test_a_list_drawn_again_by_a_sync_keeps_the_tiles_of_rows_that_did_not_change(replica):
    """A tap on its way as the first sync redrew the households list named a tile replaced
    meanwhile: nothing opened (helper BH). The rows that look the same keep their tiles;
    a row that changed, or arrived, gets a new one."""
    import flet as ft

    from fieldapp.screens import cases, households
    add_household(replica, "h1", head_name="张建国", address="白鹤村3组12号")
    add_household(replica, "h2", head_name="李秀英", address="白鹤村3组15号")
    add_case(replica, "c1", owner="l1", title="宅基地纠纷", status="in_progress")
    add_case(replica, "c2", owner="l1", title="拖欠工资纠纷", status="in_progress")

    def tiles(panel):
        return {t.title.value: t for t in _walk(panel) if isinstance(t, ft.ListTile) and t.title}
    for panel, changed, arrives, ctx in (
            (households.households_panel, lambda: pull_edit(replica, "household", "h2", {"address": "白鹤村4组1号"}),
             lambda: add_household(replica, "h3", head_name="陈桂兰", address="白鹤村5组2号"),
             _FormContext(DeviceWorkspace(replica, WORKER))),
            (cases.owned_cases, lambda: pull_edit(replica, "case", "c2", {"risk": "red"}),
             lambda: add_case(replica, "c3", owner="l1", title="山林纠纷", status="in_progress"),
             _FormContext(DeviceWorkspace(replica, LEADER)))):
        shown = panel(ctx)
        before = tiles(shown)
        changed()
        arrives()
        shown.data()
        after = tiles(shown)
        assert len(after) == len(before) + 1
        same = [name for name in before if after[name] is before[name]]
        assert len(same) == 1, (panel.__name__, same)       # the unchanged row's tile, the same control
        (changed_name,) = set(before) - set(same)
        assert after[changed_name] is not before[changed_name]   # a row that changed shows it
    # a name the office corrected is drawn again, though the matter did not change (helper BK)
    replica.create("staff", {"username": "l1", "name": "李振华", "role": "leader", "grids": []}, "office",
                   record_id="l1")
    mine = cases.owned_cases(_FormContext(DeviceWorkspace(replica, LEADER)))
    assert any("李振华" in t.subtitle.value for t in tiles(mine).values())
    pull_edit(replica, "staff", "l1", {"name": "李振华（副镇长）"})
    mine.data()
    assert all("李振华（副镇长）" in t.subtitle.value for t in tiles(mine).values())
    # 今日's households due, drawn again in place by the shell (its `data`)
    from fieldapp.screens.today import today_panel
    for rid in ("h1", "h2"):
        pull_edit(replica, "household", rid, {"next_visit_due": "2026-01-01"})
    today = today_panel(_FormContext(DeviceWorkspace(replica, WORKER)))
    before = tiles(today)
    pull_edit(replica, "household", "h2", {"head_name": "李秀英（新）"})
    today.data()
    after = tiles(today)
    assert after["张建国"] is before["张建国"] and "李秀英（新）" in after and "李秀英" not in after


def test_words_in_brackets_are_written_as_each_language_writes_them():
    """An English timeline read "Reported（walk-in）": full-width brackets composed into
    English lines (helper BC). Each screen now adds them through i18n.aside."""
    from fieldapp.screens.household import status_words
    from fieldapp.screens.widgets import timeline_heading
    seen = {}
    for lang in ("zh", "en"):
        ctx = SimpleNamespace(lang=lang, t=lambda k, _l=lang, **kw: i18n.t(k, _l, **kw),
                              code=lambda tb, v, _l=lang: i18n.code(tb, v, _l))
        seen[lang] = (timeline_heading(ctx, {"type": "report", "kind": "visit", "at": "2026-11-26T10:30:00+08:00",
                                             "by": "lz"}, {"lz": "李振华"}),
                      status_words(ctx, {"status": "moved_out"}))
    assert seen["zh"][0] == "2026-11-26 10:30 上报（来访） · 李振华"
    assert seen["en"][0] == "2026-11-26 10:30 Reported (walk-in) · 李振华"
    assert "（" in seen["zh"][1] and "（" not in seen["en"][1] and " (" in seen["en"][1]


class _EnglishContext(_FormContext):
    lang = "en"

    def t(self, key, **kw): return i18n.t(key, "en", **kw)
    def code(self, table, c): return i18n.code(table, c, "en")


def test_a_households_needs_are_listed_apart_and_its_registry_status_said_once_in_english(replica):
    """"elderly living alone temporary assistance" read as one need, and the household
    page said "In the registry registered" (helper BL)."""
    import flet as ft

    from fieldapp.screens import households
    add_household(replica, "h1", head_name="叶燕红", tags=["elderly_alone", "temporary_aid"])
    panel = households.households_panel(_EnglishContext(DeviceWorkspace(replica, WORKER)))
    (tile,) = [t for t in _walk(panel) if isinstance(t, ft.ListTile) and t.title and t.title.value == "叶燕红"]
    assert tile.subtitle.value.endswith(" · elderly living alone, temporary assistance"), tile.subtitle.value
    assert i18n.t("hh_status", "en") == "Registry status"



def _lines_at(text: str, width_px: float, font_px: float = 12) -> int:
    """The lines a text takes at a width, reckoned generously: a Chinese character an
    em wide, any other character 0.6 of one (Roboto's widest lower case is less), and
    a line more for where words break."""
    em = sum(1 if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 0.6 for ch in text)
    return -(-int(em * font_px) // int(width_px)) + 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_empty_visit_s_refusal_is_whole_under_its_field_on_a_360_px_phone(ws, replica, monkeypatch, lang):
    """Saved empty, a visit is refused under 看到的情况; in English the sentence (a household
    visit records something: what was seen, ...) ran past a 360 px phone's edge and was cut
    after its first line (a field's error is one line unless told more)."""
    import flet as ft

    from fieldapp.screens import attachments as att_mod
    from fieldapp.screens.visit_form import open_visit_form
    from sync.model import _MESSAGES
    from types import SimpleNamespace

    class NoFiles:
        def states(self, hashes): return {}
        def state(self, h): return None
        def thumbnail(self, h): return None
    monkeypatch.setattr(att_mod, "store", lambda ctx: NoFiles())

    class Page(_FormPage):
        def run_task(self, fn, *a):   # the position fix: none comes here
            pass

    class Ctx(_FormContext):
        def __init__(self, ws):
            super().__init__(ws)
            self.lang, self.page, self.phone = lang, Page(), SimpleNamespace(far_m=100)

        def t(self, key, **kw): return i18n.t(key, self.lang, **kw)
        def code(self, table, c): return i18n.code(table, c, self.lang)
    add_household(replica, "h-wang", head_name="王建国")
    ctx = Ctx(ws)
    open_visit_form(ctx, household=ws.household("h-wang"))

    def walk(c):
        for ch in (getattr(c, "controls", None) or []):
            yield ch
            yield from walk(ch)
    form = list(walk(ctx.pushed[-1]))
    save = next(c for c in form if isinstance(c, ft.FilledButton))
    seen = next(c for c in form if isinstance(c, ft.TextField) and c.label == ctx.t("seen"))
    asyncio.run(save.on_click(None))
    whole = _MESSAGES["empty_visit"][0 if lang == "en" else 1]
    assert seen.error == whole                             # the sentence, not a shortened one
    # the phone's 360 px, less the form's padding (16 each side) and the field's own (12)
    assert (seen.error_max_lines or 1) >= _lines_at(whole, 360 - 2 * 16 - 2 * 12)


# --- what a grid worker saw on her day (helper BU) ---------------------------------------
def test_a_leaders_home_visit_does_not_settle_the_grid_workers_due_visit(ws, replica):
    """A leader's 下访 about a wage dispute took the household off 王芳's 待走访, while its
    next visit date stayed where it was: only a household visit (走访) settles one due."""
    add_household(replica, "h-due", next_visit_due="2026-02-20")
    stamp = clock.encode(replica.clock.last_ms + 1000, 0, "server")   # the leader's, as a pull brings it
    replica.apply_pulled([changes.make("visit", "v-home", {
        "household_id": "h-due", "grid_id": "g1", "kind": "home", "visitor": "l1",
        "visited_at": "2026-02-25T10:00:00+08:00", "seen": "包案领导入户了解欠薪情况"}, stamp, "server", "l1", {})],
        cursor="1")
    assert [v["kind"] for v in ws.household_visits("h-due")] == ["home"]
    assert [h["id"] for h in ws.due_households(dt.date(2026, 3, 2))] == ["h-due"]
    ws.record_visit({"household_id": "h-due", "visited_at": "2026-02-26T10:00:00+08:00", "seen": "老人在家"})
    assert ws.due_households(dt.date(2026, 3, 2)) == []


def test_a_phone_clock_a_day_fast_is_said_in_days_and_the_last_sync_on_the_townships_clock():
    """我的 read "手机时间与服务器相差 -1440 分钟", and the sync bar said the last sync was
    tomorrow beside a visit stamped today."""
    from types import SimpleNamespace

    from fieldapp.screens.me import clock_off_text
    from fieldapp.screens.widgets import last_sync_text
    from fieldapp.syncer import SyncStatus
    words = _Words()
    words.lang = "zh"
    assert clock_off_text(words, -1440) == "手机时间比服务器快1天，记录将按服务器时间标记"
    assert clock_off_text(words, 185) == "手机时间落后服务器3小时，记录将按服务器时间标记"
    english = SimpleNamespace(lang="en", t=lambda key, **kw: i18n.STRINGS[key][1].format(**kw))
    assert clock_off_text(english, -1440).startswith("The phone's clock is 1 days ahead")
    phone_noon = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    words.phone = SimpleNamespace(replica=SimpleNamespace(clock=SimpleNamespace(offset_ms=-86_400_000)))
    assert last_sync_text(words, SyncStatus(last_sync_ms=int(phone_noon.timestamp() * 1000))) == "上次同步 11-29 12:00"


def test_the_me_screen_names_the_grids_and_every_back_button_is_named_once(tmp_path):
    """我的 listed the person's grids by their ids ("bh-01 bh-02"); and a screen reader
    said every sub-screen's back button twice ("返回 返回")."""
    from types import SimpleNamespace

    import flet as ft

    from fieldapp.phone import Phone
    from fieldapp.screens.me import me_panel
    from fieldapp.screens.widgets import appbar
    from sync.workspace import DeviceWorkspace
    phone = Phone(str(tmp_path / "phone"))
    for n, (gid, name) in enumerate((("bh-01", "白鹤村第1网格"), ("bh-02", "白鹤村第2网格"))):   # as a pull brings them
        stamp = clock.encode(phone.replica.clock.last_ms + 1000 * (n + 1), 0, "server")
        phone.replica.apply_pulled([changes.make("grid", gid, {"name": name, "village": "白鹤村", "township": "金山镇"},
                                                 stamp, "server", "admin", {})], cursor=str(n + 1))
    ws = DeviceWorkspace(phone.replica, {"username": "wangfang", "name": "王芳", "role": "grid_worker",
                                         "grids": ["bh-01", "bh-02"]})
    ctx = SimpleNamespace(lang="zh", ws=ws, phone=phone, page=_Page(), pop=lambda: None,
                          t=lambda key, **kw: i18n.t(key, "zh", **kw),
                          code=lambda table, c: i18n.code(table, c, "zh"),
                          listed=lambda items: i18n.listed(items, "zh"))
    texts = []

    def walk(c):
        if isinstance(getattr(c, "value", None), str):
            texts.append(c.value)
        for child in [getattr(c, "content", None), *(getattr(c, "controls", None) or [])]:
            if isinstance(child, ft.Control):
                walk(child)
    walk(me_panel(ctx))
    assert "白鹤村第1网格、白鹤村第2网格" in texts and not any("bh-01" in t for t in texts)
    back = appbar(ctx, "住户").leading
    assert isinstance(back, ft.IconButton) and back.icon.semantics_label == "返回" and back.tooltip == "返回"
