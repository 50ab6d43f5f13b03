"""The sync routes' short way past the framework (sync/server/fastpath.py): taken by a
plainly well-formed push or pull, answering exactly as the routes do through FastAPI,
and never taken by anything the framework would have refused."""

import pytest
from fastapi.testclient import TestClient

from sync import changes, clock
from sync.server.app import create_app
from sync.server.fastpath import SyncFastPath

PW = "long-enough-1"
PULL = "/api/v1/sync/pull"
PUSH = "/api/v1/sync/push"


@pytest.fixture
def api(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)  # fast scrypt: not about hashing
    app = create_app(str(tmp_path / "c.db"))
    store = app.state.store
    store.add_grid("g1", "一组", "白鹤村", "金山镇")
    store.add_account("w1", "王芳", "grid_worker", PW, ["g1"])
    http = TestClient(app)
    token = http.post("/api/v1/auth/login", headers={"X-Gridbook-Protocol": str(changes.PROTOCOL_VERSION)},
                      json={"username": "w1", "password": PW, "device_id": "phone1"}).json()["token"]
    http.headers.update({"X-Gridbook-Protocol": str(changes.PROTOCOL_VERSION), "X-Gridbook-Device": "phone1",
                         "Authorization": f"Bearer {token}"})
    yield app, http
    http.close()
    store.close()


def _layer(app) -> SyncFastPath:
    node = app.middleware_stack
    while not isinstance(node, SyncFastPath):
        node = node.app
    return node


def _households(n: int) -> list[dict]:
    return [changes.make("household", changes.new_id("h"),
                         {"grid_id": "g1", "head_name": f"住户{i}", "address": f"白鹤村{i}组"},
                         clock.encode(clock.wall_ms(), i, "phone1"), "phone1", "w1") for i in range(n)]


def _same(a, b) -> None:
    """Two answers alike but for the moment they were made."""
    assert a.status_code == b.status_code
    ja, jb = a.json(), b.json()
    for j in (ja, jb):
        j.pop("server_time", None)
    assert ja == jb
    for name in ("content-type", "x-frame-options", "x-content-type-options", "cache-control"):
        assert a.headers.get(name) == b.headers.get(name), name
    assert "x-gridbook-server-time" in a.headers and "x-gridbook-server-time" in b.headers


def test_a_plain_push_and_pull_take_the_short_way_and_answer_as_the_framework_does(api):
    app, http = api
    batch = _households(3)
    r = http.post(PUSH, json={"changes": batch})
    fast = _layer(app)
    assert r.status_code == 200 and r.json()["counts"]["applied"] == 3
    assert fast.taken == 1
    again = http.post(PUSH, json={"changes": batch}, params={"via": "framework"})  # an unknown query: not taken
    assert fast.taken == 1 and again.json()["counts"]["duplicate"] == 3

    short = http.get(PULL, params={"limit": 500})
    long = http.get(PULL, params={"limit": 500, "via": "framework"})
    assert fast.taken == 2
    _same(short, long)
    assert {ch["id"] for ch in batch} <= {ch["id"] for ch in short.json()["changes"]}
    cursor = short.json()["cursor"]
    _same(http.get(PULL, params={"cursor": cursor}), http.get(PULL, params={"cursor": cursor, "via": "x"}))
    assert fast.taken == 3


def test_refusals_read_the_same_either_way(api):
    app, http = api
    http.get(PULL)
    fast = _layer(app)
    before = fast.taken
    stranger = {"Authorization": "Bearer not-a-token"}
    short = http.get(PULL, headers=stranger)
    _same(short, http.get(PULL, headers=stranger, params={"via": "x"}))
    assert short.status_code == 401 and short.json()["error"] == "unauthorized"
    bad = {"changes": [{"id": 5}]}
    _same(http.post(PUSH, json=bad), http.post(PUSH, json=bad, params={"via": "x"}))
    _same(http.post(PUSH, content=b"{not json"), http.post(PUSH, content=b"{not json", params={"via": "x"}))
    assert fast.taken == before + 3  # the short way answered one of each pair


@pytest.mark.parametrize("how", [
    {"headers": {"X-Gridbook-Protocol": "1"}},                      # an old app: 426
    {"headers": {"X-Gridbook-Protocol": "99"}},                     # a newer one: 426
    {"headers": {"Authorization": "Bearer " + "x" * 300}},          # over-long: 422
    {"params": {"cursor": "12.zz"}},                                # not a cursor: 422
    {"params": {"limit": "0"}},
    {"params": {"limit": "5001"}},
    {"params": {"limit": "ten"}},
    {"params": [("cursor", "1"), ("cursor", "2")]},                 # said twice
])
def test_what_the_framework_would_refuse_is_left_to_it(api, how):
    app, http = api
    http.get(PULL)
    fast = _layer(app)
    before = fast.taken
    r = http.get(PULL, **how)
    assert fast.taken == before
    assert r.status_code in (200, 422, 426)
    assert r.status_code == 200 or r.json()["error"] in ("invalid_request", "protocol_unsupported", "update_required")


def test_a_request_without_the_protocol_header_is_told_to_send_it(api):
    app, http = api
    del http.headers["X-Gridbook-Protocol"]
    r = http.get(PULL)
    assert r.status_code == 400 and r.json()["error"] == "protocol_missing"
    r = http.post(PUSH, json={"changes": []})
    assert r.status_code == 400 and r.json()["error"] == "protocol_missing"


def test_an_empty_protocol_header_is_told_to_send_it_too(api):
    app, http = api
    for empty in ("", " "):
        http.headers["X-Gridbook-Protocol"] = empty
        for r in (http.get(PULL), http.post(PUSH, json={"changes": []})):
            assert r.status_code == 400 and r.json()["error"] == "protocol_missing", r.text
            assert "X-Gridbook-Protocol: 2" in r.json()["message"]
