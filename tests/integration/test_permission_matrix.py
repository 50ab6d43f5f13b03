"""The permission matrix, generated from the write-rules table and played against the
real server process: every role × every field of every entity × own scope / another's
scope × each state of the case. Each change goes to a record of its own, so every
verdict is judged alone: the allowed ones must be applied, every other refused per
change with a reason naming the field (or the record), the stored record unchanged.

The expected verdict is read off the table's data (permissions.GRANTS, fields_of,
TRANSITIONS) by the small oracle below, not by calling permissions.check: the server
has to agree with the table, not with itself. docs/security.md prints the table.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import sqlite3
from dataclasses import dataclass

import httpx
import pytest

from sync import changes, clock, codes, permissions, rules
from sync.access import Principal
from sync.model import ENTITIES

from .conftest import ServerProcess, auth_headers, now_iso

pytestmark = pytest.mark.integration

USERS = {"grid_worker": "worker1", "leader": "leader1", "office": "office1", "admin": "admin1"}
# The predicates of the table's `where` that hold for each role on a record of its own
# scope: worker1 covers g1 and reported the own cases; leader1 owns them and covers no
# grid. On another's scope (grid g2, reported by worker2, owned by nobody) only "any".
OWN = {"grid_worker": {"any", "grid", "case", "reporter"}, "leader": {"any", "case", "owned"},
       "office": {"any"}, "admin": {"any"}}
GRID = {"own": "g1", "other": "g2"}
HOUSEHOLD = {"own": "mx-hh-own", "other": "mx-hh-other"}
STATES = list(codes.CASE_STATUSES)
KEEPER = "mx-keeper"  # an existing case a merge may name
_ids = itertools.count()


def new(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def value_for(entity: str, field: str, scope: str, user: str, state: str | None = None):
    """A valid value of the field that every other rule of the table accepts (authorship,
    references, codes a role may record), so that only the table's dimensions decide."""
    f = ENTITIES[entity].by_name[field]
    special = {
        "grid_id": GRID[scope] if entity != "case" or state is None else GRID["other" if scope == "own" else "own"],
        "household_id": HOUSEHOLD[scope], "owner": "leader1", "reception_leader": "leader1",
        "merged_into": KEEPER, "reported_by": user, "visitor": user, "by": user, "status": "reported",
        "channel": "grid", "id_number": "330702199001011237", "phone": "13900001111",
        "petitioner_phone": "13900002222",
        "members": [{"name": "甲", "relation": "户主"}],
    }
    if entity == "visit" and field == "kind":
        return "household"
    if entity == "household" and field == "status":
        return "active"
    if entity == "case_event" and field == "kind":
        return "progress"
    if entity == "callback" and field == "answer":
        # a try that reached no one leaves the matter awaiting its callback (rules.awaits_callback):
        # the state alone decides each probe, whatever the batch recorded before it
        return rules.NOT_REACHED
    if field == "status" and state is not None:  # an update: a move the state machine has
        return sorted(rules.allowed_next(state))[0]
    if field in special:
        return special[field]
    kind = f.kind
    if kind in ("str", "text"):
        return f"改{field}"[:f.max_len]
    if kind == "code":
        return sorted(f.table)[-1]
    if kind == "codes":
        return [sorted(f.table)[0]]
    if kind == "strs":
        return ["甲"]
    if kind == "date":  # a day already past: dates of things done may not be in the future
        return (dt.date.today() - dt.timedelta(days=10)).isoformat()
    if kind == "datetime":
        return now_iso()
    if kind == "int":
        return 10
    if kind == "float":
        return {"lat": 29.5, "lon": 119.5}.get(field, 12.0)
    if kind == "bool":
        return True
    if kind == "id":
        return user
    if kind == "attachments":  # a photo's reference: the bytes travel apart
        return [{"hash": "a" * 64, "kind": "photo", "size": 1000}]
    raise AssertionError((entity, field, kind))


def required(entity: str, scope: str, user: str, case_id: str | None) -> dict:
    base = {f.name: value_for(entity, f.name, scope, user) for f in ENTITIES[entity].fields if f.required}
    if ENTITIES[entity].parent:
        base["case_id"] = case_id
    if entity == "visit":
        base["seen"] = "家中情况正常"  # a household visit records something
    return base


@dataclass
class Probe:
    role: str
    entity: str
    action: str
    field: str
    scope: str
    state: str | None
    record: str
    fields: dict
    allowed: bool


