"""Positions on a visit: how good the fix is, and how far it is from the household.

The office relies on the far-from-home flag to check that a visit happened where it
says: it is computed here, once, and stored on the visit record.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from geopy.distance import geodesic

POOR_ACCURACY_M = 50.0      # a fix worse than this gets a warning
FAR_FROM_HOME_M = 300.0     # default; a township may set its own (settings)
# A fix says where the phone was when it was taken: older than this, or far from where
# the phone now is, it is not used for a record (a new one is taken).
MAX_FIX_AGE_S = 60.0
MOVED_M = 100.0             # farther than this (and than the two fixes' accuracies): moved


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    accuracy_m: float | None = None
    source: str = "gps"          # gps | manual
    mocked: bool = False
    taken_ms: int | None = None  # when the position was determined (ms since the epoch)

    @property
    def poor(self) -> bool:
        return self.source == "gps" and (self.accuracy_m is None or self.accuracy_m > POOR_ACCURACY_M)


def now_ms() -> int:
    return int(time.time() * 1000)


def position_time_ms(stamp, received_ms: int) -> int:
    """When a platform's position was determined, in ms since the epoch. A time with its
    zone is taken as it is; one without (a browser's) as the phone's local time, unless
    that puts it in the future or hours away (the app served from another machine in
    another zone): then the moment it arrived. No stamp: the moment it arrived."""
    if not isinstance(stamp, dt.datetime):
        return received_ms
    ms = int(stamp.timestamp() * 1000)
    if stamp.tzinfo is None and not -3_600_000 < received_ms - ms < 3_600_000:
        return received_ms
    return min(ms, received_ms)


def fix_age_s(fix: Fix, at_ms: int | None = None) -> float | None:
    if fix.taken_ms is None:
        return None
    return max(0.0, ((at_ms if at_ms is not None else now_ms()) - fix.taken_ms) / 1000)


def stale_reason(fix: Fix | None, at_ms: int | None = None, here: Fix | None = None,
                 max_age_s: float = MAX_FIX_AGE_S) -> str | None:
    """Why a GPS fix may not be used for a record now: "old" (taken over a minute ago,
    or when is unknown), "moved" (the phone is now farther from it than MOVED_M and the
    two accuracies); None when it may. A typed position is the person's word: never stale."""
    if fix is None or fix.source != "gps":
        return None
    age = fix_age_s(fix, at_ms)
    if age is None or age > max_age_s:
        return "old"
    if here is not None:
        limit = max(MOVED_M, (fix.accuracy_m or 0) + (here.accuracy_m or 0))
        if geodesic((fix.lat, fix.lon), (here.lat, here.lon)).meters > limit:
            return "moved"
    return None


def placed(record: dict) -> bool:
    """Whether a record has a whole position (one from before the server refused half of
    one may hold a latitude alone: such a household took the map away from a whole grid)."""
    return record.get("lat") is not None and record.get("lon") is not None


def distance_m(fix: Fix, lat: float | None, lon: float | None) -> float | None:
    """Geodesic metres from the fix to a registered location, None when it has none."""
    if lat is None or lon is None:
        return None
    return geodesic((fix.lat, fix.lon), (lat, lon)).meters


def visit_location_fields(fix: Fix | None, household: dict | None,
                          far_m: float = FAR_FROM_HOME_M) -> dict:
    """The location fields a visit record carries, with the distance and the flag."""
    if fix is None:
        return {}
    out = {"lat": round(fix.lat, 7), "lon": round(fix.lon, 7), "location_source": fix.source,
           "mocked": bool(fix.mocked)}
    if fix.accuracy_m is not None:
        out["accuracy_m"] = round(float(fix.accuracy_m), 1)
    if household:
        d = distance_m(fix, household.get("lat"), household.get("lon"))
        if d is not None:
            out["distance_m"] = round(d, 1)
            out["far_from_home"] = d > far_m
    return out


def parse_manual(lat_text: str, lon_text: str) -> tuple[Fix | None, dict[str, str]]:
    """A manual position typed by the person; errors keyed by field ("lat", "lon")."""
    errors, vals = {}, {}
    for name, text, lim in (("lat", lat_text, 90), ("lon", lon_text, 180)):
        try:
            v = float(text.strip().replace("，", ".").replace(",", "."))
        except ValueError:
            errors[name] = "number"
            continue
        if not -lim <= v <= lim:
            errors[name] = "range"
        vals[name] = v
    if errors:
        return None, errors
    return Fix(vals["lat"], vals["lon"], None, "manual", False), {}


def format_distance(m: float | None) -> str:
    if m is None:
        return ""
    return f"{m:.0f} m" if m < 1000 else f"{m / 1000:.1f} km"
