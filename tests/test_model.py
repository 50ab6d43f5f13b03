"""Validation names the field and the rule, in English and Chinese."""

import pytest

from sync import changes
from sync.clock import encode
from sync.model import ENTITIES, validate_fields

NOW = 1_764_000_000_000
HOUSEHOLD = {"grid_id": "g1", "head_name": "王建国", "address": "白鹤村3组12号"}


def problems(entity, fields, creating=False):
    return [(e.field, e.rule) for e in validate_fields(ENTITIES[entity], fields, creating)]


def envelope(**over):
    ch = changes.make("case", "case-1", {"status": "accepted"}, encode(NOW, 0, "d1"), "d1", "w1")
    ch.update(over)
    return ch


def test_validate_refuses_latitude_91_naming_lat_and_range():
    errs = validate_fields(ENTITIES["household"], {"lat": 91}, creating=False)
    assert [(e.field, e.rule) for e in errs] == [("lat", "range")]
    assert str(errs[0]) == "lat: must be between -90 and 90"


def test_validate_accepts_boundary_coordinates():
    assert problems("visit", {"lat": -90, "lon": 180.0}) == []


@pytest.mark.parametrize("value", [float("nan"), True, "29.07"])
def test_validate_refuses_latitude_that_is_not_a_number(value):
    assert problems("household", {"lat": value})[0][0] == "lat"


def test_validate_refuses_too_long_string_naming_the_limit():
    errs = validate_fields(ENTITIES["household"], {"head_name": "王" * 41}, creating=False)
    assert [(e.field, e.rule) for e in errs] == [("head_name", "too_long")]
    assert "40" in errs[0].message("en") and "40" in errs[0].message("zh")
    assert problems("household", {"head_name": "王" * 40}) == []


def test_validate_refuses_too_many_list_items():
    assert problems("case", {"parties": ["x"] * 51}) == [("parties", "too_many")]


@pytest.mark.parametrize("entity, field, value", [
    ("case", "status", "done"),
    ("case", "category", "1"),
    ("case", "risk", "RED"),
    ("household", "tags", ["dibao", "rich"]),
])
def test_validate_refuses_value_outside_the_code_table(entity, field, value):
    assert problems(entity, {field: value}) == [(field, "code")]


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "2026-2-3", "26-02-01", "2026/02/01", ""])
def test_validate_refuses_dates_that_do_not_exist_or_are_misspelt(value):
    assert problems("household", {"next_visit_due": value}) == [("next_visit_due", "date")]


def test_validate_accepts_leap_day_in_a_leap_year():
    assert problems("household", {"next_visit_due": "2028-02-29"}) == []


def test_validate_refuses_malformed_datetime():
    assert problems("case_event", {"at": "yesterday"}) == [("at", "datetime")]


def test_validate_requires_required_fields_on_create_only():
    assert problems("household", {"phone": "123"}, creating=True) == [
        ("grid_id", "required"), ("head_name", "required"), ("address", "required")]
    assert problems("household", {"phone": "123"}, creating=False) == []
    assert problems("household", dict(HOUSEHOLD), creating=True) == []


def test_validate_refuses_blank_required_string_and_explicit_null():
    assert problems("household", {**HOUSEHOLD, "head_name": "   "}, creating=True) == [("head_name", "required")]
    assert problems("household", {"head_name": None}) == [("head_name", "required")]


def test_validate_refuses_unknown_field_naming_it():
    errs = validate_fields(ENTITIES["case"], {"colour": "red"}, creating=False)
    assert [(e.field, e.rule) for e in errs] == [("colour", "unknown_field")]
    assert errs[0].message("en") == "is not a field of case"


def test_validate_refuses_members_with_unknown_keys():
    assert problems("household", {"members": [{"name": "王芳", "age": "40"}]}) == [("members", "type")]


@pytest.mark.parametrize("fields, zh", [
    ({"lat": 91}, "须在-90到90之间"),
    ({"next_visit_due": "2026-02-30"}, "格式应为 2026-11-27"),
    ({"head_name": "王" * 41}, "最多40个字符"),
    ({"lat": "north"}, "须为数字"),
])
def test_messages_exist_in_chinese(fields, zh):
    (err,) = validate_fields(ENTITIES["household"], fields, creating=False)
    assert zh in err.message("zh")
    assert err.message("zh") != err.message("en")


