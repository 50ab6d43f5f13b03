"""Erasing a person's personal data (PIPL art. 47): `gridbook erase household|case ID`,
the admin's button in the office, and the retention rule (retention.py).

One erasure, in one transaction: the record and what hangs on it (erasure_rules.CASCADE)
lose their personal fields in the tables and in every change body of the history (ids,
stamps and the kept fields stay, so phones and server still merge alike); an `erase:`
log entry under each record's scope keys tells every phone that holds it to do the same
at its next pull; a tombstone says who erased which record, when and why (a reason
code, a request number), and nothing the record held. Then the attachments that only
these records named are deleted from the blob folder, and the file is rewritten
(secure_delete, WAL checkpoint, VACUUM) so freed pages keep no copy of the text.

Backups are another matter: a backup generation taken before the erasure still holds
the data until it expires (docs/security.md, "Erasure and retention").
"""

from __future__ import annotations

import json
import os

from .. import access, erasure_rules
from ..files import remove_named
from ..model import ID_RE, visit_problems
from ..replica import TABLES, chunks, scrub_bodies

from .central import ERASE  # log entries telling phones to erase a record: erase:<entity>:<record>
REASONS = {  # reason code -> (English, Chinese)
    "request": ("the person asked for erasure (PIPL art. 47)", "本人申请删除（个人信息保护法第47条）"),
    "retention": ("the retention period ended", "保存期限届满"),
    "purpose": ("the purpose of processing was achieved", "处理目的已实现"),
    "withdrawn": ("consent was withdrawn", "撤回同意"),
    "unlawful": ("the data was processed unlawfully", "违法处理"),
}


class NotErasable(ValueError):
    """Why this erasure cannot be done: English (the command line, str()), and `zh` for
    the admin's dialog in the office."""

    def __init__(self, en: str, zh: str = ""):
        super().__init__(en)
        self.zh = zh or en

    def message(self, lang: str = "en") -> str:
        return self.zh if lang == "zh" else str(self)


def targets(store, entity: str, record: str) -> list[tuple[str, str]]:
    """The record and every record that hangs on it, parents first."""
    out, todo, seen = [], [(entity, record)], set()
    while todo:
        ent, rid = todo.pop(0)
        if (ent, rid) in seen:
            continue
        seen.add((ent, rid))
        out.append((ent, rid))
        for child, field in erasure_rules.CASCADE.get(ent, ()):
            for (cid,) in store.conn.execute(f"SELECT id FROM {TABLES[child]} WHERE {field}=? ORDER BY id", (rid,)):
                todo.append((child, cid))
    return out


def check(store, entity: str, record: str, reason: str, request: str = "") -> None:
    if entity not in erasure_rules.ERASABLE:
        raise NotErasable(f"entity must be one of {', '.join(erasure_rules.ERASABLE)}, not {entity}",
                          "只能删除住户或事项的个人信息")
    if reason not in REASONS:
        raise NotErasable(f"reason must be one of {', '.join(REASONS)}", "请选择删除原因")
    if request and not ID_RE.match(request):
        # a number, never words: the tombstone must not hold a name
        raise NotErasable("request must be a reference number of 1-64 letters, digits or _.:- (no names)",
                          "申请编号只能填编号（1至64位字母、数字或 _.:-），勿填姓名")
    if store.get(entity, record) is None:
        raise NotErasable(f"no {entity} with id {record}", "找不到这条记录（可能已被删除）")


def erasure_plan(store, entity: str, record: str) -> dict:
    """What an erasure would touch, without touching it (dry runs, the office's dialog)."""
    ts = targets(store, entity, record)
    counts: dict[str, int] = {}
    for ent, _ in ts:
        counts[ent] = counts.get(ent, 0) + 1
    return {"entity": entity, "record": record, "records": counts}


