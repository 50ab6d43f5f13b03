"""The township store's numbered migrations (the runner and the phone's are in
sync/migrations.py). Add a step at the end; never edit or renumber one that shipped."""

from __future__ import annotations

import datetime as dt

from ..households import CST
from ..migrations import Migration, baseline


def _central_2_erasures(store) -> None:
    """Tombstones of erasures (sync/server/erasure.py): who erased which record, when and
    why, and how much was removed; never a value the record held."""
    store.conn.execute(
        "CREATE TABLE IF NOT EXISTS erasures (id INTEGER PRIMARY KEY, entity TEXT NOT NULL,"
        " record TEXT NOT NULL, erased_ms INTEGER NOT NULL, by_user TEXT NOT NULL, reason TEXT NOT NULL,"
        " request TEXT NOT NULL, fields TEXT NOT NULL, changes INTEGER NOT NULL, blobs INTEGER NOT NULL)")
    store.conn.execute("CREATE INDEX IF NOT EXISTS erasures_record ON erasures(entity, record)")
    # every record an erasure reached (the household and what hung on it): a change that
    # names one later loses its personal fields on arrival (erasure.keep_erased)
    store.conn.execute("CREATE TABLE IF NOT EXISTS erased (entity TEXT NOT NULL, record TEXT NOT NULL,"
                       " erasure INTEGER NOT NULL, PRIMARY KEY (entity, record)) WITHOUT ROWID")


def _central_3_log_device(store) -> None:
    """The phone that pushed a change, on the log rows written with its push (never on
    re-logged rows, references or exits): that phone's pulls skip them (no echo,
    CentralStore.pull). Rows from before stay NULL and are sent as they always were."""
    if "device" not in {r[1] for r in store.conn.execute("PRAGMA table_info(log)")}:
        store.conn.execute("ALTER TABLE log ADD COLUMN device TEXT")


def _central_4_blob_claims(store) -> None:
    """Files a record names that its author could not show to hold: the same hash as a
    file of a record they may not see (a picture forwarded to two grid workers, or a hash
    kept from a matter that left their grid). Such a naming gives nobody the file until
    the author uploads its bytes (sync/server/blobs.py, "claims")."""
    store.conn.execute("CREATE TABLE IF NOT EXISTS blob_claims (hash TEXT NOT NULL, entity TEXT NOT NULL,"
                       " record TEXT NOT NULL, username TEXT NOT NULL, PRIMARY KEY (hash, entity, record))"
                       " WITHOUT ROWID")


def _central_5_case_standing(store) -> None:
    """How each matter stood at the end of each day it changed (the fields the figures
    read), so a month handed in reads the same when downloaded again
    (sync/server/standing.py); the days before are read back from the change log."""
    from .central import township_today
    from . import standing
    standing.backfill(store.conn, township_today)


def _central_6_callback_judged(store) -> None:
    """Whom each callback judged (the matter's owner and departments at the time), so
    satisfaction per leader and department stays with them when the matter changes hands
    (sync/server/judged.py); older callbacks are judged from the change log."""
    from . import judged
    judged.backfill(store.conn)


def _central_7_china_time(store) -> None:
    """Times stored in another offset (written before phones had to send +08:00, the
    `time_zone` rule) rewritten as the same instant in China time: the figures compare
    stamps as text, so 2026-01-31T20:00:00+00:00 counted a callback in January that every
    screen dates 1 February. The change log keeps them as sent."""
    from ..model import ENTITIES
    from ..replica import TABLES
    from . import standing
    columns = [(TABLES[e.name], f.name) for e in ENTITIES.values() for f in e.fields if f.kind == "datetime"]
    _in_china_time(store.conn, [*columns, (standing.TABLE, "reported_at")])