def test_every_rule_has_an_english_and_a_chinese_message():
    from sync.model import _MESSAGES
    for rule, (en, zh) in _MESSAGES.items():
        assert en and zh and en != zh, rule
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), rule


# --- the change envelope --------------------------------------------------------------

def test_check_envelope_accepts_a_change_made_by_changes_make():
    assert changes.check_envelope(envelope()) == []


def test_check_envelope_names_every_missing_part():
    errs = changes.check_envelope({"id": "c1", "fields": {}})
    assert {(e.field, e.rule) for e in errs} == {
        ("entity", "required"), ("record", "required"), ("hlc", "required"),
        ("device", "required"), ("author", "required")}


def test_check_envelope_refuses_a_change_that_is_not_an_object():
    assert [(e.field, e.rule) for e in changes.check_envelope(["a"])] == [("change", "type")]


@pytest.mark.parametrize("over, expected", [
    ({"id": "c 1"}, ("id", "id")),
    ({"record": "x" * 65}, ("record", "id")),
    ({"entity": "cat"}, ("entity", "unknown_entity")),
    ({"fields": {}}, ("fields", "no_fields")),
    ({"fields": ["status"]}, ("fields", "type")),
    ({"hlc": "yesterday"}, ("hlc", "clock")),
    ({"hlc": 1764000000000}, ("hlc", "clock")),
    ({"hlc": "١٧٦٤٠٠٠٠٠٠٠٠٠-00000-d1"}, ("hlc", "clock")),
    ({"base": {"status": [encode(NOW + 1, 0, "d2")]}}, ("base", "base")),
    ({"base": {"status": "x"}}, ("base", "base")),
    ({"author": "w" * 41}, ("author", "type")),
])
def test_check_envelope_names_the_part_at_fault(over, expected):
    assert [(e.field, e.rule) for e in changes.check_envelope(envelope(**over))] == [expected]


def test_check_clock_refuses_a_stamp_hours_ahead_naming_hlc():
    err = changes.check_clock(envelope(hlc=encode(NOW + 3 * 3_600_000, 0, "d1")), NOW)
    assert (err.field, err.rule) == ("hlc", "clock_ahead")
    assert "3.0 hours ahead" in err.message("en")
    assert "快3.0小时" in err.message("zh")


def test_check_clock_accepts_a_stamp_minutes_ahead_or_hours_behind():
    assert changes.check_clock(envelope(hlc=encode(NOW + 2 * 60_000, 0, "d1")), NOW) is None
    assert changes.check_clock(envelope(hlc=encode(NOW - 3 * 3_600_000, 0, "d1")), NOW) is None


def test_check_fields_refuses_an_edit_of_an_appended_record():
    ch = {"entity": "case_event", "fields": {"text": "改一下"}}
    assert [(e.field, e.rule) for e in changes.check_fields(ch, existing=True)] == [("record", "append_only")]


@pytest.mark.parametrize("fields", [{"head_name": "王\x00五"}, {"note": "a\x1bb"}, {"members": [{"name": "x\x07"}]},
                                    {"head_name": "王五\uffff"}, {"address": "白鹤村\ufffe3组"}])
def test_control_characters_are_refused_naming_the_field(fields):
    (err,) = validate_fields(ENTITIES["household"], fields, creating=False)
    assert err.field == next(iter(fields)) and err.rule in ("control", "type")


def test_newlines_and_tabs_in_text_are_kept():
    assert validate_fields(ENTITIES["household"], {"note": "第一行\n第二行\t完"}, creating=False) == []


@pytest.mark.parametrize("entity, fields, rule", [
    ("household", {"head_name": "王" + "\n" * 19 + "五"}, "one_line"),      # filled a phone's first screen
    ("household", {"address": "\r\n白鹤村3组"}, "one_line"),
    ("case", {"title": "漏水\u2028屋顶"}, "one_line"),
    ("household", {"head_name": "\u202e张建国 13857901234"}, "control"),     # read backwards on every phone
    ("household", {"address": "白鹤村\u20663组"}, "control"),
    ("case", {"parties": ["\u202d李四"]}, "control"),
    ("case", {"parties": ["李四", "张\n\n\n\n三"]}, "one_line"),               # the ledger showed "张" alone
    ("case", {"departments": ["司法所\r\n"]}, "one_line"),
    ("household", {"members": [{"name": "张\n三", "relation": "子"}]}, "one_line"),
    ("household", {"members": [{"name": "张三", "relation": "子", "note": "残疾\u2029低保"}]}, "one_line"),
])
def test_one_line_fields_hold_one_line_and_no_text_turns_a_row_around(entity, fields, rule):
    [err] = validate_fields(ENTITIES[entity], fields, creating=False)
    assert (err.field, err.rule) == (next(iter(fields)), rule)


