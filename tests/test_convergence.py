"""Convergence of phones and the township server, as a Hypothesis state machine.

Four phones (two grid workers of grid g1, a leader, the petition office), each with a
wrong clock, write, push and pull in any order against the real server app in-process
(FastAPI TestClient), with duplicated requests, responses lost after the server
committed, and requests that never arrive. After every step nothing typed is lost; at
the end, once every phone has synced, every phone holds exactly what the server holds
of what it may see, every change was committed once, and concurrent edits are visible
as the same conflicts on every replica.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

import httpx
from fastapi.testclient import TestClient
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sync import clock, merge, permissions
from sync.access import Principal
from sync.client import SyncClient
from sync.device import DeviceReplica
from sync.errors import SyncError
from sync.server import auth
from sync.server.app import create_app

PASSWORD = "test-password"
HOUR, MINUTE = 3_600_000, 60_000
# name -> (role, grids, how wrong the phone's clock is)
ACCOUNTS = {
    "w1": ("grid_worker", ["g1"], -3 * HOUR),
    "w2": ("grid_worker", ["g1"], 2 * MINUTE),
    "lead1": ("leader", [], -20 * MINUTE),
    "office": ("office", [], 0),
}
PHONES = sorted(ACCOUNTS)
CREATORS = ["office", "w1", "w2"]        # the leader only edits cases they own
ENTITIES = ("grid", "staff", "household", "case", "case_event")

# The values an edit may write; each phone picks among those its role may write on
# what it holds (permissions.py), as its screens would offer them.
CASE_EDITS = {
    "status": ["accepted", "assigned", "in_progress", "resolved", "called_back", "closed", "reopened"],
    "outcome": ["supported", "explained"],
    "resolved_on": ["2026-03-02", "2026-03-05"],   # a case is resolved with its day (permissions.py)
    "risk": ["red", "yellow", "blue"],
    "title": ["漏水", "吵架", "欠薪"],
}
HOUSEHOLD_EDITS = {
    "phone": ["13800000001", "13900000002"],
    "note": ["独居", "外出务工", ""],
    "tags": [[], ["dibao"], ["dibao", "disability"], ["elderly_alone"]],
}
FAULTS = st.sampled_from([None, None, "duplicate", "lose", "drop"])
# Refusals that depend on the server's state when the change arrives (another phone
# moved the case on meanwhile), and the changes held behind them: the phone could not
# have known.
LATE_REFUSALS = {"transition", "state", "outcome_needed", "field_forbidden", "forbidden", "held",
                 "result_without_resolution", "extension_not_open"}


class FaultyTransport(httpx.BaseTransport):
    """Forwards to the in-process app; `fault` makes it send each request twice
    ("duplicate"), drop the answer after the server handled the request ("lose"), or
    fail before the request reaches the server ("drop")."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.fault: str | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.fault == "drop":
            raise httpx.ConnectError("no network", request=request)
        if self.fault == "duplicate":
            self.inner.handle_request(request).close()
        response = self.inner.handle_request(request)
        if self.fault == "lose":
            response.close()
            raise httpx.ReadError("connection dropped after the server answered", request=request)
        return response


@dataclass
class Phone:
    name: str
    replica: DeviceReplica
    client: SyncClient
    transport: FaultyTransport
    skew_ms: int

    def ids(self, entity: str) -> list[str]:
        return [r[0] for r in self.replica.table_rows(entity)]