def erase(store, entity: str, record: str, by: str, reason: str = "request", request: str = "",
          compact: bool = True) -> dict:
    """Erase one household's or matter's personal data everywhere the server keeps it.
    Returns a summary (counts, never values)."""
    check(store, entity, record, reason, request)
    now = store.now()
    with store.lock:
        store.conn.execute("PRAGMA secure_delete=ON")  # freed cells are zeroed, not left readable
        with store.transaction():
            summary = _erase_in_transaction(store, entity, record, by, reason, request, now)
        journal_append(store, {"entity": entity, "record": record, "erased_ms": now, "by": by,
                               "reason": reason, "request": request})
        summary["blobs_deleted"], left = delete_blobs(store, summary.pop("_hashes"))
        if left:
            summary["backup_blobs_left"] = left
        if compact:
            summary["compacted"] = compact_file(store)
    return summary


def _erase_in_transaction(store, entity, record, by, reason, request, now) -> dict:
    ts = targets(store, entity, record)
    hashes: set[str] = set()
    rewritten = 0
    state, log_items = {}, []
    cases: dict[str, dict] = {}
    for ent, rid in ts:
        row, ver = store._load(ent, [rid])[rid]
        hashes |= erasure_rules.attachment_hashes(ent, row)
        for key, heads in ver.items():  # a losing concurrent value may have named attachments too
            if key == "attachments" and len(heads) > 3:
                for head in heads[3].values():
                    hashes |= erasure_rules.attachment_hashes(ent, {"attachments": head[0]})
        new_row = erasure_rules.erase_fields(ent, row)
        state[(ent, rid)] = (dict(new_row), erasure_rules.erase_versions(ent, ver), True)
        n, before = scrub_bodies(store.conn, ent, rid, erasure_rules.erase_fields)
        rewritten += n
        for fields in before:
            hashes |= erasure_rules.attachment_hashes(ent, fields)
        if ent == "case":
            cases[rid] = new_row
        parent = new_row.get("case_id") if ent != "case" else None
        case = cases.get(parent) or (store.get("case", parent) if parent else None)
        log_items.append((f"{ent}:{rid}", access.record_keys(ent, new_row, case)))
    store._write_rows(state)
    store._log_entries(ERASE, log_items)
    fields = sorted({f for ent, _ in ts for f in erasure_rules.PERSONAL.get(ent, {})})
    tomb = store.conn.execute(
        "INSERT INTO erasures (entity, record, erased_ms, by_user, reason, request, fields, changes, blobs)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (entity, record, now, by, reason, request, json.dumps({"records": len(ts), "fields": fields}),
         rewritten, len(hashes))).lastrowid
    store.conn.executemany("INSERT OR REPLACE INTO erased VALUES (?,?,?)", [(e, r, tomb) for e, r in ts])
    # the files go after the commit: until they are gone, they are named here (a power cut
    # in between left them for good, with nothing left naming them; finish_file_deletions)
    store.conn.executemany("INSERT OR IGNORE INTO erasure_files VALUES (?)", [(h,) for h in sorted(hashes)])
    store.audit(by, "erase", f"{entity} {record} reason={reason} records={len(ts)} changes={rewritten}"
                             f" attachments={len(hashes)}")
    counts: dict[str, int] = {}
    for ent, _ in ts:
        counts[ent] = counts.get(ent, 0) + 1
    return {"entity": entity, "record": record, "records": counts, "changes_rewritten": rewritten,
            "attachments": len(hashes), "_hashes": hashes}


# (child entity, field naming its parent, the parent's entity), from the cascade
_PARENTS = [(child, field, parent) for parent, kids in erasure_rules.CASCADE.items() for child, field in kids]