def _in_china_time(conn, columns: list[tuple[str, str]]) -> None:
    """Each (table, column)'s times in another offset, written as the same instant in +08:00."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS china_time (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
    for table, column in columns:
        conn.execute("DELETE FROM china_time")
        found = conn.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL"
                             f" AND {column} NOT LIKE '%+08:00'").fetchall()
        conn.executemany("INSERT INTO china_time VALUES (?, ?)",
                         [(v, t) for (v,) in found if (t := china_time(v)) is not None])
        conn.execute(f"UPDATE {table} SET {column} = (SELECT new FROM china_time WHERE old = {column})"
                     f" WHERE {column} IN (SELECT old FROM china_time)")
    conn.execute("DROP TABLE china_time")


def china_time(text) -> str | None:
    """The same instant written in +08:00, or None for what is not a time with an offset
    (left as it is: the readers already take it as written)."""
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        return t.astimezone(CST).isoformat() if t.utcoffset() is not None else None
    except (ValueError, OverflowError):   # 9999-12-31T23:59:59Z is past the calendar's end in China
        return None


def _central_8_withdraw_left(store) -> None:
    """Log rows of records that had left a scope, taken out of its pulls (central.withdraw):
    a phone first given a grid received, before its exit, every body of a household or
    matter the grid had once held. Each exit withdraws the rows before it (those logged
    again since are the record's return), all in one pass over the log: one UPDATE per
    exit read a grid's rows each time (2,000 exits in a grid of 100,000 rows: 20 s)."""
    from .central import EXIT, HOUSEHOLD_EXIT, REF, WITHDRAWN, withdrawn_ids
    conn = store.conn
    conn.execute("CREATE TEMP TABLE withdrawn (change_id TEXT NOT NULL, scope TEXT NOT NULL, before INTEGER NOT NULL)")
    for seq, cid, scope in conn.execute("SELECT seq, change_id, scope FROM log WHERE substr(change_id, 1, 5) IN"
                                        " ('exit:', 'exit-')").fetchall():
        entity, mark = ("household", HOUSEHOLD_EXIT) if cid.startswith(HOUSEHOLD_EXIT) else ("case", EXIT)
        rid = cid[len(mark):]
        conn.execute(f"INSERT INTO withdrawn SELECT change_id, :key, :before FROM ({withdrawn_ids(entity)})",
                     {"entity": entity, "rid": rid, "key": scope, "before": seq, "ref": f"{REF}{rid}"})
    conn.execute("CREATE INDEX temp.withdrawn_id ON withdrawn (change_id, scope, before)")
    conn.execute("UPDATE log SET scope = :mark || scope WHERE EXISTS (SELECT 1 FROM withdrawn w"
                 " WHERE w.change_id = log.change_id AND w.scope = log.scope AND log.seq < w.before)",
                 {"mark": WITHDRAWN})
    conn.execute("DROP TABLE withdrawn")


def _central_9_erasure_files(store) -> None:
    """The attachment files an erasure committed and has still to delete (its files go
    after the commit: a process ending in between left them for good)."""
    store.conn.execute("CREATE TABLE IF NOT EXISTS erasure_files (hash TEXT PRIMARY KEY) WITHOUT ROWID")


def _central_10_device_last_change(store) -> None:
    """The last change each account's phone pushed that the store applied: a phone whose
    data was put back from an older copy names an earlier one at its pull (the pull then
    sends it its own later changes, which it no longer holds)."""
    cols = {r[1] for r in store.conn.execute("PRAGMA table_info(devices)")}
    if "last_change" not in cols:
        store.conn.execute("ALTER TABLE devices ADD COLUMN last_change TEXT")


def _central_11_standing_ledger_fields(store) -> None:
    """A past period's ledger shows each matter as it stood at the period's end, its
    outcome, risk level and departments too (export.py): the kept rows take those codes,
    and are made again from the change log (a day a matter changed only those is kept
    as well), their report times in China time as migration 7 left them."""
    _standing_made_again(store)


def _standing_made_again(store) -> bool:
    """The kept rows gain the fields the code keeps and are made again from the change
    log, when a field was missing. Whether they were."""
    from .central import township_today
    from . import standing
    conn = store.conn
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({standing.TABLE})")}
    missing = [name for name in standing.FIELDS if name not in have]
    for name in missing:
        conn.execute(f"ALTER TABLE {standing.TABLE} ADD COLUMN {name}")
    if missing:
        conn.execute(f"DELETE FROM {standing.TABLE}")
        standing.backfill(conn, township_today)
        _in_china_time(conn, [(standing.TABLE, "reported_at")])
    return bool(missing)


def _central_12_standing_higher_deadline(store) -> None:
    """A handed-down matter still waiting to be accepted is overdue once the higher body's
    deadline has passed, in a past period's figures as in today's: the kept rows take
    that deadline too (made again only if migration 11 did not just make them)."""
    _standing_made_again(store)


CENTRAL = (
    Migration(1, "the schema before numbered migrations", baseline),
    Migration(2, "erasure tombstones", _central_2_erasures),
    Migration(3, "the pushing device on log rows (no echo)", _central_3_log_device),
    Migration(4, "attachments named before their bytes were shown (claims)", _central_4_blob_claims),
    Migration(5, "each matter as it stood at the end of each day it changed (figures of past periods)",
              _central_5_case_standing),
    Migration(6, "whom each callback judged (satisfaction per leader and department)", _central_6_callback_judged),
    Migration(7, "times in another offset written in China time (figures compare them as text)",
              _central_7_china_time),
    Migration(8, "log rows of records that left a scope taken out of its pulls", _central_8_withdraw_left),
    Migration(9, "the files an erasure has still to delete", _central_9_erasure_files),
    Migration(10, "the last change each phone pushed (a phone put back from an older copy)",
              _central_10_device_last_change),
    Migration(11, "a past period's ledger as it stood: outcome, risk and departments kept too",
              _central_11_standing_ledger_fields),
    Migration(12, "a past period's figures: the higher body's deadline kept too",
              _central_12_standing_higher_deadline),
)
