"""Which of a matter's callbacks came later, in SQL, for everything that reads the
callbacks table: the figures (stats.py: a try that reached no one and was followed by
another callback is counted no more, rules.superseded), the ledger's 回访 and 满意度
columns (export.py: the latest callback) and the office's callback queue (office.py:
the matters whose latest callback reached no one). A matter called back twice is then
counted, exported and listed alike, and as its page says (queries.last_callback_answer,
which these follow).

The order is the page's: the time a callback was made, then, for two made in the same
second, the stamp of its first write (the order they were recorded in), then its id.
Neither a row's place in the table nor its id is an order: the figures went by the one
and the ledger by the other, and a record rewritten (an erasure rewrites a matter's
callbacks in the order of their ids) or given its id elsewhere (the demo's, an
import's) made them disagree. The central store keeps every time in +08:00 (the
`time_zone` rule, migrations._central_7_china_time), so times compare as text.
"""

from __future__ import annotations


def _first_stamp(cb: str) -> str:
    """The stamp of a callback's first write (append-only: its create), from its versions
    (merge.loads: every entry, the shared one too, begins with its stamp)."""
    return f"coalesce((SELECT min(json_extract(v.value, '$[0]')) FROM json_each({cb}._versions) v), '')"


def later(l: str, cb: str) -> str:
    """SQL: callback `l` was made after callback `cb` (both table aliases)."""
    return (f"({l}.at > {cb}.at OR ({l}.at = {cb}.at AND ({_first_stamp(l)} > {_first_stamp(cb)}"
            f" OR ({_first_stamp(l)} = {_first_stamp(cb)} AND {l}.id > {cb}.id))))")


def called_back_after(cb: str, before: str | None = None) -> str:
    """SQL: the matter of callback `cb` was called back again after it, at a time before
    `before` (SQL of a day: the one after the last day counted), or ever (None)."""
    bound = f" AND l.at < {before}" if before else ""
    return f"EXISTS (SELECT 1 FROM callbacks l WHERE l.case_id = {cb}.case_id{bound} AND {later('l', cb)})"


def latest(cb: str, before: str | None = None) -> str:
    """SQL: callback `cb` is its matter's latest (made before `before`, if given: `cb`'s
    own time is bounded by the caller)."""
    return f"NOT {called_back_after(cb, before)}"
