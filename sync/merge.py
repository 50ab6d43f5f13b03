"""The merge rule: how a change is folded into a record, the same on every replica.

Each field of a record keeps a small version state:

- `w`, `a`: the stamp (hybrid logical clock) and author of the value it shows;
- `r`: every stamp that some write of this field named as its base, that is, the
  values its author had seen and replaced;
- `c`: the other *heads* — writes nobody has built on yet — with their values. These
  are the losing sides of concurrent edits, kept and shown as conflicts.

A write names, per field, the stamps it replaces (`base`). The heads of a field are
the writes that no known write names as a base; the shown value is the head with the
greatest stamp. Both are functions of the *set* of writes seen, so every replica that
has seen the same changes holds the same state whatever order they came in; and a
descendant always has a greater stamp than its base (the clock guarantees it), so the
newest head is never an ancestor of another. Resolving a conflict is a write whose
base names all heads.
"""

from __future__ import annotations

import json
from typing import Any


def merge_field(state: list | None, current: Any, stamp: str, value: Any,
                author: str, bases: list[str]) -> tuple[list, Any]:
    """Fold one write into a field's version state; returns (state, shown value).

    `state` is the stored list [w, a] or [w, a, r, c]; `current` the shown value.
    """
    if state is None:
        heads: dict[str, list] = {}
        replaced: set[str] = set(bases)
    else:
        heads = dict(state[3]) if len(state) > 2 else {}
        heads[state[0]] = [current, state[1]]
        replaced = set(state[2]) if len(state) > 2 else set()
        replaced.update(bases)
    if stamp not in replaced:
        heads.setdefault(stamp, [value, author])
    for b in replaced.intersection(heads):
        del heads[b]
    winner = max(heads)
    shown, winner_author = heads.pop(winner)
    if not replaced and not heads:
        return [winner, winner_author], shown
    return [winner, winner_author, sorted(replaced), dict(sorted(heads.items()))], shown


def merge_change(row: dict | None, versions: dict, change: dict) -> tuple[dict, dict]:
    """Fold a change into a record (row of field values, versions by field)."""
    row = dict(row) if row else {"id": change["record"]}
    versions = dict(versions)
    bases = change.get("base") or {}
    stamp, author = change["hlc"], change["author"]
    for name, value in change["fields"].items():
        versions[name], row[name] = merge_field(
            versions.get(name), row.get(name), stamp, value, author, bases.get(name, ()))
    return row, versions


def conflicts(versions: dict) -> list[dict]:
    """The losing sides of concurrent edits, field by field, oldest first."""
    out = []
    for name, st in sorted(versions.items()):
        if len(st) > 2:
            for stamp, (value, author) in st[3].items():
                out.append({"field": name, "hlc": stamp, "value": value, "author": author})
    return out


def heads(versions: dict, name: str) -> list[str]:
    """The stamps a write to this field replaces when its author has seen them all."""
    st = versions.get(name)
    if st is None:
        return []
    return [st[0], *(st[3] if len(st) > 2 else ())]


def dumps(versions: dict) -> str:
    return json.dumps(versions, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