def keep_erased(conn, batch: list, todo: list[int]) -> tuple[list[int], dict[int, tuple]]:
    """Changes that arrive for an erased record (a phone that wrote before it learnt of
    the erasure, an edit at the office), or that make a new record hanging on one (a
    note on an erased matter, a visit to an erased household), lose their personal
    fields before they are admitted: an erased record stays erased, and what is added
    to it is erased with it (noted as erased once admitted: its later edits are too).
    Rewrites `batch` in place; returns the positions rewritten, and the `erased` rows
    of the new records by position (for those the rules admit)."""
    ids = {batch[i]["record"] for i in todo}
    for i in todo:
        fields = batch[i]["fields"] if isinstance(batch[i]["fields"], dict) else {}
        ids.update(fields[f] for child, f, _ in _PARENTS
                   if child == batch[i]["entity"] and isinstance(fields.get(f), str))
    hit: dict[tuple[str, str], int] = {}
    ids = sorted(ids)
    for part in chunks(ids):
        hit.update(((e, r), t) for e, r, t in conn.execute(
            f"SELECT entity, record, erasure FROM erased WHERE record IN ({','.join('?' * len(part))})", part))
    if not hit:
        return [], {}
    rewritten, joined = [], {}
    for i in todo:
        ch = batch[i]
        key = (ch["entity"], ch["record"])
        tomb = hit.get(key)
        if tomb is None and isinstance(ch["fields"], dict):
            tomb = next((hit[(parent, ch["fields"][f])] for child, f, parent in _PARENTS
                         if child == ch["entity"] and (parent, ch["fields"].get(f)) in hit), None)
            if tomb is not None:
                joined[i] = (*key, tomb)
        if tomb is not None:
            fields = erasure_rules.erase_fields(ch["entity"], ch["fields"])
            if ch["entity"] == "visit" and visit_problems(fields) and not visit_problems(ch["fields"]):
                # a visit that recorded something still did: said as erased, not refused
                # as "a visit records something", which the worker could not mend
                fields = dict(fields, seen=erasure_rules.ERASED_TEXT)
            if fields is not ch["fields"]:
                batch[i] = dict(ch, fields=fields)
                rewritten.append(i)
    return rewritten, joined


def journal_path(store) -> str:
    return journal_file(store.path)


def journal_file(db_path: str) -> str:
    """The erasure journal beside the store at `db_path`."""
    return db_path + ".erasures.jsonl"


def journal_append(store, entry: dict) -> None:
    """The erasure journal beside the store (ids, who, when, why: no personal data). A
    restore brings back a store from before an erasure; the journal, which a restore
    does not touch, says what to erase again (`replay`, run by `gridbook retention apply`)."""
    path = journal_path(store)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def journal_missing(store) -> list[dict]:
    """Journal entries the store has no tombstone for (it was restored from before them)."""
    return missing_in(store.conn, store.path)


def missing_in(conn, db_path: str) -> list[dict]:
    """journal_missing on any connection to the store (doctor's is read-only)."""
    path = journal_file(db_path)
    if not os.path.exists(path):
        return []
    have = {(e, r) for e, r in conn.execute("SELECT entity, record FROM erasures")}
    out, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash while appending
            key = (e.get("entity"), e.get("record"))
            if key in have or key in seen or key[0] not in TABLES or not isinstance(key[1], str):
                continue
            if conn.execute(f"SELECT 1 FROM {TABLES[key[0]]} WHERE id=?", (key[1],)).fetchone():
                seen.add(key)
                out.append(e)
    return out


def replay(store, dry_run: bool = False) -> list[dict]:
    """Erase again what the journal says was erased and the store has forgotten."""
    todo = journal_missing(store)
    if not dry_run:
        for e in todo:
            with store.lock:
                store.conn.execute("PRAGMA secure_delete=ON")
            with store.lock, store.transaction():
                got = _erase_in_transaction(store, e["entity"], e["record"], e.get("by") or "system",
                                            e.get("reason") or "request", e.get("request") or "", store.now())
            delete_blobs(store, got.pop("_hashes"))
    return [{"entity": e["entity"], "record": e["record"]} for e in todo]


def blob_folder(store) -> str:
    return store.path + ".blobs"