def expected(role: str, entity: str, action: str, fields: dict, scope: str, state: str | None,
             before_status: str | None) -> bool:
    """The table's verdict, read off its data."""
    ent = ENTITIES[entity]
    if ent.server_only or (action == "update" and ent.append_only):
        return False
    grant = permissions.GRANTS[entity][action].get(role)
    if grant is None:
        return False
    if not set(fields) <= permissions.fields_of(entity, action, role):
        return False
    held = OWN[role] if scope == "own" else {"any"}
    if not any(set(alt) <= held for alt in grant.where):
        return False
    if grant.states is not None and state not in grant.states:
        return False
    if entity == "case" and action == "update" and "merged_into" in fields and state not in permissions.MERGEABLE:
        return False   # a duplicate is folded away while still only reported
    if entity == "case" and "status" in fields and action == "update" and fields["status"] != before_status:
        if (before_status, fields["status"]) not in permissions.TRANSITIONS[role]:
            return False
    if (entity == "case" and action == "create" and {"outcome", "resolved_on"} & set(fields)
            and fields.get("status", state or before_status) not in permissions.FINISHED):
        return False   # a first result is written with the resolution (every fixture case holds one)
    status_after = fields.get("status") or state or "reported"
    if entity == "case" and fields.get("extended_days") and status_after not in rules.OPEN_STATUSES:
        return False   # an extension is given while the matter is handled
    return True


def paired(fields: dict) -> dict:
    """A position is written whole (model.position_problems): a probe of the latitude
    writes the longitude beside it, and the reverse."""
    if ("lat" in fields) != ("lon" in fields):
        return {"lat": 29.5, "lon": 119.5, **fields}
    return fields


def fixture_case(cid: str, scope: str, state: str) -> dict:
    own = scope == "own"
    return {"grid_id": GRID[scope], "kind": "dispute", "channel": "grid", "category": "02",
            "description": "矩阵测试", "status": state, "reported_by": "worker1" if own else "worker2",
            "reported_at": "2026-11-01T09:00:00+08:00", "owner": "leader1" if own else None,
            "household_id": HOUSEHOLD[scope], "outcome": "explained", "method": "当面解释政策",
            # a case is resolved with its day: the day of every date probed (value_for)
            "resolved_on": (dt.date.today() - dt.timedelta(days=10)).isoformat()}


def plan() -> tuple[list[tuple[str, str, dict]], list[Probe]]:
    """(fixtures to seed: entity, record, fields) and the probes to push."""
    seed: list[tuple[str, str, dict]] = [
        ("household", HOUSEHOLD["own"], {"grid_id": "g1", "head_name": "甲", "address": "一组"}),
        ("household", HOUSEHOLD["other"], {"grid_id": "g2", "head_name": "乙", "address": "二组"}),
        ("case", KEEPER, fixture_case(KEEPER, "other", "accepted")),
    ]
    parents = {}
    for scope in ("own", "other"):
        for state in STATES:
            parents[(scope, state)] = cid = f"mx-parent-{scope}-{state}"
            seed.append(("case", cid, fixture_case(cid, scope, state)))
            if state in rules.CALLED_BACK:   # called back, the petitioner not reached: called back again
                seed.append(("callback", f"mx-tried-{scope}-{state}", required("callback", scope, "office1", cid)))
    probes: list[Probe] = []
    for role, user in USERS.items():
        for scope in ("own", "other"):
            # updates of a case, in every state, each to a fresh copy of the fixture
            for state in STATES:
                for f in ENTITIES["case"].fields:
                    cid = new("mx-case")
                    seed.append(("case", cid, fixture_case(cid, scope, state)))
                    fields = paired({f.name: value_for("case", f.name, scope, user, state)})
                    probes.append(Probe(role, "case", "update", f.name, scope, state, cid, fields,
                                        expected(role, "case", "update", fields, scope, state, state)))
            # updates of a household
            for f in ENTITIES["household"].fields:
                hid = new("mx-hh")
                seed.append(("household", hid, {"grid_id": GRID[scope], "head_name": "丙", "address": "三组"}))
                fields = paired({f.name: value_for("household", f.name, scope, user)})
                if f.name == "grid_id":
                    fields = {"grid_id": GRID["other" if scope == "own" else "own"]}
                probes.append(Probe(role, "household", "update", f.name, scope, None, hid, fields,
                                    expected(role, "household", "update", fields, scope, None, None)))
            # creates of cases and households: the required fields and the one probed
            for entity in ("case", "household"):
                for f in ENTITIES[entity].fields:
                    fields = paired({**required(entity, scope, user, None), f.name: value_for(entity, f.name, scope, user)})
                    probes.append(Probe(role, entity, "create", f.name, scope, None, new(f"mx-new-{entity}"), fields,
                                        expected(role, entity, "create", fields, scope, None, None)))
            # creates of a case's children, under a parent in every state
            for entity in ("visit", "case_event", "callback"):
                for state in STATES:
                    parent = parents[(scope, state)]
                    for f in ENTITIES[entity].fields:
                        fields = paired({**required(entity, scope, user, parent),
                                         **({} if f.name == "case_id" else {f.name: value_for(entity, f.name, scope, user)})})
                        probes.append(Probe(role, entity, "create", f.name, scope, state, new(f"mx-new-{entity}"),
                                            fields, expected(role, entity, "create", fields, scope, state, None)))
                # a child is never edited, whoever asks
                child = new(f"mx-{entity}")
                seed.append((entity, child, required(entity, scope, "office1", parents[(scope, "resolved")])))
                fields = {"case_id": parents[(scope, "resolved")]}
                probes.append(Probe(role, entity, "update", "case_id", scope, "resolved", child, fields, False))
            # the directory is the server's own
            for entity in ("grid", "staff"):
                fields = {f.name: value_for(entity, f.name, scope, user) for f in ENTITIES[entity].fields
                          if f.required}
                if entity == "staff":
                    fields["role"] = "admin"
                probes.append(Probe(role, entity, "create", "*", scope, None, new(f"mx-{entity}"), fields, False))
                target = "g1" if entity == "grid" else "staff-worker1"
                probes.append(Probe(role, entity, "update", "name", scope, None, target, {"name": "改"}, False))
    return seed, probes


