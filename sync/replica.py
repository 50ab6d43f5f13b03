"""A SQLite replica: materialized tables kept by folding changes with the merge rule.

Both the device replica (`device.py`) and the central store (`central.py`) are
replicas; they differ in what else they keep (an outbox, a change log). Each entity
has a table named in `TABLES` with one column per declared field, plus
`_versions` (the merge state, see merge.py) and `_conflicts` (how many losing
concurrent edits the record carries, to list them quickly).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import sqlite3
import unicodedata
from itertools import compress, repeat
from operator import is_not
from typing import Iterable, Iterator
from urllib.parse import quote

import sqlite_utils

from . import merge, migrations
from .model import ENTITIES, JSON_KINDS, Entity

TABLES = {
    "grid": "grids", "staff": "staff", "household": "households", "visit": "visits",
    "case": "cases", "case_event": "case_events", "callback": "callbacks",
}
_PY_TYPES = {"TEXT": str, "INTEGER": int, "REAL": float}
_INDEXES = {
    "households": [["grid_id"]],
    "visits": [["household_id"], ["case_id"], ["grid_id"]],
    "cases": [["grid_id"], ["owner"], ["status"]],
    "case_events": [["case_id"]],
    "callbacks": [["case_id"]],
}
CHUNK = 500  # ids per IN (...) query
CACHE_KIB = 16 * 1024  # each connection's page cache (see open_db)
_DIGITS = re.compile(r"\d+")


def natural_key(text: str | None) -> str | None:
    """A key whose text order is the natural order of addresses: 3组 before 12组, 1组
    before 10组. Each run of digits (full-width ones too) is written as its length (two
    digits) and then the number without leading zeros, so a shorter number sorts first
    and numbers of one length sort by their digits; the rest is left as it is."""
    if text is None:
        return None

    def run(m: re.Match) -> str:
        d = "".join(str(unicodedata.digit(c)) for c in m.group()).lstrip("0") or "0"
        return f"{min(len(d), 99):02d}{d}"
    return _DIGITS.sub(run, text)


# Sort keys kept with the rows (written with every row, indexed): table -> (key column,
# field it is made from, function). Addresses sort naturally (10组 after 9组). A SQLite
# collation would do the same only as a Python callback per comparison: listing 10,000
# households in address order took 0.12-0.23 s with one, 0.0005 s with the indexed key.
SORT_KEYS = {"households": ("_address_key", "address", natural_key)}


def private_file(path: str) -> None:
    """Create the file readable by its owner alone (0600), or make it so: the store holds
    names, ID numbers and complaints. SQLite gives its -wal and -shm files the
    database's own permissions."""
    if path == ":memory:" or path.startswith("file:"):
        return
    # Never open and close a file SQLite may hold open in this process: closing any
    # descriptor of it drops every POSIX lock the process has on it (SQLite's own
    # connections included). O_EXCL: only a file that did not exist is created here.
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    except FileExistsError:
        pass
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.exists(p) and os.stat(p).st_mode & 0o077:
            os.chmod(p, 0o600)


def existing(path: str, mode: str = "rw") -> str:
    """The URI of a store that must already be there: a connection to it never makes a
    new, empty file where the store went missing (moved aside under a running server),
    which a write process would then have filled as if it were the store. Quoted: a "#"
    or "?" in the path would end it, and SQLite would open (and make) another file."""
    return f"file:{quote(path)}?mode={mode}"


