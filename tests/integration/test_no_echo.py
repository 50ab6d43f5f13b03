"""No echo: a pull never sends a phone back the changes that phone pushed, and still
tells it everything else it needs (the township's references, the cases that left its
scope, other people's changes to the same records), against the real server process."""

from __future__ import annotations

import httpx
import pytest

from .conftest import PASSWORD, case_fields, cli, household_fields, now_iso, phone

pytestmark = pytest.mark.integration


def raw_pull(srv, client, cursor: str | None) -> dict:
    """One page as the phone would get it with this cursor (the phone does not move)."""
    params = {"limit": 5000, **({"cursor": cursor} if cursor else {})}
    r = httpx.get(srv.url + "/api/v1/sync/pull", headers=client._headers(), params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_pull_sends_everything_but_the_callers_own_changes(fresh_server, tmp_path):
    srv = fresh_server
    cli("user", "add", "leader2", "--db", str(srv.db), "--role", "leader", "--password", PASSWORD)
    mine, mine_client = phone(tmp_path / "mine", srv, "worker2")
    other, other_client = phone(tmp_path / "other", srv, "worker2")   # same account, other phone
    office, office_client = phone(tmp_path / "office", srv, "office1")
    leader, leader_client = phone(tmp_path / "leader", srv, "leader1")
    for c in (mine_client, other_client, office_client, leader_client):
        c.sync()

    # This phone reports a matter and registers households; the other phone of the same
    # account edits one of them, concurrently with an edit made here.
    hh = [mine.create("household", household_fields("g2", n), "worker2")["record"] for n in range(5)]
    case = mine.create("case", case_fields("g2", "worker2"), "worker2")["record"]
    mine_client.push()
    other_client.sync()
    theirs = other.update("household", hh[0], {"note": "独居老人"}, "worker2")
    mine.update("household", hh[0], {"note": "外出务工"}, "worker2")
    other_client.push()
    mine_client.push()
    own_ids = {r[0] for r in mine.conn.execute("SELECT change_id FROM seen")}

    page = raw_pull(srv, mine_client, mine.cursor)
    got = {ch["id"] for ch in page["changes"]}
    assert got.isdisjoint(own_ids)                       # nothing of its own comes back
    assert got == {theirs["id"]}                         # exactly the other phone's change
    assert page["refs"].get(case, "").endswith("-0001")  # the matter's township reference
    # Applied, the phone shows the reference and the two notes as a conflict.
    mine_client.pull()
    assert mine.get("case", case)["ref"] == page["refs"][case]
    shown = mine.get("household", hh[0])["note"]
    losing = {c["value"] for c in mine.conflicts("household", hh[0]) if c["field"] == "note"}
    assert {shown} | losing == {"独居老人", "外出务工"} and shown not in losing
    # The other phone of the same account does receive this phone's changes.
    other_got = {ch["id"] for ch in raw_pull(srv, other_client, other.cursor)["changes"]}
    assert other_got and other_got <= own_ids

    # Exits: the leader works on a case, then it is given to another leader.
    office_client.sync()
    office.update("case", case, {"status": "accepted"}, "office1")
    office.update("case", case, {"owner": "leader1", "status": "assigned", "deadline": "2026-12-31"}, "office1")
    office_client.sync()
    leader_client.sync()
    assert leader.get("case", case) is not None
    note = leader.create("case_event", {"case_id": case, "kind": "progress", "at": now_iso(),
                                        "by": "leader1", "text": "已约双方面谈。"}, "leader1")
    leader_client.push()
    office_client.sync()
    office.update("case", case, {"owner": "leader2"}, "office1")
    office_client.sync()
    page = raw_pull(srv, leader_client, leader.cursor)
    assert page["exits"] == [case]                       # told to let the case go
    assert note["id"] not in {ch["id"] for ch in page["changes"]}
    leader_client.pull()
    assert leader.get("case", case) is None


def test_a_phone_starting_over_gets_its_own_changes_back(fresh_server, tmp_path):
    """Signed in again (no cursor), or given other grids (a reset): the phone holds
    nothing it sent, so a whole pass sends its own changes too, on every page."""
    srv = fresh_server
    mine, client = phone(tmp_path / "mine", srv, "worker1", page=3)
    client.sync()
    made = {mine.create("household", household_fields("g1", n), "worker1")["id"] for n in range(7)}
    client.push()
    assert {ch["id"] for ch in raw_pull(srv, client, mine.cursor)["changes"]}.isdisjoint(made)

    cli("user", "grids", "worker1", "--grid", "g1", "--grid", "g2", "--db", str(srv.db))
    report = client.pull()
    assert report.reset
    held = {r[0] for r in mine.conn.execute("SELECT change_id FROM seen")}
    assert made <= held                                   # pulled back, over three-change pages
    assert mine.count("household") == 7

    fresh, fresh_client = phone(tmp_path / "again", srv)  # a new install on the same device id
    fresh.set_meta("device_id", mine.device_id)
    fresh.device_id = mine.device_id
    fresh_client.login("worker1", PASSWORD)
    fresh_client.pull()
    assert {r[0] for r in fresh.conn.execute("SELECT change_id FROM seen")} >= made


def test_a_co_worker_signed_in_under_anothers_device_id_cannot_hide_their_pushes_from_that_phone(server, tmp_path):
    """A device id is in every change a grid's phones pull. A co-worker who signed in
    under another phone's id had every push of theirs taken as that phone's own echo:
    skipped by its pulls, never delivered to it."""
    from sync import changes, clock
    mine, mine_client = phone(tmp_path / "mine", server, "worker1")
    mine_client.sync()
    r = httpx.post(server.url + "/api/v1/auth/login", headers={"X-Gridbook-Protocol": str(changes.PROTOCOL_VERSION)},
                   json={"username": "lostphone", "password": PASSWORD, "device_id": mine.device_id}, timeout=30)
    assert r.status_code == 200, r.text
    hid = changes.new_id("r")
    ch = changes.make("household", hid, household_fields("g1", 81), clock.encode(clock.wall_ms(), 0, mine.device_id),
                      mine.device_id, "lostphone")
    pushed = httpx.post(server.url + "/api/v1/sync/push", json={"changes": [ch]}, timeout=30, headers={
        "Authorization": f"Bearer {r.json()['token']}", "X-Gridbook-Device": mine.device_id,
        "X-Gridbook-Protocol": str(changes.PROTOCOL_VERSION)})
    assert pushed.status_code == 200, pushed.text
    mine_client.sync()
    assert mine.get("household", hid) is not None


def later_visit_target(replica) -> str:
    """A household the phone holds (the copy's own)."""
    return replica.conn.execute("SELECT id FROM households ORDER BY id LIMIT 1").fetchone()[0]


def test_a_phone_put_back_from_an_older_copy_gets_back_what_it_pushed_after_the_copy(fresh_server, tmp_path):
    """A phone's data folder put back from a copy made before its last syncs (a backup of
    the phone, a clone to a new one), with its sign-in still good: what it pushed after
    the copy was never sent back (no echo), so it showed an old note and lacked a
    household it had registered, for good, and its next edit of the note stood as a
    conflict with its own. Its pull now names the last change it knows the server took,
    an earlier one than the server's, and gets its own later changes back."""
    import shutil
    srv = fresh_server
    folder, copy = tmp_path / "phone", tmp_path / "copy"
    mine, client = phone(folder, srv, "worker1")
    hid = mine.create("household", household_fields("g1", 1), "worker1")["record"]
    mine.update("household", hid, {"note": "第一次"}, "worker1")
    client.sync()
    mine.close()
    shutil.copytree(folder, copy)
    mine, client = phone(folder, srv)
    mine.update("household", hid, {"note": "第二次"}, "worker1")
    later = mine.create("household", household_fields("g1", 2), "worker1")["record"]
    waiting = mine.create("household", household_fields("g1", 3), "worker1")   # pushed after the copy too
    report = client.sync()
    assert report.pushed == 3 and report.pending == 0
    # in step, its pulls carry nothing of its own
    assert raw_pull(srv, client, mine.cursor)["changes"] == []
    mine.close()
    shutil.rmtree(folder)
    shutil.copytree(copy, folder)                       # the old copy put back

    mine, client = phone(folder, srv)
    assert mine.get("household", hid)["note"] == "第一次" and mine.get("household", later) is None
    # she records a visit before the next sync: its push comes first, and the server,
    # having taken it, has her last change right again (the pull alone could not tell)
    visit = mine.create("visit", {"household_id": later_visit_target(mine), "grid_id": "g1", "kind": "household",
                                  "visited_at": now_iso(), "visitor": "worker1", "seen": "恢复后走访"}, "worker1")
    client.sync()
    assert mine.meta("catch_up") is None                # her own changes came back: in step again
    assert mine.get("household", hid)["note"] == "第二次"
    assert mine.get("household", later) is not None and mine.get("household", waiting["record"]) is not None
    assert mine.conflicts("household", hid) == [] and mine.get("visit", visit["record"]) is not None
    mine.update("household", hid, {"note": "第三次"}, "worker1")
    client.sync()
    office, office_client = phone(tmp_path / "office", srv, "office1")
    office_client.sync()
    assert office.get("household", hid)["note"] == "第三次" and office.conflicts("household", hid) == []
    # back in step once it pushed again: no echo
    assert raw_pull(srv, client, mine.cursor)["changes"] == []


def test_a_pull_naming_an_earlier_change_than_the_server_took_sends_the_phones_own_after_its_cursor(
        fresh_server, tmp_path):
    """The server's side of it, as a phone (or anyone holding its token) asks: `acked`
    naming the last change the server took from this phone sends nothing of its own;
    naming an earlier one, or none, sends its own changes after the cursor, and only
    what the account may see; an absent `acked` (an older app) is taken at its word."""
    srv = fresh_server
    mine, client = phone(tmp_path / "mine", srv, "worker1")
    client.sync()
    first = mine.create("household", household_fields("g1", 1), "worker1")
    client.sync()
    cursor = mine.cursor
    second = mine.create("household", household_fields("g1", 2), "worker1")
    client.push()
    assert mine.meta("acked") == second["id"]

    def own(acked):
        params = {"limit": 5000, "cursor": cursor, **({"acked": acked} if acked is not None else {})}
        r = httpx.get(srv.url + "/api/v1/sync/pull", headers=client._headers(), params=params, timeout=30)
        assert r.status_code == 200, r.text
        return [ch["id"] for ch in r.json()["changes"]]
    assert own(second["id"]) == [] and own(None) == []
    assert own(first["id"]) == [second["id"]] and own("") == [second["id"]]
    bad = httpx.get(srv.url + "/api/v1/sync/pull", headers=client._headers(), timeout=30,
                    params={"cursor": cursor, "acked": "x" * 65})
    assert bad.status_code == 422 and "acked" in bad.text


def test_a_push_naming_an_earlier_change_than_the_server_took_is_answered_behind(fresh_server, tmp_path):
    """The push's side: X-Gridbook-Acked naming the last change taken is answered as
    before; an earlier one, "behind"; a malformed one is refused naming it; none (an
    older phone) is taken at its word. A header, not a key of the body: a server from
    before refuses a body with a key it does not know (a phone's lone change was held
    as refused)."""
    srv = fresh_server
    mine, client = phone(tmp_path / "mine", srv, "worker1")
    first = mine.create("household", household_fields("g1", 1), "worker1")
    client.sync()
    second = mine.create("household", household_fields("g1", 2), "worker1")
    client.sync()

    def push(acked, body: dict) -> httpx.Response:
        headers = {**client._headers(), **({"X-Gridbook-Acked": acked} if acked is not None else {})}
        return httpx.post(srv.url + "/api/v1/sync/push", json=body, headers=headers, timeout=30)
    assert "behind" not in push(second["id"], {"changes": [second]}).json()
    answer = push(first["id"], {"changes": [second]}).json()
    assert answer["behind"] is True and answer["results"] == [{"status": "duplicate"}]
    assert push("", {"changes": []}).json()["behind"] is True
    for bad in ("a b", "x" * 65):
        r = push(bad, {"changes": []})
        assert r.status_code == 422 and "acked" in r.text, r.text
    r = push(None, {"acked": first["id"], "changes": []})
    assert r.status_code == 422 and r.json()["message"].startswith("body"), r.text
    assert "behind" not in push(None, {"changes": [second]}).json()   # an older phone sends none
