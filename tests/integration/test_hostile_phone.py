"""The server trusts no phone: a valid token of an ordinary grid worker or leader, sending
what no screen of the app would send, against the real `gridbook serve` process.

Each test is one finding of the issue "The server trusts no phone"; each failed on the
code before it (see the issue's list).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import sqlite3
import stat
import zipfile

import httpx
import pytest

from sync import changes, clock

from .conftest import PROTO, auth_headers, case_fields, household_fields, now_iso, phone

pytestmark = pytest.mark.integration
PUSH = "/api/v1/sync/push"
_counter = itertools.count()


def mk(user: str, kind: str, record: str, fields: dict, *, device: str | None = None,
       node: str | None = None, base: dict | None = None, **over) -> dict:
    """A change as the app of `user` would build it, on the device it signed in on;
    `over` replaces parts of it, as a tampered app would."""
    device = device or f"dev-{user}"
    stamp = clock.encode(clock.wall_ms(), next(_counter) % 99_999, node or device)
    ch = changes.make(kind, record, fields, stamp, device, user, base)
    ch.update(over)
    return ch


def push(srv, user: str, *batch: dict) -> httpx.Response:
    return httpx.post(srv.url + PUSH, headers=auth_headers(srv, user), json={"changes": list(batch)}, timeout=60)


def pushed_ok(srv, user: str, *batch: dict) -> None:
    r = push(srv, user, *batch)
    assert r.status_code == 200, r.text


def refused(r: httpx.Response, status: int) -> list[tuple[str, str]]:
    """(field, rule) of every problem of the one refused change."""
    assert r.status_code == status, r.text
    [res] = r.json()["results"]
    assert res["status"] == "rejected"
    return [(e["field"], e["rule"]) for e in res["errors"]]


def pull_all(srv, user: str) -> list[dict]:
    out, cursor = [], None
    while True:
        params = {"limit": 5000, **({"cursor": cursor} if cursor else {})}
        r = httpx.get(srv.url + "/api/v1/sync/pull", headers=auth_headers(srv, user), params=params, timeout=30)
        assert r.status_code == 200, r.text
        out += r.json()["changes"]
        cursor = r.json()["cursor"]
        if not r.json()["more"]:
            return out


def case_row(srv, cid: str):
    return srv.sql("SELECT * FROM cases WHERE id=?", (cid,))


def leader_case(srv, grid: str = "g1") -> str:
    """A matter the office registered, accepted and gave to leader1."""
    cid = changes.new_id("r")
    pushed_ok(srv, "office1", mk("office1", "case", cid, case_fields(grid, "office1", channel="visit")))
    pushed_ok(srv, "office1", mk("office1", "case", cid, {"status": "accepted", "accepted_on": "2026-11-01",
                                                          "deadline": "2026-12-31"}))
    pushed_ok(srv, "office1", mk("office1", "case", cid, {"status": "assigned", "owner": "leader1"}))
    return cid


# --- workflow fields ---------------------------------------------------------------------

@pytest.mark.parametrize("fields, field, rule", [
    ({"status": "closed"}, "status", "field_forbidden"),
    ({"deadline": "2099-01-01"}, "deadline", "field_forbidden"),
    ({"accepted_on": "2026-01-01"}, "accepted_on", "field_forbidden"),
    ({"extended_days": 30}, "extended_days", "field_forbidden"),
    ({"merged_into": "case-elsewhere"}, "merged_into", "field_forbidden"),
    ({"reported_by": "worker1"}, "reported_by", "set_once"),
    ({"owner": "worker1"}, "owner", "field_forbidden"),
    ({"grid_id": "g2"}, "grid_id", "field_forbidden"),
    ({"ref": "金山-2026-9999"}, "ref", "server_assigned"),
])
def test_a_grid_worker_cannot_move_a_matter_through_the_office_process(server, fields, field, rule):
    cid = leader_case(server)
    before = case_row(server, cid)
    problems = refused(push(server, "worker1", mk("worker1", "case", cid, fields)), 403)
    assert (field, rule) in problems
    assert case_row(server, cid) == before
    # the matter is still in the office's ledger, as it was
    ledger = httpx.get(server.url + "/api/v1/ledger/ledger.csv", headers=auth_headers(server, "office1"),
                       timeout=60)
    ref = server.sql("SELECT ref FROM cases WHERE id=?", (cid,))[0][0]
    assert ledger.status_code == 200 and ref and ref in ledger.text


def test_a_timeline_entry_or_visit_in_another_accounts_name_is_refused(server):
    cid = leader_case(server)
    event = mk("worker1", "case_event", changes.new_id("r"), {"case_id": cid, "kind": "progress",
                                                              "at": now_iso(), "by": "office1", "text": "已办结"})
    assert ("by", "author") in refused(push(server, "worker1", event), 403)
    visit = mk("worker1", "visit", changes.new_id("r"), {"grid_id": "g1", "kind": "household", "seen": "家中无人",
                                                         "visited_at": now_iso(), "visitor": "leader1"})
    assert ("visitor", "author") in refused(push(server, "worker1", visit), 403)
    # and an office kind of event is not a worker's to write, even in their own name
    accept = mk("worker1", "case_event", changes.new_id("r"), {"case_id": cid, "kind": "accept",
                                                               "at": now_iso(), "by": "worker1"})
    assert ("kind", "role_value") in refused(push(server, "worker1", accept), 403)
    assert server.sql("SELECT count(*) FROM case_events WHERE case_id=?", (cid,)) == [(0,)]


def test_a_leader_works_an_owned_case_but_cannot_move_it_or_close_it(server):
    cid = leader_case(server)
    assert ("grid_id", "field_forbidden") in refused(
        push(server, "leader1", mk("leader1", "case", cid, {"grid_id": "g2"})), 403)
    assert ("status", "transition") in refused(
        push(server, "leader1", mk("leader1", "case", cid, {"status": "closed"})), 403)
    assert ("outcome", "outcome_needed") in refused(
        push(server, "leader1", mk("leader1", "case", cid, {"status": "resolved"})), 403)
    assert ("method", "method_needed") in refused(
        push(server, "leader1", mk("leader1", "case", cid, {"status": "resolved", "outcome": "mediation",
                                                            "method": " ", "resolved_on": "2026-11-20"})), 403)
    # a resolution entry with no resolution of the leader's behind it is not taken
    entry = {"case_id": cid, "kind": "resolution", "at": now_iso(), "by": "leader1", "text": "调解"}
    assert ("record", "resolution_not_theirs") in refused(
        push(server, "leader1", mk("leader1", "case_event", changes.new_id("r"), entry)), 403)
    pushed_ok(server, "leader1", mk("leader1", "case", cid, {"status": "resolved", "outcome": "mediation",
                                                             "method": "调解", "resolved_on": "2026-11-20"}))
    pushed_ok(server, "leader1", mk("leader1", "case_event", changes.new_id("r"), entry))
    assert server.sql("SELECT status, grid_id, outcome FROM cases WHERE id=?", (cid,)) == [
        ("resolved", "g1", "mediation")]
    # the callback that follows is the office's
    callback = mk("leader1", "callback", changes.new_id("r"), {"case_id": cid, "at": now_iso(), "by": "leader1",
                                                               "method": "phone", "answer": "satisfied"})
    assert ("record", "create_forbidden") in refused(push(server, "leader1", callback), 403)


def test_an_id_shared_with_another_grids_household_reads_nothing_of_it(server):
    shared = changes.new_id("shared")
    secret = {**household_fields("g2", 7), "head_name": "赵秘密", "id_number": "330702199001011237",
              "phone": "13912345678"}
    pushed_ok(server, "office1", mk("office1", "household", shared, secret))
    # a case in the worker's own grid, with the household's id as its record id
    pushed_ok(server, "worker1", mk("worker1", "case", shared, case_fields("g1", "worker1")))
    # the case changes hands: it is logged again for its new reader
    pushed_ok(server, "office1", mk("office1", "case", shared, {"status": "accepted"}))
    pushed_ok(server, "office1", mk("office1", "case", shared, {"status": "assigned", "owner": "leader1"}))
    for user in ("leader1", "worker1"):
        got = pull_all(server, user)
        assert not [c for c in got if c["entity"] == "household" and c["record"] == shared], user
        assert "赵秘密" not in json.dumps(got, ensure_ascii=False)
        assert "330702199001011237" not in json.dumps(got) and "13912345678" not in json.dumps(got)
    assert [c for c in pull_all(server, "leader1") if c["entity"] == "case" and c["record"] == shared]


@pytest.mark.parametrize("prefix", ["erase:household:", "exit:", "exit-household:", "ref:"])
def test_a_change_cannot_take_the_id_of_one_of_the_servers_own_log_entries(server, prefix):
    """A pull tells the server's entries (erasures, exits, references) from changes by
    their ids: a note pushed as "erase:household:<id>" stood in for the erasure of that
    household (the phones kept the person's data), and went to the other grid's phones
    in its place."""
    hid = changes.new_id("hh")
    pushed_ok(server, "worker1", mk("worker1", "household", hid, household_fields("g1", 3)))
    forged = mk("worker1", "household", hid, {"note": "户主电话另记"}, id=f"{prefix}{hid}")
    assert refused(push(server, "worker1", forged), 422) == [("id", "id_reserved")]
    assert not server.sql("SELECT 1 FROM changes WHERE change_id=?", (forged["id"],))
    pushed_ok(server, "worker1", mk("worker1", "household", hid, {"note": "户主电话另记"}))   # under an id of its own


# --- what a record may hold --------------------------------------------------------------

def test_times_outside_the_calendar_are_refused(server):
    cid = leader_case(server)
    pushed_ok(server, "leader1", mk("leader1", "case", cid, {"status": "resolved", "outcome": "explained",
                                                             "method": "当面解释政策", "resolved_on": "2026-11-20"}))
    far = mk("office1", "callback", changes.new_id("r"), {"case_id": cid, "at": "9999-12-31T23:59:59-14:00",
                                                          "by": "office1", "method": "phone", "answer": "satisfied"})
    assert ("at", "date_range") in refused(push(server, "office1", far), 422)
    early = mk("office1", "case_event", changes.new_id("r"), {"case_id": cid, "kind": "note",
                                                              "at": "0001-01-01T00:00:00+08:00", "by": "office1"})
    assert ("at", "date_range") in refused(push(server, "office1", early), 422)
    naive = mk("office1", "case_event", changes.new_id("r"), {"case_id": cid, "kind": "note",
                                                              "at": "2026-11-26T09:30:00", "by": "office1"})
    assert ("at", "datetime") in refused(push(server, "office1", naive), 422)
    late = mk("office1", "case", cid, {"higher_deadline": "2101-01-01"})
    assert ("higher_deadline", "date_range") in refused(push(server, "office1", late), 422)


def test_nothing_already_stored_can_make_the_exports_or_a_pull_fail(fresh_server):
    srv = fresh_server
    cid = leader_case(srv)
    # records written by an older version, or by hand, that no push would take today
    conn = sqlite3.connect(srv.db)
    conn.execute("UPDATE cases SET deadline='2099-02-30', received_on='yesterday', reported_at='9999-12-31T23:59:59-14:00'"
                 " WHERE id=?", (cid,))
    conn.execute("INSERT INTO callbacks (id, case_id, at, by, method, answer, _versions) VALUES"
                 " ('cb-bad', ?, '9999-12-31T23:59:59-14:00', 'office1', 'phone', 'nonsense', '{}')", (cid,))
    conn.execute("INSERT INTO case_events (id, case_id, kind, at, by, text, _versions) VALUES"
                 " ('ev-bad', ?, 'progress', '0001-01-01T00:00:00+08:00', 'leader1', 'x', '{}')", (cid,))
    conn.commit()
    conn.close()
    office = auth_headers(srv, "office1")
    for path in ("ledger/ledger.xlsx?start=2000-01-01&end=2100-12-31", "ledger/ledger.csv",
                 "ledger/supervision.xlsx", "ledger/monthly.xlsx?year=2026&month=11"):
        r = httpx.get(f"{srv.url}/api/v1/{path}", headers=office, timeout=60)
        assert r.status_code == 200, (path, r.text[:300])
        if path.startswith("ledger/ledger.xlsx") or "supervision" in path:
            assert zipfile.is_zipfile(io.BytesIO(r.content))
    for user in ("office1", "leader1"):
        assert pull_all(srv, user)


def test_a_next_visit_due_years_back_is_refused_naming_the_field(server):
    """A phone set a household's next visit to 2000-01-01 and the server took it: any visit
    ever made settled it, and the household left its grid's 今日 for good."""
    hid = changes.new_id("hh")
    r = push(server, "worker1", mk("worker1", "household", hid, {**household_fields("g1", 5),
                                                                 "next_visit_due": "2000-01-01"}))
    assert refused(r, 422) == [("next_visit_due", "due_too_early")]
    [err] = r.json()["results"][0]["errors"]
    assert err["message"].startswith("must be on or after ") and "registered" in err["message"]
    assert not server.sql("SELECT 1 FROM households WHERE id=?", (hid,))
    pushed_ok(server, "worker1", mk("worker1", "household", hid, {**household_fields("g1", 5),
                                                                  "next_visit_due": now_iso()[:10]}))
    r = push(server, "office1", mk("office1", "household", hid, {"next_visit_due": "2001-06-30"}))
    assert refused(r, 422) == [("next_visit_due", "due_too_early")]
    assert server.sql("SELECT next_visit_due FROM households WHERE id=?", (hid,)) == [(now_iso()[:10],)]


def test_a_deadline_before_the_matter_was_received_is_refused(server):
    """An office account's push put a matter of this year's deadline on 2000-01-01: the
    ledger read it over 9,000 days overdue."""
    cid = changes.new_id("r")
    received = now_iso()[:10]
    pushed_ok(server, "office1", mk("office1", "case", cid, case_fields("g1", "office1", channel="visit",
                                                                        received_on=received)))
    r = push(server, "office1", mk("office1", "case", cid, {"status": "accepted", "accepted_on": received,
                                                            "deadline": "2000-01-01"}))
    assert refused(r, 422) == [("deadline", "date_before")]
    assert r.json()["results"][0]["errors"][0]["message"] == "cannot be before the registration date"
    assert refused(push(server, "office1", mk("office1", "case", cid, {"register_by": "2000-01-15"})), 422) == [
        ("register_by", "date_before")]
    assert case_row(server, cid)[0] and server.sql("SELECT deadline, register_by FROM cases WHERE id=?",
                                                   (cid,)) == [(None, None)]


def test_absurd_visit_days_stored_by_an_older_version_still_read_export_and_count(fresh_server, tmp_path):
    """Households and visits an older version stored with days no push takes today: the
    pulls, a phone's 今日 and household, the office's list, the ledger and the figures
    still answer."""
    import datetime as dt

    from fieldapp import worklist
    from sync.workspace import DeviceWorkspace
    srv = fresh_server
    today = now_iso()[:10]
    stored = {"2000-01-01": changes.new_id("hh"), "0001-01-01": changes.new_id("hh"), "soon": changes.new_id("hh")}
    for n, hid in enumerate(stored.values()):
        pushed_ok(srv, "worker1", mk("worker1", "household", hid, {**household_fields("g1", 20 + n),
                                                                   "next_visit_due": today}))
    first = stored["2000-01-01"]
    vid = changes.new_id("v")
    pushed_ok(srv, "worker1", mk("worker1", "visit", vid, {"grid_id": "g1", "household_id": first, "kind": "household",
                                                           "visited_at": now_iso(), "visitor": "worker1", "seen": "在家"}))
    # as an older version wrote them: the record and the change it pulls
    conn = sqlite3.connect(srv.db)
    for day, hid in stored.items():
        conn.execute("UPDATE households SET next_visit_due=? WHERE id=?", (day, hid))
        conn.execute("UPDATE changes SET body=replace(body, ?, ?), body_masked=replace(body_masked, ?, ?)"
                     " WHERE record=?", (today, day, today, day, hid))
    day = (today + "T", "2000-01-01T")
    conn.execute("UPDATE visits SET visited_at=replace(visited_at, ?, ?) WHERE id=?", (*day, vid))
    conn.execute("UPDATE changes SET body=replace(body, ?, ?), body_masked=replace(body_masked, ?, ?)"
                 " WHERE record=?", (*day, *day, vid))
    conn.commit()
    conn.close()
    for user in ("office1", "worker1"):
        pulled = {c["record"]: c["fields"] for c in pull_all(srv, user)}
        assert [pulled[hid].get("next_visit_due") for hid in stored.values()] == list(stored)
        assert pulled[vid]["visited_at"].startswith("2000-01-01T")
    replica, client = phone(tmp_path / "phone", srv, "worker1")
    client.sync()
    ws = DeviceWorkspace(replica, {"username": "worker1", "role": "grid_worker", "grids": ["g1"]})
    work = worklist.today(ws)
    assert stored["0001-01-01"] in [h["id"] for h in work.due]   # never visited: due, whatever the day
    assert all(worklist.overdue_days(h["next_visit_due"], work.on) >= 0 for h in work.due)
    assert ws.household(first)["next_visit_due"] == "2000-01-01"
    # the phone reckons the next visit from the visit of 2000 an older version took: no new mistake
    ws.edit_household(first, {"tags": ["dibao"]})
    assert ws.household(first)["next_visit_due"] == "2000-01-31"
    assert client.sync().quarantined == 0 and ws.pending_count() == 0
    assert srv.sql("SELECT next_visit_due FROM households WHERE id=?", (first,)) == [("2000-01-31",)]
    office = auth_headers(srv, "office1")
    year, month = dt.date.fromisoformat(today).year, dt.date.fromisoformat(today).month
    for path in ("ledger/ledger.xlsx?start=2000-01-01&end=2100-12-31", "ledger/ledger.csv",
                 "ledger/monthly.xlsx?year=2000&month=1", f"ledger/monthly.xlsx?year={year}&month={month}"):
        r = httpx.get(f"{srv.url}/api/v1/{path}", headers=office, timeout=60)
        assert r.status_code == 200, (path, r.text[:300])
    srv.kill()
    from sync.server.central import CentralStore
    from sync.server.office import CentralWorkspace
    st = CentralStore(str(srv.db))
    try:
        office_ws = CentralWorkspace(st, {"username": "office1", "name": "镇信访办", "role": "office", "grids": []})
        got, total = office_ws.household_page("", None, None, None, 50, 0)
        assert {h["id"]: h["next_visit_due"] for h in got if h["id"] in stored.values()} == {
            hid: day for day, hid in stored.items() if hid != first} | {first: "2000-01-31"}
        from sync.server import stats
        assert stats.figures(st.conn, dt.date(2000, 1, 1), dt.date(2000, 1, 31))["household_visits"] == 1
    finally:
        st.close()


def test_a_change_comes_from_the_signed_in_device_and_holds_nothing_unknown(server):
    before = server.fingerprint()
    other = mk("worker1", "household", changes.new_id("r"), household_fields("g1"), device="dev-worker2")
    assert ("device", "device") in refused(push(server, "worker1", other), 403)
    stolen_stamp = mk("worker1", "household", changes.new_id("r"), household_fields("g1"), node="dev-office1")
    assert ("hlc", "clock") in refused(push(server, "worker1", stolen_stamp), 422)
    extra = mk("worker1", "household", changes.new_id("r"), household_fields("g1"), note_to_all="看我")
    assert ("note_to_all", "unknown_key") in refused(push(server, "worker1", extra), 422)
    field = mk("worker1", "household", changes.new_id("r"), {**household_fields("g1"), "secret": "x"})
    assert ("secret", "unknown_field") in refused(push(server, "worker1", field), 422)
    assert server.fingerprint() == before
    assert "看我" not in json.dumps(pull_all(server, "worker2"), ensure_ascii=False)


def test_each_change_of_a_mixed_push_is_answered_with_its_own_problems_in_the_rules_order(server):
    """The values are checked before the writer (central.precheck) and the rest in it:
    each change of one push still gets the problems of its own position, the rule that
    comes first (who wrote it, a record never seen, append-only) over its values."""
    hid, vid = changes.new_id("r"), changes.new_id("r")
    pushed_ok(server, "worker1", mk("worker1", "household", hid, household_fields("g1", 7)))
    pushed_ok(server, "worker1", mk("worker1", "visit", vid, {
        "grid_id": "g1", "household_id": hid, "kind": "household", "visited_at": now_iso(),
        "visitor": "worker1", "seen": "在家，身体尚可"}))
    batch = [
        "not a change",
        mk("worker1", "household", changes.new_id("r"), {**household_fields("g1"), "lat": 91}, author="worker2"),
        mk("worker1", "household", changes.new_id("r"), {"grid_id": "g1", "lat": 91}),
        mk("worker1", "household", changes.new_id("r"), {"lat": 91}),
        mk("worker1", "household", hid, {"lat": 91, "phone": "1" * 30}),
        mk("worker1", "visit", vid, {"cards": -1}),
        mk("worker1", "household", hid, {"note": "门前有狗，先敲门"}),
    ]
    r = push(server, "worker1", *batch)
    assert r.status_code == 403, r.text
    got = [(res["status"], res.get("code"), [(e["field"], e["rule"]) for e in res.get("errors", [])])
           for res in r.json()["results"]]
    assert got == [
        ("rejected", "invalid", [("change", "type")]),
        ("rejected", "forbidden", [("author", "author")]),
        ("rejected", "invalid", [("lat", "range"), ("head_name", "required"), ("address", "required")]),
        ("rejected", "invalid", [("record", "unknown_record")]),
        ("rejected", "invalid", [("lat", "range"), ("phone", "too_long")]),
        ("rejected", "invalid", [("record", "append_only")]),
        ("applied", None, []),
    ]
    assert server.sql("SELECT lat, phone, note FROM households WHERE id=?", (hid,)) == [(29.07, None, "门前有狗，先敲门")]


@pytest.mark.parametrize("path, params", [
    ("/api/v1/sync/pull", {"cursor": "9" * 30}),
    ("/api/v1/sync/pull", {"cursor": "-5.abc"}),
    ("/api/v1/ledger/monthly.xlsx", {"year": 2026, "month": 13}),
    ("/api/v1/ledger/monthly.xlsx", {"year": 10000, "month": 1}),
    ("/api/v1/ledger/monthly.xlsx", {"year": -5, "month": 1}),
    ("/api/v1/ledger/ledger.xlsx", {"start": "2026-02-30"}),
    ("/api/v1/ledger/ledger.xlsx", {"start": "2026-12-01", "end": "2026-01-01"}),
    ("/api/v1/ledger/ledger.csv", {"start": "1999-12-31"}),
])
def test_parameters_that_used_to_answer_500_get_a_clear_422(server_alive_after, path, params):
    r = httpx.get(server_alive_after.url + path, params=params, timeout=30,
                  headers=auth_headers(server_alive_after, "office1"))
    assert r.status_code == 422, r.text
    assert set(r.json()) >= {"error", "message"} and r.json()["message"]


def test_a_cursor_past_any_sequence_starts_over_rather_than_failing(server_alive_after):
    r = httpx.get(server_alive_after.url + "/api/v1/sync/pull", params={"cursor": "999999999999999999.ffff"},
                  headers=auth_headers(server_alive_after, "worker1"), timeout=30)
    assert r.status_code == 200 and r.json()["reset"] is True


@pytest.mark.parametrize("entity", [[1], {"a": 1}, 7, None, True])
def test_an_entity_that_is_not_a_name_is_refused_naming_it(server_alive_after, entity):
    srv = server_alive_after
    ch = mk("worker1", "household", changes.new_id("r"), household_fields("g1"), entity=entity)
    problems = refused(push(srv, "worker1", ch), 422)
    assert problems and problems[0][0] == "entity"


def test_a_change_with_600000_unknown_fields_gets_a_short_answer(server_alive_after):
    srv = server_alive_after
    huge = mk("worker1", "household", changes.new_id("r"), {f"f{i}": 1 for i in range(600_000)})
    r = push(srv, "worker1", huge)
    assert refused(r, 422) == [("fields", "too_many_fields")]
    assert len(r.content) < 2000
    assert httpx.get(srv.url + "/api/v1/health", timeout=30).status_code == 200


def test_a_username_past_its_length_is_refused_before_any_password_check(server_alive_after):
    r = httpx.post(server_alive_after.url + "/api/v1/auth/login", headers=PROTO, timeout=30,
                   json={"username": "u" * 10_000, "password": "x", "device_id": "d"})
    assert r.status_code == 422 and "username" in r.json()["message"]


def test_a_phone_cannot_sign_in_under_the_servers_own_device_names(server_alive_after):
    """"server" stamps the server's own writes and "office-…" are the office's browsers: a
    phone named so would share the server's clock stamps and pass for its own writes."""
    from .conftest import PASSWORD
    for device in ("server", "office-abc"):
        r = httpx.post(server_alive_after.url + "/api/v1/auth/login", headers={**PROTO, "X-Gridbook-Device": device},
                       timeout=30, json={"username": "worker1", "password": PASSWORD, "device_id": device})
        assert r.status_code == 422, r.text
        assert r.json()["message"].startswith("device_id: is reserved for the township server's own"), r.text
    r = httpx.post(server_alive_after.url + "/api/v1/auth/login", headers={**PROTO, "X-Gridbook-Device": "servers"},
                   timeout=30, json={"username": "worker1", "password": PASSWORD, "device_id": "servers"})
    assert r.status_code == 200, r.text


# --- pages, files and what travels -------------------------------------------------------

def test_no_page_can_be_framed_and_the_api_pages_load_nothing_from_outside(server):
    for path in ("/", "/api/v1/health", "/openapi.json"):
        r = httpx.get(server.url + path, timeout=30)
        assert r.status_code == 200
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "access-control-allow-origin" not in r.headers
    # the interactive API pages load their scripts from a CDN: they are not served
    # (the office's own page answers there, as at any other address)
    docs = httpx.get(server.url + "/docs", timeout=30).text
    assert "swagger" not in docs.lower() and "cdn." not in docs
    page = httpx.get(server.url + "/", timeout=30).text
    assert "https://" not in page and "http://" not in page.replace("http://www.w3.org", "")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_store_and_a_phones_replica_are_private_files(server, tmp_path):
    replica, client = phone(tmp_path / "phone", server, "worker1")
    client.sync()
    for path in (server.db, f"{server.db}-wal", replica.path, f"{replica.path}-wal"):
        assert _mode(path) == 0o600, (path, oct(_mode(path)))
    assert _mode(tmp_path / "phone") == 0o700


def test_phones_receive_id_numbers_masked_and_the_office_whole(server):
    hid = changes.new_id("r")
    members = [{"name": "钱一", "relation": "户主", "id_number": "33070219800101103X"},
               {"name": "钱二", "relation": "配偶", "id_number": "330702198203035670"}]
    pushed_ok(server, "office1", mk("office1", "household", hid, {
        **household_fields("g1", 3), "id_number": "33070219800101103X", "members": members}))
    mine = [c for c in pull_all(server, "worker1") if c["record"] == hid]
    text = json.dumps(mine)
    assert mine and "33070219800101103X" not in text and "330702198203035670" not in text
    assert mine[0]["fields"]["id_number"] == "3307**********103X"
    # The worker adds a member, sending back the masked numbers the phone holds:
    # the server keeps the numbers they stand for.
    shown = mine[0]["fields"]["members"]
    pushed_ok(server, "worker1", mk("worker1", "household", hid, {
        "members": shown + [{"name": "钱三", "relation": "子女", "id_number": "330702201001012344"}]}))
    stored = json.loads(server.sql("SELECT members FROM households WHERE id=?", (hid,))[0][0])
    assert [m["id_number"] for m in stored] == ["33070219800101103X", "330702198203035670", "330702201001012344"]
    whole = [c for c in pull_all(server, "office1") if c["record"] == hid]
    assert "330702198203035670" in json.dumps(whole)
    # A masked number that stands for nothing the household holds is refused.
    bad = mk("worker1", "household", hid, {"id_number": "1111**********2222"})
    assert ("id_number", "masked") in refused(push(server, "worker1", bad), 422)


def test_a_phone_that_skips_its_form_cannot_store_a_number_no_card_or_line_can_hold(server):
    """The forms check ID numbers (GB 11643) and phone numbers; so does the server, for a
    phone that did not use them. Each problem names its field (a member's by its place)
    and says what is wrong; nothing of the change is kept."""
    hid = changes.new_id("r")
    bad = mk("worker1", "household", hid, {
        **household_fields("g1", 21), "id_number": "330702199001011234",       # last should be 7
        "phone": "1391234567",                                                  # 10 digits
        "members": [{"name": "甲", "relation": "户主", "id_number": "330702199001011237"},
                    {"name": "乙", "relation": "子女", "id_number": "330702209901011234"}]})  # born 2099
    r = push(server, "worker1", bad)
    assert sorted(refused(r, 422)) == [("id_number", "id_check_digit"), ("members.1.id_number", "id_birth_future"),
                                       ("phone", "phone_mobile")]
    said = {e["field"]: e["message"] for e in r.json()["results"][0]["errors"]}
    assert "the last character should be 7" in said["id_number"] and "2099-01-01" in said["members.1.id_number"]
    assert server.sql("SELECT count(*) FROM households WHERE id=?", (hid,))[0][0] == 0
    # typed right, the same household is taken
    fixed = dict(bad["fields"], id_number="330702199001011237", phone="13912345678",
                 members=[bad["fields"]["members"][0]])
    pushed_ok(server, "worker1", mk("worker1", "household", hid, fixed))


def test_a_number_stored_before_the_checks_does_not_hold_up_other_edits(server):
    """A household whose ID number was stored before the server checked them (here by the
    office, which the phones' check does not cover): the phone edits its address and adds a
    member, sending the old number back as it holds it (masked); a new wrong one is refused."""
    from sync.server.central import CentralStore
    hid = changes.new_id("r")
    legacy = "330702195803124411"  # its check character should be 7
    st = CentralStore(str(server.db))
    try:
        st.server_write("household", hid, {**household_fields("g1", 22), "id_number": legacy, "phone": "8234567",
                                           "members": [{"name": "丙", "relation": "户主", "id_number": legacy}]},
                        author="office1")
    finally:
        st.close()
    held = [c for c in pull_all(server, "worker1") if c["record"] == hid][-1]["fields"]
    assert held["id_number"] == "3307**********4411"
    pushed_ok(server, "worker1", mk("worker1", "household", hid, {
        "address": "金山镇白鹤村3组99号", "id_number": held["id_number"], "phone": "8234567",
        "members": held["members"] + [{"name": "丁", "relation": "子女", "id_number": "330702201001012344"}]}))
    row = server.sql("SELECT address, members FROM households WHERE id=?", (hid,))[0]
    assert row[0] == "金山镇白鹤村3组99号" and [m["id_number"] for m in json.loads(row[1])] == [
        legacy, "330702201001012344"]
    r = push(server, "worker1", mk("worker1", "household", hid, {"id_number": "330702195803124412"}))
    assert refused(r, 422) == [("id_number", "id_check_digit")]


def test_pulls_failed_sign_ins_and_refused_changes_are_audited_without_content(fresh_server):
    srv = fresh_server
    hid = changes.new_id("r")
    pushed_ok(srv, "worker1", mk("worker1", "household", hid, {**household_fields("g1"), "head_name": "孙审计"}))
    pull_all(srv, "worker1")
    refused(push(srv, "worker1", mk("worker1", "case", changes.new_id("r"), case_fields("g2", "worker1"))), 403)
    # a real account's failure under its name; what matches none (a password typed in the
    # wrong box, a resident's ID number) is not kept: no erasure would ever reach it
    for typed in ("worker2", "Tr0ub4dor&3-pw", "330702195803124411"):
        httpx.post(srv.url + "/api/v1/auth/login", headers=PROTO, timeout=30,
                   json={"username": typed, "password": "wrong-guess", "device_id": "dev-x"})
    rows = srv.sql("SELECT username, action, detail, device, address FROM audit ORDER BY rowid")
    failed = [r[0] for r in rows if r[1] == "login_failed"]
    assert failed == ["worker2", "(unknown)", "(unknown)"]
    assert not [r for r in rows if "Tr0ub4dor" in str(r) or "330702195803124411" in str(r)]
    actions = {(r[0], r[1]) for r in rows}
    assert {("worker1", "pull"), ("worker1", "refused"), ("worker2", "login_failed")} <= actions
    pull = next(r for r in rows if r[1] == "pull")
    assert "grids=g1" in pull[2] and pull[3] == "dev-worker1" and pull[4] == "127.0.0.1"
    refusal = next(r for r in rows if r[1] == "refused")
    assert "forbidden" in refusal[2] and "record:forbidden" in refusal[2]
    assert not [r for r in rows if "孙审计" in (r[2] or "") or "宅前排水沟" in (r[2] or "")]


# --- a case that moves ---------------------------------------------------------------------

def test_a_case_moved_away_leaves_the_visits_seen_through_their_household(server, tmp_path):
    hid = changes.new_id("r")
    pushed_ok(server, "worker1", mk("worker1", "household", hid, household_fields("g1", 11)))
    cid = changes.new_id("r")
    pushed_ok(server, "office1", mk("office1", "case", cid, case_fields("g1", "office1", household_id=hid)))
    worker, worker_client = phone(tmp_path / "worker", server, "worker1")
    worker_client.sync()
    visit = worker.create("visit", {"grid_id": "g1", "household_id": hid, "case_id": cid, "kind": "household",
                                    "visited_at": now_iso(), "visitor": "worker1", "seen": "屋顶漏水"}, "worker1")
    event = worker.create("case_event", {"case_id": cid, "kind": "progress", "at": now_iso(), "by": "worker1",
                                         "text": "已上门"}, "worker1")
    assert worker_client.sync().pushed == 2
    # The office moves the case to the other village's grid.
    pushed_ok(server, "office1", mk("office1", "case", cid, {"grid_id": "g2"}))
    worker_client.sync()
    assert worker.get("case", cid) is None and worker.get("case_event", event["record"]) is None
    assert worker.get("visit", visit["record"]) is not None        # still seen through the household
    # A phone signed in afresh in grid g1 holds the same.
    fresh, fresh_client = phone(tmp_path / "fresh", server, "worker1")
    fresh_client.sync()
    assert fresh.get("case", cid) is None and fresh.get("visit", visit["record"]) is not None
    assert fresh.get("visit", visit["record"]) == worker.get("visit", visit["record"])


def test_an_empty_household_visit_is_refused_by_the_server_too(server_alive_after):
    empty = mk("worker1", "visit", changes.new_id("r"), {"grid_id": "g1", "kind": "household",
                                                         "visited_at": now_iso(), "visitor": "worker1", "seen": "  "})
    assert ("seen", "empty_visit") in refused(push(server_alive_after, "worker1", empty), 422)


def test_phones_follow_the_townships_far_visit_threshold(fresh_server, tmp_path):
    from fieldapp.phone import Phone
    from .conftest import PASSWORD, cli
    cli("setting", "far_m", "450", "--db", str(fresh_server.db))
    phone = Phone(str(tmp_path / "phone"), fresh_server.url)
    phone.sign_in(fresh_server.url, "worker1", PASSWORD)
    assert phone.far_m == 300.0                      # before the first sync: the default
    phone._sync_client().sync()
    assert phone.far_m == 450.0                      # the office's setting, not the phone's


def test_saying_offered_again_does_not_swell_the_offices_brought_back_count(fresh_server):
    """Any phone may send the header of a phone offering again after a restore: on a
    store never restored its new work is taken as usual, and nothing is counted."""
    srv = fresh_server
    hid = changes.new_id("r")
    r = httpx.post(srv.url + PUSH, headers={**auth_headers(srv, "worker1"), "X-Gridbook-Reoffer": "1"},
                   json={"changes": [mk("worker1", "household", hid, household_fields("g1", 12))]}, timeout=60)
    assert r.status_code == 200 and r.json()["results"] == [{"status": "applied"}]
    assert srv.sql("SELECT value FROM server_meta WHERE key='recovered'") == []
    assert srv.sql("SELECT count(*) FROM audit WHERE action='recovered'") == [(0,)]


def test_a_good_number_written_otherwise_is_refused_so_one_person_has_one_spelling(server_alive_after):
    """The forms write ID and phone numbers one way (half-width, no spaces, X upper-case,
    no +86); a phone that skipped its form must not put the same person in the ledger
    under another spelling, which the office's search and the duplicate check would miss."""
    srv = server_alive_after
    hid = changes.new_id("r")
    odd = {**household_fields("g1", 31), "id_number": "３３０７０２１９９００１０１１２３７",
           "phone": "139 1234 5678", "members": [{"name": "王小明", "relation": "子女",
                                                 "id_number": "33070219900101100x"}]}
    r = push(srv, "worker1", mk("worker1", "household", hid, odd))
    assert sorted(refused(r, 422)) == [("id_number", "id_written"), ("members.0.id_number", "id_written"),
                                       ("phone", "phone_written")]
    msg = {e["field"]: e["message"] for e in r.json()["results"][0]["errors"]}
    assert "half-width" in msg["id_number"] and "330702" not in msg["id_number"]   # says the rule, not the number
    assert case_row(srv, hid) == [] and srv.sql("SELECT count(*) FROM households WHERE id=?", (hid,)) == [(0,)]
    written = {**odd, "id_number": "330702199001011237", "phone": "13912345678",
               "members": [{"name": "王小明", "relation": "子女", "id_number": "33070219900101100X"}]}
    pushed_ok(srv, "worker1", mk("worker1", "household", hid, written))
    assert srv.sql("SELECT phone FROM households WHERE id=?", (hid,)) == [("13912345678",)]


def test_a_name_holding_a_zero_width_space_is_refused_naming_the_field_and_nothing_of_it_is_stored(server):
    """Two 张建国 that look the same to every phone, one of them missed by every search: a
    phone's forms drop the invisible characters, so a push holding one is not the app's."""
    hid = changes.new_id("r")
    twin = {**household_fields("g1", 7), "head_name": "张建\u200b国"}
    r = push(server, "worker1", mk("worker1", "household", hid, twin))
    assert ("head_name", "invisible") in refused(r, 422)
    [res] = r.json()["results"]
    assert "cannot be seen" in res["errors"][0]["message"]
    assert server.sql("SELECT count(*) FROM households WHERE id=?", (hid,)) == [(0,)]
    cid = leader_case(server)
    before = case_row(server, cid)
    assert ("parties", "invisible") in refused(
        push(server, "leader1", mk("leader1", "case", cid, {"parties": ["王\ufeff五"]})), 422)
    assert case_row(server, cid) == before
