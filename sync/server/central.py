"""The central store: the township's replica, its change log, accounts and devices.

Every change the server accepts is kept as it came (`changes`) and numbered in the
log (`log.seq`, monotonic). A change is logged once per scope key of its record;
the first of those rows is its origin row, which the office pulls. When a case
gains a scope key (it is assigned to a leader, or moved to another grid), the
case's earlier changes and its children's are logged again under the new key, so
the case reaches its new reader whole.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import heapq
import json
import threading
from concurrent.futures import Future
from dataclasses import dataclass

import orjson

from .. import access, changes, clock, households, merge, permissions, privacy, queries, statute
from .. import settings as township_settings
from . import auth, judged, standing
from . import migrations as server_migrations
from .checkpointer import SAFETY_FACTOR, Checkpointer
from .readers import ReadPool
from .writer import GroupWriter
from ..access import Principal
from ..model import ENTITIES, _err, position_problems, value_errors
from ..replica import Replica, TABLES, chunks, gc_paused

SERVER_DEVICE = "server"
OFFICE_DEVICE_PREFIX = "office-"  # the office's browser sign-ins (open_session)
# (no change may take an id of these forms: changes.LOG_ENTRY_PREFIXES)
EXIT = "exit:"  # log entries telling a scope's phones to let a case go
HOUSEHOLD_EXIT = "exit-household:"  # ... and a household moved to another grid
# Records whose scope follows their own fields (a case its grid and owner, a household
# its grid): a write that changes it relogs them under the keys gained and exits the lost.
RESCOPED = ("case", "household")
REF = "ref:"    # log entries carrying a case's township reference
ERASE = "erase:"  # log entries telling phones to erase a record's personal data (erasure.py)
assert set(changes.LOG_ENTRY_PREFIXES) == {EXIT, HOUSEHOLD_EXIT, REF, ERASE}
SYSTEM_AUTHOR = "system"
CHILD_ENTITIES = ("visit", "case_event", "callback")


@dataclass
class PushResult:
    results: list[dict]

    @property
    def counts(self) -> dict:
        out = {"applied": 0, "duplicate": 0, "rejected": 0}
        for r in self.results:
            out[r["status"]] += 1
        return out

    @property
    def http_status(self) -> int:
        """200 when nothing was refused; else the 4xx of the refusal (403 over 422).
        The body lists every change either way: the rest of the batch was applied."""
        codes = {r.get("code") for r in self.results if r["status"] == "rejected"}
        if not codes:
            return 200
        return 403 if "forbidden" in codes else 422


class Rejection(dict):
    """A refused change's result, as the API answers it; it keeps the FieldErrors too,
    so that the office's screens say each in the person's language."""
    field_errors: list = []


def _rejected(code: str, errors) -> dict:
    out = Rejection(status="rejected", code=code, reason=changes.describe(errors), errors=changes.error_list(errors))
    out.field_errors = list(errors)
    return out


def _checkpoint_pages() -> int:
    from .backup import checkpoint_pages
    return checkpoint_pages()


@dataclass
class Precheck:
    """What a push's changes show on their own, before any store work: the results so far
    (a change whose envelope is malformed is refused at once), the positions of the
    changes left to admit, and each one's value errors by position (model.value_errors;
    only the positions that have some). Found on the thread that parsed the push, in the
    serving process: the writer, whose work every push waits for, is left the rules that
    need the store; they are reported in their usual order (_admit)."""
    results: list
    todo: list[int]
    values: dict[int, list]


def echo_key(p: Principal) -> str:
    """Whose pushes a pull leaves out (no echo): the account's on this device. The device
    alone is no proof: a device id is in every change a grid's phones pull, and a
    co-worker who signed in under another phone's id had their pushes skipped by that
    phone's pulls, never delivered to it. (Device ids hold no "/": the key splits.)"""
    return f"{p.username}/{p.device}"


def precheck(batch: list) -> Precheck:
    results: list[dict | None] = [None] * len(batch)
    todo, values = [], {}
    for i, ch in enumerate(batch):
        errs = changes.check_envelope(ch)
        if errs:
            results[i] = _rejected("invalid", errs)
            continue
        todo.append(i)
        errs = value_errors(ENTITIES[ch["entity"]], ch["fields"])
        if errs:
            values[i] = errs
    return Precheck(results, todo, values)


WITHDRAWN = "~"  # before a scope key: log rows of a record that has left that scope


def withdrawn_ids(entity: str) -> str:
    """The SQL of the change ids a record takes with it when it leaves scope key :key
    (parameters :entity, :rid, :key, :ref): its own, and for a case its timeline's and
    callbacks' and the visits on it that do not belong to :key by their own grid; and
    its reference entry."""
    own = "SELECT change_id FROM changes WHERE entity=:entity AND record=:rid"
    if entity == "case":
        own += (" UNION ALL SELECT change_id FROM changes WHERE entity IN ('case_event','callback') AND record IN"
                " (SELECT id FROM case_events WHERE case_id=:rid UNION ALL SELECT id FROM callbacks WHERE case_id=:rid)"
                " UNION ALL SELECT change_id FROM changes WHERE entity='visit' AND record IN"
                " (SELECT id FROM visits WHERE case_id=:rid AND 'g:' || coalesce(grid_id, '') <> :key)")
    return own + " UNION ALL SELECT :ref"


def withdraw(conn, entity: str, rid: str, key: str) -> int:
    """Take a record's log rows under a key it lost out of that key's pulls (they move to
    WITHDRAWN + key; the office still reads its origin rows): a phone first given that
    grid, or a leader the matter later, would otherwise receive every body the record
    ever had there (names, illness tags, the complaint) followed by its exit. A phone
    that holds the record gets the exit. Returns how many rows were withdrawn."""
    args = {"entity": entity, "rid": rid, "key": key, "gone": WITHDRAWN + key, "ref": f"{REF}{rid}"}
    return conn.execute(f"UPDATE log SET scope=:gone WHERE scope=:key AND change_id IN ({withdrawn_ids(entity)})",
                        args).rowcount


def _log_check(conn, seq: int) -> str | None:
    """Four hex digits naming the log row at `seq` (None where there is none): a cursor
    carries them, and a store that went back (a copy put back by hand) holds another row
    there once other phones have pushed past it."""
    row = conn.execute("SELECT change_id FROM log WHERE seq=?", (seq,)).fetchone() if seq > 0 else None
    return hashlib.sha256(row[0].encode()).hexdigest()[:4] if row else None


@functools.lru_cache(maxsize=64)  # asked for each change of a push, all at the push's one instant
def township_today(now_ms: int):
    """The township's calendar day (China Standard Time) at that instant."""
    return dt.datetime.fromtimestamp(now_ms / 1000, _CST).date()


_CST = dt.timezone(dt.timedelta(hours=8))


def _ref_number(ref: str) -> tuple[str | None, int]:
    """("2026", 12) from 金山-2026-0012; (None, 0) from anything else."""
    parts = str(ref).rsplit("-", 2)
    if len(parts) == 3 and parts[1].isdecimal() and len(parts[1]) == 4 and parts[2].isdecimal():
        return parts[1], int(parts[2])
    return None, 0


# On the audit trail for a sign-in under a name no account has (CentralStore.as_audited).
UNKNOWN_ACCOUNT = "(unknown)"


class WriteRefused(ValueError):
    """A write made on the server broke a rule; `result` says which, as a push would."""

    def __init__(self, result: dict):
        super().__init__(result.get("reason") or result.get("status"))
        self.result = result
        self.errors = result.get("errors") or []
        self.field_errors = getattr(result, "field_errors", [])


