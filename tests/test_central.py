"""Central store rules that are not about the wire: scopes of children, stamp limits."""

import pytest

from sync import changes, clock
from sync.access import Principal
from sync.server.central import CentralStore

PW = "long-enough-1"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)  # fast scrypt: these tests are not about hashing
    st = CentralStore(str(tmp_path / "c.db"))
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    st.add_grid("g2", "二组", "高山村", "金山镇")
    st.server_write("case", "case-g2", {
        "grid_id": "g2", "kind": "dispute", "channel": "grid", "category": "02",
        "description": "高山村的纠纷", "status": "reported", "reported_by": "office",
        "reported_at": "2026-11-01T09:00:00+08:00"}, author="office")
    return st


@pytest.fixture
def phone_of(store, tmp_path):
    """A phone signed in as the account, syncing with the real app in-process."""
    from fastapi.testclient import TestClient

    from sync.client import SyncClient
    from sync.device import DeviceReplica
    from sync.server.app import create_app
    http = TestClient(create_app(store.path))

    def phone(name: str):
        replica = DeviceReplica(str(tmp_path / f"{name}.db"))
        client = SyncClient(replica, "http://testserver", http=http)
        client.login(name, PW)
        return replica, client
    return phone


def _change(entity, fields, author="w1", record=None, stamp=None):
    return changes.make(entity, record or changes.new_id("r"), fields,
                        stamp or clock.encode(clock.wall_ms(), 0, "phone1"), "phone1", author)


def test_visit_naming_own_grid_but_another_grids_case_is_forbidden(store):
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    visit = _change("visit", {"grid_id": "g1", "case_id": "case-g2", "kind": "home",
                              "visited_at": "2026-11-26T10:00:00+08:00", "visitor": "w1", "seen": "见面"})
    res = store.push(w1, [visit])
    assert res.results[0]["code"] == "forbidden" and res.http_status == 403
    assert store.get("visit", visit["record"]) is None


def test_leader_may_add_a_visit_to_a_case_they_own(store):
    store.server_write("case", "case-g2", {"owner": "li"}, author="office")
    li = Principal("li", "leader", device="phone1")
    visit = _change("visit", {"grid_id": "g2", "case_id": "case-g2", "kind": "home",
                              "visited_at": "2026-11-26T10:00:00+08:00", "visitor": "li", "seen": "见面"},
                    author="li")
    assert store.push(li, [visit]).results[0]["status"] == "applied"
    assert store.get("visit", visit["record"])["visitor"] == "li"


def test_a_phone_dating_what_happened_after_tomorrow_is_refused_naming_the_field(store):
    """A phone whose own date is wrong (or a form skipped) must not number a report in
    a year to come, nor put a visit in next month's figures. A phone dates what happens at
    its own now: a time later than a clock may be ahead (MAX_AHEAD_MS), tomorrow
    morning say, is refused too; one a few minutes ahead is taken."""
    import datetime as dt
    store.server_write("case", "case-g2", {"owner": "li"}, author="office")
    li = Principal("li", "leader", frozenset({"g2"}), device="phone1")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()

    def at(days):
        return f"{today + dt.timedelta(days=days)}T09:00:00+08:00"
    made = [_change("case", {"grid_id": "g2", "kind": "dispute", "channel": "grid", "category": "02",
                             "description": "高山村", "status": "reported", "reported_by": "li",
                             "reported_at": "2100-12-31T23:59:00+08:00"}, author="li"),
            _change("visit", {"grid_id": "g2", "case_id": "case-g2", "kind": "home", "visitor": "li",
                              "visited_at": at(3), "seen": "见面"}, author="li"),
            _change("case_event", {"case_id": "case-g2", "kind": "progress", "by": "li", "at": at(40),
                                   "text": "约谈"}, author="li"),
            _change("case_event", {"case_id": "case-g2", "kind": "progress", "by": "li", "at": at(1),
                                   "text": "明早约谈"}, author="li"),
            _change("case_event", {"case_id": "case-g2", "kind": "progress", "by": "li", "text": "约谈",
                                   "at": (dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
                                          + dt.timedelta(minutes=4)).isoformat(timespec="seconds")}, author="li")]
    res = store.push(li, made).results
    assert [(r["status"], [(e["field"], e["rule"]) for e in r.get("errors", [])]) for r in res] == [
        ("rejected", [("reported_at", "date_future")]), ("rejected", [("visited_at", "date_future")]),
        ("rejected", [("at", "date_future")]), ("rejected", [("at", "time_future")]), ("applied", [])]
    assert "has not come yet" in res[0]["reason"] and "check the phone's clock" in res[3]["reason"]
    # the office entering its paper register is not bound by the phone's rule
    office = Principal("xinfang", "office", device="desk")
    entry = changes.make("case_event", changes.new_id("r"), {"case_id": "case-g2", "kind": "note", "by": "xinfang",
                                                             "at": at(1), "text": "明日接访"},
                         clock.encode(clock.wall_ms(), 0, "desk"), "desk", "xinfang")
    got = store.push(office, [entry]).results[0]
    assert got["status"] == "applied", got
    assert store.conn.execute("SELECT count(*) FROM cases WHERE ref LIKE '%-2100-%'").fetchone()[0] == 0


def test_a_phone_dating_what_happened_over_a_year_ago_is_refused_and_a_year_back_taken(store):
    """A phone whose date reset to 2000 (or a forged report) numbered its report
    金山-2000-0001: missing from this year's ledger, its limits long run out; one dated
    2 January of last year went into a year already reported. A week offline across New
    Year still reaches last year; the office may register old matters."""
    import datetime as dt
    store.server_write("case", "case-g2", {"owner": "li"}, author="office")
    li = Principal("li", "leader", frozenset({"g2"}), device="phone1")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    year = today.year

    def report(at):
        return _change("case", {"grid_id": "g2", "kind": "dispute", "channel": "grid", "category": "02",
                                "description": "高山村", "status": "reported", "reported_by": "li",
                                "reported_at": at}, author="li")
    made = [report("2000-01-01T08:00:00+08:00"), report(f"{today - dt.timedelta(days=367)}T23:59:00+08:00"),
            _change("visit", {"grid_id": "g2", "case_id": "case-g2", "kind": "home", "visitor": "li",
                              "visited_at": f"{year - 2}-06-01T09:00:00+08:00", "seen": "见面"}, author="li"),
            report(f"{today - dt.timedelta(days=360)}T00:00:00+08:00")]
    res = store.push(li, made).results
    assert [(r["status"], [(e["field"], e["rule"]) for e in r.get("errors", [])]) for r in res] == [
        ("rejected", [("reported_at", "date_long_past")]), ("rejected", [("reported_at", "date_long_past")]),
        ("rejected", [("visited_at", "date_long_past")]), ("applied", [])]
    assert "set the phone's date and time" in res[0]["reason"]
    assert store.conn.execute("SELECT count(*) FROM cases WHERE ref LIKE '%-2000-%'").fetchone()[0] == 0
    office = Principal("xinfang", "office", frozenset(), device="office-browser")
    paper = _change("visit", {"grid_id": "g2", "case_id": "case-g2", "kind": "home", "visitor": "xinfang",
                              "visited_at": f"{year - 3}-06-01T09:00:00+08:00", "seen": "纸质台账补录"},
                    author="xinfang", stamp=clock.encode(clock.wall_ms(), 0, "office-browser"))
    paper["device"] = "office-browser"
    res = store.push(office, [paper]).results[0]
    assert res["status"] == "applied", res      # the office's paper register
    store.server_write("case", "case-old", {"grid_id": "g2", "kind": "dispute", "channel": "letter",
                                            "category": "02", "description": "旧信", "status": "reported",
                                            "reported_by": "office", "reported_at": f"{year - 3}-05-01T09:00:00+08:00"},
                       author="office")
    assert store.get("case", "case-old")["reported_at"].startswith(str(year - 3))