def open_db(path: str, *, synchronous: str = "FULL", wait_ms: int = 5000,
            create: bool = True) -> sqlite_utils.Database:
    """A SQLite file in WAL mode, private to its owner. FULL sync: a commit survives a
    power cut, because a phone deletes its outbox entry, and the server acknowledges a
    push, on it. `wait_ms`: how long a write waits for another connection's, set first,
    so the opening's own schema steps wait too. `create=False`: a missing file is an
    error (sqlite3.OperationalError), never a new store."""
    if create:
        private_file(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(existing(path), uri=True, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
    # Records are wide (a case is about 1.5 KB with its versions): 8 KB pages hold more
    # of them per page; this takes effect only when the file is new.
    conn.execute("PRAGMA page_size=8192")
    db = sqlite_utils.Database(conn)
    db.enable_wal()
    conn.execute(f"PRAGMA synchronous={synchronous}")
    # 16 MB of page cache (SQLite's default is 2 MB): the b-trees written at random
    # places (change ids, record ids) outgrow 2 MB past some 20,000 records, and each
    # insert then reads its pages back; pulling the 10,000 records after the first
    # 90,000 took 0.60 s in the `seen` table with 2 MB and 0.18 s with 16 MB.
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    return db


@contextlib.contextmanager
def gc_paused():
    """A batch builds thousands of small objects that all live until it commits: the
    cyclic collector would walk them again and again for nothing (about a tenth of the
    time of a push). Reference counting still frees everything."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def chunks(seq: list, n: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class Replica:
    indexes = _INDEXES  # per table, the columns indexed
    # the store's numbered schema steps: sync/migrations.py (phone), sync/server/migrations.py
    MIGRATIONS: tuple = (migrations.Migration(1, "the schema before numbered migrations", migrations.baseline),)
    STORE_KIND = "phone"
    WRITE_WAIT_MS = 5000   # a phone's store has one writer: its own app

    def __init__(self, path: str, create: bool = True):
        self.path = path
        self.db = open_db(path, wait_ms=self.WRITE_WAIT_MS, create=create)
        self.conn = self.db.conn
        # Numbered migrations in one transaction; a store newer than the code is refused
        # (sync/migrations.py). Migration 1 is _create_entity_tables + _create_tables.
        migrations.upgrade(self, self.MIGRATIONS, kind=self.STORE_KIND)

    # --- schema ---------------------------------------------------------------------
    def _create_entity_tables(self) -> None:
        from .model import COLUMN_TYPES
        for name, ent in ENTITIES.items():
            table = TABLES[name]
            cols = {"id": str}
            cols.update({f.name: _PY_TYPES[COLUMN_TYPES[f.kind]] for f in ent.fields})
            cols.update({"_versions": str, "_conflicts": int})
            self.db[table].create(cols, pk="id", not_null={"_versions", "_conflicts"},
                                  defaults={"_conflicts": 0}, if_not_exists=True)
            have = self.db[table].columns_dict
            for name, typ in cols.items():
                if name not in have:  # a store from an older version gains the new fields
                    self.db[table].add_column(name, typ)
            for idx in self.indexes.get(table, []):
                self.db[table].create_index(idx, if_not_exists=True)
            if table in SORT_KEYS:
                self._create_sort_key(table, *SORT_KEYS[table])
            # Few records carry conflicts: a partial index costs nothing for the rest.
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_conflicted ON {table}(id)"
                              " WHERE _conflicts > 0")
        # Every timeline asks which duplicates were merged into its matter: a scan of every
        # matter each time (5 ms at 100,000; the supervision ledger's page reads 100). Few
        # are merged: a partial index (`merged_into=?` implies it is not null).
        self.conn.execute("CREATE INDEX IF NOT EXISTS cases_merged ON cases(merged_into)"
                          " WHERE merged_into IS NOT NULL")

    def _create_sort_key(self, table: str, column: str, source: str, fn) -> None:
        """The key column and its index; rows without a key (a store from before it, or
        rows written by hand) get theirs here."""
        if column not in self.db[table].columns_dict:
            self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS {table}{column} ON {table}({column}, id)")
        missing = self.conn.execute(f"SELECT id, {source} FROM {table} WHERE {column} IS NULL"
                                    f" AND {source} IS NOT NULL").fetchall()
        self.conn.executemany(f"UPDATE {table} SET {column}=? WHERE id=?", [(fn(v), rid) for rid, v in missing])

    def _create_tables(self) -> None:
        """Subclasses add their own tables here."""

    def transaction(self):
        return _Transaction(self.conn)

    @contextlib.contextmanager
    def relaxed_transaction(self):
        """A transaction whose loss in a power cut costs nothing but a repeat (an
        acknowledged outbox entry would be pushed again and answered "duplicate"; a
        pulled page would be pulled again): it skips the fsync that local writes need."""
        if self.conn.in_transaction:
            with self.transaction():
                yield
            return
        self.conn.execute("PRAGMA synchronous=NORMAL")
        try:
            with self.transaction():
                yield
        finally:
            self.conn.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self.conn.close()

    # --- reading --------------------------------------------------------------------
    def get(self, entity: str, record_id: str) -> dict | None:
        rows = self._load(entity, [record_id])
        hit = rows.get(record_id)
        return hit[0] if hit else None

    def versions(self, entity: str, record_id: str) -> dict:
        hit = self._load(entity, [record_id]).get(record_id)
        return hit[1] if hit else {}

    def conflicts(self, entity: str, record_id: str) -> list[dict]:
        return merge.conflicts(self.versions(entity, record_id))

    def count(self, entity: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {TABLES[entity]}").fetchone()[0]

    def table_rows(self, entity: str) -> list[tuple]:
        """Every stored row, as stored, in id order: what convergence is judged on."""
        return self.conn.execute(f"SELECT * FROM {TABLES[entity]} ORDER BY id").fetchall()

    def _load(self, entity: str, ids: Iterable[str], conn: sqlite3.Connection | None = None
              ) -> dict[str, tuple[dict, dict]]:
        """Rows and versions by id; `conn`: another connection to read them on (the
        server's read connections)."""
        ent = ENTITIES[entity]
        out = {}
        ids = list(ids)
        for part in chunks(ids):
            cur = (conn or self.conn).execute(
                f"SELECT * FROM {TABLES[entity]} WHERE id IN ({','.join('?' * len(part))})", part)
            names = [d[0] for d in cur.description]
            for raw in cur:
                rec = dict(zip(names, raw))
                versions = merge.loads(rec.pop("_versions"))
                rec.pop("_conflicts")
                for key in SORT_KEYS.get(TABLES[entity], ())[:1]:
                    rec.pop(key, None)
                out[rec["id"]] = (decode_row(ent, rec), versions)
        return out

    # --- folding changes ------------------------------------------------------------
    def _fold(self, changes: list[dict]) -> dict[tuple[str, str], tuple[dict, dict, bool]]:
        """Merge new changes (already known to be unseen) into the tables.

        Returns, per (entity, record), the final row, its versions and whether it
        existed before this batch. Must run inside a transaction.
        """
        wanted: dict[str, set[str]] = {}
        for ch in changes:
            wanted.setdefault(ch["entity"], set()).add(ch["record"])
        state: dict[tuple[str, str], tuple[dict, dict, bool]] = {}
        for entity, ids in wanted.items():
            for rid, (row, ver) in self._load(entity, ids).items():
                state[(entity, rid)] = (row, ver, True)
        for ch in changes:
            key = (ch["entity"], ch["record"])
            row, ver, existed = state.get(key, (None, {}, False))
            row, ver = merge.merge_change(row, ver, ch)
            state[key] = (row, ver, existed)
        self._write_rows(state)
        return state

    def _write_rows(self, state) -> None:
        """Each record's row, replaced whole. Only the columns that hold a value are
        named: a record fills some 20 of a case's 54, and sqlite3 binding the other 34
        as NULLs one by one was over half the statement's cost (12.0 → 4.9 microseconds a row,
        docs/performance.md); the columns left out are NULL all the same (no column
        but `_conflicts`, always given, has a default). Rows go in the order given, in
        runs of the same columns."""
        run_sql, run = None, []
        for (entity, _), (row, ver, _) in state.items():
            values = row_values(entity, row, ver)
            present = tuple(map(is_not, values, _NONES))
            sql = _ROW_SQL.get((entity, present))
            if sql is None:
                sql = _ROW_SQL[(entity, present)] = row_sql(entity, present)
            if sql is not run_sql:
                if run:
                    self.conn.executemany(run_sql, run)
                run_sql, run = sql, []
            run.append(tuple(compress(values, present)))
        if run:
            self.conn.executemany(run_sql, run)


_NONES = repeat(None)
_ROW_SQL: dict[tuple[str, tuple], str] = {}


def row_sql(entity: str, present: tuple | None = None) -> str:
    """The statement that writes one record's row (`row_values` gives its values);
    with `present`, only the columns whose flag is true (and the values so trimmed)."""
    cols = ["id", *ENTITIES[entity].columns, "_versions", "_conflicts"]
    key = SORT_KEYS.get(TABLES[entity])
    if key:
        cols.append(key[0])
    if present is not None:
        cols = list(compress(cols, present))
    return f"INSERT OR REPLACE INTO {TABLES[entity]} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"


def row_values(entity: str, row: dict, ver: dict) -> tuple:
    """A record's row as stored: its fields encoded, its versions, how many losing sides
    its fields hold, and its sort key where its table has one."""
    key = SORT_KEYS.get(TABLES[entity])
    return (*encode_row(ENTITIES[entity], row), merge.dumps(ver),
            sum(len(v[3]) for v in ver.values() if len(v) > 2),
            *((key[2](row.get(key[1])),) if key else ()))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error; re-entrant."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.outer = False

    def __enter__(self):
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.outer:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def encode_row(ent: Entity, row: dict) -> list:
    out = [row["id"], *map(row.get, ent.columns)]
    for i, kind in _converted(ent):
        v = out[i]
        if v is not None:
            out[i] = int(v) if kind == "bool" else _encode(v)
    return out


_CONVERTED: dict[str, list] = {}
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _converted(ent: Entity) -> list[tuple[int, str]]:
    """(position in the encoded row, kind) of the fields SQLite cannot hold as they are."""
    hit = _CONVERTED.get(ent.name)
    if hit is None:
        hit = _CONVERTED[ent.name] = [(i + 1, f.kind) for i, f in enumerate(ent.fields)
                                      if f.kind in JSON_KINDS or f.kind == "bool"]
    return hit


def decode_row(ent: Entity, rec: dict) -> dict:
    for f in ent.fields:
        v = rec.get(f.name)
        if v is not None:
            if f.kind in JSON_KINDS:
                rec[f.name] = json.loads(v)
            elif f.kind == "bool":
                rec[f.name] = bool(v)
    return rec


def scrub_bodies(conn: sqlite3.Connection, entity: str, record: str, scrub) -> tuple[int, set]:
    """Rewrite every stored change body of one record with `scrub(entity, fields)` (an
    erasure: sync/erasure_rules.py), in every table that keeps bodies by record (the
    server's `changes`, a phone's `outbox`, and any later one of the same shape), keeping
    ids and stamps so that every replica still merges the same way. Returns (bodies
    rewritten, the fields' values before, for their attachments)."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    n, before = 0, []
    for table in tables:
        cols = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not {"record", "body"} <= cols:
            continue
        extra = [c for c in ("body_masked",) if c in cols]
        where = "record=?" + (" AND entity=?" if "entity" in cols else "")
        args = (record, entity) if "entity" in cols else (record,)
        for (body,) in conn.execute(f"SELECT DISTINCT body FROM {table} WHERE {where}", args).fetchall():
            ch = json.loads(body)
            if not isinstance(ch, dict) or ch.get("entity", entity) != entity or not isinstance(ch.get("fields"), dict):
                continue
            fields = scrub(entity, ch["fields"])
            if fields is ch["fields"]:
                continue
            before.append(ch["fields"])
            new = dict(ch, fields=fields)
            sets = {"body": _encode(new)}
            if extra:  # what phones receive with ID numbers masked: nothing is left to mask
                from . import privacy
                masked = privacy.masked_fields(entity, fields)
                sets["body_masked"] = None if masked is None else _encode(dict(new, fields=masked))
            # by the body itself: any table of this shape, with a rowid or without
            conn.execute(f"UPDATE {table} SET {', '.join(f'{k}=?' for k in sets)} WHERE {where} AND body=?",
                         (*sets.values(), *args, body))
            n += 1
    return n, before
