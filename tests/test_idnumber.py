"""Resident ID numbers (GB 11643-1999) and phone numbers, as the forms and the roster
import check them (sync/idnumber.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from sync import idnumber as idn

VALID = "11010519491231002X"   # the standard's own example


def test_the_standards_example_is_valid_and_its_check_character_is_x():
    assert idn.check_char(VALID[:17]) == "X"
    assert idn.id_problem(VALID) is None and idn.is_valid_id(VALID)
    assert idn.birth_date(VALID) == dt.date(1949, 12, 31)


@pytest.mark.parametrize("typed", ["11010519491231002x", " 110105 19491231 002X ", "１１０１０５１９４９１２３１００２Ｘ"])
def test_what_was_typed_is_cleaned_before_it_is_checked(typed):
    assert idn.normalize_id(typed) == VALID
    assert idn.id_problem(typed) is None


@pytest.mark.parametrize("number,rule", [
    ("", "empty"), (None, "empty"),
    ("1101**********002X", "masked"),
    ("11010519491231002", "length"),
    ("1101051949123100X2", "characters"),
    ("11010519490231002X", "birth_date"),      # 31 February
    ("11010518000101002X", "birth_date"),      # before 1900
    ("110105209912310020", "birth_future"),
    ("110105194912310021", "check_digit"),
])
def test_each_broken_rule_is_named(number, rule):
    assert idn.id_problem(number, today=dt.date(2026, 11, 27)) == rule


def test_messages_say_the_rule_in_chinese_and_english():
    params = idn.id_params("110105194912310021")
    assert params["expected"] == "X" and params["date"] == "1949-12-31"
    assert "最后一位应为X" in idn.message("check_digit", "zh", **params)
    assert "should be X" in idn.message("check_digit", "en", **params)
    assert "1990-02-30" in idn.message("birth_date", "zh", **idn.id_params("110105199002300011"))
    assert "17" in idn.message("length", "zh", **idn.id_params("11010519491231002"))


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 9))
def test_every_single_wrong_digit_is_caught(first17, pos, delta):
    number = first17 + idn.check_char(first17)
    wrong = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1:]
    assert idn.check_char(wrong[:17]) != wrong[17]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(0, 15))
def test_every_swap_of_neighbouring_digits_is_caught(first17, pos):
    if first17[pos] == first17[pos + 1]:
        return
    swapped = first17[:pos] + first17[pos + 1] + first17[pos] + first17[pos + 2:]
    assert idn.check_char(swapped) != idn.check_char(first17)


def test_first_generation_numbers_only_when_asked_and_upgraded():
    old = "110105491231002"
    assert idn.id_problem(old) == "length"
    assert idn.id_problem(old, allow_15=True) is None
    assert idn.id_problem("110105490231002", allow_15=True) == "birth_date"
    assert idn.upgrade_15(old) == VALID
    with pytest.raises(ValueError):
        idn.upgrade_15("12345")
    with pytest.raises(ValueError):
        idn.check_char("123")


@pytest.mark.parametrize("typed,clean", [
    ("138 5790 1234", "13857901234"), ("+86 13857901234", "13857901234"), ("008613857901234", "13857901234"),
    ("１３８５７９０１２３４", "13857901234"), ("0579－82345678", "0579-82345678"), ("057982345678", "057982345678"),
])
def test_phone_numbers_are_cleaned_and_accepted(typed, clean):
    assert idn.normalize_phone(typed) == clean
    assert idn.phone_problem(typed) is None


@pytest.mark.parametrize("typed,rule", [
    ("", "empty"), ("1385790123", "phone_mobile"), ("12857901234", "phone_mobile"),
    ("0579-123", "phone_landline"), ("82345678", "phone_length"), ("138-abc", "phone_characters"),
])
def test_phone_problems_are_named(typed, rule):
    assert idn.phone_problem(typed) == rule
    assert idn.message(rule, "zh") and idn.message(rule, "en")