def test_a_time_in_another_offset_than_the_townships_is_refused_naming_the_field(store):
    """The figures count a time by the day it is written in: a visit at 02:00 on the 1st
    at +14:00 is the 31st in China, and would be counted in the wrong month. Every screen
    writes the township's time; a time written otherwise is refused, not moved."""
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    hid = changes.new_id("r")
    assert store.push(w1, [_change("household", {"grid_id": "g1", "head_name": "王", "address": "1号"},
                                   record=hid)]).counts["applied"] == 1

    def visit(at):
        return _change("visit", {"grid_id": "g1", "household_id": hid, "kind": "household", "visitor": "w1",
                                 "visited_at": at, "seen": "屋顶漏水"})
    res = store.push(w1, [visit("2026-11-01T02:00:00+14:00"), visit("2026-10-31T18:00:00Z"),
                          visit("2026-11-01T02:00:00+08:00")]).results
    assert [(r["status"], [(e["field"], e["rule"]) for e in r.get("errors", [])]) for r in res] == [
        ("rejected", [("visited_at", "time_zone")]), ("rejected", [("visited_at", "time_zone")]), ("applied", [])]
    assert "+08:00" in res[0]["reason"]


def test_stamp_with_an_overlong_node_is_refused(store):
    office = Principal("office", "office", device="phone1")
    ch = _change("household", {"grid_id": "g1", "head_name": "王", "address": "1号"},
                 author="office", stamp=clock.encode(clock.wall_ms(), 0, "x" * 200))
    res = store.push(office, [ch]).results[0]
    assert res["status"] == "rejected" and res["errors"][0]["field"] == "hlc"


def test_edits_of_a_refused_record_wait_behind_it_with_a_reason_that_says_so(store, phone_of):
    store.add_account("w1", "一号", "grid_worker", PW, ["g1"])
    phone, client = phone_of("w1")
    client.pull()
    hh = phone.create("household", {"grid_id": "g2", "head_name": "外组", "address": "高山村"}, "w1")
    phone.update("household", hh["record"], {"phone": "13900000000"}, "w1")
    report = client.sync()
    assert report.quarantined == 2 and report.pushed == 0
    refused, held = phone.quarantined()
    assert refused["errors"][0]["rule"] == "forbidden"
    assert held["errors"][0]["rule"] == "held" and "was refused" in held["reason"]
    # Retrying the refused one brings the held one along (and the server refuses both again).
    phone.retry_quarantined(refused["change_id"])
    assert phone.pending_count() == 2


def test_the_server_numbers_each_new_matter_per_year_also_those_reported_offline(store, phone_of):
    store.add_account("w1", "一号", "grid_worker", PW, ["g1"])
    phone, client = phone_of("w1")
    import datetime as dt
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    days = (f"{today}T00:00:00", f"{today}T00:01:00", f"{today.year - 1}-12-31T09:00:00")  # a week offline, say
    made = [phone.create("case", {
        "grid_id": "g1", "kind": "dispute", "channel": "grid", "category": "02", "description": f"纠纷{i}",
        "status": "reported", "reported_by": "w1", "reported_at": f"{day}+08:00"}, "w1")
        for i, day in enumerate(days)]
    client.sync()
    refs = [phone.get("case", m["record"])["ref"] for m in made]
    # case-g2 from the fixture was 2026's first
    y = today.year
    first = 2 if y == 2026 else 1
    assert refs == [f"金山-{y}-{first:04d}", f"金山-{y}-{first + 1:04d}", f"金山-{y - 1}-{2 if y == 2027 else 1:04d}"]
    assert store.get("case", "case-g2")["ref"] == "金山-2026-0001"


def test_a_case_reassigned_to_another_leader_leaves_the_first_leaders_phone_whole(store, phone_of):
    store.add_account("li", "李", "leader", PW)
    store.add_account("chen", "陈", "leader", PW)
    store.server_write("case", "case-g2", {"owner": "li"}, author="office")
    li, li_client = phone_of("li")
    li_client.sync()
    li.create("case_event", {"case_id": "case-g2", "kind": "progress", "at": "2026-11-26T10:00:00+08:00",
                             "by": "li", "text": "已约谈"}, "li")
    li_client.sync()
    assert li.get("case", "case-g2") is not None and li.count("case_event") == 1

    store.server_write("case", "case-g2", {"owner": "chen"}, author="office")
    li_client.sync()
    assert li.get("case", "case-g2") is None and li.count("case_event") == 0   # let go, with its timeline
    chen, chen_client = phone_of("chen")
    chen_client.sync()
    assert chen.get("case", "case-g2")["owner"] == "chen" and chen.count("case_event") == 1

    # Given back, it arrives whole again on the first leader's phone.
    store.server_write("case", "case-g2", {"owner": "li"}, author="office")
    li_client.sync()
    assert li.get("case", "case-g2")["owner"] == "li" and li.count("case_event") == 1


def test_a_household_moved_to_another_grid_goes_whole_to_its_new_grid_and_leaves_the_old(store, phone_of):
    store.add_account("w1", "一号", "grid_worker", PW, ["g1"])
    store.add_account("w2", "二号", "grid_worker", PW, ["g2"])
    store.add_account("both", "两组", "grid_worker", PW, ["g1", "g2"])
    w1, w1_client = phone_of("w1")
    hh = w1.create("household", {"grid_id": "g1", "head_name": "朱飞珍", "address": "白鹤村8组10号",
                                 "phone": "13700000000"}, "w1")["record"]
    visit = w1.create("visit", {"grid_id": "g1", "household_id": hh, "kind": "household",
                                "visited_at": "2026-11-26T10:00:00+08:00", "visitor": "w1", "seen": "家中无人"}, "w1")["record"]
    w1_client.sync()
    w2, w2_client = phone_of("w2")
    both, both_client = phone_of("both")
    w2_client.sync()
    both_client.sync()
    assert w2.get("household", hh) is None and both.get("household", hh)["grid_id"] == "g1"

    store.server_write("household", hh, {"grid_id": "g2"}, author="office")   # the office moves it
    w1_client.sync()
    w2_client.sync()
    both_client.sync()
    moved = w2.get("household", hh)   # the new grid's phone holds it whole, not the move alone
    assert (moved["grid_id"], moved["head_name"], moved["address"], moved["phone"]) == \
        ("g2", "朱飞珍", "白鹤村8组10号", "13700000000")
    assert w1.get("household", hh) is None       # the old grid's phone let it go
    assert w1.get("visit", visit) is not None    # its visit was made in g1, and stays there
    assert both.get("household", hh)["grid_id"] == "g2"   # a phone holding both grids keeps it

    # moved back, it arrives whole again, and the second grid's phone lets it go
    store.server_write("household", hh, {"grid_id": "g1"}, author="office")
    w1_client.sync()
    w2_client.sync()
    assert w1.get("household", hh)["head_name"] == "朱飞珍" and w1.get("household", hh)["grid_id"] == "g1"
    assert w2.get("household", hh) is None


