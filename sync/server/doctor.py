"""`gridbook doctor --db PATH [--backup URL]`: is the township's store healthy, and if
not, what to do, in Chinese and in English.

Checks: the file is there; SQLite's integrity check; the write-ahead log's size (a
large one means checkpoints are not happening); free disk beside the store; the backup
lag (when a backup is given or $GRIDBOOK_BACKUP_URL is set); file permissions (the
store and its attachments readable by their owner alone: 0600 files, 0700 folders).
Reads only: the store is opened read-only and nothing is changed. Exit code 0 when
every check passed, 1 when something needs doing.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from dataclasses import asdict, dataclass

from ..replica import existing

WAL_WARN_BYTES = 64 * 1024 * 1024      # a WAL this large has not been checkpointed for long
FREE_MIN_BYTES = 512 * 1024 * 1024     # and at least twice the store (a restore, a VACUUM)
LAG_WARN_S = 60.0                      # Litestream ships every second: a minute behind is a fault


@dataclass
class Finding:
    check: str
    ok: bool
    detail: str
    zh: str = ""      # what to do, for the township's administrator
    en: str = ""


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def check_exists(db: str) -> Finding:
    if os.path.isfile(db):
        return Finding("store", True, f"{db} ({os.path.getsize(db)} bytes)")
    return Finding("store", False, f"{db} does not exist",
                   "找不到数据库文件：检查 --db 路径；如数据已丢失，用 gridbook restore 从备份恢复（见 docs/deploy.md）。",
                   "The store file is missing: check --db; if it was lost, bring it back with gridbook restore "
                   "(docs/deploy.md).")


def sqlite_check(db: str, pragma: str = "quick_check(5)") -> list[str]:
    """SQLite's own check of the file, read-only: ["ok"], or what it found wrong.
    Raises sqlite3.DatabaseError when it cannot read the file at all."""
    conn = sqlite3.connect(existing(db, "ro"), uri=True, timeout=30)
    try:
        return [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
    finally:
        conn.close()


def not_the_files_fault(db: str, e: sqlite3.Error) -> str | None:
    """Why SQLite could not read a store whose file may well be sound (a folder made
    read-only, a full disk, another process holding a write), in words; None when the
    file itself is the trouble. A read-only remount after disk errors was reported as a
    damaged store, and the administrator sent to restore a healthy one."""
    said = str(e).lower()
    folder = os.path.dirname(os.path.abspath(db)) or "."
    if "locked" in said or "busy" in said:
        return "the store is busy (another process is writing it): try again in a moment"
    if isinstance(e, sqlite3.OperationalError) or "disk i/o" in said or "readonly" in said:
        if os.path.isdir(folder) and not os.access(folder, os.W_OK):
            return f"the folder {folder} may not be written (read-only, or not this user's): SQLite needs it"
        try:
            full = "disk is full" in said or shutil.disk_usage(folder).free < 1024 * 1024
        except OSError:
            full = "disk is full" in said
        if full:
            return f"the disk holding {folder} is full"
        if "unable to open" in said or "disk i/o" in said or "readonly" in said:
            return f"SQLite could not open it ({e}): check the folder's permissions, the disk and its mount"
    return None


def check_integrity(db: str) -> Finding:
    advice_zh = ("数据库已损坏：立即停止服务（systemctl stop gridbook），保留损坏文件副本，"
                 "用 gridbook restore --from 备份地址 --db 新路径 恢复，再检查后启用。")
    advice_en = ("The store is damaged: stop the server (systemctl stop gridbook), keep a copy of the damaged "
                 "file, restore with gridbook restore --from BACKUP --db NEW_PATH, check it, then serve it.")
    try:
        rows = sqlite_check(db, "integrity_check(20)")
    except sqlite3.DatabaseError as e:
        why = not_the_files_fault(db, e)
        if why:   # not a verdict on the file: what stands in the way of reading it
            return Finding("integrity", False, f"not checked: {why}",
                           "未能检查数据库（不是数据库损坏）：检查目录是否只读、磁盘是否已满、是否有其他进程正在写入，解决后再运行 gridbook doctor。",
                           "Not checked, and not a sign of damage: make the folder writable, free the disk or wait "
                           "for the other process, then run gridbook doctor again.")
        return Finding("integrity", False, f"SQLite cannot read it: {e}", advice_zh, advice_en)
    if rows == ["ok"]:
        return Finding("integrity", True, "PRAGMA integrity_check: ok")
    return Finding("integrity", False, "; ".join(rows)[:400], advice_zh, advice_en)


def check_wal(db: str) -> Finding:
    wal = db + "-wal"
    size = os.path.getsize(wal) if os.path.exists(wal) else 0
    if size <= WAL_WARN_BYTES:
        return Finding("wal", True, f"{size // 1024} KB")
    return Finding("wal", False, f"{size // (1024 * 1024)} MB (over {WAL_WARN_BYTES // (1024 * 1024)} MB): "
                   "checkpoints are not happening",
                   "预写日志过大：若用 --backup 运行，检查 Litestream 是否在运行（journalctl -u gridbook）；"
                   "检查是否有长时间打开的只读连接；重启服务后日志会被合并。",
                   "The write-ahead log is large: with --backup, check that Litestream runs (journalctl -u "
                   "gridbook) - it does the checkpoints; look for a long-open reader; a restart of the service "
                   "folds it back.")


def check_disk(db: str) -> Finding:
    folder = os.path.dirname(os.path.abspath(db))
    free = shutil.disk_usage(folder).free
    used = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
    need = max(FREE_MIN_BYTES, 2 * used)
    if free >= need:
        return Finding("disk", True, f"{free // (1024 * 1024)} MB free")
    return Finding("disk", False, f"{free // (1024 * 1024)} MB free, under {need // (1024 * 1024)} MB",
                   "磁盘空间不足：清理旧的导出文件和日志，或扩容磁盘；空间耗尽时服务将无法保存数据。",
                   "Little disk left: remove old exports and logs, or grow the disk; when it is full the server "
                   "can no longer save anything.")


def check_permissions(db: str) -> Finding:
    from .backup import blobs_folder, config_path
    bad = []
    for p in (db, db + "-wal", db + "-shm", config_path(db)):
        if os.path.exists(p) and _mode(p) & 0o077:
            bad.append(f"{p} is {_mode(p):04o} (want 0600)")
    folder = os.path.dirname(os.path.abspath(db))
    if _mode(folder) & 0o077:
        bad.append(f"{folder} is {_mode(folder):04o} (want 0700)")
    blobs = blobs_folder(db)
    if os.path.isdir(blobs):
        for root, dirs, files in os.walk(blobs):
            if _mode(root) & 0o077:
                bad.append(f"{root} is {_mode(root):04o} (want 0700)")
            for name in files:
                p = os.path.join(root, name)
                if _mode(p) & 0o077:
                    bad.append(f"{p} is {_mode(p):04o} (want 0600)")
            if len(bad) > 20:
                break
    if not bad:
        return Finding("permissions", True, "store, log and attachments readable by their owner alone")
    return Finding("permissions", False, "; ".join(bad[:10]) + (f" (+{len(bad) - 10} more)" if len(bad) > 10 else ""),
                   f"文件权限过宽，其他用户可读取居民个人信息：chmod 700 {folder}；chmod 600 数据库文件；"
                   "附件目录 chmod -R go-rwx；systemd 服务中保留 UMask=0077。",
                   f"Files others may read (residents' personal data): chmod 700 {folder}; chmod 600 the store "
                   "files; chmod -R go-rwx the attachments folder; keep UMask=0077 in the systemd unit.")


def check_backup(db: str, url: str | None, endpoint=None, region=None, path_style=False) -> Finding | None:
    if not url:
        return Finding("backup", False, "no backup configured",
                       "未配置备份：用 gridbook serve --backup 备份目录 运行（见 docs/deploy.md）。"
                       "硬盘损坏将丢失全部台账。",
                       "No backup is configured: run gridbook serve --backup FOLDER (docs/deploy.md); a disk "
                       "failure would lose every matter.")
    from . import backup
    try:
        target = backup.parse_target(url, endpoint, region, path_style)
        lag = backup.lag_seconds(db, target)
    except (backup.BackupError, OSError) as e:
        return Finding("backup", False, str(e)[:300],
                       "无法读取备份：检查备份地址、挂载的备份盘或 S3 凭据（LITESTREAM_ACCESS_KEY_ID）。",
                       "The backup cannot be read: check its URL, the backup disk's mount, or the S3 credentials "
                       "(LITESTREAM_ACCESS_KEY_ID).")
    if lag is None:
        return Finding("backup", False, f"the backup at {target.describe()} holds nothing yet",
                       "备份中没有数据：确认服务以 --backup 运行，Litestream 正在复制（journalctl -u gridbook）。",
                       "The backup holds nothing: check that the server runs with --backup and that Litestream "
                       "replicates (journalctl -u gridbook).")
    if lag <= LAG_WARN_S:
        return Finding("backup", True, f"replica caught up (lag {lag:.0f} s)")
    return Finding("backup", False, f"the replica is {lag:.0f} s behind the store",
                   "备份落后：检查 Litestream 是否在运行、备份盘是否已满或已断开；恢复后手机会重新提交近期数据，"
                   "但应尽快修复。",
                   "The backup is behind: check that Litestream runs and that the backup disk is mounted and not "
                   "full; phones offer their recent changes again after a restore, but fix it soon.")


def run(db: str, backup_url: str | None = None, endpoint=None, region=None, path_style=False) -> list[Finding]:
    db = os.path.abspath(db)
    first = check_exists(db)
    if not first.ok:
        return [first]
    out = [first, check_integrity(db), check_wal(db), check_disk(db), check_permissions(db)]
    out.append(check_backup(db, backup_url, endpoint, region, path_style))
    if out[1].ok:
        out.append(check_erasures(db))
    return out


def check_erasures(db: str) -> Finding:
    """Erasures the journal beside the store holds and the store does not (restored from
    before them): the people are back until they are erased again."""
    from . import erasure
    conn = sqlite3.connect(existing(db, "ro"), uri=True, timeout=30)   # doctor changes nothing
    try:
        missing = erasure.missing_in(conn, db)
    except sqlite3.Error:
        missing = []    # an older store without the erasures table: nothing was erased in it
    finally:
        conn.close()
    journal = os.path.exists(erasure.journal_file(db))
    if not missing:
        return Finding("erasures", True, "every erasure in the journal is applied" if journal
                       else "no erasure journal beside the store (none made here, or restored to another path:"
                            " copy <old store>.erasures.jsonl beside it)")
    return Finding("erasures", False, f"{len(missing)} erasure(s) in the journal are not applied in the store"
                   " (restored from before them)",
                   "恢复的数据库早于部分删除请求：运行 gridbook retention apply 重新删除这些个人信息。",
                   "The store was restored from before some erasures: run gridbook retention apply to erase "
                   "those people's data again.")


def main(args) -> int:
    found = run(args.db, args.backup, args.s3_endpoint, args.s3_region, args.s3_path_style)
    if args.json:
        print(json.dumps({"ok": all(f.ok for f in found), "checks": [asdict(f) for f in found]}, ensure_ascii=False))
    else:
        for f in found:
            print(f"{'OK ' if f.ok else 'BAD'} {f.check}: {f.detail}")
            if not f.ok:
                print(f"    处理：{f.zh}\n    What to do: {f.en}")
        print("all checks passed / 检查全部通过" if all(f.ok for f in found)
              else "something needs doing / 有需要处理的问题")
    return 0 if all(f.ok for f in found) else 1
