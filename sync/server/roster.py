"""Household rosters (户籍 / 网格人口台账) imported from Excel or CSV: matched by header,
checked row by row, written as ordinary changes. (Issue 9; `import_command` is called by
the CLI.)"""

from __future__ import annotations


def import_command(args) -> int:
    raise ValueError("gridbook household import is not available yet")
