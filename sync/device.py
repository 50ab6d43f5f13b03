"""The device replica: the phone's SQLite file, its outbox, its clock.

Every local write is validated, stamped, folded into the tables and queued in the
outbox in one transaction: when `write` returns, the record is on disk and will be
pushed. Pulled changes go through the same merge rule, so a pull can never undo an
unpushed local edit: the edit stays in the outbox, and if a concurrent edit wins the
field the local value is kept as a visible conflict (merge.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3

from . import changes, clock, merge, migrations, privacy, statute, updates
from .files import remove_named
from .model import ENTITIES, FieldError
from .replica import TABLES, Replica, chunks, gc_paused

MASKED = ("id_number", "members")  # what a phone holds of a household masked (privacy.masked_fields)


class ValidationError(ValueError):
    def __init__(self, errors: list[FieldError]):
        super().__init__(changes.describe(errors))
        self.errors = errors


def _rebased(ch: dict, stamps: dict) -> dict:
    """A queued change's base with the stamps given anew (`stamps`: old -> new)."""
    return {name: [stamps.get(s, s) for s in seen] for name, seen in (ch.get("base") or {}).items()}


class DeviceReplica(Replica):
    MIGRATIONS = migrations.PHONE

    def __init__(self, path: str, device_id: str | None = None, now=clock.wall_ms, boot=clock.boot_ms,
                 boot_id=clock.boot_id):
        super().__init__(path)
        self.device_id = device_id or self.meta("device_id") or changes.new_id("d")[:17]
        if self.meta("device_id") is None:
            self.set_meta("device_id", self.device_id)
        self.clock = clock.HLC(self.device_id, now=now, boot=boot, boot_id=boot_id)
        self._load_clock()
        if self.meta("erased_files"):
            try:
                self.finish_file_deletions()
            except (OSError, sqlite3.Error):   # a full phone: the next opening or erasure does it
                pass

    @classmethod
    def in_folder(cls, folder: str, **kw) -> "DeviceReplica":
        os.makedirs(folder, mode=0o700, exist_ok=True)
        return cls(os.path.join(folder, "gridbook.db"), **kw)

    def _create_tables(self) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, change_id TEXT UNIQUE NOT NULL,"
            " entity TEXT NOT NULL, record TEXT NOT NULL, body TEXT NOT NULL,"
            " state TEXT NOT NULL DEFAULT 'pending', reason TEXT, errors TEXT)")
        self.conn.execute("CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, seq)")
        self.conn.execute("CREATE INDEX IF NOT EXISTS outbox_record ON outbox(record, state)")
        if "correction" not in {r[1] for r in self.conn.execute("PRAGMA table_info(outbox)")}:
            # a refused change the person gave up (state 'discarding'), and what they
            # wrote instead, waiting for the server's accepted state of the record
            self.conn.execute("ALTER TABLE outbox ADD COLUMN correction TEXT")
        self.conn.execute("CREATE TABLE IF NOT EXISTS seen (change_id TEXT PRIMARY KEY, record TEXT)"
                          " WITHOUT ROWID")
        if "record" not in {r[1] for r in self.conn.execute("PRAGMA table_info(seen)")}:
            self.conn.execute("ALTER TABLE seen ADD COLUMN record TEXT")  # a replica from before exits
        self.conn.execute("CREATE INDEX IF NOT EXISTS seen_record ON seen(record)")
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        # Cases the server said left this person's scope while this phone still had unsent
        # work on them: kept (the work is never thrown away), marked handed over, and let
        # go at the first pull after that work is sent or given up (_let_go).
        self.conn.execute("CREATE TABLE IF NOT EXISTS held_exits (case_id TEXT PRIMARY KEY) WITHOUT ROWID")
        # What the server acknowledged, kept KEEP_PUSHED_DAYS: offered again if the server
        # comes back from a backup without it (docs/sync-protocol.md, "After a restore").
        # Apart from the outbox, whose every row is work not yet sent.
        # No index: rows go in in the order acknowledged (rowid) and are read in that
        # order; an index would double the cost of every acknowledgement.
        self.conn.execute("CREATE TABLE IF NOT EXISTS pushed (change_id TEXT NOT NULL, entity TEXT NOT NULL,"
                          " record TEXT NOT NULL, body TEXT NOT NULL, acked_ms INTEGER NOT NULL, seq INTEGER)")

    # --- small persistent settings (cursor, token, clock) -------------------------
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.conn.execute("DELETE FROM meta WHERE key=?", (key,))
        else:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _load_clock(self) -> None:
        """Read the clock back inside each write transaction: the app's screens and its
        background sync open the same file, and each must stamp after what the other
        has seen."""
        st = json.loads(self.meta("clock") or "[0, 0, 0, null, null]") + [None, None, None]
        c = self.clock
        c.last_ms, c.counter, c.offset_ms, c.anchor_server_ms, c.anchor_boot_ms, c.anchor_boot_id = st[:6]

    def _save_clock(self) -> None:
        c = self.clock
        self.set_meta("clock", json.dumps([c.last_ms, c.counter, c.offset_ms, c.anchor_server_ms,
                                           c.anchor_boot_ms, c.anchor_boot_id]))

    def learn_server_time(self, server_ms: int) -> None:
        """Re-anchor the clock when the server's time and ours part by over a second. A
        time no township server can have (before 2000, after 2100: a proxy's garbage) is
        not learnt: the clock never runs backwards, and one stamp from the year 5000 made
        every later change of this phone one the server refuses."""
        if not clock.PLAUSIBLE_MS[0] <= server_ms < clock.PLAUSIBLE_MS[1]:
            return
        # a phone updated from a version under which changes refused for a date ahead
        # waited for the time to pass them: those are stamped again at its first answer
        first = self.meta("clock_restamp") is None
        # an anchor kept by a version from before names no boot: taken again once, so a
        # restart is told from then on (else it stayed unseen as long as the syncs agreed)
        unnamed = self.clock.anchor_boot_id is None and self.clock.boot_id() is not None
        if (not first and not unnamed and abs(server_ms - self.clock.physical()) <= 1000 and self.clock.anchored()
                and self.clock.last_ms <= server_ms + changes.MAX_AHEAD_MS):
            return
        with self.transaction():
            self._load_clock()
            # On the boot clock since the last sync, this phone's times were the
            # township's: a server answering far behind them has had its own clock put
            # back, and re-dating the phone's work by it would be wrong for good.
            trusted = self.clock.anchored()
            offset_before, known_before = self.clock.offset_ms, self.clock.anchor_server_ms
            self.clock.anchor(server_ms)
            # after a restart: what was written since, dated by the boot clock (or the date)
            redated = None if trusted else self._redate_undated(server_ms, known_before)
            # Stamps made while the phone's date was ahead (the server refuses them,
            # clock_ahead) set the clock's high-water mark: every later change, of any
            # record, was stamped as far ahead and refused too, for hours after the date
            # was put right. The clock goes back to the township's time, and the changes
            # not yet taken are stamped again by it (_restamp_ahead).
            ahead = self.clock.last_ms > server_ms + changes.MAX_AHEAD_MS
            if ahead:
                self.clock.last_ms, self.clock.counter = server_ms, 0
            if redated:
                self.clock.receive(redated)   # later stamps come after them
            if ahead and not trusted:
                self._restamp_ahead(server_ms, self.clock.offset_ms - offset_before, known_before)
            elif not ahead and first and self._refused_for("clock_ahead"):
                self._restamp_ahead(server_ms, None, None)
            if first:
                self.set_meta("clock_restamp", "1")
            self._save_clock()

    def _undated_reading(self) -> tuple | None:
        """For a change about to be written on a phone that restarted since its last sync
        (its clock is its date plus the offset learnt then, which the restart may have
        made wrong): this boot, its clock, the date, the time the change is written at
        (DeviceWorkspace.now), and the clock's last stamp. None on the boot clock since
        the last sync, before any sync (nothing to date against: a phone signs in first),
        or where the platform has no boot clock (the date is all there is)."""
        c = self.clock
        if c.anchored() or c.anchor_server_ms is None:
            return None
        b = c.boot()
        if b is None:
            return None
        return c.boot_id(), b, c.now(), c.written_ms(), c.last_ms, c.counter

    def undated_waiting(self) -> bool:
        """Changes wait to be dated by the township's time (the phone restarted since its
        last sync): the sync asks the server's time before it pushes them."""
        return self.conn.execute("SELECT 1 FROM undated LIMIT 1").fetchone() is not None

    # A change written after a restart has its times moved when they are this far off
    # (they are written to the second); its stamp is always made again.
    REDATE_MIN_MS = 1_000

    def _redate_undated(self, server_ms: int, known_ms: int | None) -> str | None:
        """Date again, by the township's time, the changes written since the phone
        restarted (undated), before they are pushed: its date may have been wrong after
        the restart, ahead or behind, or put right in between. Written in this same boot,
        a change was made the boot clock's time ago (exact, whatever the date said);
        written in an earlier boot, at the date it had read with the offset learnt now (if
        the date is still as far off). Never before the last sync (`known_ms`) nor after
        now, and in the order they were made. Each is stamped again at that time, above
        every stamp the clock had issued before the first of them (so a later edit made
        with the date behind wins over an earlier one elsewhere, and none collides with a
        stamp sent before), and its times of what happened read off the clock move with
        it (statute.redated). Returns the greatest new stamp (None if none)."""
        rows = self.conn.execute(
            "SELECT u.change_id, u.boot_id, u.boot_ms, u.wall_ms, u.at_ms, u.floor_ms, u.floor_counter, o.body"
            " FROM undated u JOIN outbox o ON o.change_id = u.change_id ORDER BY o.seq").fetchall()
        self.conn.execute("DELETE FROM undated")
        if not rows:
            return None
        c = self.clock
        boot_now, id_now = c.boot(), c.boot_id()
        times, exact = [], []
        for _, bid, bms, wall, _at, _f, _fc, _ in rows:
            same = bid is not None and bid == id_now and boot_now is not None and bms is not None and boot_now >= bms
            t = server_ms - (boot_now - bms) if same else wall + c.offset_ms
            times.append(min(max(t, known_ms or 0), server_ms))
            exact.append(same)
        for i in range(len(times) - 2, -1, -1):   # a guess never after what was made later
            if not exact[i]:
                times[i] = min(times[i], times[i + 1])
        for i in range(1, len(times)):             # made in this order
            times[i] = max(times[i], times[i - 1])
        from .households import CST
        at = lambda ms: dt.datetime.fromtimestamp(ms / 1000, CST)  # noqa: E731
        when = [0]
        h = clock.HLC(self.device_id, last_ms=rows[0][5], counter=rows[0][6], now=lambda: when[0])
        stamps: dict[str, str] = {}
        records: dict[tuple[str, str], dict] = {}
        for (cid, *_, at_ms, _f, _fc, body), t in zip(rows, times):
            ch = json.loads(body)
            when[0] = t
            fields = ch["fields"]
            if abs(t - at_ms) >= self.REDATE_MIN_MS:
                fields = statute.redated(ch["entity"], fields, t - at_ms, at(at_ms), at(server_ms))
            self._rewrite_queued(cid, ch, h.tick(), fields, _rebased(ch, stamps), stamps, records)
        self._restamp_rows(records, stamps)
        return max(stamps.values())

    def _rewrite_queued(self, cid: str, ch: dict, new: str, fields: dict, base: dict, stamps: dict,
                        records: dict) -> None:
        """A change of the outbox stamped anew (`new`), with its fields as moved and its
        base's stamps as renamed; noted in `stamps` (old -> new) and `records` (the fields
        each record's changes moved) for _restamp_rows."""
        stamps[ch["hlc"]] = new
        records.setdefault((ch["entity"], ch["record"]), {}).update(fields)
        ch = dict(ch, hlc=new, fields=fields, **({"base": base} if base else {}))
        self.conn.execute("UPDATE outbox SET body=? WHERE change_id=?", (json.dumps(ch, ensure_ascii=False), cid))

    def _restamp_rows(self, records: dict, stamps: dict, loaded: dict | None = None) -> None:
        """The phone's tables as the outbox now has them: each record's versions stamped
        anew (`stamps`: old -> new), and the fields each change moved (`records`);
        `loaded`: the records as read before (the tables unchanged since)."""
        if loaded is None:
            loaded = self._load_many(list(records))
        state = {}
        for key, moved in records.items():
            held = loaded.get(key)
            if held is None:
                continue
            row, versions = dict(held[0]), merge.restamp(held[1], stamps)
            for name, value in moved.items():
                st = versions.get(name)
                if st and st[0] in stamps.values():
                    row[name] = value
            state[key] = (row, versions, True)
        self._write_rows(state)

    def _load_many(self, keys: list[tuple[str, str]]) -> dict:
        by_entity: dict[str, list[str]] = {}
        for entity, rid in keys:
            by_entity.setdefault(entity, []).append(rid)
        return {(entity, rid): got for entity, rids in by_entity.items()
                for rid, got in self._load(entity, rids).items()}

    def _restamp_ahead(self, server_ms: int, shift_ms: int | None, known_ms: int | None) -> int:
        """Stamp again, by the township's time, the changes in the outbox made while the
        phone's date was ahead: refused as they were, a visit recorded with the date a
        year ahead waited a year (and every edit of its record behind it), whatever the
        person did once the date was right. Their times of what happened (a visit's, a
        report's) move back with them (statute.moved_back): by `shift_ms`, the offset
        learnt now minus the one they were made with, which puts them when they happened
        if the date is still as far off; else to now; never before the last sync
        (`known_ms`) nor after now. In the outbox's order, each above every stamp its
        record holds: the phone's own order of them, and the record's shown values, stay.

        The phone's tables are stamped the same (merge.restamp), so the phone and the
        server agree about each record once they land. Nothing of them had reached the
        server: it refuses a stamp that far ahead."""
        from .households import CST, LONGEST_WAIT_DAYS
        limit = server_ms + changes.MAX_AHEAD_MS
        rows = [(cid, json.loads(body)) for cid, body in
                self.conn.execute("SELECT change_id, body FROM outbox ORDER BY seq")]
        ahead = [(cid, ch) for cid, ch in rows if clock.physical_ms(ch["hlc"]) > limit]
        if not ahead:
            return 0
        at = lambda ms: dt.datetime.fromtimestamp(ms / 1000, CST)  # noqa: E731
        when = dict(earliest=at(known_ms) if known_ms is not None else None, now=at(server_ms), limit=at(limit),
                    reach_days=LONGEST_WAIT_DAYS)
        stamps: dict[str, str] = {}
        records: dict[tuple[str, str], dict] = {}
        loaded: dict[tuple[str, str], tuple | None] = {}
        for cid, ch in ahead:
            key = (ch["entity"], ch["record"])
            if key not in records:
                records[key] = {}
                loaded[key] = held = self._load(ch["entity"], [ch["record"]]).get(ch["record"])
                for name in held[1] if held else ():
                    for s in merge.heads(held[1], name):
                        if clock.physical_ms(s) <= limit:
                            self.clock.receive(s)
            base = _rebased(ch, stamps)
            for s in (s for seen in base.values() for s in seen if clock.physical_ms(s) <= limit):
                self.clock.receive(s)
            fields = statute.moved_back(ch["entity"], ch["fields"], shift_ms, **when,
                                        stamp_by_ms=server_ms - clock.physical_ms(ch["hlc"]))
            self._rewrite_queued(cid, ch, self.clock.tick(), fields, base, stamps, records)
        self._restamp_rows(records, stamps, loaded)
        return len(ahead)

    # --- local writes -------------------------------------------------------------
    def create(self, entity: str, fields: dict, author: str, record_id: str | None = None) -> dict:
        return self._write(entity, record_id or changes.new_id("r"), fields, author, creating=True)

    def update(self, entity: str, record_id: str, fields: dict, author: str) -> dict:
        return self._write(entity, record_id, fields, author, creating=False)

    def resolve_conflict(self, entity: str, record_id: str, field: str, value, author: str) -> dict:
        """Write a value that replaces the shown value and every losing one."""
        return self._write(entity, record_id, {field: value}, author, creating=False,
                           resolve=True)

    def _write(self, entity, record_id, fields, author, creating, resolve=False) -> dict:
        ent = ENTITIES.get(entity)
        if ent is None:
            raise KeyError(entity)
        with self.transaction():
            self._load_clock()
            existing = self._load(entity, [record_id]).get(record_id)
            if creating and existing:
                raise ValueError(f"{entity} {record_id} exists already")
            if not creating and existing is None:
                raise KeyError(f"no {entity} {record_id}")
            errs = changes.check_fields({"entity": entity, "fields": fields}, existing is not None)
            if errs:
                raise ValidationError(errs)
            if existing and self.conn.execute("SELECT 1 FROM erased WHERE entity=? AND record=?",
                                              (entity, record_id)).fetchone():
                from .erasure_rules import erase_fields  # the township erased it: it stays erased
                fields = erase_fields(entity, fields)
            base = merge.bases(existing[1] if existing else {}, fields, all_heads=resolve)
            # later than everything the record holds: the clock may have been pulled back
            # below a stamp of this phone's made while its date was ahead (learn_server_time)
            if existing:
                held = [s for name in existing[1] for s in merge.heads(existing[1], name)]
                if held:
                    self.clock.receive(max(held))
            undated = self._undated_reading()
            ch = changes.make(entity, record_id, fields, self.clock.tick(), self.device_id,
                              author, base)
            if undated is not None:
                self.conn.execute("INSERT INTO undated VALUES (?,?,?,?,?,?,?)", (ch["id"], *undated))
            self._fold([ch])
            self.conn.execute(
                "INSERT INTO outbox (change_id, entity, record, body) VALUES (?,?,?,?)",
                (ch["id"], entity, record_id, json.dumps(ch, ensure_ascii=False)))
            self.conn.execute("INSERT INTO seen VALUES (?, ?)", (ch["id"], record_id))
            self._save_clock()
        return ch

    # --- the outbox ---------------------------------------------------------------
    def pending(self, limit: int = 500, after: str | None = None) -> list[tuple[str, str]]:
        """(change id, body) of the oldest changes waiting to be pushed; `after`: those
        that follow that change in the outbox (none if it is not there)."""
        if after is None:
            return self.conn.execute(
                "SELECT change_id, body FROM outbox WHERE state='pending' ORDER BY seq LIMIT ?",
                (limit,)).fetchall()
        return self.conn.execute(
            "SELECT change_id, body FROM outbox WHERE state='pending'"
            " AND seq > (SELECT seq FROM outbox WHERE change_id=?) ORDER BY seq LIMIT ?",
            (after, limit)).fetchall()

    def pending_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM outbox WHERE state='pending'").fetchone()[0]

    def acknowledge(self, change_ids: list[str]) -> None:
        """The server holds these: they leave the outbox, and are kept as pushed for
        `keep_pushed_ms` (a restored server may lack them); older kept ones go."""
        # kept by the township's time as this phone knows it, not its own date: a date a
        # year behind, put right, dropped at once what a restored server then lacked
        now = self.clock.physical()
        with self.relaxed_transaction():
            # the last of them in the outbox's order, named at each pull (client.py: a
            # folder put back from an older copy names an earlier one)
            last = []   # (seq, change id) of each part's last
            for part in chunks(change_ids):
                marks = ",".join("?" * len(part))
                last += self.conn.execute(f"SELECT seq, change_id FROM outbox WHERE change_id IN ({marks})"
                                          " ORDER BY seq DESC LIMIT 1", part).fetchall()
                households = [r for (r,) in self.conn.execute(
                    f"SELECT DISTINCT record FROM outbox WHERE entity='household' AND change_id IN ({marks})", part)]
                self.conn.execute("INSERT INTO pushed (change_id, entity, record, body, acked_ms, seq)"
                                  f" SELECT change_id, entity, record, body, ?, seq FROM outbox"
                                  f" WHERE change_id IN ({marks}) ORDER BY seq", (now, *part))
                self.conn.execute(f"DELETE FROM outbox WHERE change_id IN ({marks})", part)
                self._mask_held(households)
            if last:
                self.set_meta("acked", max(last)[1])
            purged = int(self.meta("pushed_purged_ms") or 0)
            if now - purged > 3_600_000:  # the purge scans the table: once an hour is enough
                self.conn.execute("DELETE FROM pushed WHERE acked_ms < ?", (now - self.keep_pushed_ms(),))
                self.set_meta("pushed_purged_ms", str(now))

    def _mask_held(self, households: list[str]) -> None:
        """The ID numbers of households this phone registered or corrected, masked in its
        table once the township holds them, as every other phone of the grid receives
        them: a lost phone shows no whole number. The copy of what was sent keeps them
        for `keep_pushed_ms`, for a restored server that lacks them."""
        def masked(name, value):
            got = privacy.masked_fields("household", {name: value}) if value else None
            return value if got is None else got[name]
        for hid, (row, ver) in self._load("household", households).items():
            fields = {name: masked(name, row.get(name)) for name in MASKED}
            # a conflict's other side may hold a whole number too (merge.py, "c")
            states = {name: [*state[:3], {stamp: [masked(name, head[0]), *head[1:]]
                                          for stamp, head in state[3].items()}]
                      if name in MASKED and len(state) > 3 and state[3] else state
                      for name, state in ver.items()}
            if any(fields[n] != row.get(n) for n in MASKED) or states != ver:
                self._write_rows({("household", hid): ({**row, **fields}, states, True)})

    # --- kept after pushing: offered again to a restored server ----------------------
    KEEP_PUSHED_DAYS = 30

    def keep_pushed_ms(self) -> int:
        """How long acknowledged changes are kept: this phone's `keep_pushed_days`, else
        the township's setting of that name (sent with every pull), else 30 days."""
        days = self.meta("keep_pushed_days")
        if days is None:
            days = json.loads(self.meta("township_settings") or "{}").get("keep_pushed_days")
        try:
            days = float(days) if days is not None else self.KEEP_PUSHED_DAYS
        except (TypeError, ValueError):
            days = self.KEEP_PUSHED_DAYS
        return int(max(0.0, days) * 86_400_000)

    def pushed(self, after_seq: int = -1, limit: int = 500) -> list[tuple[int, str, str]]:
        """(order, change id, body) of the kept changes, oldest first, after `after_seq`."""
        return self.conn.execute(
            "SELECT rowid, change_id, body FROM pushed WHERE acked_ms >= ? AND rowid > ? ORDER BY rowid LIMIT ?",
            (self.clock.physical() - self.keep_pushed_ms(), after_seq, limit)).fetchall()

    def take_back_refused(self, refused: list[tuple[str, str, list | None]]) -> int:
        """Kept changes a server refused when they were offered again ((change id, reason,
        errors), in the order they were made): back in the outbox, quarantined with the
        reason, ahead of every change written since (so those are held behind them).
        Returns how many came back."""
        if not refused:
            return 0
        with self.transaction():
            low = self.conn.execute("SELECT coalesce(min(seq), 1) FROM outbox").fetchone()[0] - len(refused)
            taken = 0
            for i, (cid, reason, errors) in enumerate(refused):
                row = self.conn.execute("SELECT entity, record, body FROM pushed WHERE change_id=?",
                                        (cid,)).fetchone()
                if row is None or self.conn.execute("SELECT 1 FROM outbox WHERE change_id=?", (cid,)).fetchone():
                    continue
                self.conn.execute("INSERT INTO outbox (seq, change_id, entity, record, body, state, reason, errors)"
                                  " VALUES (?,?,?,?,?,'quarantined',?,?)",
                                  (low + i, cid, *row, reason, json.dumps(errors or [], ensure_ascii=False)))
                self.conn.execute("DELETE FROM pushed WHERE change_id=?", (cid,))
                taken += 1
                if any(isinstance(e, dict) and e.get("rule") == "unknown_record" for e in errors or ()):
                    # another phone's record it builds on may not be back yet: offered again
                    # at each sync until it is (SyncClient.sync), as before it was taken back
                    self.set_meta("retry_unknown", "1")
        return taken

    def pushed_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM pushed").fetchone()[0]

    def quarantine(self, change_id: str, reason: str, errors: list | None = None) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE outbox SET state='quarantined', reason=?, errors=? WHERE change_id=?",
                (reason, json.dumps(errors or [], ensure_ascii=False), change_id))

    def quarantined_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM outbox WHERE state='quarantined'").fetchone()[0]

    def quarantined(self) -> list[dict]:
        """The refused changes, and those given up that wait for the server (state
        'discarding', with the correction to write, if any)."""
        rows = self.conn.execute(
            "SELECT change_id, entity, record, body, reason, errors, state, correction FROM outbox"
            " WHERE state IN ('quarantined', 'discarding') ORDER BY seq").fetchall()
        return [{"change_id": r[0], "entity": r[1], "record": r[2], "change": json.loads(r[3]),
                 "reason": r[4], "errors": json.loads(r[5] or "[]"), "state": r[6],
                 "correction": json.loads(r[7]) if r[7] else None} for r in rows]

    def retry_quarantined(self, change_id: str) -> None:
        """Put a refused change back in line, with the changes held behind it.

        The stamp is kept: the phone's tables were folded with it, and a new stamp
        would make the phone and the server disagree about the record."""
        with self.transaction():
            row = self.conn.execute("SELECT record FROM outbox WHERE change_id=? AND state='quarantined'",
                                    (change_id,)).fetchone()
            if row is None:
                raise KeyError(change_id)
            self.conn.execute("UPDATE outbox SET state='pending', reason=NULL, errors=NULL"
                              " WHERE change_id=? OR (record=? AND state='quarantined' AND errors LIKE ?)",
                              (change_id, row[0], '%"rule": "held"%'))

    def hold_behind_refused(self) -> int:
        """Later changes of a record whose earlier change was refused are not sent: the
        server would refuse them too, for a reason that would only confuse. They wait,
        quarantined with the reason, and go with the refused one when it is retried (or
        are discarded with it)."""
        if self.conn.execute("SELECT 1 FROM outbox WHERE state IN ('quarantined', 'discarding')"
                             " LIMIT 1").fetchone() is None:
            return 0
        rows = self.conn.execute(
            "SELECT o.change_id, (SELECT q.reason FROM outbox q WHERE q.record=o.record"
            " AND q.state IN ('quarantined', 'discarding') AND q.seq<o.seq ORDER BY q.seq LIMIT 1)"
            " FROM outbox o WHERE o.state='pending' AND EXISTS (SELECT 1 FROM outbox q"
            " WHERE q.record=o.record AND q.state IN ('quarantined', 'discarding') AND q.seq<o.seq)").fetchall()
        for cid, reason in rows:
            msg = f"held back: an earlier change of this record was refused ({reason})"
            self.quarantine(cid, msg, [{"field": "record", "rule": "held", "message": msg}])
        return len(rows)

    def release_clock_refusals(self, server_now_ms: int, ahead_ms: int) -> int:
        """Changes refused for a stamp ahead of the server's clock go back in line once
        their stamp is within reach: stamped again when the clock was put right
        (_restamp_ahead), or the township's time caught up with them."""
        rows = self._refused_for("clock_ahead")
        due = [cid for cid, body in rows if clock.physical_ms(json.loads(body)["hlc"]) - server_now_ms <= ahead_ms]
        for cid in due:
            self.retry_quarantined(cid)
        return len(due)

    def _refused_for(self, *rules: str) -> list[tuple[str, str]]:
        """(change id, body) of the refused changes whose errors name one of these rules."""
        return self.conn.execute(
            "SELECT change_id, body FROM outbox WHERE state='quarantined' AND ("
            + " OR ".join(["errors LIKE ?"] * len(rules)) + ") ORDER BY seq",
            [f'%"rule": "{r}"%' for r in rules]).fetchall()

    def release_unknown_refusals(self) -> int:
        """Changes refused for naming a record the server did not hold (or a version of a
        field it did not hold: base_unknown) go back in line:
        after a restore the push comes before the pull that finds it out, so edits of
        records the restored store lacked were refused; the changes offered again then
        brought those records back, and the edits stayed refused for a reason no longer
        true (the office saw the old values, the phone the new). Their next refusal, if
        the record is still missing, quarantines them again. So do those refused for a
        masked ID number the server could not place (`masked`): the phone holds the
        numbers it registered masked once acknowledged, and a restored store lacking
        them has them back from the changes offered again."""
        rows = [cid for cid, _ in self._refused_for("unknown_record", "base_unknown", "masked")]
        for cid in rows:
            self.retry_quarantined(cid)
        return len(rows)

    def outbox_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT change_id FROM outbox")}

    # --- giving up a refused change (discard, correct) -------------------------------
    # The phone keeps no bodies of what it pulled, so the record's last accepted state
    # comes from the server (POST /api/v1/sync/discard, which also audits the discard).
    # Giving up is therefore a request that waits in the outbox (state 'discarding')
    # until the next sync reaches the server; `apply_discard` then rebuilds the record
    # in one transaction (docs/phone.md, "Refused records").
    def discard_plan(self, change_id: str, dependents: bool = True) -> dict:
        """What giving up this change takes with it: the later changes of the record
        (held behind it) and, when the record would be gone, the unsent records that
        name it (a progress entry of a refused report). For the screen to say so."""
        entry = self._outbox_entry(change_id)
        own = self.conn.execute("SELECT change_id, seq FROM outbox WHERE entity=? AND record=? ORDER BY seq",
                                (entry["entity"], entry["record"])).fetchall()
        local_only = self._local_only(entry["record"])
        earlier = [cid for cid, s in own if s < entry["seq"]]
        return {"change_id": change_id, "entity": entry["entity"], "record": entry["record"],
                "later": [cid for cid, s in own if s > entry["seq"]], "earlier": earlier,
                "dependents": self._dependents(entry["entity"], entry["record"]) if dependents and not earlier else [],
                # the record will be gone: the server holds none of it, and nothing before
                # the given-up change is left to rebuild it from
                "gone": local_only and not earlier}

    def request_discard(self, change_id: str, correction: dict | None = None) -> None:
        """Give up a refused change: it stops being retried and waits for the server's
        accepted state of its record. `correction` ({"fields", "author", "create"}): what
        to write in its place once the record is rebuilt (a corrected visit, report,
        progress note, household); `create`: written anew under the record's id, so the
        unsent records that name it stay (apply_discard)."""
        with self.transaction():
            entry = self._outbox_entry(change_id)
            if entry["state"] not in ("quarantined", "discarding"):
                raise ValueError(f"change {change_id} was not refused")
            self.conn.execute("UPDATE outbox SET state='discarding', correction=? WHERE change_id=?",
                              (json.dumps(correction, ensure_ascii=False) if correction else None, change_id))

    def last_of_its_record(self, change_id: str) -> bool:
        """Whether no later change of the same record waits in the outbox behind this one."""
        return self.conn.execute(
            "SELECT 1 FROM outbox o JOIN outbox later ON later.record = o.record AND later.seq > o.seq"
            " WHERE o.change_id = ? LIMIT 1", (change_id,)).fetchone() is None

    def pending_discards(self) -> list[dict]:
        return [{"change_id": r[0], "entity": r[1], "record": r[2]} for r in self.conn.execute(
            "SELECT change_id, entity, record FROM outbox WHERE state='discarding' ORDER BY seq")]

    def apply_discard(self, change_id: str, accepted: list[dict], ref: str | None = None) -> dict:
        """Rebuild the record of a given-up change from the changes the server accepted
        (`accepted`, the bodies it answered) and this phone's unsent changes of it made
        *before* the given-up one; drop the given-up change and every later change of the
        record from the outbox (they were held behind it); when the record is gone (the
        server never accepted it), drop the unsent records that name it too; then write
        the correction, if any. One transaction: an interruption leaves it all undone.

        Returns {"dropped": [change ids], "record": the rebuilt row or None, "written":
        the correction's change or None}."""
        with self.relaxed_transaction(), gc_paused():
            entry = self._outbox_entry(change_id)
            entity, record, seq = entry["entity"], entry["record"], entry["seq"]
            x = self.conn.execute
            own = x("SELECT change_id, body, seq FROM outbox WHERE entity=? AND record=? ORDER BY seq",
                    (entity, record)).fetchall()
            dropped = [cid for cid, _, s in own if s >= seq]
            was_local = self._local_only(record)  # the server never had any of it
            server_ids = {ch["id"] for ch in accepted}
            kept = [json.loads(b) for cid, b, s in own if s < seq and cid not in server_ids]
            table = TABLES[entity]
            old_ref = known = None
            if entity == "case":
                known = x("SELECT ref, category, reported_at FROM cases WHERE id=?", (record,)).fetchone()
                old_ref = known[0] if known else None
            x(f"DELETE FROM {table} WHERE id=?", (record,))
            for part in chunks(dropped):
                x(f"DELETE FROM seen WHERE change_id IN ({','.join('?' * len(part))})", part)
            mine = [ch for ch in accepted if ch.get("entity") == entity and ch.get("record") == record]
            self._load_clock()
            if mine:  # stamp the correction after everything the record holds
                self.clock.receive(max(ch["hlc"] for ch in mine))
                self._save_clock()
            if mine or kept:
                self._fold(_unique(mine + kept))
            self.conn.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", [(c["id"], record) for c in mine])
            if entity == "case" and (ref or old_ref):
                x("UPDATE cases SET ref=? WHERE id=?", (ref or old_ref, record))
            rebuilt = self._load(entity, [record]).get(record)
            correction = json.loads(entry["correction"]) if entry["correction"] else None
            # a record corrected is written again under its id: what names it stays (a
            # visit made at a household refused with it is corrected or retried in turn)
            if rebuilt is None and was_local and not (correction and correction.get("create")):
                for dep_entity, dep_record, ids in self._dependents(entity, record, with_ids=True):
                    x(f"DELETE FROM {TABLES[dep_entity]} WHERE id=?", (dep_record,))
                    x("DELETE FROM seen WHERE record=?", (dep_record,))
                    dropped += ids
            for part in chunks(dropped):
                x(f"DELETE FROM outbox WHERE change_id IN ({','.join('?' * len(part))})", part)
            if rebuilt is None:
                # nothing of it this person may see: forget it whole, so it arrives whole
                # if it is ever theirs again; a case lets go of what hangs on it (exits)
                x("DELETE FROM seen WHERE record=?", (record,))
                if entity == "case" and not was_local:
                    acct = json.loads(self.meta("account") or "{}")
                    self._let_go(record, frozenset(acct.get("grids") or ()), known)
            written = None
            if correction and (rebuilt is not None or correction.get("create")):
                # a correction of an edit needs the record: one the server no longer shows
                # this person (moved out of their grids) takes none
                fields = correction["fields"]
                if rebuilt is not None:
                    now = rebuilt[0]
                    fields = {k: v for k, v in fields.items() if now.get(k) != v}
                if fields:
                    written = self._write(entity, record, fields, correction["author"], creating=rebuilt is None)
                    rebuilt = self._load(entity, [record]).get(record)
        return {"dropped": dropped, "record": rebuilt[0] if rebuilt else None, "written": written}

    def _outbox_entry(self, change_id: str) -> dict:
        row = self.conn.execute("SELECT seq, entity, record, state, correction FROM outbox WHERE change_id=?",
                                (change_id,)).fetchone()
        if row is None:
            raise KeyError(change_id)
        return dict(zip(("seq", "entity", "record", "state", "correction"), row))

    def _local_only(self, record: str) -> bool:
        """Every change of the record this phone knows is still in its outbox: the server
        has accepted none of them (nothing was acknowledged or pulled)."""
        return self.conn.execute("SELECT 1 FROM seen s WHERE s.record=? AND NOT EXISTS"
                                 " (SELECT 1 FROM outbox o WHERE o.change_id=s.change_id) LIMIT 1",
                                 (record,)).fetchone() is None

    _REFERRING = {"case": ("case_id",), "household": ("household_id",)}

    def _dependents(self, entity: str, record: str, with_ids: bool = False) -> list:
        """Records made on this phone that name this one (a visit or progress entry of a
        report, a visit of a household) and that the server holds nothing of: if this
        record is gone, the server would refuse them all."""
        names = self._REFERRING.get(entity, ())
        if not names or not self._local_only(record):
            return []
        out = []
        rows = self.conn.execute("SELECT entity, record, change_id, body FROM outbox WHERE record<>? ORDER BY seq",
                                 (record,)).fetchall()
        by_record: dict[tuple, list] = {}
        for ent, rid, cid, body in rows:
            by_record.setdefault((ent, rid), []).append((cid, json.loads(body)))
        for (ent, rid), chs in by_record.items():
            if any(ch["fields"].get(n) == record for _, ch in chs for n in names) and self._local_only(rid):
                out.append((ent, rid, [cid for cid, _ in chs]) if with_ids else
                           {"entity": ent, "record": rid, "changes": len(chs)})
        return out

    # --- pulled changes -----------------------------------------------------------
    @property
    def cursor(self) -> str | None:
        return self.meta("cursor")

    def apply_pulled(self, pulled: list[dict], cursor: str, exits: list[str] = (), refs: dict | None = None,
                     grids: frozenset = frozenset(), erasures: list[str] = (),
                     household_exits: list[str] = ()) -> int:
        """Fold a page of pulled changes, let go of the cases and households that left this
        person's scope, and move the cursor, in one transaction, so an interrupted pull
        resumes exactly where it stopped. Returns how many changes were new."""
        if erasures:  # freed cells are zeroed: the erased text must not stay readable in the file
            self.conn.execute("PRAGMA secure_delete=ON")
        hashes: set = set()
        with self.relaxed_transaction(), gc_paused():
            new = self._unseen(pulled)
            if new:
                self._load_clock()
                self.clock.receive(max(ch["hlc"] for ch in new))
                self._fold(new)
                # in key order: the page's inserts meet the b-tree's pages once each
                self.conn.executemany("INSERT INTO seen VALUES (?, ?)",
                                      sorted((c["id"], c["record"]) for c in new))
                self._save_clock()
            if refs:  # the township's references: the server's alone, set as given
                self.conn.executemany("UPDATE cases SET ref=? WHERE id=?", [(r, c) for c, r in refs.items()])
            # a case that came back (its changes logged again for this person) is theirs again
            back = {c["record"] for c in pulled if c.get("entity") == "case"}
            if back:
                self.conn.executemany("DELETE FROM held_exits WHERE case_id=?", [(r,) for r in back])
            for case_id in exits:
                self._let_go(case_id, grids)
            for (case_id,) in self.conn.execute("SELECT case_id FROM held_exits").fetchall():
                if case_id not in exits:
                    self._let_go(case_id, grids)   # its unsent work went, or was given up, since
            for hid in household_exits:
                self._let_go_household(str(hid))
            if erasures:
                hashes = self._apply_erasures(erasures)
                # the files go after the commit: named until gone (finish_file_deletions)
                waiting = set(json.loads(self.meta("erased_files") or "[]"))
                self.set_meta("erased_files", json.dumps(sorted(waiting | hashes)))
            self.set_meta("cursor", str(cursor))
        if erasures:
            self.finish_file_deletions()
        return len(new)

    def finish_file_deletions(self) -> None:
        """Delete the files of erasures applied whose files were not deleted yet (the app
        ended in between, and no later pull names them again): after each erasure, and
        when the replica is opened."""
        waiting = self.meta("erased_files")
        if waiting:
            self._after_erasure(set(json.loads(waiting)))
            self.set_meta("erased_files", None)

    # --- erasures (the township erased a person's data: sync/erasure_rules.py) -------
    def _apply_erasures(self, items: list[str]) -> set:
        """Blank the personal fields of each "<entity>:<record>" in the table, in its merge
        state and in every change body this phone keeps (unsent ones too: nothing erased
        goes back to the server), and note the record as erased. Returns the hashes of
        the attachments the records named. Inside the pull's transaction."""
        from . import erasure_rules
        from .replica import scrub_bodies
        hashes: set = set()
        for item in items:
            entity, _, record = str(item).partition(":")
            if entity not in ENTITIES or not record:
                continue
            hit = self._load(entity, [record]).get(record)
            if hit:
                row, ver = hit
                hashes |= erasure_rules.attachment_hashes(entity, row)
                self._write_rows({(entity, record): (erasure_rules.erase_fields(entity, row),
                                                     erasure_rules.erase_versions(entity, ver), True)})
            for fields in scrub_bodies(self.conn, entity, record, erasure_rules.erase_fields)[1]:
                hashes |= erasure_rules.attachment_hashes(entity, fields)
            self.conn.execute("INSERT OR REPLACE INTO erased VALUES (?,?,?)", (entity, record, clock.wall_ms()))
        return hashes

    def _after_erasure(self, hashes: set) -> None:
        """Delete the erased records' attachment files kept in the data folder (by hash:
        whatever the folder's layout), and rewrite the file so no free page or WAL frame
        keeps the old text."""
        from .model import HASH_RE
        folder = os.path.dirname(os.path.abspath(self.path))
        wanted = {h for h in hashes if HASH_RE.match(h)}
        if wanted:
            still = set()
            from . import erasure_rules
            for entity, table in TABLES.items():
                if "attachments" in {f.name for f in ENTITIES[entity].fields}:
                    for (text,) in self.conn.execute(f"SELECT attachments FROM {table} WHERE attachments"
                                                     " IS NOT NULL AND attachments NOT IN ('', '[]')"):
                        still |= erasure_rules.attachment_hashes(entity, {"attachments": json.loads(text)})
            wanted -= still
            remove_named(folder, wanted)
            self._forget_queued(os.path.join(folder, "attachments.db"), wanted)
        if not self.conn.in_transaction:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def _forget_queued(path: str, hashes: set) -> None:
        """The attachment queue beside the replica (sync/attachments.py) names each file,
        and a file's name may be a person's: its rows of erased attachments go too."""
        if not hashes or not os.path.exists(path):
            return
        import sqlite3
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA secure_delete=ON")
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                if "hash" in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
                    marks = ",".join("?" * len(hashes))
                    conn.execute(f"DELETE FROM {table} WHERE hash IN ({marks})", sorted(hashes))
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another app's connection holds it: the rows go at the next erasure
        finally:
            conn.close()

    def erased_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM erased").fetchone()[0]

    def hand_over(self) -> None:
        """Another person signs in (SyncClient.login): nothing of the last one's is kept
        but what is still to be sent (none, by then), nor what they had read."""
        self.start_over()
        with self.relaxed_transaction():
            self.conn.execute("DELETE FROM meta WHERE key LIKE 'seen:%' OR key IN ('last_sync_ms', 'reoffer_pending',"
                              " 'left_cases', 'fetched_to_forget', 'retry_unknown')")
            # the last person's sent changes, kept to offer a restored server again: their
            # households' names and addresses, and offered under the new person's sign-in
            # (refused as another's work) they were lost as well as shown
            self.conn.execute("DELETE FROM pushed")

    # --- what the person signed in has read (sync/updates.py) ------------------------
    def start_seen_afresh(self) -> None:
        """A sign-in with nothing of this person's read on the phone: their first sync
        through is taken as what they have seen (take_starting_point)."""
        self.set_meta("seen_start", "1")

    def seen_starting(self) -> bool:
        return self.meta("seen_start") is not None

    def take_starting_point(self, username: str, role: str) -> int:
        """The first sync since that sign-in is through: every matter the person follows
        counts as seen as it now stands. Returns how many."""
        with self.transaction():
            ids = [r[0] for r in self.conn.execute("SELECT id FROM cases WHERE reported_by=? OR owner=?",
                                                   (username, username))]
            seen = updates.starting_point(list(self._load("case", ids).values()), username, role)
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                  [(f"seen:{cid}", stamp) for cid, stamp in seen.items()])
            self.set_meta("seen_start", None)
        return len(seen)

    def start_over(self) -> None:
        """The account's scope changed: keep only what this phone has not sent yet, and
        pull everything it may now see from the start (the server says so with "reset")."""
        with self.relaxed_transaction():
            keep = [r[0] for r in self.conn.execute("SELECT DISTINCT record FROM outbox")]
            # not "NOT IN (NULL)" for an empty outbox: that is true of no row, and a
            # phone with nothing unsent kept every record of the scope it lost
            unless = f" WHERE id NOT IN ({','.join('?' * len(keep))})" if keep else ""
            for table in TABLES.values():
                self.conn.execute(f"DELETE FROM {table}{unless}", keep)
            self.conn.execute("DELETE FROM seen WHERE change_id NOT IN (SELECT change_id FROM outbox)")
            self.set_meta("cursor", None)

    def _let_go(self, case_id: str, grids: frozenset = frozenset(), known: tuple | None = None) -> None:
        """Delete a case and what hangs on it (visits, events, callbacks) that this phone
        no longer sees, and forget having seen their changes, so the case arrives whole
        if it comes back. A visit made in one of the account's grids stays: it is seen
        through its household's grid, not only through the case (access.record_keys).
        Kept whole if this phone still has unsent work on it: that is never thrown away.
        The person is told it left (`left_cases`); `known`: its (ref, category,
        reported_at) when its row went already (a discard rebuilt it from nothing)."""
        x = self.conn.execute
        # a leader holds no grid: every visit of the case goes ("NOT IN (NULL)" kept them all)
        outside = f" AND grid_id NOT IN ({','.join('?' * len(grids))})" if grids else ""
        going = [("case", case_id)] + [(e, r[0]) for e in ("visit", "case_event", "callback") for r in x(
            f"SELECT id FROM {TABLES[e]} WHERE case_id=?" + (outside if e == "visit" else ""),
            [case_id, *(grids if e == "visit" else ())])]
        ids = [rid for _, rid in going]
        if x(f"SELECT 1 FROM outbox WHERE record IN ({','.join('?' * len(ids))}) LIMIT 1", ids).fetchone():
            x("INSERT OR IGNORE INTO held_exits VALUES (?)", (case_id,))
            return
        x("DELETE FROM held_exits WHERE case_id=?", (case_id,))
        gone = x("SELECT ref, category, reported_at FROM cases WHERE id=?", (case_id,)).fetchone() or known
        for entity, rid in going:
            x(f"DELETE FROM {TABLES[entity]} WHERE id=?", (rid,))
            x("DELETE FROM seen WHERE record=?", (rid,))
        if gone is not None:
            self._note_left(case_id, *gone)

    # How many cases that left this phone it remembers to tell of (the newest kept).
    LEFT_KEPT = 50

    def _note_left(self, case_id: str, ref: str | None, category: str | None, reported_at: str | None) -> None:
        """Remember, for the person, that a case left this phone: its reference, kind and
        day only (nothing of its parties or words), until they have read it."""
        left = [c for c in self._left() if c.get("id") != case_id]
        left.append({"id": case_id, "ref": ref, "category": category, "reported_on": (reported_at or "")[:10],
                     "at_ms": self.clock.physical()})
        self.set_meta("left_cases", json.dumps(left[-self.LEFT_KEPT:], ensure_ascii=False))
        self.set_meta("fetched_to_forget", "1")   # the photos fetched for it go too (SyncClient.sync)

    def left_cases(self) -> list[dict]:
        """The cases that left this phone (given to another, out of the person's grids)
        since the person last read the list, the newest first."""
        return self._left()[::-1]

    def _left(self) -> list[dict]:
        try:
            left = json.loads(self.meta("left_cases") or "[]")
        except ValueError:
            return []
        return [c for c in left if isinstance(c, dict)] if isinstance(left, list) else []

    def forget_left_cases(self) -> None:
        self.set_meta("left_cases", None)

    def handed_over(self, case_id: str) -> bool:
        """The case left this person's scope (another leader's now, or out of their grids)
        and stays on this phone only for its unsent work."""
        return self.conn.execute("SELECT 1 FROM held_exits WHERE case_id=?", (case_id,)).fetchone() is not None

    def _let_go_household(self, hid: str) -> None:
        """Delete a household moved to a grid this phone does not hold, and forget having
        seen its changes (it arrives whole if it comes back). Its visits stay: they were
        made in this phone's grid. Kept if this phone still has unsent work on it."""
        x = self.conn.execute
        if x("SELECT 1 FROM outbox WHERE entity='household' AND record=? LIMIT 1", (hid,)).fetchone():
            return
        if x("DELETE FROM households WHERE id=?", (hid,)).rowcount:
            self.set_meta("fetched_to_forget", "1")   # the photos fetched for it go too (SyncClient.sync)
        x("DELETE FROM seen WHERE record=?", (hid,))

    def _unseen(self, batch: list[dict]) -> list[dict]:
        ids = [c["id"] for c in batch]
        known = set()
        for part in chunks(ids):
            known.update(r[0] for r in self.conn.execute(
                f"SELECT change_id FROM seen WHERE change_id IN ({','.join('?' * len(part))})", part))
        out = []
        for c in batch:
            if c["id"] not in known:
                known.add(c["id"])
                out.append(c)
        return out


def _unique(chs: list[dict]) -> list[dict]:
    seen, out = set(), []
    for ch in chs:
        if ch["id"] not in seen:
            seen.add(ch["id"])
            out.append(ch)
    return out