class CentralStore(Replica):
    # The figures' covering index (stats.py) leads with cases.grid_id: a plain grid_id
    # index would be a second copy to keep up on every write of a case.
    indexes = {**Replica.indexes, "cases": [i for i in Replica.indexes["cases"] if i != ["grid_id"]]}
    # Several processes write this file: the server and its write process
    # (write_process.py), the office's screens, `gridbook` commands. A write, and the
    # opening's own schema steps, wait for another's transaction (a group's commit and
    # checkpoint on a slow disk included) rather than fail after a phone's 5 s.
    WRITE_WAIT_MS = 30_000
    MIGRATIONS = server_migrations.CENTRAL  # numbered schema steps (sync/server/migrations.py)
    STORE_KIND = "township"

    def __init__(self, path: str, now=clock.wall_ms, create: bool = True):
        super().__init__(path, create)
        # Under Litestream (gridbook serve --backup) Litestream alone checkpoints, after
        # it has copied the WAL (its advice); otherwise a thread of its own does, at
        # SQLite's default threshold, and SQLite's own checkpoint in the commit is only
        # the net past a few times that (checkpointer.py).
        pages = _checkpoint_pages()
        self.conn.execute(f"PRAGMA wal_autocheckpoint={pages * SAFETY_FACTOR}")
        page_bytes = self.conn.execute("PRAGMA page_size").fetchone()[0]
        self.checkpointer = Checkpointer(path, pages * page_bytes) if pages else None
        # The write connection (self.conn) and its lock: pushes, sign-ins and the audit
        # trail go through the group-commit writer; the rarer writes (accounts,
        # settings, the office's verbs) take the lock themselves. Reads that the API
        # serves at volume (pulls, sign-in checks) use their own connections.
        self.lock = threading.RLock()
        # the writer's cache holds the random-keyed indexes (change ids, record ids) of a
        # county's store; readers share pages through the memory map (readers.py)
        self.conn.execute("PRAGMA cache_size=-65536")
        self.writer = GroupWriter(self.conn, self.lock,
                                  after_commit=self.checkpointer.nudge if self.checkpointer else None)
        self.readers = ReadPool(path)
        self.now = now
        st = json.loads(self._meta("clock") or "[0, 0]")
        self.clock = clock.HLC(SERVER_DEVICE, st[0], st[1], 0, now)
        with self.lock, self.transaction():
            self._heal_refs()
        if self.conn.execute("SELECT 1 FROM erasure_files LIMIT 1").fetchone():
            from .erasure import finish_file_deletions
            finish_file_deletions(self)

    def _create_tables(self) -> None:
        x = self.conn.execute
        # body: the change as its author sent it; body_masked: the same with ID numbers
        # masked, what phones receive (NULL when it holds none, the usual case).
        x("CREATE TABLE IF NOT EXISTS changes (change_id TEXT PRIMARY KEY, entity TEXT NOT NULL,"
          " record TEXT NOT NULL, hlc TEXT NOT NULL, device TEXT NOT NULL, author TEXT NOT NULL,"
          " received_ms INTEGER NOT NULL, body TEXT NOT NULL, body_masked TEXT)")
        if "body_masked" not in {r[1] for r in x("PRAGMA table_info(changes)")}:
            x("ALTER TABLE changes ADD COLUMN body_masked TEXT")  # a store from before masking
        x("CREATE INDEX IF NOT EXISTS changes_record ON changes(record)")
        x("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, change_id TEXT NOT NULL,"
          " scope TEXT NOT NULL, origin INTEGER NOT NULL)")
        x("CREATE INDEX IF NOT EXISTS log_scope ON log(scope, seq)")
        x("CREATE TABLE IF NOT EXISTS accounts (username TEXT PRIMARY KEY, name TEXT NOT NULL,"
          " role TEXT NOT NULL, grids TEXT NOT NULL, password TEXT NOT NULL,"
          " active INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL)")
        x("CREATE TABLE IF NOT EXISTS devices (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL,"
          " device_id TEXT NOT NULL, created_ms INTEGER NOT NULL, last_seen_ms INTEGER,"
          " revoked_ms INTEGER)")
        x("CREATE INDEX IF NOT EXISTS devices_user ON devices(username, device_id)")
        x("CREATE TABLE IF NOT EXISTS server_meta (key TEXT PRIMARY KEY, value TEXT)")
        from . import stats
        stats.ensure_indexes(self.conn)  # built with the store, not on the first dashboard
        x("CREATE TABLE IF NOT EXISTS audit (at_ms INTEGER NOT NULL, username TEXT NOT NULL,"
          " action TEXT NOT NULL, detail TEXT, device TEXT, address TEXT)")
        have = {r[1] for r in x("PRAGMA table_info(audit)")}
        for col in ("device", "address"):
            if col not in have:
                x(f"ALTER TABLE audit ADD COLUMN {col} TEXT")
        x("CREATE INDEX IF NOT EXISTS audit_at ON audit(at_ms)")

    # --- concurrency: the writer and the readers (writer.py, readers.py) -------------
    def _write(self, fn):
        """Run a write `fn()` in the writer's next group commit, answered once on disk;
        directly when this thread already holds the write lock (a write inside another,
        such as the audit of a sign-in), which the writer would wait for forever."""
        if self.lock._is_owned():
            with self.transaction():
                return fn()
        return self.writer.run(fn)

    def close(self) -> None:
        self.writer.close()
        if self.checkpointer:
            self.checkpointer.close()
        self.readers.close()
        super().close()

    # --- the township's settings (the far-visit threshold, ...) -------------------------
    def settings(self) -> dict:
        """The township's settings (sync/settings.py), the stored ones over the defaults."""
        row = self.readers.connection().execute("SELECT value FROM server_meta WHERE key='settings'").fetchone()
        return township_settings.resolve(json.loads((row[0] if row else None) or "{}"))

    def set_setting(self, name: str, value, by: str = SYSTEM_AUTHOR) -> dict:
        """`gridbook setting NAME VALUE`: checked against the setting's rule, audited."""
        value = township_settings.parse(name, value)
        with self.lock, self.transaction():
            current = json.loads(self._meta("settings") or "{}")
            current[name] = value
            self._set_meta("settings", json.dumps(current))
            self.audit(by, "setting", f"{name}={value}")
        return self.settings()

    def _meta(self, key):
        row = self.conn.execute("SELECT value FROM server_meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key, value):
        self.conn.execute("INSERT OR REPLACE INTO server_meta VALUES (?,?)", (key, value))

    # --- accounts and devices -------------------------------------------------------
    def add_account(self, username: str, name: str, role: str, password: str,
                    grids: list[str] = (), by: str = SYSTEM_AUTHOR) -> None:
        from ..codes import ROLES
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not username or len(username) > 40 or not changes.valid_id(username):
            raise ValueError("username must be 1-40 letters, digits or _.:-")
        if len(password) < 8:
            raise ValueError("password must be at least 8 characters")
        known = {r[0] for r in self.conn.execute("SELECT id FROM grids")}
        missing = [g for g in grids if g not in known]
        if missing:
            raise ValueError(f"no grid {', '.join(missing)}: add it first with 'gridbook grid add'")
        hashed = auth.hash_password(password)     # its cost outside the lock
        with self.lock, self.transaction():
            if self.account(username):
                raise ValueError(f"account {username} exists already")
            self.conn.execute("INSERT INTO accounts VALUES (?,?,?,?,?,1,?)",
                              (username, name, role, json.dumps(list(grids)), hashed, self.now()))
            self.server_write("staff", f"staff-{username}", {
                "username": username, "name": name, "role": role, "grids": list(grids),
                "active": True})
            self.audit(by, "account_added", f"{username} {role} {','.join(grids) or '-'}")

    def account(self, username: str) -> dict | None:
        row = self.conn.execute("SELECT username, name, role, grids, password, active FROM accounts"
                                " WHERE username=?", (username,)).fetchone()
        if row is None:
            return None
        return {"username": row[0], "name": row[1], "role": row[2], "grids": json.loads(row[3]),
                "password": row[4], "active": bool(row[5])}

    def accounts(self) -> list[dict]:
        rows = self.conn.execute(
            "SELECT a.username, a.name, a.role, a.grids, a.active,"
            " (SELECT count(*) FROM devices d WHERE d.username=a.username AND d.revoked_ms IS NULL)"
            " FROM accounts a ORDER BY a.username").fetchall()
        return [{"username": r[0], "name": r[1], "role": r[2], "grids": json.loads(r[3]),
                 "active": bool(r[4]), "devices": r[5]} for r in rows]

    def live_devices(self, username: str | None = None) -> dict[str, list[tuple[str, int | None]]]:
        """username -> [(device id, when it was last heard from in ms)] of the tokens not
        revoked, the latest first: what `gridbook user revoke --device` is given. Heard
        from: its sign-in, its last push (`last_seen_ms`, written with the push) or the
        last pull that brought it anything (the audit trail; an empty pull writes nothing).
        `username`: that account's alone."""
        only, args = (" AND username=?", (username,)) if username else ("", ())
        pulled = dict(((u, d), at) for u, d, at in self.conn.execute(
            f"SELECT username, device, max(at_ms) FROM audit WHERE device IS NOT NULL{only}"
            " GROUP BY username, device", args))
        out: dict[str, list] = {}
        for name, device, seen in self.conn.execute(
                "SELECT username, device_id, max(max(created_ms, coalesce(last_seen_ms, 0))) FROM devices"
                f" WHERE revoked_ms IS NULL{only} GROUP BY username, device_id", args):
            out.setdefault(name, []).append((device, max(seen, pulled.get((name, device)) or 0)))
        for devices in out.values():
            devices.sort(key=lambda d: -d[1])
        return out

    def login(self, username: str, password: str, device_id: str, address: str = ""):
        """(token, principal, name) for the right password of an active account, else None.
        The password is checked outside every lock: it takes tens of milliseconds."""
        acct, ok, disabled = self.verify_password(username, password)
        return self.finish_login(username, acct, ok, device_id, address, disabled)

    def verify_password(self, username: str, password: str) -> tuple[dict | None, bool, bool]:
        """(the account, whether the password is right and the account active, whether
        it is right and the account disabled): the scrypt part of a sign-in, which
        touches no lock (app.py runs it on threads of its own, a few at a time)."""
        acct = self._read_account(username)
        right = bool(auth.check_password(password, acct["password"] if acct else None) and acct)
        return acct, right and bool(acct["active"]), right and not acct["active"]

    def finish_login(self, username: str, acct: dict | None, ok: bool, device_id: str, address: str = "",
                     disabled: bool = False):
        """The rest of `login` once the password was checked: the device's token, or the
        failure on the audit trail."""
        if not ok:
            self.audit(self.as_audited(username, acct), "login_disabled" if disabled else "login_failed", "",
                       device=device_id, address=address)
            return None
        token = auth.new_token()

        def register():
            # One live token per account and device: signing in again replaces it.
            self.conn.execute("UPDATE devices SET revoked_ms=? WHERE username=? AND device_id=?"
                              " AND revoked_ms IS NULL", (self.now(), username, device_id))
            self.conn.execute("INSERT INTO devices (token_hash, username, device_id, created_ms) VALUES (?,?,?,?)",
                              (auth.token_hash(token), username, device_id, self.now()))
            self.audit(username, "login", "", device=device_id, address=address)
        self._write(register)
        return token, self._principal(acct, device_id), acct["name"]

    def as_audited(self, typed: str | None, acct: dict | None = None) -> str:
        """A name typed at a sign-in as the trail keeps it: an account's name, or
        UNKNOWN_ACCOUNT. What matches no account may be a password typed in the wrong
        box, or a resident's name or ID number: the trail keeps no record's content, and
        an erasure would never reach it. (The address and device still group attempts.)"""
        acct = acct if acct is not None else (self._read_account(typed) if typed else None)
        return acct["username"] if acct else UNKNOWN_ACCOUNT

    def _read_account(self, username: str) -> dict | None:
        """`account`, read on this thread's read connection (never waits for a write)."""
        row = self.readers.connection().execute(
            "SELECT username, name, role, grids, password, active FROM accounts WHERE username=?",
            (username,)).fetchone()
        if row is None:
            return None
        return {"username": row[0], "name": row[1], "role": row[2], "grids": json.loads(row[3]),
                "password": row[4], "active": bool(row[5])}

    def open_session(self, username: str) -> tuple[str, str]:
        """A sign-in of the office's browser, kept like a phone's: (token, device id).
        Revoking the account's devices, or disabling it, ends it."""
        token, device = auth.new_token(), OFFICE_DEVICE_PREFIX + auth.new_token()[:16]
        with self.lock, self.transaction():
            self.conn.execute("INSERT INTO devices (token_hash, username, device_id, created_ms) VALUES (?,?,?,?)",
                              (auth.token_hash(token), username, device, self.now()))
        return token, device

    def close_session(self, token: str) -> None:
        with self.lock, self.transaction():
            self.conn.execute("UPDATE devices SET revoked_ms=? WHERE token_hash=? AND revoked_ms IS NULL",
                              (self.now(), auth.token_hash(token)))

    def device_is_live(self, username: str, device_id: str, token: str | None = None) -> bool:
        """Whether this device holds a live sign-in of the account (the owner's own phone),
        proved by its token: a device id alone is in every change its grid's phones pull,
        and naming the owner's lifted the account's slow-down for any guesser."""
        if not token:
            return False
        return self.readers.connection().execute(
            "SELECT 1 FROM devices WHERE token_hash=? AND username=? AND device_id=? AND revoked_ms IS NULL",
            (auth.token_hash(token), (username or "")[:40], device_id)).fetchone() is not None

    def authenticate(self, token: str, device_id: str) -> Principal | None:
        with self.readers.snapshot() as conn:
            row = conn.execute(
                "SELECT username, device_id, revoked_ms FROM devices WHERE token_hash=?",
                (auth.token_hash(token),)).fetchone()
            if row is None or row[2] is not None or row[1] != device_id:
                return None
            acct = self._read_account(row[0])
        if acct is None or not acct["active"]:
            return None
        return self._principal(acct, device_id)

    def set_active(self, username: str, active: bool, by: str = SYSTEM_AUTHOR) -> int:
        """Disable an account (or enable it again). Disabling ends every sign-in it has, on
        phones and in office browsers, at once; returns how many were ended."""
        if self.account(username) is None:
            raise ValueError(f"no account named {username}")
        with self.lock, self.transaction():
            self.conn.execute("UPDATE accounts SET active=? WHERE username=?", (int(active), username))
            self.server_write("staff", f"staff-{username}", {"active": bool(active)})
            ended = 0 if active else self._revoke(username)
            self.audit(by, "account_enabled" if active else "account_disabled", username)
        return ended

    def set_password(self, username: str, password: str, by: str = SYSTEM_AUTHOR) -> int:
        """A new password (one forgotten, or one told to someone): every sign-in the account
        has ends, as a leaked password may have made one; its phones keep what they hold
        unsent and send it once their person signs in again. Returns how many ended."""
        if self.account(username) is None:
            raise ValueError(f"no account named {username}")
        if len(password) < 8:
            raise ValueError("password must be at least 8 characters")
        hashed = auth.hash_password(password)     # its cost outside the lock
        with self.lock, self.transaction():
            self.conn.execute("UPDATE accounts SET password=? WHERE username=?", (hashed, username))
            ended = self._revoke(username)
            self.audit(by, "password_set", username)
        return ended

    def set_grids(self, username: str, grids: list[str], by: str = SYSTEM_AUTHOR) -> None:
        """Give an account other grids. Its phones start over on their next pull: what
        they hold of the old grids goes, the new grids arrive whole."""
        acct = self.account(username)
        if acct is None:
            raise ValueError(f"no account named {username}")
        known = {r[0] for r in self.conn.execute("SELECT id FROM grids")}
        missing = [g for g in grids if g not in known]
        if missing:
            raise ValueError(f"no grid {', '.join(missing)}: add it first with 'gridbook grid add'")
        with self.lock, self.transaction():
            self.conn.execute("UPDATE accounts SET grids=? WHERE username=?", (json.dumps(list(grids)), username))
            self.server_write("staff", f"staff-{username}", {"grids": list(grids)})
            self.audit(by, "grids_set", f"{username} {','.join(grids) or '-'}")

    def revoke(self, username: str, device_id: str | None = None, by: str = SYSTEM_AUTHOR) -> int:
        """Cut off a lost phone (or every phone of the account), on the trail. Returns how many."""
        with self.lock, self.transaction():
            n = self._revoke(username, device_id)
            self.audit(by, "devices_revoked", f"{username} {device_id or 'all'} n={n}")
        return n

    def _revoke(self, username: str, device_id: str | None = None) -> int:
        sql = "UPDATE devices SET revoked_ms=? WHERE username=? AND revoked_ms IS NULL"
        args = [self.now(), username]
        if device_id:
            sql += " AND device_id=?"
            args.append(device_id)
        with self.lock, self.transaction():
            return self.conn.execute(sql, args).rowcount

    def devices(self, username: str) -> list[dict]:
        rows = self.conn.execute("SELECT device_id, created_ms, last_seen_ms, revoked_ms FROM devices"
                                 " WHERE username=? ORDER BY created_ms", (username,)).fetchall()
        return [dict(zip(("device_id", "created_ms", "last_seen_ms", "revoked_ms"), r)) for r in rows]

    @staticmethod
    def _principal(acct: dict, device_id: str) -> Principal:
        return Principal(acct["username"], acct["role"], frozenset(acct["grids"]), device_id)

    def audit(self, username: str, action: str, detail: str = "", device: str = "", address: str = "") -> None:
        """Who signed in or failed to, who read, pulled, exported what, which changes were
        refused: the trail the law asks for (PIPL art. 51). Never a record's content.
        Written with the pushes waiting (one commit for them all; a group of audit rows
        alone does not wait for the disk: a power cut may lose the last second of it,
        never the store's consistency), or, inside another write, with it."""
        insert = self._audit_insert(username, action, detail, device, address)
        if self.lock._is_owned():
            with self.relaxed_transaction():
                insert()
        else:  # with the pushes waiting: one commit for them all (no fsync of its own)
            self.writer.run(insert, durable=False)

    def audit_later(self, username: str, action: str, detail: str, device: str, address: str) -> Future:
        """`audit` from the API's event loop: a future resolved once the row is committed
        with the writer's next group (awaited, so no thread waits for the group)."""
        return self.writer.submit(self._audit_insert(username, action, detail, device, address), durable=False)

    def _audit_insert(self, *what: str):
        row = (self.now(), *what)
        return lambda: self.conn.execute(
            "INSERT INTO audit (at_ms, username, action, detail, device, address) VALUES (?,?,?,?,?,?)", row)

    # --- grids ----------------------------------------------------------------------
    def add_grid(self, grid_id: str, name: str, village: str, township: str,
                 lat: float | None = None, lon: float | None = None) -> None:
        fields = {"name": name, "village": village, "township": township}
        if lat is not None:
            fields.update(lat=lat, lon=lon)
        if self.get("grid", grid_id):
            raise ValueError(f"grid {grid_id} exists already")
        self.server_write("grid", grid_id, fields)

    # --- writes made on the server itself ------------------------------------------
    def server_write(self, entity: str, record: str, fields: dict,
                     author: str = SYSTEM_AUTHOR, principal: Principal | None = None,
                     all_heads: bool = False) -> dict:
        """A change made on the server itself (admin commands, the demo, references).

        With a `principal` (a person at the office's browser) the change goes through
        the same rules as one pushed from a phone; without one it is the system's.
        `all_heads`: the write replaces every concurrent value of its fields (it settles
        a conflict)."""
        with self.lock, self.transaction():
            self._load_clock()
            versions = self.versions(entity, record)
            base = merge.bases(versions, fields, all_heads=all_heads)
            ch = changes.make(entity, record, fields, self.clock.tick(), SERVER_DEVICE, author, base)
            p = principal or Principal(author, "admin")
            res = self.push(p, [ch], server_side=principal is None).results[0]
            if res["status"] != "applied":
                raise WriteRefused(res)
        return ch

    def _load_clock(self) -> None:
        """Several connections (the sync API, the office's screens) share one file: each
        reads the server's clock back before stamping, so no two stamps repeat."""
        st = json.loads(self._meta("clock") or "[0, 0]")
        if (st[0], st[1]) > (self.clock.last_ms, self.clock.counter):
            self.clock.last_ms, self.clock.counter = st[0], st[1]

    # --- township references --------------------------------------------------------
    def _ref_prefix(self) -> str:
        prefix = self._meta("ref_prefix")
        if prefix is None:
            row = self.conn.execute("SELECT township FROM grids ORDER BY id LIMIT 1").fetchone()
            name = (row[0] if row else "") or "镇"
            for suffix in ("街道", "镇", "乡"):
                if name.endswith(suffix) and len(name) > len(suffix):
                    name = name[: -len(suffix)]
            prefix = name
            self._set_meta("ref_prefix", prefix)
        return prefix

    def _assign_refs(self, accepted: list, cache: dict) -> list[tuple[str, frozenset]]:
        """Every matter gets a township reference (金山-2026-0001), also one first
        reported on a phone with no signal. The server alone writes it, once, into the
        row: it needs no merge and travels as a `refs` entry of the pull (log id
        "ref:<case>"), not as a change. Returns (case id, scope keys) to log.

        The counter of a year never falls behind a reference already present, whoever
        wrote it (the demo and imports write theirs): a written one moves it on, and a
        unique index on cases.ref makes a repeat impossible."""
        counters: dict[str, int] = {}
        prefix, out = None, []
        for ch, _ in accepted:
            key = ("case", ch["record"])
            if ch["entity"] != "case" or key not in cache:
                continue
            row, ver, existed = cache[key]
            if isinstance(ch["fields"].get("ref"), str):  # written by the server's own commands
                year, n = _ref_number(ch["fields"]["ref"])
                if year:
                    counters[year] = max(counters.get(year) or self._ref_counter(year), n)
                continue
            if existed or row.get("ref"):
                continue
            # the year of the ledger it is listed in: its entry in the office's register,
            # which may be last December's letter entered in January, else its report
            year = str(row.get("received_on") or row.get("reported_at") or "")[:4]
            year = year if year.isdigit() else str(clock.wall_ms() // 31_557_600_000 + 1970)
            if year not in counters:
                counters[year] = self._ref_counter(year)
            counters[year] += 1
            prefix = prefix or self._ref_prefix()
            row["ref"] = f"{prefix}-{year}-{counters[year]:04d}"
            out.append((ch["record"], access.record_keys("case", row)))
        for year, n in counters.items():
            self._set_meta(f"ref:{year}", str(n))
        return out

    def _ref_counter(self, year: str) -> int:
        return int(self._meta(f"ref:{year}") or 0)

    def _heal_refs(self) -> None:
        """A store from before the unique index: the demo wrote references without moving
        the counter, so a later matter could repeat one. Each repeat but the first is
        numbered anew (its phones learn it like any reference), every year's counter is
        moved past the highest reference present, and the index is made."""
        x = self.conn.execute
        if x("SELECT 1 FROM sqlite_master WHERE name='cases_ref_unique'").fetchone():
            return
        highest: dict[str, int] = {}
        for (ref,) in x("SELECT ref FROM cases WHERE ref IS NOT NULL"):
            year, n = _ref_number(ref)
            if year:
                highest[year] = max(highest.get(year, 0), n)
        for year, n in highest.items():
            if n > self._ref_counter(year):
                self._set_meta(f"ref:{year}", str(n))
        repeats = x("SELECT id, ref FROM cases WHERE ref IN (SELECT ref FROM cases WHERE ref IS NOT NULL"
                    " GROUP BY ref HAVING count(*) > 1) ORDER BY ref, rowid").fetchall()
        seen, renumbered = set(), []
        for cid, ref in repeats:
            if ref not in seen:
                seen.add(ref)
                continue
            year, _ = _ref_number(ref)
            year = year or str(clock.wall_ms() // 31_557_600_000 + 1970)
            n = self._ref_counter(year) + 1
            self._set_meta(f"ref:{year}", str(n))
            new = f"{self._ref_prefix()}-{year}-{n:04d}"
            x("UPDATE cases SET ref=? WHERE id=?", (new, cid))
            renumbered.append((cid, access.record_keys("case", self.get("case", cid))))
        self._log_entries(REF, renumbered)
        x("CREATE UNIQUE INDEX cases_ref_unique ON cases(ref) WHERE ref IS NOT NULL")

    # --- push -----------------------------------------------------------------------
    def push(self, p: Principal, batch: list, server_side: bool = False, address: str = "") -> PushResult:
        """Admit a batch of changes: each is applied, a duplicate, or refused with the
        rules it broke. Returns once what was applied is on disk: the push rides the
        writer's next group commit (writer.py), or the caller's own transaction when it
        holds the write lock (server_write)."""
        checked = precheck(batch)
        return self._write(lambda: self._push_now(p, batch, checked, server_side, address))

    def push_later(self, p: Principal, batch: list, address: str = "", checked: Precheck | None = None) -> Future:
        """`push` from a phone, as a future resolved once it is on disk (app.py awaits it
        without holding a thread). `checked`: precheck(batch), when the caller made it."""
        if checked is None:
            checked = precheck(batch)
        elif len(checked.results) != len(batch):
            raise ValueError("the precheck is of another batch")
        return self.writer.submit(lambda: self._push_now(p, batch, checked, False, address))

    def _push_now(self, p: Principal, batch: list, checked: Precheck, server_side: bool,
                  address: str) -> PushResult:
        results, todo, values = list(checked.results), checked.todo, checked.values
        now = self.now()
        with self.transaction(), gc_paused():
            self._load_clock()
            known = self._known([batch[i]["id"] for i in todo])   # id -> (author, entity, record, hlc)
            from .erasure import keep_erased
            # an erased record stays erased, and what is added to it (erasure.py)
            rewritten, joined = keep_erased(self.conn, batch, todo)
            if rewritten:  # their values are checked as they will be kept, not as sent
                values = dict(values)
                for i in rewritten:
                    values[i] = value_errors(ENTITIES[batch[i]["entity"]], batch[i]["fields"])
            cache = self._preload(batch, todo)
            latest = None   # the latest clock stamp admitted
            last_applied = None
            for i in todo:
                ch = batch[i]
                if ch["id"] in known:
                    if known[ch["id"]] != (ch["author"], ch["entity"], ch["record"], ch["hlc"]):
                        # another change under an id already taken: answering "duplicate"
                        # would have the phone drop it as if it had landed
                        results[i] = _rejected("invalid", [_err("id", "id_taken")])
                    else:
                        results[i] = {"status": "duplicate"}
                    continue
                res = self._admit(p, ch, now, cache, server_side, values.get(i, ()))
                if res is not None:
                    results[i] = res
                    cache["__refused__"].setdefault((ch["entity"], ch["record"]), res["reason"])
                    continue
                known[ch["id"]] = (ch["author"], ch["entity"], ch["record"], ch["hlc"])
                # stamps are fixed-width (clock.encode): the greatest string is the latest
                latest = ch["hlc"] if latest is None or ch["hlc"] > latest else latest
                results[i] = {"status": "applied"}
                last_applied = ch["id"]
            if latest is not None:
                self.clock.receive(latest)
            if not server_side and p.device != SERVER_DEVICE:
                # when it was last heard from (`user list`), and the last change of its
                # that the store took (a phone put back from an older copy: `pull`)
                self.conn.execute("UPDATE devices SET last_seen_ms=?, last_change=coalesce(?, last_change)"
                                  " WHERE username=? AND device_id=? AND revoked_ms IS NULL",
                                  (now, last_applied, p.username, p.device))
            # (change, its scope keys) in order; case id -> scope keys it gained
            accepted, rescope = cache.pop("__accepted__"), cache.pop("__rescope__")
            scoped, claims = cache.pop("__scoped__"), cache.pop("__claims__")
            stood, judgements = cache.pop("__standing__"), cache.pop("__judged__")
            cache.pop("__refused__"), cache.pop("__owners__", None)
            if accepted:
                refs = self._assign_refs(accepted, cache)
                self._commit(accepted, cache, rescope, now,
                             None if server_side or p.device == SERVER_DEVICE else echo_key(p))
                self._log_entries(REF, refs)
                self._log_exits(scoped, cache)
                if claims:
                    self.conn.executemany("INSERT OR IGNORE INTO blob_claims VALUES (?,?,?,?)", claims)
                if stood:
                    standing.add(self.conn, stood)
                if judgements:
                    judged.add(self.conn, judgements)
            if joined:
                self.conn.executemany("INSERT OR IGNORE INTO erased VALUES (?,?,?)",
                                      [row for i, row in joined.items() if results[i]["status"] == "applied"])
            if rewritten and accepted:
                # kept erased here, the phones that hold it, the one that sent it first,
                # erase their copies too: a visit recorded offline before the household
                # was erased kept the person's words on its phone for good (the sender
                # never pulls its own change, and the erasure named only what then existed)
                gone = {(batch[i]["entity"], batch[i]["record"]) for i in rewritten
                        if results[i]["status"] == "applied"}
                keys: dict[tuple[str, str], set] = {}
                for ch, held in accepted:
                    if (ch["entity"], ch["record"]) in gone:
                        keys.setdefault((ch["entity"], ch["record"]), set()).update(held)
                self._log_entries(ERASE, [(f"{e}:{r}", frozenset(k)) for (e, r), k in sorted(keys.items())])
            if not server_side:
                self._audit_refusals(p, batch, results, address)
        return PushResult(results)

    def _numbers_once_held(self, household: str) -> set[str]:
        """Every ID number the household's history wrote, the head's and its members'
        (privacy.restore_masked: a masked number sent back for one the office has
        corrected since)."""
        out: set[str] = set()
        for (body,) in self.conn.execute("SELECT body FROM changes WHERE entity='household' AND record=?",
                                         (household,)):
            fields = (orjson.loads(body) or {}).get("fields") or {}
            numbers = [fields.get("id_number"), *(m.get("id_number") for m in fields.get("members") or []
                                                  if isinstance(m, dict))]
            out.update(n for n in numbers if isinstance(n, str) and n and privacy.MASK not in n)
        return out

    def _audit_refusals(self, p: Principal, batch: list, results: list, address: str) -> None:
        """Every refused change is on the trail: which change of which record, and the rules
        it broke (never its values)."""
        rows = []
        for ch, res in zip(batch, results):
            if res["status"] == "rejected":
                env = ch if isinstance(ch, dict) else {}
                what = " ".join(str(env.get(k))[:64] for k in ("id", "entity", "record"))
                rules = ",".join(sorted({f"{e['field'][:40]}:{e['rule']}" for e in res.get("errors") or []}))
                rows.append((self.now(), p.username, "refused", f"{what} {res.get('code')} {rules}"[:500],
                             p.device, address))
        if rows:
            self.conn.executemany("INSERT INTO audit (at_ms, username, action, detail, device, address)"
                                  " VALUES (?,?,?,?,?,?)", rows)

    def _known(self, ids: list[str]) -> dict[str, tuple]:
        out = {}
        for part in chunks(ids):
            out.update((r[0], r[1:]) for r in self.conn.execute(
                "SELECT change_id, author, entity, record, hlc FROM changes"
                f" WHERE change_id IN ({','.join('?' * len(part))})", part))
        return out

    # Fields naming another record that the write rules look at (permissions.py).
    _REFERENCES = (("case_id", "case"), ("merged_into", "case"), ("household_id", "household"), ("grid_id", "grid"))

    def _preload(self, batch, todo) -> dict:
        """Rows of every record the batch names, and of the records and accounts its fields
        refer to (parent case, household, leader), loaded in bulk."""
        wanted: dict[str, set] = {}
        for i in todo:
            ch = batch[i]
            wanted.setdefault(ch["entity"], set()).add(ch["record"])
            fields = ch["fields"] if isinstance(ch["fields"], dict) else {}
            for name, entity in self._REFERENCES:
                if isinstance(fields.get(name), str):
                    wanted.setdefault(entity, set()).add(fields[name])
            for name in ("owner", "reception_leader"):
                if isinstance(fields.get(name), str):
                    wanted.setdefault("staff", set()).add(f"staff-{fields[name]}")
        cache: dict = {"__accepted__": [], "__rescope__": {}, "__refused__": {}, "__scoped__": {}, "__claims__": [],
                       "__standing__": [], "__judged__": []}
        for entity, ids in wanted.items():
            for rid, (row, ver) in self._load(entity, ids).items():
                cache[(entity, rid)] = (row, ver, True)
        return cache

    def _lookup(self, cache: dict):
        """Another record as this batch leaves it (for the write rules)."""
        def lookup(entity: str, rid: str):
            hit = cache.get((entity, rid))
            if hit is None:
                got = self._load(entity, [rid]).get(rid)
                if got is None:
                    return None
                hit = cache[(entity, rid)] = (got[0], got[1], True)
            return hit[0]
        return lookup

    def _past_owners(self, cache: dict):
        """Every account that ever owned a case, from its changes (permissions, "owned_once");
        asked only when a leader writes on a matter not theirs now, kept for the batch."""
        def owners(case_id: str) -> set[str]:
            known = cache.setdefault("__owners__", {})
            if case_id not in known:
                found = set()
                for (body,) in self.conn.execute("SELECT body FROM changes WHERE entity='case' AND record=?"
                                                 " AND instr(body, '\"owner\"') > 0", (case_id,)):
                    owner = ((orjson.loads(body) or {}).get("fields") or {}).get("owner")
                    if isinstance(owner, str):
                        found.add(owner)
                known[case_id] = found
            return known[case_id]
        return owners

    def _last_callback(self, cache: dict):
        """A case's latest callback (permissions: called back again only after 联系不上, and
        dated after it), one admitted earlier in this batch being the latest."""
        def last(case_id: str) -> dict | None:
            batch = [c["fields"] for c, _ in cache["__accepted__"]
                     if c["entity"] == "callback" and c["fields"].get("case_id") == case_id]
            return batch[-1] if batch else queries.last_callback(self, case_id)
        return last

    def _admit(self, p: Principal, ch: dict, now: int, cache: dict, server_side: bool, values=None):
        """Check one change against the rules and fold it into the cache; a rejection
        result if it is refused, else None. `values`: its value errors, if precheck found them."""
        entity = ch["entity"]
        ent = ENTITIES[entity]
        if ent.server_only and not server_side:
            return _rejected("forbidden", [_err("entity", "server_only", entity=entity)])
        if ch["author"] != p.username:
            return _rejected("forbidden", [_err("author", "author")])
        if not server_side and ch["device"] != p.device:
            return _rejected("forbidden", [_err("device", "device")])
        # A phone's clock is judged by the server's; the server's own stamps are not: its
        # clock never runs back, so after a clock that ran ahead is put right they stay
        # ahead for as long as it was, and the office was refused every write meanwhile.
        # (No phone signs in as SERVER_DEVICE: the login refuses the name.)
        e = None if ch["device"] == SERVER_DEVICE else changes.check_clock(ch, now)
        if e:
            return _rejected("invalid", [e])
        key = (entity, ch["record"])
        before = cache.get(key)
        if before is None and key in cache["__refused__"]:
            return _rejected("invalid", [_err("record", "held", reason=cache["__refused__"][key])])
        if before is None and (ch.get("base") or not any(n in ch["fields"] for n in ent.required)):
            # an edit of a record this server never accepted: say so, not "X is required"
            return _rejected("invalid", [_err("record", "unknown_record", entity=entity)])
        errs = changes.check_fields(ch, existing=before is not None, values=values)
        row0, ver0 = (before[0], before[1]) if before else (None, {})
        errs = errs or position_problems(row0, ch["fields"])
        if not errs and not server_side and ch.get("base"):
            errs = [_err(name, "base_unknown") for name in merge.unknown_bases(ver0, ch["base"])][:5]
        if errs:
            return _rejected("invalid", errs)
        fields, masked_at = privacy.restore_masked(entity, ch["fields"], row0,
                                                   lambda: self._numbers_once_held(ch["record"]))
        if masked_at:
            return _rejected("invalid", [_err(masked_at, "masked")])
        if fields is not ch["fields"]:
            ch = dict(ch, fields=fields)  # what the server keeps: the numbers themselves
        today = township_today(now)
        # phones and the office alike (the server's own commands check in their own paths)
        if entity == "household" and not server_side:
            errs = households.number_errors(fields, row0, today) + households.due_errors(
                fields, today, (lambda: self._reckoned_since(ch["record"])) if row0 else None)
            if errs:
                return _rejected("invalid", errs)
        if entity == "case" and not server_side:  # the petitioner's number, by the same rules
            errs = households.phone_errors("petitioner_phone", fields, row0)
            if errs:
                return _rejected("invalid", errs)
        case, case_versions = None, {}
        if ent.parent:
            cid = ch["fields"].get(ent.parent, (row0 or {}).get(ent.parent))
            if cid is not None:
                hit = cache.get(("case", cid))
                if hit is None:
                    return _rejected("invalid", [_err(ent.parent, "unknown_record", entity="case")])
                case, case_versions = hit[0], hit[1]
        if not server_side:
            errs = permissions.check(p, entity, row0, ch["fields"], self._lookup(cache),
                                     past_owners=self._past_owners(cache), last_callback=self._last_callback(cache))
            errs = errs or permissions.resolution_entry_problems(p, entity, ch["fields"], case, case_versions)
            if errs:
                return _rejected("forbidden", errs)
            errs = permissions.stale_move_problems(p, entity, ch["fields"], ch.get("base"), row0, ver0)
            if errs:
                return _rejected("invalid", errs)
            claims = self._unshown_attachments(p, row0, ch["fields"]) if ch["fields"].get("attachments") else ()
            problems = statute.time_problems(entity, ch["fields"], today, as_it_happens=not p.sees_all,
                                             now_ms=None if server_side else now)
            if entity == "case":
                problems = statute.date_problems(row0 or {}, ch["fields"], today) + problems
            if problems:
                return _rejected("invalid", [_err(f, rule, other=other) for f, rule, other in problems])
        else:
            claims = ()
        row, ver = merge.merge_change(row0, ver0, ch)
        if entity == "case" and standing.changed(row0, row):
            cache["__standing__"].append(standing.row(ch["record"], today.isoformat(), row0))
        if entity == "case" and judged.changed(row0, row):
            batch_callbacks = [c["record"] for c, _ in cache["__accepted__"]
                               if c["entity"] == "callback" and c["fields"].get("case_id") == ch["record"]]
            cache["__judged__"].extend(judged.rows(self.conn, ch["record"], row0, batch_callbacks))
        for h in claims:
            cache["__claims__"].append((h, entity, ch["record"], p.username))
        keys_before = access.record_keys(entity, row0, case)
        keys_after = access.record_keys(entity, row, case)
        cache[key] = (row, ver, before is not None and before[2])
        cache["__accepted__"].append((ch, keys_after))
        if entity in RESCOPED and row0 is not None and keys_after != keys_before:
            added = keys_after - keys_before
            if added:
                cache["__rescope__"].setdefault(key, set()).update(added)
            # every key the record held in this batch: those it no longer has get an exit
            cache["__scoped__"].setdefault(key, set()).update(keys_before | keys_after)
        return None

    def _reckoned_since(self, hid: str) -> dt.date | None:
        """The earlier of the township's days this server first took a change of the
        household and of its last visit held (None: neither): where a phone reckons its
        next visit from at the earliest. A visit stored years back by an older version
        is one: a next visit reckoned from it is no new mistake."""
        first = self.conn.execute("SELECT min(received_ms) FROM changes WHERE record=? AND entity='household'",
                                  (hid,)).fetchone()[0]
        last = self.conn.execute("SELECT max(visited_at) FROM visits WHERE household_id=?", (hid,)).fetchone()[0]
        days = [d for d in (township_today(first) if first is not None else None,
                            households.visit_day(last) if isinstance(last, str) else None) if d is not None]
        return min(days) if days else None

    def _unshown_attachments(self, p: Principal, row0: dict | None, fields: dict) -> list[str]:
        """The files the change newly names that other records name and this person may
        not see: reading a file is granted by seeing a record naming it (blobs.allowed),
        and a hash learnt once (a case that has since left one's grid) would otherwise
        open the file for ever. The change is taken (the same picture may well have been
        forwarded to two grid workers); its naming is a claim that opens the file to
        nobody until its author uploads the bytes (blobs.py, "claims")."""
        from . import blobs
        from ..erasure_rules import attachment_hashes
        out = []
        for h in sorted(attachment_hashes("", fields) - attachment_hashes("", row0 or {})):
            try:
                blobs.allowed(self, p, h)   # 404: a new file, named by nobody yet
            except blobs.BlobError as e:
                if e.status == 403 or e.error == "claimed":
                    out.append(h)
        return out

    def _commit(self, accepted, cache, rescope, now, device: str | None = None) -> None:
        touched = {(ch["entity"], ch["record"]) for ch, _ in accepted}
        self._write_rows({k: cache[k] for k in touched})
        def masked(ch):
            fields = privacy.masked_fields(ch["entity"], ch["fields"])
            return None if fields is None else orjson.dumps(dict(ch, fields=fields)).decode()
        self.conn.executemany(
            "INSERT INTO changes VALUES (?,?,?,?,?,?,?,?,?)",
            [(ch["id"], ch["entity"], ch["record"], ch["hlc"], ch["device"], ch["author"], now,
              orjson.dumps(ch).decode(), masked(ch)) for ch, _ in accepted])
        log = []
        for ch, keys in accepted:
            for n, k in enumerate(sorted(keys) or ["-"]):
                log.append((ch["id"], k, 1 if n == 0 else 0, device))
        # `device`: the pushing account on its phone (echo_key), which holds these already (its pulls skip them)
        self.conn.executemany("INSERT INTO log (change_id, scope, origin, device) VALUES (?,?,?,?)", log)
        for (entity, rid), keys in rescope.items():
            if entity == "case":
                self._relog_case(rid, keys)
            else:
                self._relog_record(entity, rid, keys)
        self._set_meta("clock", json.dumps([self.clock.last_ms, self.clock.counter]))

    def _log_entries(self, kind: str, items: list[tuple[str, frozenset]]) -> None:
        """Log entries that are not changes (references): once per scope key, the first
        as the origin the office pulls."""
        self.conn.executemany("INSERT INTO log (change_id, scope, origin) VALUES (?,?,?)",
                              [(f"{kind}{rid}", k, 1 if n == 0 else 0)
                               for rid, keys in items for n, k in enumerate(sorted(keys) or ["-"])])

    def _log_exits(self, scoped: dict, cache: dict) -> None:
        """A case that left someone's scope (reassigned to another leader, moved to another
        grid) is logged as an exit under the keys it lost: their phones delete it on the
        next pull, unless they still see it another way (queries in `pull`)."""
        rows = []
        for (entity, rid), held in scoped.items():
            lost = held - access.record_keys(entity, cache[(entity, rid)][0])
            mark = EXIT if entity == "case" else HOUSEHOLD_EXIT
            rows += [(f"{mark}{rid}", key, 0) for key in sorted(lost)]
            for key in sorted(lost):
                withdraw(self.conn, entity, rid, key)
        self.conn.executemany("INSERT INTO log (change_id, scope, origin) VALUES (?,?,?)", rows)

    def _relog_case(self, case_id: str, keys) -> None:
        """Log a case's changes, and its own children's, again under keys it gained.
        By entity and record, never by a bare id: a household that happens to share an
        id with the case (or a visit of it) is not the case's, and is not resent."""
        x = self.conn.execute
        # All of them, even those once logged under the key: a phone that let the case go
        # (an exit) must get it whole again. Phones skip what they hold by change id.
        has_ref = x("SELECT ref IS NOT NULL FROM cases WHERE id=?", (case_id,)).fetchone()
        children = " UNION ALL ".join(
            f"SELECT change_id, rowid FROM changes WHERE entity='{e}' AND record IN"
            f" (SELECT id FROM {TABLES[e]} WHERE case_id=:case)" for e in CHILD_ENTITIES)
        for key in sorted(keys):
            x("INSERT INTO log (change_id, scope, origin) SELECT change_id, :key, 0 FROM ("
              "SELECT change_id, rowid FROM changes WHERE entity='case' AND record=:case"
              f" UNION ALL {children}) ORDER BY rowid", {"key": key, "case": case_id})
            if has_ref and has_ref[0]:
                x("INSERT INTO log (change_id, scope, origin) VALUES (?,?,0)", (f"{REF}{case_id}", key))

    def _relog_record(self, entity: str, rid: str, keys) -> None:
        """Log a record's own changes again under keys it gained (a household moved to
        another grid: its new grid's phones get it whole; its visits stay the old
        grid's, which they were made in)."""
        for key in sorted(keys):
            self.conn.execute("INSERT INTO log (change_id, scope, origin) SELECT change_id, ?, 0 FROM changes"
                              " WHERE entity=? AND record=? ORDER BY rowid", (key, entity, rid))

    # --- pull -----------------------------------------------------------------------
    def pull(self, p: Principal, cursor: str | None, limit: int = 1000, address: str | None = None,
             acked: str | None = None) -> dict:
        """Changes after the cursor that this person may see, oldest first.

        The cursor is `<seq>.<scope hash>`: when the person's grids change, the hash
        no longer matches and the pull starts over (what the phone has is skipped by
        its change id), so a newly given grid arrives whole. Phones receive ID numbers
        masked; the office and the admin whole.

        No echo: the changes this device pushed are not sent back to it (the log rows
        written with its push carry its device id); references, exits, re-logged
        changes and everyone else's changes are. A phone starting over (no cursor, or a
        reset) holds nothing, its own changes included: until that pass is through, its
        cursor carries a mark (a "0" after the hash) and nothing is skipped. Nor is it
        for a phone whose data was put back from an older copy: it no longer holds what
        it pushed after that copy. It says so by `acked`, the last of its changes it knows
        the server took ("" for none), which is then not the last this store took from
        it (devices.last_change); a phone that sends no `acked` is taken at its word.

        A page that delivered anything to an API pull (`address` given) carries its audit
        row as "audit" (who, how much, which grids: the arguments of `audit_later`); the
        API awaits that row's commit before it answers, without holding a thread.
        """
        tag = self._scope_tag(p)
        after, reset, whole, check, named_at = 0, False, True, None, 0
        if cursor:
            # <seq>.<scope tag>[<check>][0]: the check (4 hex) names the log row at seq, so
            # a store put back from an older copy is told apart from the one the phone
            # read, whatever was written since; the "0" marks a pass from the start
            seq, _, t = str(cursor).partition(".")
            rest = t[len(tag):]   # a scope tag is always 8 hex digits (_scope_tag)
            shaped = (seq.isdecimal() and len(seq) <= 18 and len(t) >= len(tag) and len(rest) in (0, 1, 4, 5)
                      and rest[4:] in ("", "0") and (len(rest) != 1 or rest == "0"))
            if shaped:
                # the row check is judged whatever the scope: a copy put back by hand that
                # also took the person's grids back would otherwise answer a bare reset,
                # and the phone's acknowledged work would be dropped with its old scope
                named_at, check = int(seq), (rest[:4] if len(rest) >= 4 else None)
            if shaped and t.startswith(tag):
                after, whole = named_at, len(rest) in (1, 5)
            else:  # the person's grids changed (or the cursor is not ours): start over
                reset = True
        body = "c.body" if p.sees_all else "COALESCE(c.body_masked, c.body)"
        with self.readers.snapshot() as conn:
            lost = check is not None and _log_check(conn, named_at) not in (None, check)
            if acked is not None and not whole:
                whole = self.last_change(p, conn) != acked
            mine = "" if whole else " AND (l.device IS NULL OR l.device<>?)"
            echo = () if whole else (echo_key(p),)
            if p.sees_all:
                rows = conn.execute(
                    f"SELECT l.seq, l.change_id, {body} FROM log l LEFT JOIN changes c ON c.change_id=l.change_id"
                    f" WHERE l.origin=1 AND l.seq>?{mine} ORDER BY l.seq LIMIT ?", (after, *echo, limit)).fetchall()
            else:
                # One ordered range of the (scope, seq) index per key, each cut at the page's
                # size, merged by seq: `scope IN (...) ORDER BY seq` made SQLite sort every
                # row left in the person's scopes on every page (a temp b-tree), so a
                # first pull of 100,000 records in pages of 500 took 606 µs a record
                # against 158 for 10,000.
                per_key = [conn.execute(
                    f"SELECT l.seq, l.change_id, {body} FROM log l LEFT JOIN changes c ON c.change_id=l.change_id"
                    f" WHERE l.scope=? AND l.seq>?{mine} ORDER BY l.seq LIMIT ?", (key, after, *echo, limit)).fetchall()
                    for key in sorted(p.keys)]
                rows = list(heapq.merge(*per_key))[:limit]
            more = len(rows) == limit
            if more:
                last = rows[-1][0]
            else:  # everything up to the end of the log was looked at: skip what was not sent
                last = max(after, conn.execute("SELECT coalesce(max(seq), 0) FROM log").fetchone()[0])
            named = _log_check(conn, last) or ""
            seen, bodies, exits, ref_ids, household_exits = set(), [], [], [], []
            erasures = []  # "<entity>:<record>" whose personal data phones blank (erasure.py)
            for _, cid, text in rows:
                if cid in seen:
                    continue
                seen.add(cid)
                if text is not None:
                    bodies.append(text)
                elif cid.startswith(REF):
                    ref_ids.append(cid[len(REF):])
                elif cid.startswith(EXIT) and not self._still_visible(p, cid[len(EXIT):], conn):
                    exits.append(cid[len(EXIT):])
                elif cid.startswith(HOUSEHOLD_EXIT):
                    if not self._still_visible(p, cid[len(HOUSEHOLD_EXIT):], conn, "household"):
                        household_exits.append(cid[len(HOUSEHOLD_EXIT):])
                elif cid.startswith(ERASE):
                    erasures.append(cid[len(ERASE):])
            refs = {}
            for part in chunks(ref_ids):
                refs.update(conn.execute(
                    f"SELECT id, ref FROM cases WHERE id IN ({','.join('?' * len(part))})", part))
        audit = None
        if address is not None and (bodies or exits or household_exits or reset):
            grids = "all" if p.sees_all else ",".join(sorted(p.grids)) or "-"
            audit = (p.username, "pull", f"changes={len(bodies)} exits={len(exits) + len(household_exits)}"
                                         f" reset={int(reset)}"
                                         f" grids={grids}", p.device, address)
        mark = "0" if whole and more else ""
        return {"bodies": bodies, "exits": exits, "household_exits": household_exits, "refs": refs,
                "reset": reset, "erasures": erasures, "lost": lost,
                "cursor": f"{last}.{tag}{named}{mark}", "more": more, "audit": audit}

    def last_change(self, p: Principal, conn=None) -> str:
        """The last change this store applied from this account on this device ("" for
        none), whichever of its sign-ins pushed it: what a phone in step names as
        `acked` (`pull`; a push's "behind")."""
        def read(c):
            took = c.execute("SELECT last_change FROM devices WHERE username=? AND device_id=?"
                             " AND last_change IS NOT NULL ORDER BY last_seen_ms DESC LIMIT 1",
                             (p.username, p.device)).fetchone()
            return took[0] if took else ""
        if conn is not None:
            return read(conn)
        with self.readers.snapshot() as c:
            return read(c)

    def _still_visible(self, p: Principal, rid: str, conn=None, entity: str = "case") -> bool:
        hit = self._load(entity, [rid], conn).get(rid)
        row = hit[0] if hit else None
        return bool(row) and bool(access.record_keys(entity, row) & (p.keys - {access.PUBLIC}))

    @staticmethod
    def _scope_tag(p: Principal) -> str:
        basis = "all" if p.sees_all else ",".join(sorted(p.keys))
        return hashlib.sha256(basis.encode()).hexdigest()[:8]

    def log_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM changes").fetchone()[0]

    def change_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT change_id FROM changes")]

    # --- generations: a restore starts a new one (backup.py, docs/sync-protocol.md) -----
    def generation(self) -> dict:
        """{"generation": id, "since": seq}: the store's generation id, and the log's
        head when it began (0 for a store never restored). A phone that sees another id
        offers again what it pushed lately and pulls again from `since`. Made on first
        use."""
        conn = self.readers.connection() if hasattr(self, "readers") else self.conn
        row = conn.execute("SELECT value FROM server_meta WHERE key='generation'").fetchone()
        if row and row[0]:
            return json.loads(row[0])
        with self.lock, self.transaction():
            got = self._meta("generation")
            if got:
                return json.loads(got)
            gen = {"generation": changes.new_id("g"), "since": 0}
            self._set_meta("generation", json.dumps(gen))
        return gen

    def begin_generation(self, why: str) -> dict:
        """A new generation (after `gridbook restore`): phones offer again what they
        pushed, and pull again from today's log head. Audited."""
        with self.lock, self.transaction():
            head = self.conn.execute("SELECT coalesce(max(seq), 0) FROM log").fetchone()[0]
            gen = {"generation": changes.new_id("g"), "since": head}
            self._set_meta("generation", json.dumps(gen))
            self.audit(SYSTEM_AUTHOR, "generation", f"{gen['generation']} since={head} {why}"[:300])
        return gen

    def log_head(self) -> int:
        conn = self.readers.connection() if hasattr(self, "readers") else self.conn
        return conn.execute("SELECT coalesce(max(seq), 0) FROM log").fetchone()[0]

    def note_recovered(self, username: str, device: str, stamps: list[str], address: str = "") -> None:
        """Changes a phone offered again after a restore and the store lacked (`stamps`:
        the clock stamps of those applied): counted (server_meta 'recovered') and audited,
        for the office to be told. Only those made before the restore began (a phone's
        clock may run ahead by what a push allows): any phone may send the header, and
        work made since, or on a store never restored, is nothing brought back."""
        began = self._restored_ms()
        if began is None:
            return
        applied = sum(1 for s in stamps if clock.physical_ms(s) <= began + changes.MAX_AHEAD_MS)
        if applied <= 0:
            return

        def count():
            total = int(self._meta("recovered") or 0) + applied
            self._set_meta("recovered", str(total))
            self.conn.execute("INSERT INTO audit (at_ms, username, action, detail, device, address)"
                              " VALUES (?,?,?,?,?,?)", (self.now(), username, "recovered",
                                                        f"changes={applied}", device, address))
        self._write(count)

    def _restored_ms(self, conn=None) -> int | None:
        """When the present generation began (the last restore), None if never."""
        conn = conn or (self.readers.connection() if hasattr(self, "readers") else self.conn)
        return conn.execute("SELECT max(at_ms) FROM audit WHERE action='generation'").fetchone()[0]

    def recovered(self) -> dict:
        """{"total": changes phones brought back since the first restore, "since_restore":
        those of the present generation, "restored_ms": when it began (None if never)}."""
        conn = self.readers.connection() if hasattr(self, "readers") else self.conn
        total = conn.execute("SELECT value FROM server_meta WHERE key='recovered'").fetchone()
        last = self._restored_ms(conn)
        since = 0
        if last is not None:
            for (detail,) in conn.execute("SELECT detail FROM audit WHERE action='recovered' AND at_ms>=?", (last,)):
                since += int(str(detail).partition("=")[2] or 0)
        return {"total": int(total[0]) if total else 0, "since_restore": since, "restored_ms": last}