def test_an_emoji_family_joined_by_zero_width_joiners_is_taken():
    assert validate_fields(ENTITIES["household"], {"note": "👨\u200d👩\u200d👧 三口之家"}, creating=False) == []


@pytest.mark.parametrize("entity, fields", [
    ("household", {"head_name": "张建\u200b国"}),          # two 张建国 rows that look the same
    ("household", {"address": "\ufeff白鹤村3组"}),
    ("household", {"phone": "1385790123\u2060"}),
    ("household", {"members": [{"name": "李\u2060四", "relation": "子"}]}),
    ("case", {"parties": ["王\u00ad五"]}),
    ("case", {"title": "漏水\u200e"}),
])
def test_invisible_characters_in_a_one_line_value_are_refused_naming_the_field(entity, fields):
    [err] = validate_fields(ENTITIES[entity], fields, creating=False)
    assert (err.field, err.rule) == (next(iter(fields)), "invisible")
    assert "看不见的字符" in err.message("zh") and "cannot be seen" in err.message("en")


def test_a_mongolian_name_written_with_its_joiners_and_vowel_separator_is_taken():
    """Traditional Mongolian (and Uyghur, Tibetan) spelling uses the zero-width joiner and
    non-joiner and the Mongolian vowel separator: they are no paste artefact."""
    name = "\u182a\u1820\u1832\u180e\u1820 \u1823\u200d\u1828\u200c\u1822"
    assert validate_fields(ENTITIES["household"], {"head_name": name}, creating=False) == []
    from sync.model import tidy
    assert tidy(ENTITIES["household"], {"head_name": name})["head_name"] == name


def test_tidy_drops_invisible_characters_from_one_line_values_and_keeps_text_as_written():
    from sync.model import tidy
    fields = {"head_name": " 张建\u200b国", "members": [{"name": "李\u2060四", "relation": "子"}],
              "note": "👨\u200d👩\u200d👧 三口之家", "tags": ["elderly_alone"]}
    out = tidy(ENTITIES["household"], fields)
    assert out["head_name"] == " 张建国" and out["members"] == [{"name": "李四", "relation": "子"}]
    assert out["note"] == fields["note"] and out["tags"] == ["elderly_alone"]
    assert validate_fields(ENTITIES["household"], {**out, "head_name": "张建国"}, creating=False) == []
    clean = {"head_name": "张建国"}
    assert tidy(ENTITIES["household"], clean) is clean   # nothing to drop: the same dict, no copy


# --- ids (issue 10: the server's indexes take new rows at their right edge) -------------
def test_new_ids_are_unique_valid_and_sort_by_the_time_they_were_made():
    import time

    from sync.model import valid_id
    ids = [changes.new_id("c") for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(valid_id(i) and len(i) == 33 for i in ids[:1000])   # the length a uuid4 id had
    time.sleep(0.002)
    later = changes.new_id("c")
    assert later > max(ids)                  # made later: sorts after every earlier one
    assert changes.new_id("r")[0] == "r"


@pytest.mark.parametrize("name, value", [("id", "c3\n"), ("grid_id", "g1\n"), ("next_visit_due", "2026-12-01\n")])
def test_a_value_with_a_line_end_after_it_is_not_an_id_nor_a_date(name, value):
    """"$" in a pattern also matches before a final line end: "c3\n" beside "c3" would be
    two records that read the same everywhere."""
    from sync.model import DATE_RE, ID_RE
    assert not ID_RE.match("c3\n") and not DATE_RE.match("2026-12-01\n")
    if name == "id":
        return
    errs = validate_fields(ENTITIES["household"], {name: value}, creating=False)
    assert [e.field for e in errs] == [name]


def test_a_distance_further_than_any_two_points_on_the_earth_is_refused():
    """A visit 50,000 km from its household was taken and shown as "50000000 m"."""
    [err] = validate_fields(ENTITIES["visit"], {"distance_m": 5e7}, creating=False)
    assert (err.field, err.rule) == ("distance_m", "range")
    assert validate_fields(ENTITIES["visit"], {"distance_m": 20_003_931.5}, creating=False) == []  # pole to pole
