"""Checking a resident's ID number (公民身份号码, GB 11643-1999) and a phone number, as
pure functions: the phone's and the office's household forms use them, and so may the
roster import.

An ID number has 18 characters: a 6-digit region code, the birth date (YYYYMMDD), a
3-digit sequence and a check character (0-9 or X) computed from the first 17 by ISO
7064 MOD 11-2. The check catches every single wrong digit and every swap of two
neighbouring digits. A first-generation number (15 digits, no check character, the
year written with two digits) is refused unless asked for (`allow_15`); `upgrade_15`
turns one into its 18-digit form.

`id_problem` and `phone_problem` answer the rule broken (a short code) or None;
`message(rule, lang, **params)` says it in Chinese or English. `normalize_id` and
`normalize_phone` clean what was typed (spaces, full-width digits, a lower-case x)
before it is checked and stored.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"          # the check character for sum % 11 == 0, 1, 2 ...
MASK = "*"                           # a number shown masked (sync/privacy.py)
EARLIEST_BIRTH = dt.date(1900, 1, 1)

MESSAGES = {
    "empty": ("is empty", "未填写"),
    "masked": ("is shown masked: type the whole number", "是隐去部分数字的号码：请输入完整号码"),
    "length": ("must have 18 characters (it has {n})", "应为18位（现为{n}位）"),
    "length_15": ("must have 18 characters, or 15 for a first-generation card (it has {n})",
                  "应为18位或15位（现为{n}位）"),
    "characters": ("must be 17 digits and a last digit or X", "前17位须为数字，最后一位为数字或X"),
    "birth_date": ("holds no real date of birth ({date})", "其中的出生日期（{date}）不存在"),
    "birth_future": ("holds a date of birth still to come ({date})", "其中的出生日期（{date}）尚未到来"),
    "check_digit": ("is not a valid number: the last character should be {expected} (check it was typed right)",
                    "校验位不符，最后一位应为{expected}，请核对是否输错"),
    "phone_characters": ("may hold only digits, spaces, + and -", "只能包含数字、空格、+和-"),
    "phone_mobile": ("a mobile number has 11 digits starting 13-19", "手机号应为以13至19开头的11位数字"),
    "phone_landline": ("a landline is the area code (0 and 2-3 digits) and 7-8 digits, for example 0579-82345678",
                       "固定电话应为区号加7至8位号码，例如 0579-82345678"),
    "phone_length": ("must be a mobile number (11 digits) or a landline with its area code",
                     "应为11位手机号或带区号的固定电话"),
}


def message(rule: str, lang: str = "zh", **params) -> str:
    """A rule broken, in the person's language (the field's label is said by the form)."""
    en, zh = MESSAGES[rule]
    return (zh if lang == "zh" else en).format(**params)


def _ascii_digits(text: str) -> str:
    """Full-width digits and letters (Ｘ) as ASCII; other characters as they are."""
    if text.isascii():  # what nearly everything is: a roster of 20,000 rows checks each
        return text
    return "".join(unicodedata.normalize("NFKC", c) if ord(c) > 127 and unicodedata.category(c)[0] in "LN"
                   else c for c in text)


def normalize_id(text: str | None) -> str:
    """What was typed, cleaned: spaces gone, full-width digits and x made ASCII, X upper-case."""
    if not text:
        return ""
    return re.sub(r"\s+", "", _ascii_digits(text)).upper()


def check_char(first17: str) -> str:
    """The check character (0-9 or X) of the first 17 digits (GB 11643-1999)."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise ValueError("the first 17 characters must be digits")
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def birth_date(number: str) -> dt.date | None:
    """The date of birth an 18-digit (or 15-digit) number holds, or None."""
    n = normalize_id(number)
    text = n[6:14] if len(n) == 18 else ("19" + n[6:12] if len(n) == 15 else "")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8])) if text.isdecimal() else None
    except ValueError:
        return None