def seed_store(db: str, seed: list) -> None:
    from sync.server.central import CentralStore
    st = CentralStore(db)
    system = Principal("system", "admin")
    batch = []
    for n, (entity, record, fields) in enumerate(seed):
        fields = {k: v for k, v in fields.items() if v is not None}
        batch.append(changes.make(entity, record, fields, clock.encode(clock.wall_ms() - 60_000, n % 99_999, "server"),
                                  "server", "system"))
    res = st.push(system, batch, server_side=True)
    assert res.counts["applied"] == len(batch), [r for r in res.results if r["status"] != "applied"][:3]
    st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    st.close()


@pytest.fixture(scope="module")
def matrix_server(template_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("matrix")
    db = folder / "gridbook.db"
    shutil.copy(template_db, db)
    seed, probes = plan()
    seed_store(str(db), seed)
    srv = ServerProcess(db, folder / "server.log")
    srv.start()
    try:
        yield srv, probes
    finally:
        srv.kill()


TABLES = {"household": "households", "visit": "visits", "case": "cases", "case_event": "case_events",
          "callback": "callbacks", "grid": "grids", "staff": "staff"}


def rows_of(db, probes) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = {}
        for p in probes:
            out[(p.entity, p.record)] = conn.execute(f"SELECT * FROM {TABLES[p.entity]} WHERE id=?",
                                                     (p.record,)).fetchone()
        return out
    finally:
        conn.close()


def test_every_role_field_scope_and_state_is_decided_by_the_table(matrix_server):
    srv, probes = matrix_server
    before = rows_of(srv.db, probes)
    verdicts = {}
    for role, user in USERS.items():
        mine = [p for p in probes if p.role == role]
        device = f"dev-{user}"
        batch = []
        for n, p in enumerate(mine):
            stamp = clock.encode(clock.wall_ms(), n % 99_999, device)
            batch.append(changes.make(p.entity, p.record, p.fields, stamp, device, user))
        r = httpx.post(srv.url + "/api/v1/sync/push", headers=auth_headers(srv, user), timeout=120,
                       json={"changes": batch})
        assert r.status_code in (200, 403, 422), r.text[:500]
        results = r.json()["results"]
        assert len(results) == len(mine)
        verdicts.update({id(p): res for p, res in zip(mine, results)})
    after = rows_of(srv.db, probes)

    wrong = []
    for p in probes:
        res = verdicts[id(p)]
        if p.allowed:
            ok = res["status"] == "applied" and after[(p.entity, p.record)] is not None
        else:
            named = {e["field"] for e in res.get("errors") or []}
            ok = (res["status"] == "rejected" and res.get("reason")
                  and (p.field in named or "record" in named or "entity" in named or p.field == "*")
                  and after[(p.entity, p.record)] == before[(p.entity, p.record)])
        if not ok:
            wrong.append((p.role, p.entity, p.action, p.field, p.scope, p.state, p.allowed, res))
    assert not wrong, f"{len(wrong)} of {len(probes)} verdicts differ from the table, e.g.:\n" + "\n".join(
        map(repr, wrong[:15]))
    # the matrix covers what it claims, and both verdicts occur for every role
    assert len(probes) > 4000
    for role in USERS:
        assert {p.allowed for p in probes if p.role == role} == {True, False}, role


def test_docs_print_the_table_the_server_enforces():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    assert permissions.table_markdown() in doc
