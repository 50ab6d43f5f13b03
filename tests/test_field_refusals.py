"""Every text field of the phone and the office lets a refusal under it wrap. Flutter cuts
a field's error at one line unless told otherwise; at 360 px an English refusal, or a
Chinese one naming a field and its rule, takes two or three (the empty visit's was cut
mid-sentence). Read from the source, so a field added later is held to it too."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "fieldapp").rglob("*.py"))


def text_fields(path: Path) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and n.func.attr == "TextField"]


def test_the_screens_have_text_fields_to_check():
    assert sum(len(text_fields(p)) for p in SOURCES) >= 30


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_text_field_lets_its_refusal_take_more_than_one_line(path):
    cut = [f"{path.name}:{call.lineno}" for call in text_fields(path)
           if not any(k.arg == "error_max_lines" and not (isinstance(k.value, ast.Constant) and k.value.value in (None, 1))
                      for k in call.keywords)]
    assert cut == [], f"a refusal under these fields is cut at one line: {cut}"