def id_problem(number: str | None, *, today: dt.date | None = None, allow_15: bool = False) -> str | None:
    """None for a valid ID number, else the rule it breaks: "empty", "masked", "length"
    ("length_15" with allow_15), "characters", "birth_date", "birth_future", "check_digit".
    The number is normalized first (normalize_id). Params for `message`: `id_params`."""
    n = normalize_id(number)
    if not n:
        return "empty"
    if MASK in n:
        return "masked"
    if allow_15 and len(n) == 15:
        if not n.isdigit() or not n.isascii():
            return "characters"
        born = birth_date(n)
        return None if born is not None and EARLIEST_BIRTH <= born else "birth_date"
    if len(n) != 18:
        return "length_15" if allow_15 else "length"
    if not (n[:17].isdigit() and n[:17].isascii() and (n[17].isdigit() or n[17] == "X")):
        return "characters"
    born = birth_date(n)
    if born is None or born < EARLIEST_BIRTH:
        return "birth_date"
    if born > (today or dt.date.today()):
        return "birth_future"
    if check_char(n[:17]) != n[17]:
        return "check_digit"
    return None


def id_params(number: str | None) -> dict:
    """What `message` needs to say an ID number's problem: its length, its date of birth
    as written, the check character it should end with."""
    n = normalize_id(number)
    out = {"n": len(n), "date": "", "expected": ""}
    if len(n) >= 14:
        out["date"] = f"{n[6:10]}-{n[10:12]}-{n[12:14]}" if len(n) == 18 else f"19{n[6:8]}-{n[8:10]}-{n[10:12]}"
    if len(n) == 18 and n[:17].isdigit() and n[:17].isascii():
        out["expected"] = check_char(n[:17])
    return out


def is_valid_id(number: str | None, **kw) -> bool:
    return id_problem(number, **kw) is None


def upgrade_15(number: str) -> str:
    """A first-generation 15-digit number in its 18-digit form (born in the 1900s: "19"
    inserted before the year, the check character added). ValueError if it is not one."""
    n = normalize_id(number)
    if len(n) != 15 or not n.isdigit() or not n.isascii():
        raise ValueError("not a 15-digit ID number")
    first17 = n[:6] + "19" + n[6:]
    return first17 + check_char(first17)


# --- phone numbers -----------------------------------------------------------------
MOBILE_RE = re.compile(r"^1[3-9]\d{9}\Z")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}\Z")


def normalize_phone(text: str | None) -> str:
    """What was typed, cleaned: full-width digits made ASCII, spaces gone, a leading +86
    or 0086 dropped from a mobile number; a landline keeps its dash."""
    if not text:
        return ""
    p = re.sub(r"\s+", "", _ascii_digits(text)).replace("－", "-").replace("—", "-")
    for prefix in ("+86", "0086"):
        if p.startswith(prefix) and MOBILE_RE.match(p[len(prefix):].lstrip("-")):
            p = p[len(prefix):].lstrip("-")
    if MOBILE_RE.match(p.replace("-", "")):
        p = p.replace("-", "")
    return p


def phone_problem(text: str | None) -> str | None:
    """None for a mobile number (11 digits, 13-19…) or a landline with its area code
    (0579-82345678 or 057982345678), else the rule broken: "empty", "phone_characters",
    "phone_mobile", "phone_landline", "phone_length"."""
    p = normalize_phone(text)
    if not p:
        return "empty"
    if not re.fullmatch(r"[0-9+\-]+", p):
        return "phone_characters"
    if MOBILE_RE.match(p) or LANDLINE_RE.match(p):
        return None
    digits = p.replace("-", "").replace("+", "")
    if p.startswith("1"):
        return "phone_mobile"
    if p.startswith("0"):
        return "phone_landline"
    return "phone_length" if digits.isdigit() else "phone_characters"


__all__ = ["id_problem", "id_params", "is_valid_id", "check_char", "birth_date", "normalize_id", "upgrade_15",
           "phone_problem", "normalize_phone", "message", "MESSAGES"]
