"""Positions on a visit: how good the fix is, and how far it is from the household.

The office relies on the far-from-home flag to check that a visit happened where it
says: it is computed here, once, and stored on the visit record.
"""

from __future__ import annotations

from dataclasses import dataclass

from geopy.distance import geodesic

POOR_ACCURACY_M = 50.0      # a fix worse than this gets a warning
FAR_FROM_HOME_M = 300.0     # default; a township may set its own (settings)


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    accuracy_m: float | None = None
    source: str = "gps"          # gps | manual
    mocked: bool = False

    @property
    def poor(self) -> bool:
        return self.source == "gps" and (self.accuracy_m is None or self.accuracy_m > POOR_ACCURACY_M)


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
