"""Bad input against the real server: each is answered with a clear 4xx whose message
names the problem, the server keeps serving, and nothing stored changes."""

from __future__ import annotations

import gzip
import json
import re
import socket

import httpx
import pytest

from sync import changes, clock

from .conftest import PROTO, auth_headers, case_fields, household_fields

pytestmark = pytest.mark.integration

PUSH = "/api/v1/sync/push"
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def guard(server_alive_after):
    """Yields (server, worker headers); afterwards the store must be exactly as before
    and the server still answering."""
    srv = server_alive_after
    headers = auth_headers(srv, "worker1")
    before = srv.fingerprint()
    yield srv, headers
    assert srv.fingerprint() == before


def post(srv, path, headers, **kw) -> httpx.Response:
    return httpx.post(srv.url + path, headers=headers, timeout=60, **kw)


def change(entity="case", fields=None, record=None, **over) -> dict:
    ch = changes.make(entity, record or changes.new_id("r"),
                      case_fields("g1", "worker1") if fields is None else fields,
                      clock.encode(clock.wall_ms(), 0, "dev-worker1"), "dev-worker1", "worker1")
    ch.update(over)
    return ch


def rejected_one(r: httpx.Response, status: int = 422) -> dict:
    """The single per-change result of a refused push."""
    assert r.status_code == status, r.text
    body = r.json()
    assert body["counts"]["applied"] == 0
    [res] = body["results"]
    assert res["status"] == "rejected"
    return res


# --- the request as a whole ---------------------------------------------------------

def test_malformed_json_is_400(guard):
    srv, h = guard
    r = post(srv, PUSH, {**h, "Content-Type": "application/json"}, content=b'{"changes": [')
    assert r.status_code == 400
    assert r.json()["error"] == "malformed_json" and "not valid JSON" in r.json()["message"]


def test_body_that_is_not_utf8_is_400(guard):
    srv, h = guard
    r = post(srv, PUSH, h, content=b'{"changes": ["\xff\xfe"]}')
    assert r.status_code == 400
    assert "JSON" in r.json()["message"]


def test_deeply_nested_json_is_a_clear_4xx_not_a_crash(guard):
    srv, h = guard
    r = post(srv, PUSH, h, content=b"[" * 200_000 + b"]" * 200_000)
    assert r.status_code == 400, r.text
    assert "JSON" in r.json()["message"]


