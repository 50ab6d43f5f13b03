"""WGS-84 → GCJ-02: where the township's map tiles are drawn in China's obfuscated
coordinate system (most Chinese providers' tiles), positions kept as GPS gives them
(WGS-84) are shifted here, and only here, before they are drawn over those tiles.

The transform is the published one (the constants of the Krasovsky ellipsoid and the
two offset series every open implementation uses); outside China's rough bounding box
there is no shift. Nothing is ever stored shifted: the store keeps WGS-84.
"""

from __future__ import annotations

import math

A = 6378245.0                  # Krasovsky 1940 semi-major axis, metres
EE = 0.00669342162296594323    # its first eccentricity squared


def out_of_china(lat: float, lon: float) -> bool:
    """The transform's own test: a box around mainland China (no shift outside it)."""
    return not (73.66 < lon < 135.05 and 3.86 < lat < 53.55)


def _dlat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _dlon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) in GCJ-02 for a WGS-84 position; unchanged outside China."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat = _dlat(lon - 105.0, lat - 35.0)
    dlon = _dlon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (A / sqrt_magic * math.cos(rad) * math.pi)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The inverse, by fixed-point iteration (better than a centimetre after a few
    rounds): for a position picked on GCJ-02 tiles, to be stored as WGS-84."""
    if out_of_china(lat, lon):
        return lat, lon
    wlat, wlon = lat, lon
    for _ in range(10):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        wlat, wlon = wlat - (glat - lat), wlon - (glon - lon)
    return wlat, wlon


def for_map(lat: float, lon: float, crs: str | None) -> tuple[float, float]:
    """Where a stored (WGS-84) position is drawn over tiles in `crs` (the township's
    setting tiles_crs: "wgs84" or "gcj02")."""
    if crs == "gcj02":
        return wgs84_to_gcj02(lat, lon)
    return lat, lon