def test_a_phone_keeps_a_case_it_still_has_unsent_work_on(store, phone_of):
    store.add_account("li", "李", "leader", PW)
    store.server_write("case", "case-g2", {"owner": "li"}, author="office")
    li, client = phone_of("li")
    client.sync()
    li.update("case", "case-g2", {"status": "in_progress"}, "li")      # typed, not yet sent
    store.server_write("case", "case-g2", {"owner": "chen2"}, author="office")
    client.pull()
    assert li.get("case", "case-g2") is not None and li.pending_count() == 1


def test_a_worker_given_other_grids_starts_over_keeping_only_unsent_work(store, phone_of):
    store.add_account("w1", "一号", "grid_worker", PW, ["g1"])
    store.server_write("household", "hh-g1", {"grid_id": "g1", "head_name": "甲", "address": "白鹤村1号"})
    store.server_write("household", "hh-g2", {"grid_id": "g2", "head_name": "乙", "address": "高山村1号"})
    phone, client = phone_of("w1")
    client.sync()
    assert [r[0] for r in phone.table_rows("household")] == ["hh-g1"]
    unsent = phone.create("household", {"grid_id": "g1", "head_name": "丙", "address": "白鹤村2号"}, "w1")
    store.set_grids("w1", ["g2"])
    client.pull()
    held = {r[0] for r in phone.table_rows("household")}
    assert held == {"hh-g2", unsent["record"]}     # the old grid gone, the new one whole, unsent kept
    assert phone.pending_count() == 1
    assert client.account()["grids"] == ["g2"]      # the screens show the new grids


def test_references_never_repeat_after_the_demo_wrote_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    from sync.server.demo import seed
    from sync.server.office import CentralWorkspace
    db = str(tmp_path / "demo.db")
    seed(db, households_per_grid=10)
    st = CentralStore(db)
    before = {r[0] for r in st.conn.execute("SELECT ref FROM cases")}
    ws = CentralWorkspace(st, {"username": "xinfang", "name": "镇信访办", "role": "office", "grids": []})
    cid = ws.register_matter({"channel": "visit", "category": "10", "grid_id": "bh-01", "description": "欠薪"})
    ref = ws.case(cid)["ref"]
    assert ref and ref not in before
    assert st.conn.execute("SELECT count(*) FROM cases WHERE ref=?", (ref,)).fetchone()[0] == 1
    # nothing in the demo happened on a day still to come (a 告知 of the day after tomorrow
    # read as a date the office's own dialogs refuse)
    from sync import statute
    from sync.server.office import today
    for field in statute.HAPPENED:
        late = st.conn.execute(f"SELECT count(*) FROM cases WHERE {field} > ?", (today().isoformat(),)).fetchone()[0]
        assert late == 0, field


def test_a_store_with_repeated_references_is_healed_when_opened(store):
    row = store.get("case", "case-g2")
    store.server_write("case", "case-b", {k: v for k, v in row.items() if v is not None and k not in ("id", "ref")},
                       author="office")
    x = store.conn.execute
    x("DROP INDEX cases_ref_unique")
    x("UPDATE cases SET ref='金山-2026-0007'")            # as the demo used to leave them
    x("DELETE FROM server_meta WHERE key LIKE 'ref:%'")
    reopened = CentralStore(store.path)
    refs = sorted(r[0] for r in reopened.conn.execute("SELECT ref FROM cases"))
    assert refs == ["金山-2026-0007", "金山-2026-0008"]
    assert reopened.conn.execute("SELECT 1 FROM sqlite_master WHERE name='cases_ref_unique'").fetchone()
    # the renumbered one reaches the phones of its grid as a reference
    assert x("SELECT count(*) FROM log WHERE change_id LIKE 'ref:%'").fetchone()[0] >= 3