@pytest.mark.parametrize("body", [
    {"changes": {"id": "c1"}},          # changes not a list
    {"changes": "all of them"},
    {"change": []},                     # the key misspelt
    [{"id": "c1"}],                     # a bare list
    "changes",
])
def test_changes_not_a_list_is_422_naming_changes(guard, body):
    srv, h = guard
    r = post(srv, PUSH, h, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith("changes:")


def test_more_changes_than_one_push_may_carry_is_413(guard):
    srv, h = guard
    from sync.server.app import MAX_BATCH
    r = post(srv, PUSH, h, json={"changes": [{}] * (MAX_BATCH + 1)})
    assert r.status_code == 413
    assert str(MAX_BATCH) in r.json()["message"]


def raw_http(srv, headers: dict, body_parts) -> tuple[int, dict]:
    """One HTTP/1.1 request over a plain socket, so the test controls exactly what is
    sent before the answer is read (a client library may race an early 413 while it
    is still writing megabytes, and see a reset instead)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=60) as s:
        head = f"POST {PUSH} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        s.sendall(head.encode())
        for part in body_parts:
            s.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(rest) < length:
            rest += s.recv(65536)
    return int(head.split()[1]), json.loads(rest[:length])


def test_oversized_body_is_413_from_its_declared_length(guard):
    srv, h = guard
    status, body = raw_http(srv, {**h, "Content-Type": "application/json",
                                  "Content-Length": str(9 * 1024 * 1024)}, [b'{"changes": ['])
    assert status == 413
    assert body["error"] == "body_too_large" and "8 MB" in body["message"]


def test_oversized_streamed_body_is_413(guard):
    # Chunked, so no length is declared: the server must count while it reads.
    srv, h = guard
    chunk = b"x" * (1024 * 1024)
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 8 + [b"1\r\nx\r\n"]  # 8 MB + 1 byte
    status, body = raw_http(srv, {**h, "Content-Type": "application/json",
                                  "Transfer-Encoding": "chunked"}, parts)
    assert status == 413
    assert body["error"] == "body_too_large"


def test_gzip_bomb_is_413_on_the_inflated_size(guard):
    srv, h = guard
    bomb = gzip.compress(b'{"changes": [], "pad": "' + b" " * (20 * 1024 * 1024) + b'"}')
    assert len(bomb) < 100_000
    r = post(srv, PUSH, {**h, "Content-Encoding": "gzip"}, content=bomb)
    assert r.status_code == 413
    assert r.json()["error"] == "body_too_large"


def test_gzip_header_with_a_body_that_is_not_gzip_is_400(guard):
    srv, h = guard
    r = post(srv, PUSH, {**h, "Content-Encoding": "gzip"}, json={"changes": []})
    assert r.status_code == 400
    assert "gzip" in r.json()["message"]


def test_gzip_body_cut_short_is_400(guard):
    srv, h = guard
    whole = gzip.compress(json.dumps({"changes": [change()]}).encode())
    r = post(srv, PUSH, {**h, "Content-Encoding": "gzip"}, content=whole[: len(whole) // 2])
    assert r.status_code == 400, r.text
    assert "gzip" in r.json()["message"] or "JSON" in r.json()["message"]


def test_a_gzip_body_going_on_after_its_end_is_400_and_nothing_of_it_is_taken(guard):
    """Two gzip members one after the other: only the first was read, the second's
    changes dropped without a word."""
    srv, h = guard
    first, second = change(), change()
    body = gzip.compress(json.dumps({"changes": [first]}).encode()) + gzip.compress(
        json.dumps({"changes": [second]}).encode())
    r = post(srv, PUSH, {**h, "Content-Encoding": "gzip"}, content=body)
    assert r.status_code == 400 and r.json()["error"] == "bad_encoding", r.text
    assert "gzip" in r.json()["message"]
    assert srv.sql("SELECT count(*) FROM changes WHERE change_id IN (?, ?)", (first["id"], second["id"])) == [(0,)]


def test_missing_protocol_header_is_400(guard):
    srv, h = guard
    h.pop("X-Gridbook-Protocol")
    r = post(srv, PUSH, h, json={"changes": [change()]})
    assert r.status_code == 400
    assert "X-Gridbook-Protocol" in r.json()["message"]
    r = httpx.get(srv.url + "/api/v1/sync/pull", headers=h, timeout=30)
    assert r.status_code == 400


def test_unsupported_protocol_is_426_saying_what_to_do(guard):
    srv, h = guard
    newer = str(changes.PROTOCOL_VERSION + 1)  # an app newer than the server (an older one: test_protocol_update.py)
    r = post(srv, PUSH, {**h, "X-Gridbook-Protocol": newer}, json={"changes": [change()]})
    assert r.status_code == 426
    body = r.json()
    assert body["error"] == "protocol_unsupported" and body["supported"] == [changes.PROTOCOL_VERSION]
    assert f"protocol {changes.PROTOCOL_VERSION}" in body["message"] and "update" in body["message"]


def test_a_protocol_header_of_digits_int_cannot_read_is_426_not_a_crash(guard):
    """"²" (a superscript two, one Latin-1 byte) passes str.isdigit and fails int(): it
    was answered 500, a bug for the app, and logged as one."""
    srv, h = guard
    for value in (b"\xb2", b"1\xb2"):
        r = post(srv, PUSH, {**h, "X-Gridbook-Protocol": value}, json={"changes": [change()]})
        assert r.status_code == 426 and r.json()["error"] == "protocol_unsupported", r.text


def test_push_without_a_token_is_401(guard):
    srv, h = guard
    h.pop("Authorization")
    r = post(srv, PUSH, h, json={"changes": [change()]})
    assert r.status_code == 401
    assert "sign in" in r.json()["message"]


def test_token_used_from_another_device_is_401(guard):
    srv, h = guard
    r = post(srv, PUSH, {**h, "X-Gridbook-Device": "some-other-phone"}, json={"changes": [change()]})
    assert r.status_code == 401


@pytest.mark.parametrize("params, word", [({"limit": 0}, "limit"), ({"limit": "many"}, "limit"),
                                          ({"cursor": "9" * 41}, "cursor")])
def test_bad_pull_parameters_are_422(guard, params, word):
    srv, h = guard
    r = httpx.get(srv.url + "/api/v1/sync/pull", headers=h, params=params, timeout=30)
    assert r.status_code == 422
    assert word in r.json()["message"]


# --- one change at fault ---------------------------------------------------------------

def _fields(**over):
    f = case_fields("g1", "worker1")
    f.update(over)
    return {k: v for k, v in f.items() if v is not None}


@pytest.mark.parametrize("ch, field, words", [
    # wrong types
    (lambda: "not a change", "change", "object"),
    (lambda: change(fields=["lat", 1]), "fields", "object"),
    (lambda: change(fields=_fields(lat="north")), "lat", "number"),
    (lambda: change(fields=_fields(lat=True)), "lat", "number"),
    (lambda: change(fields=_fields(description=42)), "description", "string"),
    (lambda: change(fields=_fields(parties="张三")), "parties", "list"),
    (lambda: change(id=7), "id", "letters"),
    (lambda: change(hlc=12345), "hlc", "clock"),
    (lambda: change(base="everything"), "base", "earlier clock stamps"),
    # unknown names
    (lambda: change(entity="petitioner"), "entity", "not a known entity"),
    (lambda: change(fields=_fields(colour="red")), "colour", "not a field of case"),
    (lambda: change(fields=_fields(category="42")), "category", "one of"),
    (lambda: change(fields=_fields(reported_at="yesterday")), "reported_at", "ISO 8601"),
    (lambda: change(fields=_fields(deadline="31/12/2026")), "deadline", "YYYY-MM-DD"),
    # missing
    (lambda: {k: v for k, v in change().items() if k != "hlc"}, "hlc", "required"),
    (lambda: {k: v for k, v in change().items() if k != "record"}, "record", "required"),
    (lambda: change(fields=_fields(description=None)), "description", "required"),
    (lambda: change(fields=_fields(description="   ")), "description", "required"),
    (lambda: change(fields={}), "fields", "at least one field"),
    # past their limits
    (lambda: change(fields=_fields(title="案" * 101)), "title", "at most 100"),
    (lambda: change(fields=_fields(description="x" * 8001)), "description", "at most 8000"),
    (lambda: change(fields=_fields(parties=["张三"] * 51)), "parties", "at most 50 items"),
    (lambda: change(record="r" * 65), "record", "1-64"),
    (lambda: change(author="w" * 41), "author", "string"),
    # out of range
    (lambda: change(fields=_fields(lat=91)), "lat", "between -90 and 90"),
    (lambda: change(fields=_fields(lon=-180.5)), "lon", "between -180 and 180"),
    (lambda: change(fields=_fields(accuracy_m=-1)), "accuracy_m", "between"),
    # an edit of a record the server never saw
    (lambda: change(fields={"status": "accepted"}, base={"status": ["0000000000001-00000-x"]}),
     "record", "does not hold"),
    # a timeline event of a case that does not exist
    (lambda: change("case_event", {"case_id": "no-such-case", "kind": "note",
                                   "at": "2026-11-26T10:00:00+08:00", "by": "worker1"}),
     "case_id", "does not hold"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_a_bad_change_is_refused_naming_the_field(guard, ch, field, words):
    srv, h = guard
    res = rejected_one(post(srv, PUSH, h, json={"changes": [ch()]}))
    assert res["code"] == "invalid"
    assert field in [e["field"] for e in res["errors"]], res
    assert field in res["reason"] and words in res["reason"], res["reason"]


def test_non_finite_coordinates_are_refused(guard):
    srv, h = guard
    body = json.dumps({"changes": [change(fields=_fields(lat=0.0))]}).replace('"lat": 0.0', '"lat": NaN')
    r = post(srv, PUSH, {**h, "Content-Type": "application/json"}, content=body.encode())
    # NaN is not JSON (RFC 8259): refusing the body (400) or the field (422) are both clear.
    if r.status_code == 400:
        assert r.json()["error"] == "malformed_json" and "JSON" in r.json()["message"]
    else:
        assert "lat" in rejected_one(r)["reason"]


def test_latitude_91_names_lat(guard):
    srv, h = guard
    res = rejected_one(post(srv, PUSH, h, json={"changes": [change(fields=_fields(lat=91.0))]}))
    assert res["errors"] == [{"field": "lat", "rule": "range",
                              "message": "must be between -90 and 90"}]


def test_clock_stamp_hours_in_the_future_is_refused(guard):
    srv, h = guard
    three_hours = 3 * 3600 * 1000
    ch = change(hlc=clock.encode(clock.wall_ms() + three_hours, 0, "dev-worker1"))
    res = rejected_one(post(srv, PUSH, h, json={"changes": [ch]}))
    assert res["errors"][0]["field"] == "hlc"
    assert "hours ahead" in res["reason"] and "date and time" in res["reason"], res["reason"]


def test_writing_server_only_records_is_forbidden(guard):
    srv, h = guard
    ch = change("grid", {"name": "假网格", "village": "x", "township": "y"}, record="g9")
    res = rejected_one(post(srv, PUSH, h, json={"changes": [ch]}), status=403)
    assert res["code"] == "forbidden" and "township server" in res["reason"]


def test_grid_worker_setting_the_owner_is_forbidden(guard):
    srv, h = guard
    res = rejected_one(post(srv, PUSH, h, json={"changes": [change(fields=_fields(owner="worker1"))]}),
                       status=403)
    assert res["code"] == "forbidden"


def test_several_bad_changes_each_get_their_own_reason(guard):
    srv, h = guard
    batch = [change(fields=_fields(lat=91)), change(fields=_fields(title="t" * 101)),
             change("household", household_fields("g1") | {"phone": "1" * 21})]
    r = post(srv, PUSH, h, json={"changes": batch})
    assert r.status_code == 422
    assert [x["errors"][0]["field"] for x in r.json()["results"]] == ["lat", "title", "phone"]


# --- signing in -------------------------------------------------------------------------

@pytest.mark.parametrize("body, word", [
    ({"username": 5, "password": "field-pass-123", "device_id": "d1"}, "username"),
    ({"username": "worker1", "password": ["x"], "device_id": "d1"}, "password"),
    ({"username": "worker1", "password": "field-pass-123"}, "device_id"),
    ({"username": "worker1", "password": "field-pass-123", "device_id": "bad device id!"}, "device_id"),
    ({"username": "w" * 41, "password": "field-pass-123", "device_id": "d1"}, "username"),
    ("just a string", "body"),
])
def test_login_with_wrong_types_is_422_naming_the_field(guard, body, word):
    srv, _ = guard
    r = post(srv, LOGIN, PROTO, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"
    assert word in r.json()["message"], r.json()


def test_login_with_malformed_json_is_a_4xx(guard):
    srv, _ = guard
    r = post(srv, LOGIN, {**PROTO, "Content-Type": "application/json"}, content=b"{username:")
    assert 400 <= r.status_code < 500
    assert "JSON" in r.json()["message"] or "json" in r.json()["message"]


def test_login_without_protocol_header_is_400(guard):
    srv, _ = guard
    r = post(srv, LOGIN, {}, json={"username": "worker1", "password": "field-pass-123", "device_id": "d1"})
    assert r.status_code == 400
    assert "X-Gridbook-Protocol" in r.json()["message"]