def delete_blobs(store, hashes: set[str]) -> tuple[int, str | None]:
    """Delete the attachments' bytes (and thumbnails) that no record names any more. By
    hash: the same picture attached to another person's record stays. Returns how many,
    and what could not be deleted from the backup (forget_in_backup)."""
    if not hashes:
        return 0, None
    still = set()
    # a claim (blobs.py) keeps no file: its author sends the bytes again if they hold them
    claimed = set(store.conn.execute("SELECT hash, entity, record FROM blob_claims"))
    for entity in ("household", "visit", "case", "case_event"):
        for rid, text in store.conn.execute(f"SELECT id, attachments FROM {TABLES[entity]} WHERE attachments"
                                            " IS NOT NULL AND attachments NOT IN ('', '[]')"):
            try:
                still |= {a.get("hash") for a in json.loads(text)
                          if isinstance(a, dict) and (a.get("hash"), entity, rid) not in claimed}
            except ValueError:
                continue
    gone = hashes - still
    n = len(remove_named(blob_folder(store), gone))
    left = forget_in_backup(gone)
    with store.lock, store.transaction():   # done here (the backup's left are said, not redone)
        store.conn.executemany("DELETE FROM erasure_files WHERE hash=?", [(h,) for h in sorted(hashes)])
    return n, left


def finish_file_deletions(store) -> int:
    """Delete the files of erasures committed whose files were not deleted yet (the
    process ended in between): at every opening of the store. Returns how many. A file
    that cannot be deleted now (a folder left to another owner, a failing disk) stays
    named for the next opening and is logged by its hash: the store opens all the same."""
    import logging
    log = logging.getLogger("gridbook.erasure")
    with store.lock:
        pending = {h for (h,) in store.conn.execute("SELECT hash FROM erasure_files")}
    if not pending:
        return 0
    try:
        n, left = delete_blobs(store, pending)
    except OSError as e:
        log.error("erased attachments not deleted yet (%d): %s: kept for the next start", len(pending),
                  type(e).__name__)
        return 0
    if left:
        log.error("%s", left)
    return n


def forget_in_backup(hashes: set[str]) -> str | None:
    """The backup's copies of the erased attachments, in its folder or its bucket
    (docs/deploy.md, "Backup"), when the server runs with one ($GRIDBOOK_BACKUP under
    Litestream, $GRIDBOOK_BACKUP_URL for commands; the bucket's endpoint and region from
    the same environment): a copy is never made again once the file is gone here, and
    Litestream's retention never reaches the attachments. Returns what could not be
    done, said to whoever erased (None when done or nothing to do)."""
    url = os.environ.get("GRIDBOOK_BACKUP") or os.environ.get("GRIDBOOK_BACKUP_URL")
    if not url or not hashes:
        return None
    from . import backup
    try:
        backup.delete_blobs(url, hashes)
    except (OSError, ValueError) as e:   # S3Error is an OSError; BackupError a ValueError
        keys = ", ".join(f"{h[:2]}/{h}, thumbs/{h}.jpg" for h in sorted(hashes))
        return (f"the backup's copies of {len(hashes)} attachment(s) could not be deleted ({str(e)[:200]});"
                f" delete them from {url.rstrip('/')}/blobs/ by hand: {keys}")
    return None


def compact_file(store) -> bool:
    """Leave no copy of the erased text in the file: checkpoint the WAL into the database
    and truncate it, rebuild the database without free pages (VACUUM), and truncate the
    WAL again. False when another connection's open read kept the WAL from being reset
    (a running Litestream does; the next checkpoint resets it)."""
    x = store.conn.execute
    x("PRAGMA wal_checkpoint(TRUNCATE)")
    x("VACUUM")
    from .blobs import reread_log
    reread_log(store)
    busy = x("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return busy == 0


def tombstones(store, entity: str | None = None, record: str | None = None) -> list[dict]:
    sql, args = "SELECT entity, record, erased_ms, by_user, reason, request, changes, blobs FROM erasures", []
    if entity and record:
        sql, args = sql + " WHERE entity=? AND record=?", [entity, record]
    rows = store.conn.execute(sql + " ORDER BY id", args).fetchall()
    return [dict(zip(("entity", "record", "erased_ms", "by", "reason", "request", "changes", "attachments"), r))
            for r in rows]


def is_erased(store, entity: str, record: str) -> bool:
    return store.conn.execute("SELECT 1 FROM erasures WHERE entity=? AND record=? LIMIT 1",
                              (entity, record)).fetchone() is not None
