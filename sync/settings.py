"""The township's settings: what the office decides once for every phone (the far-visit
threshold, how often each need is visited, photo limits, the map's tiles).

Kept in the central store (`gridbook setting NAME VALUE`), sent to phones with every
pull, read on both sides through `resolve`: a phone that has not synced yet uses the
defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import codes


@dataclass(frozen=True)
class Setting:
    default: object
    kind: type
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    help: str = ""


# How often a household with a need is visited, in days (the township may change each).
VISIT_EVERY = {"elderly_alone": 7, "left_behind_child": 14, "serious_illness": 14, "poverty_by_illness": 14,
               "disability": 30, "dibao": 30, "temporary_aid": 30, "unemployed": 30}
VISIT_EVERY_DEFAULT = 90  # a household with no need recorded

SETTINGS: dict[str, Setting] = {
    "far_m": Setting(300.0, float, 10, 100_000, help="far-visit threshold, metres"),
    "visit_every.default": Setting(VISIT_EVERY_DEFAULT, int, 1, 366, help="days between visits, no need recorded"),
    **{f"visit_every.{need}": Setting(days, int, 1, 366, help=f"days between visits: {codes.NEEDS[need]['en']}")
       for need, days in VISIT_EVERY.items()},
    "photo_max_mb": Setting(5.0, float, 0.1, 50, help="largest photo taken, MB"),
    "audio_max_mb": Setting(2.0, float, 0.1, 50, help="largest voice note, MB"),
    "photo_keep_location": Setting(False, bool, help="keep the GPS position inside photos (removed by default)"),
    "tiles_min_zoom": Setting(12, int, 0, 22, help="least detailed map level phones download"),
    "tiles_max_zoom": Setting(17, int, 0, 22, help="most detailed map level phones download"),
    "tiles_crs": Setting("wgs84", str, choices=("wgs84", "gcj02"), help="the coordinate system of the tiles"),
    # After a restore from the backup, phones offer again what they pushed this many days
    # back (docs/sync-protocol.md, "After a restore"): longer than the backup may lag.
    "keep_pushed_days": Setting(30, int, 1, 366, help="days a phone keeps what it pushed, to offer it again "
                                                      "to a server restored from its backup"),
    # PIPL art. 19/47: personal data kept no longer than needed (sync/server/retention.py)
    "retention_years": Setting(0, int, 0, 100, help="erase the personal fields of matters closed more than this "
                                                     "many years ago (0: keep; 'gridbook retention apply')"),
}


def defaults() -> dict:
    return {name: s.default for name, s in SETTINGS.items()}


def resolve(stored: dict | None) -> dict:
    """Every setting, the stored value where there is one (a value from a newer server
    that this version does not know is kept as it came)."""
    return {**defaults(), **(stored or {})}


def parse(name: str, text) -> object:
    """The value of a setting from what was typed; ValueError naming the rule."""
    s = SETTINGS.get(name)
    if s is None:
        raise ValueError(f"no setting named {name}: one of {', '.join(SETTINGS)}")
    if s.kind is bool:
        value = str(text).strip().lower()
        if value not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name} must be true or false")
        return value in ("true", "1", "yes")
    try:
        value = s.kind(text)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a {s.kind.__name__}")
    if s.choices and value not in s.choices:
        raise ValueError(f"{name} must be one of {', '.join(s.choices)}")
    if s.lo is not None and not s.lo <= value <= s.hi:
        raise ValueError(f"{name} must be between {s.lo:g} and {s.hi:g}")
    return value


def visit_every(settings: dict, needs: list[str] | None) -> int:
    """Days until a household is due again: the shortest of its needs' (none: the default)."""
    days = [int(settings.get(f"visit_every.{n}", VISIT_EVERY.get(n, VISIT_EVERY_DEFAULT))) for n in needs or ()]
    return min(days) if days else int(settings.get("visit_every.default", VISIT_EVERY_DEFAULT))
