"""WGS-84 → GCJ-02 against published pairs (each within a metre), no shift outside
China, and the inverse."""

import math

import pytest

from sync import gcj02


def metres(a, b) -> float:
    return math.hypot((a[0] - b[0]) * 111_320, (a[1] - b[1]) * 111_320 * math.cos(math.radians(a[0])))


# (WGS-84 lat, lon) -> (GCJ-02 lat, lon), from open implementations' published tests
# (coordtransform / hutool: Beijing; geoToolbox: north of Beijing; pyxis: near Shanghai;
# a Zhengzhou pair; a point on Tiananmen Square read off both maps).
PAIRS = [
    ((39.915, 116.404), (39.91640428150164, 116.41024449916938)),
    ((40.0, 116.0), (40.001213650174, 116.006141221789)),
    ((30.6107779, 121.0917077), (30.608604331756705, 121.09626935575027)),
    ((34.829793, 113.647881), (34.8287280094783, 113.65396374215176)),
    ((39.905560, 116.391314), (39.906961, 116.397555)),
]


@pytest.mark.parametrize("wgs, gcj", PAIRS)
def test_known_pairs_within_a_metre(wgs, gcj):
    assert metres(gcj02.wgs84_to_gcj02(*wgs), gcj) < 1.0


def test_the_shift_is_hundreds_of_metres_in_china():
    # the whole point: without it, a marker sits a street or two away from its house
    got = gcj02.wgs84_to_gcj02(29.0712, 119.6471)   # 白鹤村 (the demo township)
    assert 300 < metres(got, (29.0712, 119.6471)) < 700


@pytest.mark.parametrize("pt", [(51.5007, -0.1246), (48.8584, 2.2945), (35.6586, 139.7454), (-33.8568, 151.2153)])
def test_no_shift_outside_china(pt):
    assert gcj02.wgs84_to_gcj02(*pt) == pt
    assert gcj02.for_map(*pt, "gcj02") == pt


def test_inverse_of_a_published_pair():
    # gcoord: GCJ-02 (45, 123) is WGS-84 (44.99804071, 122.99395597)
    assert metres(gcj02.gcj02_to_wgs84(45.0, 123.0), (44.99804071, 122.99395597)) < 1.0


def test_round_trip_within_a_centimetre():
    for lat, lon in [(29.0712, 119.6471), (22.54, 114.06), (45.75, 126.63), (25.04, 102.71)]:
        back = gcj02.gcj02_to_wgs84(*gcj02.wgs84_to_gcj02(lat, lon))
        assert metres(back, (lat, lon)) < 0.01


def test_for_map_shifts_only_for_gcj02_tiles():
    pt = (29.0712, 119.6471)
    assert gcj02.for_map(*pt, "wgs84") == pt
    assert gcj02.for_map(*pt, None) == pt
    assert gcj02.for_map(*pt, "gcj02") == gcj02.wgs84_to_gcj02(*pt)
