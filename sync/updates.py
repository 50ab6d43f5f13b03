"""What 今日 lists under 有更新 (cases I follow that changed) for the person signed in on
a phone, as plain functions: the workspace reads the phone's store, these decide.

A person follows the matters they reported and, a leader, those they own. One is an
update when someone else wrote to it after the person last looked at it (opening it
keeps its newest stamp as seen). What the first sync after a sign-in brings, on a phone
that held nothing of what this person had seen (a new or reinstalled phone, one handed
on by someone else), is where they start from, not news: listed, it buried the real
updates under every matter they had, as if the office had just changed them all. A
matter given to them after that has nothing seen, and is listed: it is news.
"""

from __future__ import annotations


def follows(case: dict, username: str, role: str) -> bool:
    """Whether the person follows the matter on 今日: they reported it, or own it as leader."""
    return case.get("reported_by") == username or (role == "leader" and case.get("owner") == username)


def newest_stamp(versions: dict, exclude_author: str | None = None) -> str:
    """The newest write to a record ("" for none), or the newest not by `exclude_author`."""
    stamps = [st[0] for st in versions.values() if exclude_author is None or st[1] != exclude_author]
    return max(stamps, default="")


def is_update(by_others: str, seen: str | None, starting: bool) -> bool:
    """Whether a followed matter is listed under 有更新. `by_others`: its newest stamp
    written by someone else; `seen`: its newest stamp when the person last looked (None:
    never); `starting`: the first sync since a sign-in that started afresh is not through
    yet, so what is arriving is the starting point (a pull cut off halfway resumes later)."""
    return not starting and bool(by_others) and by_others > (seen or "")


def starts_afresh(before: dict | None, username: str) -> bool:
    """Whether a sign-in starts the person's seen state afresh (their first sync becomes
    the starting point): on a phone no one had signed in on (new, reinstalled, its data
    cleared), or one someone else held (what they had read is not kept: hand_over). The
    same person signing in again keeps what they had read, as they keep their records:
    what changed while they were signed out is still news to them."""
    return before is None or before.get("username") != username


def starting_point(cases: list[tuple[dict, dict]], username: str, role: str) -> dict[str, str]:
    """What the person is taken to have seen when the first sync is through: each matter
    they follow as it then stands (its newest stamp, as opening it keeps), by id.
    `cases`: (row, versions) of every case the phone holds."""
    return {row["id"]: newest_stamp(ver) for row, ver in cases if follows(row, username, role)}