def test_a_pull_is_answered_only_once_its_reading_is_on_record(store, tmp_path):
    """The audit row of a pull rides the writer's next group, awaited without holding a
    thread: while the writer cannot commit, the phone gets nothing; then page and row."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor, TimeoutError as NotYet

    from fastapi.testclient import TestClient

    from sync.client import SyncClient
    from sync.device import DeviceReplica
    from sync.server.app import create_app
    store.add_account("w2", "二号", "grid_worker", PW, ["g2"])
    app = create_app(store.path)
    http = TestClient(app)
    replica = DeviceReplica(str(tmp_path / "w2.db"))
    client = SyncClient(replica, "http://testserver", http=http)
    client.login("w2", PW)
    served = app.state.store
    served.generation()  # made on first use, under the write lock: made before it is held

    def pulls() -> list[str]:
        with sqlite3.connect(store.path) as c:
            return [r[0] for r in c.execute("SELECT detail FROM audit WHERE username='w2' AND action='pull'")]
    with ThreadPoolExecutor(1) as pool:
        with served.lock:  # the writer's groups wait for this lock
            pulling = pool.submit(client.pull)
            with pytest.raises(NotYet):
                pulling.result(timeout=2)
            assert replica.get("case", "case-g2") is None and pulls() == []
        pulling.result(timeout=120)
    assert replica.get("case", "case-g2")["description"] == "高山村的纠纷"
    assert len(pulls()) == 1 and "grids=g2" in pulls()[0]


def test_a_late_change_to_an_erased_household_is_checked_as_it_will_be_kept(store):
    """A phone that had not heard of an erasure writes to the record: its personal fields
    are erased before it is admitted (erasure.keep_erased), and its values are checked as
    they will be kept, not as sent (the push's precheck is made again for it)."""
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    hid = changes.new_id("r")
    made = store.push(w1, [_change("household", {"grid_id": "g1", "head_name": "欧阳秀兰",
                                                 "address": "金山镇白鹤村9组88号"}, record=hid)])
    assert made.counts["applied"] == 1
    with store.transaction():
        store.conn.execute("INSERT INTO erased VALUES ('household', ?, 1)", (hid,))
    late = _change("household", {"phone": "1" * 30, "note": "搬到镇上了"}, record=hid,
                   stamp=clock.encode(clock.wall_ms() + 1, 0, "phone1"))
    res = store.push(w1, [late])
    assert [r["status"] for r in res.results] == ["applied"], res.results
    row = store.get("household", hid)
    assert row["phone"] is None and row["note"] is None
    # the same number sent for a record that is not erased is refused, naming the field
    other = _change("household", {"grid_id": "g1", "head_name": "司马德福", "address": "金山镇白鹤村2组5号",
                                  "phone": "1" * 30})
    [refused] = store.push(w1, [other]).results
    assert refused["status"] == "rejected" and refused["errors"][0]["field"] == "phone"


def test_what_is_added_to_an_erased_matter_is_erased_on_arrival_and_stays_so(store):
    """A note on a matter erased meanwhile (a phone that had not heard of it) must not
    bring the person's data back: its personal fields are erased on arrival, the new
    record is noted as erased, and a refused one is not."""
    from sync import erasure_rules
    from sync.server import erasure
    store.server_write("case", "case-g2", {"owner": "li"}, author="office")
    erasure.erase(store, "case", "case-g2", by="admin", compact=False)
    li = Principal("li", "leader", frozenset({"g2"}), "phone1")
    note = _change("case_event", {"case_id": "case-g2", "kind": "progress", "by": "li",
                                  "at": "2026-11-26T10:00:00+08:00",
                                  "text": "王某某 身份证 330702199001011237 电话13800000000"}, author="li")
    forged = _change("case_event", {"case_id": "case-g2", "kind": "progress", "by": "w9",
                                    "at": "2026-11-26T10:00:00+08:00", "text": "王某某"}, author="li")
    res = store.push(li, [note, forged]).results
    assert [r["status"] for r in res] == ["applied", "rejected"], res
    assert store.get("case_event", note["record"])["text"] is None
    [(body,)] = store.conn.execute("SELECT body FROM changes WHERE change_id=?", (note["id"],)).fetchall()
    assert "330702" not in body and "王某某" not in body
    erased = {r for (r,) in store.conn.execute("SELECT record FROM erased WHERE entity='case_event'")}
    assert note["record"] in erased and forged["record"] not in erased
    # a visit to it, in its grid, likewise
    visit = _change("visit", {"grid_id": "g2", "case_id": "case-g2", "kind": "home", "visitor": "li",
                              "visited_at": "2026-11-26T11:00:00+08:00", "seen": "见到王某某本人"}, author="li")
    assert store.push(li, [visit]).results[0]["status"] == "applied"
    # that it happened, and when, stays; what was seen is said as erased (an empty visit is refused)
    assert store.get("visit", visit["record"])["seen"] == erasure_rules.ERASED_TEXT


def test_a_household_visit_to_an_erased_household_is_taken_and_said_erased(store):
    """What was seen at an erased household's door may name the person: erased on
    arrival. The visit recorded something, so it is not refused as an empty visit (the
    worker could not mend that): it reads as erased."""
    from sync.server import erasure
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    hid = changes.new_id("r")
    assert store.push(w1, [_change("household", {"grid_id": "g1", "head_name": "欧阳秀兰",
                                                 "address": "金山镇白鹤村9组88号"}, record=hid)]).counts["applied"] == 1
    erasure.erase(store, "household", hid, by="admin", compact=False)
    visit = _change("visit", {"grid_id": "g1", "household_id": hid, "kind": "household", "visitor": "w1",
                              "visited_at": "2026-11-26T11:00:00+08:00", "seen": "门锁着，欧阳秀兰外出"})
    assert store.push(w1, [visit]).results == [{"status": "applied"}]
    assert store.get("visit", visit["record"])["seen"] == "〔已删除〕"
    empty = _change("visit", {"grid_id": "g1", "household_id": hid, "kind": "household", "visitor": "w1",
                              "visited_at": "2026-11-26T11:30:00+08:00", "seen": "  "})
    assert store.push(w1, [empty]).results[0]["errors"][0]["rule"] == "empty_visit"   # nothing recorded


def test_a_change_under_an_id_already_taken_is_refused_not_answered_duplicate(store):
    """"duplicate" tells a phone its change landed, and it drops it: only the same change
    sent again (a retry, an offer after a restore) is one."""
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    w2 = Principal("w2", "grid_worker", frozenset({"g1"}), "phone2")
    first = _change("household", {"grid_id": "g1", "head_name": "王", "address": "1号"})
    assert store.push(w1, [first]).results[0]["status"] == "applied"
    assert store.push(w1, [first]).results[0]["status"] == "duplicate"     # the retry
    theirs = changes.make("household", changes.new_id("r"), {"grid_id": "g1", "head_name": "李", "address": "2号"},
                          clock.encode(clock.wall_ms(), 0, "phone2"), "phone2", "w2")
    theirs["id"] = first["id"]
    again = dict(first, hlc=clock.encode(clock.wall_ms() + 5, 0, "phone1"), fields={"address": "3号"})
    for p, ch in ((w2, theirs), (w1, again)):
        [res] = store.push(p, [ch]).results
        assert res["status"] == "rejected" and [(e["field"], e["rule"]) for e in res["errors"]] == [("id", "id_taken")]
    assert store.get("household", first["record"])["address"] == "1号"
    assert store.get("household", theirs["record"]) is None


def test_an_office_edit_after_a_phone_whose_clock_runs_ahead_is_stamped_after_it_and_wins(store):
    """A phone's clock a few minutes ahead (within what is taken): the server learns its
    stamps, so what the office writes next is later than the phone's edit and is the
    value everyone sees, on the server as on every phone that pulls it."""
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    store.add_account("w1", "王芳", "grid_worker", PW, ["g1"])
    ahead = clock.encode(clock.wall_ms() + changes.MAX_AHEAD_MS // 2, 0, "phone1")
    case = _change("case", {"grid_id": "g1", "kind": "dispute", "channel": "grid", "category": "02",
                            "description": "宅基地边界", "status": "reported", "reported_by": "w1",
                            "reported_at": "2026-11-20T09:00:00+08:00", "title": "手机写的"}, stamp=ahead)
    assert store.push(w1, [case]).results[0]["status"] == "applied"
    office = store.server_write("case", case["record"], {"title": "办公室改的"}, author="office")
    assert office["hlc"] > ahead
    # a phone that pulls both folds them to the office's value, whatever the order
    from sync import merge
    for order in ([case, office], [office, case]):
        row, ver = None, {}
        for ch in order:
            row, ver = merge.merge_change(row, ver, ch)
        assert row["title"] == "办公室改的" and not merge.conflicts(ver)
    assert store.get("case", case["record"])["title"] == "办公室改的"


def test_only_changes_made_before_the_restore_count_as_brought_back(tmp_path):
    """The office is told how many changes phones brought back after a restore; any
    phone may say it is offering again, so what it made since (or on a store never
    restored) is not counted."""
    at = [1_795_000_000_000]
    st = CentralStore(str(tmp_path / "c.db"), now=lambda: at[0])
    hour = 3_600_000
    st.note_recovered("w1", "phone1", [clock.encode(at[0] - hour, 0, "phone1")])
    assert st.recovered()["total"] == 0                    # never restored: nothing to bring back
    st.begin_generation("restored from the backup of last night")
    restored = at[0]
    at[0] += 2 * hour
    st.note_recovered("w1", "phone1", [clock.encode(restored - hour, 0, "phone1"),        # from before
                                       clock.encode(restored + 60_000, 3, "phone1"),      # a clock a minute ahead
                                       clock.encode(restored + hour, 0, "phone1")])       # made since
    got = st.recovered()
    assert got == {"total": 2, "since_restore": 2, "restored_ms": restored}
    assert st.conn.execute("SELECT detail FROM audit WHERE action='recovered'").fetchall() == [("changes=2",)]


def test_a_position_is_a_latitude_and_a_longitude_together(store):
    """A latitude alone (a form skipped) took the map away from every phone of the grid:
    refused naming the half that is missing, as the record would hold it."""
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    half = _change("household", {"grid_id": "g1", "head_name": "只有纬度", "address": "7组7号", "lat": 29.07})
    [res] = store.push(w1, [half]).results
    assert res["status"] == "rejected" and [(e["field"], e["rule"]) for e in res["errors"]] == [("lon", "position_pair")]
    whole = _change("household", {"grid_id": "g1", "head_name": "有位置", "address": "7组8号", "lat": 29.07,
                                  "lon": 119.64})
    assert store.push(w1, [whole]).results == [{"status": "applied"}]
    later = clock.encode(clock.wall_ms() + 1, 0, "phone1")
    unset = _change("household", {"lon": None}, record=whole["record"], stamp=later)
    assert store.push(w1, [unset]).results[0]["errors"][0]["rule"] == "position_pair"
    both = _change("household", {"lat": None, "lon": None}, record=whole["record"],
                   stamp=clock.encode(clock.wall_ms() + 2, 0, "phone1"))
    assert store.push(w1, [both]).results == [{"status": "applied"}]       # no position at all is fine


def _twin_numbers() -> tuple[str, str]:
    """Two valid ID numbers that mask alike (3307**********dddd): same region, same last four."""
    import datetime as dt
    from sync import idnumber

    def make(day: dt.date) -> str:
        f17 = "330702" + day.strftime("%Y%m%d") + "123"
        return f17 + idnumber.check_char(f17)
    a, day = make(dt.date(1990, 1, 1)), dt.date(1990, 1, 2)
    while make(day)[-4:] != a[-4:]:
        day += dt.timedelta(days=1)
    return a, make(day)


def test_members_whose_numbers_mask_alike_keep_each_their_own_through_an_edit(store):
    """Phones hold members' ID numbers masked and send them back so; the server restores
    each. Two numbers with the same first and last four digits mask alike: restored by
    the mask alone, a note added to one member wrote the other's number over theirs."""
    from sync import privacy
    a, b = _twin_numbers()
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    hh = _change("household", {"grid_id": "g1", "head_name": "张大", "address": "白鹤村1组1号",
                               "members": [{"name": "张一", "relation": "子女", "id_number": a},
                                           {"name": "张二", "relation": "子女", "id_number": b}]})
    assert store.push(w1, [hh]).results == [{"status": "applied"}]
    seen = privacy.masked_fields("household", store.get("household", hh["record"]))["members"]
    assert seen[0]["id_number"] == seen[1]["id_number"]               # the phone cannot tell them apart
    edit = _change("household", {"members": [{**seen[0], "note": "在外务工"}, seen[1]]}, record=hh["record"],
                   stamp=clock.encode(clock.wall_ms() + 1, 0, "phone1"))
    assert store.push(w1, [edit]).results == [{"status": "applied"}]
    got = store.get("household", hh["record"])["members"]
    assert [m["id_number"] for m in got] == [a, b] and got[0]["note"] == "在外务工"
    # a member put before one of them: the third place had no number, and two numbers wear
    # its mask; which one it stands for cannot be known, so the change is refused
    moved = _change("household", {"members": [seen[1], {"name": "张三", "relation": "子女"}, seen[0]]},
                    record=hh["record"], stamp=clock.encode(clock.wall_ms() + 2, 0, "phone1"))
    [res] = store.push(w1, [moved]).results
    assert res["status"] == "rejected" and res["errors"][0]["rule"] == "masked"   # which is which: refused
    assert [m["id_number"] for m in store.get("household", hh["record"])["members"]] == [a, b]


def test_a_next_visit_further_off_than_any_interval_is_refused(store):
    """A phone that skipped its form put a household's next visit in 2100: it left its
    grid's 今日 for 75 years. No interval a township may set (at most 366 days) reaches
    past a year and a day from now."""
    import datetime as dt
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    far = _change("household", {"grid_id": "g1", "head_name": "张建国", "address": "3组12号",
                                "next_visit_due": "2100-12-31"})
    [res] = store.push(w1, [far]).results
    assert [(e["field"], e["rule"]) for e in res["errors"]] == [("next_visit_due", "due_too_far")]
    year = _change("household", {"grid_id": "g1", "head_name": "张建国", "address": "3组12号",
                                 "next_visit_due": (today + dt.timedelta(days=366)).isoformat()})
    assert store.push(w1, [year]).results == [{"status": "applied"}]


def test_a_next_visit_due_years_back_is_refused_unless_the_household_is_that_old(store):
    """A phone that skipped its form put a household's next visit on 2000-01-01: any visit
    ever made settled it, and the household left its grid's 今日 for good. A next visit is
    reckoned from the registration or a visit (recorded at most a year late); a household
    registered years ago may well be due from a visit two years back."""
    import datetime as dt
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    fields = {"grid_id": "g1", "head_name": "张建国", "address": "3组12号"}
    old = _change("household", {**fields, "next_visit_due": "2000-01-01"})
    [res] = store.push(w1, [old]).results
    assert res["status"] == "rejected" and res["code"] == "invalid"
    [err] = res["errors"]
    earliest = (today - dt.timedelta(days=366)).isoformat()
    assert (err["field"], err["rule"]) == ("next_visit_due", "due_too_early") and earliest in err["message"]
    assert store.get("household", old["record"]) is None
    hh = _change("household", {**fields, "next_visit_due": earliest})
    assert store.push(w1, [hh]).results == [{"status": "applied"}]
    # the same household, registered three years ago (the store's receipt of its first change)
    three_years = int((dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3 * 365)).timestamp() * 1000)
    store.conn.execute("UPDATE changes SET received_ms=? WHERE record=?", (three_years, hh["record"]))
    store.conn.commit()
    two_years_back = (today - dt.timedelta(days=2 * 365)).isoformat()
    edit = _change("household", {"next_visit_due": two_years_back}, record=hh["record"],
                   stamp=clock.encode(clock.wall_ms() + 1, 0, "phone1"))
    assert store.push(w1, [edit]).results == [{"status": "applied"}]
    again = _change("household", {"next_visit_due": "2000-01-01"}, record=hh["record"],
                    stamp=clock.encode(clock.wall_ms() + 2, 0, "phone1"))
    [res] = store.push(w1, [again]).results
    assert [(e["field"], e["rule"]) for e in res["errors"]] == [("next_visit_due", "due_too_early")]
    assert store.get("household", hh["record"])["next_visit_due"] == two_years_back
    # a visit of 2001 an older version stored: the phone reckons the next visit from it
    store.conn.execute("INSERT INTO visits (id, grid_id, household_id, kind, visited_at, visitor, seen, _versions)"
                       " VALUES ('v-old', 'g1', ?, 'household', '2001-03-01T10:00:00+08:00', 'w1', '在家', '{}')",
                       (hh["record"],))
    store.conn.commit()
    reckoned = _change("household", {"next_visit_due": "2001-03-31", "tags": ["dibao"]}, record=hh["record"],
                       stamp=clock.encode(clock.wall_ms() + 3, 0, "phone1"))
    assert store.push(w1, [reckoned]).results == [{"status": "applied"}]


def test_a_download_link_takes_no_file_once_the_sign_in_that_asked_for_it_has_ended(store):
    """A link is valid five minutes: an account disabled, or signed out, in those minutes
    still took the whole ledger with it."""
    from fastapi.testclient import TestClient

    from sync.server.app import create_app
    store.add_account("clerk", "文员", "office", PW)
    app = create_app(store.path)
    http = TestClient(app)
    clerk = Principal("clerk", "office", frozenset(), "office-browser")
    tickets = app.state.tickets

    def link(session):
        return f"/api/v1/export/{tickets.issue(clerk, 'ledger.csv', {}, session)}"
    live = store.open_session("clerk")
    r = http.get(link(live))
    assert r.status_code == 200 and "高山村的纠纷" in r.content.decode("utf-8-sig")
    took = store.conn.execute("SELECT username, address FROM audit WHERE action='export'").fetchall()
    assert took == [("clerk", "testclient")]      # who took it, and from where
    signed_out = store.open_session("clerk")
    url = link(signed_out)
    store.close_session(signed_out[0])
    r = http.get(url)
    assert r.status_code == 401 and "sign in again" in r.json()["message"] and "高山村" not in r.text
    url = link(store.open_session("clerk"))
    store.set_active("clerk", False)
    assert http.get(url).status_code == 401
    refused = store.conn.execute("SELECT count(*) FROM audit WHERE action='download_refused'").fetchone()[0]
    assert refused == 2


def test_a_full_disk_is_said_to_the_phone_and_the_monitor_and_loses_nothing(store, tmp_path):
    """A write that found no room answered 500 "internal" (a bug, said the phone) while
    the health check said ok."""
    from fastapi.testclient import TestClient

    from sync.client import SyncClient
    from sync.device import DeviceReplica
    from sync.errors import ServerTrouble
    from sync.server.app import create_app
    store.add_account("w2", "二号", "grid_worker", PW, ["g2"])
    app = create_app(store.path)
    http = TestClient(app, raise_server_exceptions=False)
    replica = DeviceReplica(str(tmp_path / "w2.db"))
    client = SyncClient(replica, "http://testserver", http=http, backoff_s=0.01, retries=1)
    client.login("w2", PW)
    served = app.state.store
    for n in range(200):
        replica.create("household", {"grid_id": "g2", "head_name": f"户主{n}", "address": f"高山村{n}号"}, "w2")
    with served.lock:   # the store may grow no more: SQLite's SQLITE_FULL, as on a full disk
        pages = served.conn.execute("PRAGMA page_count").fetchone()[0]
        served.conn.execute(f"PRAGMA max_page_count={pages}")
    body = '{"changes":[' + ",".join(b for _, b in replica.pending(500)) + "]}"
    r = http.post("/api/v1/sync/push", content=body.encode(), headers={**client._headers(),
                                                                       "Content-Type": "application/json"})
    assert r.status_code == 503 and r.json()["error"] == "disk_full" and r.headers["Retry-After"] == "60"
    assert http.get("/api/v1/health").status_code == 503
    assert replica.pending_count() == 200          # the phone keeps its work
    with pytest.raises(ServerTrouble) as e:        # and is told why, not that it is offline
        client.push()
    assert e.value.error == "disk_full" and replica.pending_count() == 200
    with served.lock:
        served.conn.execute("PRAGMA max_page_count=4294967294")
    assert client.sync().pushed == 200 and replica.pending_count() == 0
    assert http.get("/api/v1/health").json()["status"] == "ok"


def test_a_cursor_names_the_log_row_it_stands_on_and_an_older_cursor_still_reads(store):
    """The row check lets a store copied back by hand be told apart (`lost`); a cursor
    from a server before checks (seq and scope tag alone) is read as it always was."""
    office = Principal("xinfang", "office", device="desk")
    for n in range(3):
        store.server_write("household", f"h{n}", {"grid_id": "g1", "head_name": f"王{n}", "address": f"一组{n}号"},
                           author="office")
    page = store.pull(office, None)
    seq, _, tail = page["cursor"].partition(".")
    assert len(tail) == 12 and not page["lost"]        # scope tag (8) and row check (4)
    again = store.pull(office, page["cursor"])
    assert again["bodies"] == [] and not again["reset"] and not again["lost"]
    old = store.pull(office, f"{seq}.{tail[:8]}")        # no check: as before
    assert old["bodies"] == [] and not old["reset"] and not old["lost"]
    forged = "0000" if tail[8:] != "0000" else "ffff"
    assert store.pull(office, f"{seq}.{tail[:8]}{forged}")["lost"] is True
    assert store.pull(office, f"{seq}.{tail[:8]}12")["reset"] is True   # not a cursor of ours
    # an older cursor in its first pass (the mark after the tag) is no check
    marked = store.pull(office, f"{seq}.{tail[:8]}0")
    assert not marked["lost"] and not marked["reset"]
    # a cursor of another scope (grids changed, or the copy put back took them back) is
    # judged by its row too: a reset alone would have the phone drop its acknowledged work
    assert store.pull(office, f"{seq}.{'0' * 8}{forged}")["lost"] is True
    assert store.pull(office, f"{seq}.{'0' * 8}{tail[8:]}")["lost"] is False
    # a cursor beyond the head names no row yet (the head tells); once other writes reach
    # its seq, a different row there tells, though the same connection asked before
    ahead = int(seq) + 2
    assert store.pull(office, f"{ahead}.{tail[:8]}{forged}")["lost"] is False
    for n in range(3, 6):
        store.server_write("household", f"h{n}", {"grid_id": "g1", "head_name": f"王{n}", "address": f"一组{n}号"},
                           author="office")
    from sync.server.central import _log_check
    other = "0000" if _log_check(store.conn, ahead) != "0000" else "ffff"
    assert store.pull(office, f"{ahead}.{tail[:8]}{other}")["lost"] is True


@pytest.mark.parametrize("progress_first", [False, True], ids=["resolved", "progress-then-resolved"])
def test_a_leaders_resolution_made_offline_is_refused_once_the_matter_was_reopened_meanwhile(store, phone_of,
                                                                                            progress_first):
    """The leader resolved offline; meanwhile the office resolved it, the petitioner was
    unsatisfied at the callback and the matter was reopened. The phone's resolution
    then won the status by its later stamp: the matter read 已办结, its old result
    standing, while it was being worked again. It is refused now and, being refused
    again at every retry, given up by the phone: the phone shows the matter as it is,
    the 办结 entry stays refused with its words (for 更正), and a resolution made on the
    matter as it stands is taken at once (it was held behind the stale one)."""
    from sync.workspace import DeviceWorkspace
    store.add_account("li", "李", "leader", PW, ["g2"])
    store.server_write("case", "case-g2", {"status": "accepted", "owner": "li", "received_on": "2026-11-02",
                                           "accepted_on": "2026-11-03"}, author="office")
    replica, client = phone_of("li")
    client.sync()
    ws = DeviceWorkspace(replica, client.account())
    if progress_first:   # its implied move to 办理中, then 办结: two stale moves of one matter
        store.server_write("case", "case-g2", {"status": "assigned"}, author="office")
        client.sync()
        ws.add_progress("case-g2", "约谈企业负责人")
        assert ws.case("case-g2")["status"] == "in_progress"
    ws.resolve_case("case-g2", "mediation", "签订调解协议")                    # offline
    store.server_write("case", "case-g2", {"status": "resolved", "outcome": "explained", "method": "已解释政策",
                                           "resolved_on": "2026-11-20"}, author="office")
    store.server_write("case", "case-g2", {"status": "reopened"}, author="office")   # the callback: unsatisfied
    client.sync()
    refused = [d for d, in store.conn.execute("SELECT detail FROM audit WHERE action='refused'")]
    assert any("status_moved_on" in d for d in refused), refused
    assert store.get("case", "case-g2")["status"] == "reopened" and store.conflicts("case", "case-g2") == []
    assert ws.case("case-g2")["status"] == "reopened" and ws.conflicts("case", "case-g2") == []   # as the server has it
    [left] = [q for q in replica.quarantined() if q["change"]["fields"].get("kind") == "resolution"]
    assert [q["entity"] for q in replica.quarantined()] == ["case_event"]     # the moves given up, both
    assert left["entity"] == "case_event" and left["change"]["fields"]["text"] == "签订调解协议"
    assert [e["rule"] for e in left["errors"]] == ["resolution_not_theirs"]
    from sync.model import FieldError
    assert "事项已改为“已重办”" in FieldError("status", "status_moved_on", (("status", "reopened"),)).message("zh")
    ws.resolve_case("case-g2", "mediation", "再次调解，达成协议")            # decided again, on the matter as it is
    client.sync()
    assert {k: store.get("case", "case-g2")[k] for k in ("status", "method")} == {
        "status": "resolved", "method": "再次调解，达成协议"}
    assert [q["change_id"] for q in replica.quarantined()] == [left["change_id"]]


def test_the_same_leaders_own_move_on_another_phone_leaves_nothing_to_decide_again(store, tmp_path):
    """A progress note on phone A put the matter 办理中 by itself; phone B, not yet synced,
    resolved it from 已交办. Only the leader moved it meanwhile: the resolution is taken."""
    from fastapi.testclient import TestClient

    from sync.client import SyncClient
    from sync.device import DeviceReplica
    from sync.server.app import create_app
    from sync.workspace import DeviceWorkspace
    store.add_account("li", "李", "leader", PW, ["g2"])
    store.server_write("case", "case-g2", {"status": "assigned", "owner": "li", "received_on": "2026-11-02",
                                           "accepted_on": "2026-11-03"}, author="office")
    http = TestClient(create_app(store.path))
    phones = []
    for name in ("a", "b"):
        replica = DeviceReplica(str(tmp_path / f"{name}.db"))
        client = SyncClient(replica, "http://testserver", http=http)
        client.login("li", PW)
        client.sync()
        phones.append((replica, client, DeviceWorkspace(replica, client.account())))
    (ra, ca, wa), (rb, cb, wb) = phones
    wa.add_progress("case-g2", "约谈企业负责人")
    ca.sync()
    assert store.get("case", "case-g2")["status"] == "in_progress"
    wb.resolve_case("case-g2", "mediation", "签订调解协议")
    cb.sync()
    assert rb.quarantined() == [] and store.get("case", "case-g2")["status"] == "resolved"


def test_an_edit_naming_versions_the_record_never_held_is_refused_and_stores_nothing(store):
    """A tampered app named fifty made-up stamps as the base of each of 1,400 edits of one
    household: every one is kept in the field's state for good, which grew to megabytes,
    every later write of the household slower, and the one writer every phone waits on
    with it. A base names only what the record holds; the phone's own edits pass."""
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    hid = changes.new_id("r")
    made = _change("household", {"grid_id": "g1", "head_name": "王", "address": "1号"}, record=hid)
    assert store.push(w1, [made]).results[0]["status"] == "applied"
    junk = [clock.encode(1_000 + i, 0, "x") for i in range(50)]
    forged = _change("household", {"note": "n"}, record=hid)
    forged["base"] = {"note": junk}
    [res] = store.push(w1, [forged]).results
    assert res["status"] == "rejected" and [(e["field"], e["rule"]) for e in res["errors"]] == [("note", "base_unknown")]
    before = store.conn.execute("SELECT _versions FROM households WHERE id=?", (hid,)).fetchone()[0]
    assert "00000001000" not in before
    edit = _change("household", {"head_name": "王五"}, record=hid)
    edit["base"] = {"head_name": [made["hlc"]]}                       # what the phone holds: taken
    again = _change("household", {"head_name": "王五一"}, record=hid,
                    stamp=clock.encode(clock.wall_ms() + 5, 0, "phone1"))
    again["base"] = {"head_name": [made["hlc"]]}                      # an older head, replaced since: known
    assert [r["status"] for r in store.push(w1, [edit, again]).results] == ["applied", "applied"]
    # after a restore from backup a phone names a version the store lost: a few are taken
    restored = _change("household", {"head_name": "王五二"}, record=hid,
                       stamp=clock.encode(clock.wall_ms() + 10, 0, "phone1"))
    restored["base"] = {"head_name": [again["hlc"], clock.encode(clock.wall_ms() - 5_000, 0, "phone9")]}
    assert store.push(w1, [restored]).results[0]["status"] == "applied"


def _records(page) -> set:
    import json
    return {json.loads(b)["record"] for b in page["bodies"]}


def _pull_all(store, p, cursor=None) -> dict:
    got = {"records": set(), "exits": [], "household_exits": [], "refs": {}}
    while True:
        page = store.pull(p, cursor)
        got["records"] |= _records(page)
        got["exits"] += page["exits"]
        got["household_exits"] += page["household_exits"]
        got["refs"].update(page["refs"])
        cursor = page["cursor"]
        if not page["more"]:
            got["cursor"] = cursor
            return got


def _moved_out_of_g1(store):
    """A household and a matter of g1, the matter with a timeline entry and a visit made
    in g1 on it, then moved by the office to g2."""
    store.server_write("household", "h-sec", {"grid_id": "g1", "head_name": "甄秘密", "address": "一组9号",
                                              "tags": ["serious_illness"]}, author="office")
    store.server_write("case", "c-sec", {
        "grid_id": "g1", "household_id": "h-sec", "kind": "dispute", "channel": "grid", "category": "02",
        "description": "举报村主任", "status": "reported", "reported_by": "office",
        "reported_at": "2026-11-01T09:00:00+08:00"}, author="office")
    store.server_write("case_event", "e-sec", {"case_id": "c-sec", "kind": "note", "at": "2026-11-02T09:00:00+08:00",
                                               "by": "office", "text": "当事人病情"}, author="office")
    store.server_write("visit", "v-g1", {"grid_id": "g1", "case_id": "c-sec", "household_id": "h-sec",
                                         "kind": "home", "visited_at": "2026-11-02T10:00:00+08:00",
                                         "visitor": "w1", "seen": "见面"}, author="office")


def test_a_record_that_left_a_grid_is_not_sent_to_whoever_is_given_that_grid_later(store):
    """A phone first given g1 after a household and a matter left it receives none of their
    bodies (name, illness tags, the complaint), not even followed by an exit; a phone that
    held them gets the exits; the office still reads everything; the visit made in g1
    stays g1's; a matter that comes back arrives whole."""
    _moved_out_of_g1(store)
    before = Principal("w1", "grid_worker", frozenset({"g1"}), "phone1")
    held = _pull_all(store, before)
    assert {"h-sec", "c-sec", "e-sec", "v-g1"} <= held["records"]
    store.server_write("household", "h-sec", {"grid_id": "g2"}, author="office")
    store.server_write("case", "c-sec", {"grid_id": "g2"}, author="office")

    newcomer = Principal("w3", "grid_worker", frozenset({"g1"}), "phone3")
    first = _pull_all(store, newcomer)
    assert not {"h-sec", "c-sec", "e-sec"} & first["records"]
    assert "v-g1" in first["records"]          # made in g1: it stays the grid's record
    assert "c-sec" not in first["refs"]

    after = _pull_all(store, before, held["cursor"])
    assert "c-sec" in after["exits"] and "h-sec" in after["household_exits"]
    office = Principal("xinfang", "office", device="desk")
    assert {"h-sec", "c-sec", "e-sec", "v-g1", "case-g2"} <= _pull_all(store, office)["records"]
    g2 = Principal("w2", "grid_worker", frozenset({"g2"}), "phone2")
    assert {"h-sec", "c-sec", "e-sec"} <= _pull_all(store, g2)["records"]

    store.server_write("case", "c-sec", {"grid_id": "g1"}, author="office")
    back = _pull_all(store, newcomer, first["cursor"])
    assert {"c-sec", "e-sec"} <= back["records"] and "h-sec" not in back["records"]
    assert {"c-sec", "e-sec"} <= _pull_all(store, Principal("w4", "grid_worker", frozenset({"g1"}), "p4"))["records"]


def test_a_store_from_before_keeps_no_left_record_in_a_grids_first_pull(tmp_path, monkeypatch):
    """Migration 8 takes the rows of records that had already left a grid out of its pulls."""
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    path = str(tmp_path / "old.db")
    st = CentralStore(path)
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    st.add_grid("g2", "二组", "高山村", "金山镇")
    _moved_out_of_g1(st)
    st.server_write("household", "h-sec", {"grid_id": "g2"}, author="office")
    st.server_write("case", "c-sec", {"grid_id": "g2"}, author="office")
    with st.lock, st.transaction():   # the log as an older version left it
        st.conn.execute("UPDATE log SET scope=substr(scope, 2) WHERE scope LIKE '~%'")
        st.conn.execute("PRAGMA user_version=7")
    newcomer = Principal("w3", "grid_worker", frozenset({"g1"}), "phone3")
    assert "c-sec" in _pull_all(st, newcomer)["records"]    # the fault, as it was
    st.close()
    st = CentralStore(path)
    first = _pull_all(st, newcomer)
    assert not {"h-sec", "c-sec", "e-sec"} & first["records"] and "v-g1" in first["records"]
    st.close()


def test_a_matter_given_to_another_leader_is_not_sent_to_the_first_leaders_new_phone(store):
    """The same withdrawal for a leader's key: the matter's whole history stays off the
    first leader's next phone, and reaches the new owner's."""
    store.server_write("case", "case-g2", {"owner": "li", "status": "accepted"}, author="office")
    store.server_write("case_event", "e-li", {"case_id": "case-g2", "kind": "note", "at": "2026-11-02T09:00:00+08:00",
                                              "by": "li", "text": "当事人情绪激动"}, author="office")
    old_phone = Principal("li", "leader", device="phone-a")
    assert {"case-g2", "e-li"} <= _pull_all(store, old_phone)["records"]
    store.server_write("case", "case-g2", {"owner": "zhao"}, author="office")
    new_phone = Principal("li", "leader", device="phone-b")
    assert not {"case-g2", "e-li"} & _pull_all(store, new_phone)["records"]
    assert {"case-g2", "e-li"} <= _pull_all(store, Principal("zhao", "leader", device="p"))["records"]


def test_a_devices_last_push_is_when_it_was_last_heard_from(tmp_path, monkeypatch):
    """`gridbook user list` tells a lost phone by when it was last heard from: nothing wrote
    it, and the list showed the sign-in of three hours before."""
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    at = [clock.wall_ms() - 3 * 3_600_000]
    st = CentralStore(str(tmp_path / "c.db"), now=lambda: at[0])
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    st.add_account("w1", "王芳", "grid_worker", PW, ["g1"])
    st.login("w1", PW, "phone1")
    st.login("w1", PW, "phone2")
    assert {d for d, _ in st.live_devices()["w1"]} == {"phone1", "phone2"}
    at[0] += 3 * 3_600_000
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "phone2")
    visit = changes.make("visit", "v1", {"grid_id": "g1", "kind": "household", "visitor": "w1", "seen": "在家",
                                         "visited_at": "2026-11-26T10:00:00+08:00"},
                         clock.encode(at[0], 0, "phone2"), "phone2", "w1")
    assert st.push(w1, [visit]).counts["applied"] == 1
    assert st.live_devices()["w1"] == [("phone2", at[0]), ("phone1", at[0] - 3 * 3_600_000)]
    st.close()