class Convergence(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Fast password hashing for these throwaway accounts only (the default scrypt
        # cost takes ~50 ms per account, per example); restored in teardown.
        self.saved_n, auth._N = auth._N, 2 ** 4
        self.tmp = tempfile.mkdtemp(prefix="gridbook-convergence-")
        self.app = create_app(os.path.join(self.tmp, "township.db"))
        self.store = self.app.state.store
        self.test_client = TestClient(self.app).__enter__()
        self.store.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇")
        self.store.add_grid("g2", "高山村第1网格", "高山村", "金山镇")  # another grid, not w1's or w2's
        self.phones: dict[str, Phone] = {}
        self.made: dict[str, str] = {}           # change id -> phone that made it
        self.concurrent: list[tuple[str, str]] = []  # (case, field) edited concurrently
        self.resolved: set[tuple[str, str]] = set()
        self.refused: set[str] = set()           # records the server must refuse
        self.refused_changes: set[str] = set()   # and every change made to them
        self.n = 0
        for name, (role, grids, skew) in ACCOUNTS.items():
            self.store.add_account(name, name, role, PASSWORD, grids)
            # The TestClient's own transport runs the app in-process; wrap it.
            phone = Phone(name, None, None, FaultyTransport(self.test_client._transport), skew)
            self.open_phone(phone)
            phone.client.login(name, PASSWORD)
            self.phones[name] = phone
        # Records every phone holds from the start, so that edits meet early.
        self.create_case(None, "office")
        self.create_case(None, "w1")
        self.write("office", "update", "case", "case-1", {"owner": "lead1"})
        self.create_household(None, "w2")
        for name in ("office", "w1", "w2", "lead1", "office", "w1", "w2"):
            self.phones[name].client.sync()

    # --- writes ---------------------------------------------------------------------
    def open_phone(self, phone: Phone) -> None:
        phone.replica = DeviceReplica(os.path.join(self.tmp, f"{phone.name}.db"), device_id=f"d-{phone.name}",
                                      now=lambda: clock.wall_ms() + phone.skew_ms)
        # Small batches and pages, so that pushes and pulls take several requests.
        phone.client = SyncClient(phone.replica, "http://testserver", http=httpx.Client(transport=phone.transport),
                                  retries=0, sleep=lambda s: None, batch=4, page=3)

    def write(self, name: str, action: str, *args, tampered: bool = False, **kw) -> dict | None:
        """A write as the app makes it: only what the write rules allow on what the phone
        holds (permissions.py), unless `tampered` (a phone that sends what its screens
        would never offer)."""
        phone = self.phones[name]
        if not tampered:
            role, grids, _ = ACCOUNTS[name]
            entity, record = args[0], (None if action == "create" else args[1])
            fields = args[1] if action == "create" else (
                {args[2]: args[3]} if action == "resolve_conflict" else args[2])
            before = phone.replica.get(entity, record) if record else None
            who = Principal(name, role, frozenset(grids), phone.replica.device_id)
            if permissions.check(who, entity, before, fields, phone.replica.get, complete=False):
                return None  # the app does not offer it
        ch = getattr(phone.replica, action)(*args, author=name, **kw)
        self.made[ch["id"]] = name
        if ch["record"] in self.refused:
            self.refused_changes.add(ch["id"])
        return ch

    def new_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    # Each user action is a plain method taking st.data(); one rule picks among them
    # with fixed weights, so that every kind of write happens in every example.
    def create_case(self, data, name=None):
        name = name or data.draw(st.sampled_from(CREATORS), label="phone")
        self.write(name, "create", "case", {
            "grid_id": "g1", "kind": "dispute", "channel": "grid", "category": "02",
            "description": "两户因排水沟堵塞互相指责。", "status": "reported",
            "reported_by": name, "reported_at": "2026-03-01T09:30:00+08:00"}, record_id=self.new_id("case"))

    def create_household_outside_own_grid(self, data):
        name = data.draw(st.sampled_from(["w1", "w2"]), label="phone")
        record = self.new_id("bad")
        self.refused.add(record)
        self.write(name, "create", "household", {
            "grid_id": "g2", "head_name": "李四", "address": "高山村1组"}, record_id=record, tampered=True)

    def create_household(self, data, name=None):
        name = name or data.draw(st.sampled_from(CREATORS), label="phone")
        self.write(name, "create", "household", {
            "grid_id": "g1", "head_name": "王建国", "address": "白鹤村3组12号"}, record_id=self.new_id("hh"))

    def allowed_edits(self, name: str, entity: str, record: str) -> dict[str, list]:
        """Per field, the values this phone's screens would let its person write."""
        role, grids, _ = ACCOUNTS[name]
        phone = self.phones[name]
        who = Principal(name, role, frozenset(grids), phone.replica.device_id)
        before = phone.replica.get(entity, record)
        out = {}
        for field, values in (CASE_EDITS if entity == "case" else HOUSEHOLD_EDITS).items():
            ok = [v for v in values if not permissions.check(who, entity, before, {field: v}, phone.replica.get,
                                                            complete=False)]
            if ok:
                out[field] = ok
        return out

    def edit_field(self, data):
        name = data.draw(st.sampled_from(PHONES), label="phone")
        entity = "case" if name == "lead1" else data.draw(st.sampled_from(["case", "household"]))
        ids = self.phones[name].ids(entity)
        if not ids:
            return
        record = data.draw(st.sampled_from(ids), label="record")
        edits = self.allowed_edits(name, entity, record)
        if edits:
            field = data.draw(st.sampled_from(sorted(edits)), label="field")
            self.write(name, "update", entity, record, {field: data.draw(st.sampled_from(edits[field]), label="value")})

    def edit_same_field_on_two_phones(self, data):
        a, b = data.draw(st.lists(st.sampled_from(PHONES), min_size=2, max_size=2, unique=True), label="phones")
        entity = data.draw(st.sampled_from(["case", "household"]), label="entity")
        common = sorted(set(self.phones[a].ids(entity)) & set(self.phones[b].ids(entity)))
        if not common:
            return
        record = data.draw(st.sampled_from(common), label="record")
        ea, eb = self.allowed_edits(a, entity, record), self.allowed_edits(b, entity, record)
        fields = sorted(set(ea) & set(eb))
        if not fields:
            return
        field = data.draw(st.sampled_from(fields), label="field")
        one = self.write(a, "update", entity, record, {field: data.draw(st.sampled_from(ea[field]), label="value")})
        two = self.write(b, "update", entity, record, {field: data.draw(st.sampled_from(eb[field]), label="value")})
        if one and two:
            self.concurrent.append((entity, record, field, one["id"], two["id"]))

    def assign_case_to_leader(self, data):
        ids = self.phones["office"].ids("case")
        if ids:
            record = data.draw(st.sampled_from(ids), label="record")
            self.write("office", "update", "case", record, {"owner": "lead1"})

    def resolve_a_conflict(self, data):
        found = sorted({(name, entity, rid, c["field"]) for name in PHONES for entity in ("case", "household")
                        for rid in self.phones[name].ids(entity)
                        for c in self.phones[name].replica.conflicts(entity, rid)})
        if found:
            name, entity, record, field = data.draw(st.sampled_from(found), label="conflict")
            values = self.allowed_edits(name, entity, record).get(field)
            if values and self.write(name, "resolve_conflict", entity, record, field,
                                     data.draw(st.sampled_from(values), label="value")):
                self.resolved.add((record, field))

    def add_case_event(self, data):
        name = data.draw(st.sampled_from(PHONES), label="phone")
        ids = self.phones[name].ids("case")
        if ids:
            self.write(name, "create", "case_event", {
                "case_id": data.draw(st.sampled_from(ids), label="case"),
                "kind": data.draw(st.sampled_from(["note", "progress", "accept"]), label="kind"),
                "at": "2026-03-02T10:00:00+08:00", "by": name, "text": "已电话联系。"},
                record_id=self.new_id("ev"))

    def phone_clock_is_changed(self, data):
        phone = self.phones[data.draw(st.sampled_from(PHONES), label="phone")]
        delta = data.draw(st.sampled_from([-3 * HOUR, -MINUTE, 2 * MINUTE]), label="delta")
        # Only so far ahead that the server still takes the stamps (MAX_AHEAD_MS).
        if phone.skew_ms + delta + phone.replica.clock.offset_ms <= 5 * MINUTE:
            phone.skew_ms += delta

    def app_restarts(self, data):
        phone = self.phones[data.draw(st.sampled_from(PHONES), label="phone")]
        phone.client.http.close()
        phone.replica.close()
        self.open_phone(phone)

    ACTIONS = ["create_case", "create_household", "create_household_outside_own_grid",
               "edit_field", "edit_field",
               "edit_same_field_on_two_phones", "edit_same_field_on_two_phones",
               "assign_case_to_leader", "resolve_a_conflict", "resolve_a_conflict", "add_case_event",
               "phone_clock_is_changed", "app_restarts"]

    @rule(action=st.sampled_from(ACTIONS), data=st.data())
    def user_acts(self, action, data):
        getattr(self, action)(data)

    # --- talking to the server ------------------------------------------------------
    @rule(name=st.sampled_from(PHONES), action=st.sampled_from(["push", "pull", "sync"]), fault=FAULTS)
    def talk(self, name, action, fault):
        phone = self.phones[name]
        phone.transport.fault = fault
        try:
            getattr(phone.client, action)()
        except SyncError:
            assert fault in ("lose", "drop")
        else:
            if action != "pull":
                assert phone.replica.pending_count() == 0
        finally:
            phone.transport.fault = None

    @rule(fault=FAULTS)
    def everyone_syncs(self, fault):
        for name in PHONES:
            self.talk(name, "sync", fault)

    # --- after every step -----------------------------------------------------------
    @invariant()
    def nothing_typed_is_lost(self):
        on_server = set(self.store.change_ids())
        for name, phone in self.phones.items():
            kept = phone.replica.outbox_ids() | on_server
            assert [c for c, who in self.made.items() if who == name and c not in kept] == []

    @invariant()
    def only_refused_changes_are_quarantined_and_they_say_why(self):
        on_server = set(self.store.change_ids())
        for phone in self.phones.values():
            for q in phone.replica.quarantined():
                assert q["change_id"] not in on_server
                assert q["reason"] and q["errors"]
                if q["record"] in self.refused and "grid_id" in q["change"]["fields"]:
                    # the tampered create: outside w1/w2's grid
                    assert [(e["field"], e["rule"]) for e in q["errors"]] == [("record", "forbidden")]
                else:  # the case moved on before the change arrived
                    assert {e["rule"] for e in q["errors"]} <= LATE_REFUSALS, q["errors"]

    @invariant()
    def unsent_edits_stay_visible_on_the_phone(self):
        for phone in self.phones.values():
            for _, body in phone.replica.pending(10_000):
                ch = json.loads(body)
                versions = phone.replica.versions(ch["entity"], ch["record"])
                for f in ch["fields"]:
                    st_ = versions[f]
                    # shown, kept as a conflict, or built on by a later write of this phone
                    assert ch["hlc"] == st_[0] or (len(st_) > 2 and (ch["hlc"] in st_[3] or ch["hlc"] in st_[2]))

    # --- the end --------------------------------------------------------------------
    def teardown(self):
        try:
            if sys.exc_info()[0] is None:     # when a step failed, report only that
                self.check_converged()
        finally:
            for phone in self.phones.values():
                phone.client.http.close()
                phone.replica.close()
            self.test_client.__exit__(None, None, None)
            self.store.close()
            auth._N = self.saved_n
            shutil.rmtree(self.tmp, ignore_errors=True)

    def check_converged(self):
        for _ in range(2):
            for phone in self.phones.values():
                phone.client.push()
            for phone in self.phones.values():
                phone.client.pull()
        for phone in self.phones.values():
            assert phone.replica.pending_count() == 0
            assert phone.client.pull().pulled == 0
        quarantined = {q["change_id"] for p in self.phones.values() for q in p.replica.quarantined()}
        assert self.refused_changes <= quarantined
        # Records a phone changed in a way the server refused keep that change on the phone
        # (until the person corrects or discards it): they are compared apart from the rest.
        held = {name: {q["record"] for q in p.replica.quarantined()} for name, p in self.phones.items()}

        # One bad record blocks nothing: apart from it, every phone holds what the server does.
        for name, phone in self.phones.items():
            for entity in ENTITIES:
                mine = [r for r in phone.replica.table_rows(entity) if r[0] not in held[name]]
                theirs = [r for r in self.visible_rows(name, entity) if r[0] not in held[name]]
                assert mine == theirs, (name, entity)

        # Every change made on a phone was committed exactly once, and logged once as origin.
        conn = self.store.conn
        in_changes = dict(conn.execute("SELECT change_id, count(*) FROM changes GROUP BY change_id"))
        # (log entries that are not changes, references "ref:<case>", are the server's own)
        origins = dict(conn.execute("SELECT change_id, count(*) FROM log WHERE origin=1"
                                    " AND change_id NOT LIKE 'ref:%' GROUP BY change_id"))
        accepted = set(self.made) - quarantined
        assert {c: in_changes.get(c) for c in accepted} == {c: 1 for c in accepted}
        assert set(origins.values()) == {1} and set(origins) == set(in_changes)
        phone_made = {r[0] for r in conn.execute("SELECT change_id FROM changes WHERE device != 'server'")}
        assert phone_made == accepted

        # Concurrent edits: the losing heads are the conflicts, the same on every replica.
        expected = self.expected_conflicts()
        for (entity, rid), fields in expected.items():
            replicas = [self.store, *(p.replica for n, p in self.phones.items() if rid not in held[n])]
            for replica in replicas:
                if replica.get(entity, rid) is not None:
                    got = {(c["field"], c["hlc"]) for c in replica.conflicts(entity, rid)}
                    assert got == fields, rid
        for entity, rid, field, one, two in self.concurrent:
            if (rid, field) not in self.resolved and {one, two} <= accepted:
                assert any(c["field"] == field for c in self.store.conflicts(entity, rid)), (rid, field)

    def visible_rows(self, name: str, entity: str) -> list[tuple]:
        """The server's rows of this entity that the phone's account may see."""
        if name != "lead1" or entity in ("grid", "staff"):
            return self.store.table_rows(entity)
        owned = "SELECT id FROM cases WHERE owner='lead1'"
        where = {"case": f"id IN ({owned})", "case_event": f"case_id IN ({owned})", "household": "0"}[entity]
        table = {"case": "cases", "case_event": "case_events", "household": "households"}[entity]
        return self.store.conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id").fetchall()

    def expected_conflicts(self) -> dict[tuple, set]:
        """From the change log alone: per record, (field, stamp) of every write of a field
        that no write names as its base, except the greatest."""
        writes: dict[tuple, set] = {}
        replaced: dict[tuple, set] = {}
        for (body,) in self.store.conn.execute("SELECT body FROM changes WHERE entity IN ('case', 'household')"):
            ch = json.loads(body)
            for f in ch["fields"]:
                key = (ch["entity"], ch["record"], f)
                writes.setdefault(key, set()).add(ch["hlc"])
                replaced.setdefault(key, set()).update((ch.get("base") or {}).get(f, ()))
        out: dict[tuple, set] = {}
        for (entity, rid, f), stamps in writes.items():
            heads = stamps - replaced[(entity, rid, f)]
            out.setdefault((entity, rid), set()).update((f, s) for s in heads - {max(heads)})
        return out


Convergence.TestCase.settings = settings(max_examples=50, stateful_step_count=35, deadline=None)
TestConvergence = Convergence.TestCase
