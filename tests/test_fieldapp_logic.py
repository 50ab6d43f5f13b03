"""The screen logic that decides things, tested in plain Python (no browser):
positions and the far-from-home flag, masking, due dates, the words on screen, and
the workspace verbs and reads over a real device replica."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import string

import pytest
from geopy.distance import geodesic

from fieldapp import i18n
from fieldapp.geo import Fix, format_distance, parse_manual, visit_location_fields
from fieldapp.privacy import mask_id, mask_phone
from fieldapp.syncer import SyncRunner, error_state
from fieldapp.worklist import days_left, overdue_days, split_parties, today
from sync import changes, clock, merge
from sync.client import SyncClient
from sync.device import DeviceReplica
from sync.errors import AuthRequired, ProtocolMismatch, Refused, SyncError, Unreachable
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
    for key, (zh, _) in i18n.STRINGS.items():
        kw = {name: "7" for name in _placeholders(zh)}
        for lang in ("zh", "en"):
            text = i18n.t(key, lang, **kw)
            assert "{" not in text, (key, lang, text)


# --- workspace and reads over a real device replica --------------------------------
@pytest.fixture
def replica(tmp_path):
    r = DeviceReplica(str(tmp_path / "phone.db"), device_id="dtest")
    yield r
    r.close()


@pytest.fixture
def ws(replica):
    return DeviceWorkspace(replica, WORKER)


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
    assert ws.pending_count() == 2  # the household create and the visit wait to be pushed


def test_record_visit_adds_newly_found_needs_to_household_tags(ws, replica):
    hid = add_household(replica, "h1", tags=["elderly_alone"])
    ws.record_visit({"household_id": hid, "needs_found": ["dibao", "elderly_alone"]})
    assert ws.household(hid)["tags"] == ["dibao", "elderly_alone"]
    assert [h["id"] for h in ws.search_households(need="dibao")] == [hid]


def test_record_visit_leaves_out_unanswered_fields(ws, replica):
    hid = add_household(replica, "h1")
    ws.record_visit({"household_id": hid, "seen": "", "requests": None, "needs_found": []})
    [visit] = ws.household_visits(hid)
    assert visit["seen"] is None and visit["requests"] is None and visit["needs_found"] is None
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
    ws.record_visit({"household_id": "late", "visited_at": "2026-02-25T10:00:00+08:00"})
    ws.record_visit({"household_id": "old_visit", "visited_at": "2026-01-05T10:00:00+08:00"})
    assert [h["id"] for h in ws.due_households(dt.date(2026, 3, 2))] == ["old_visit"]


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
    (AuthRequired("token revoked", 401), "signed_out"),
    (ProtocolMismatch("update the app", 426), "outdated"),
    (Refused("too large", 413), "error"),
    (SyncError("something else"), "error"),
])
def test_error_state_maps_each_sync_error_to_a_screen_state(exc, state):
    assert error_state(exc) == state
