# ATTACHMENTS_API_READY
"""Attachments on the phone: photos and voice notes, kept apart from the changes.

A record names its attachments by hash (`attachments` field: a list of
{hash, kind, size, name}); the bytes live in the phone's data folder
(`<data>/attachments/`), one file per hash, and travel in a separate, resumable
upload after the changes are pushed (docs/sync-protocol.md, "Attachments").

For screens:

    store = Attachments.for_replica(replica)
    att = store.add_photo("/tmp/IMG_0001.jpg")        # shrunk, location removed
    replica.update("visit", vid, {"attachments": [*old, att]}, author)
    store.thumbnail(att["hash"])                       # a local JPEG path, at once
    store.state(att["hash"])                           # {"state": "waiting", ...}
    store.waiting_count()                              # for the sync bar
    store.set_wifi_only(True)                          # this device's choice
    path = store.fetch(client, att)                    # someone else's, when opened

For the sync (fieldapp/syncer.py, `gridbook sync`): `SyncClient.send_attachments(
on_wifi=...)` after `SyncClient.sync()`, which calls `Attachments.upload`.

Pure Python (Pillow, sqlite3): no server imports.
"""

from __future__ import annotations

import hashlib
import re
import io
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Callable

from . import settings as township_settings
from .files import write_atomic
from .model import HASH_RE

PHOTO_LONG_SIDE = 1600      # px: the longest side of a stored photo
PHOTO_QUALITY = 82          # JPEG quality of a stored photo (lowered if over the limit)
THUMB_LONG_SIDE = 320       # px: thumbnails shown on the record
CHUNK_BYTES = 256 * 1024    # bytes per upload request: a cut link loses at most one
STATES = ("waiting", "sending", "sent", "refused")


class AttachmentError(ValueError):
    """An attachment that cannot be taken (too large, not a picture, no such file).
    `message` in English (logs, API), `zh` for the screen, `field` the field's name."""

    def __init__(self, message: str, zh: str, field: str = "attachments"):
        super().__init__(message)
        self.message, self.zh, self.field = message, zh, field


@dataclass
class UploadReport:
    sent: int = 0               # attachments the server now holds whole
    bytes_sent: int = 0         # body bytes sent in this run
    refused: int = 0            # refused for good in this run (too large, damaged)
    waiting: int = 0            # left waiting (Wi-Fi only, no record on the server yet, offline)
    skipped_wifi: bool = False  # photos held back because the link is not Wi-Fi
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shrink_photo(data: bytes, keep_location: bool = False, long_side: int = PHOTO_LONG_SIDE,
                 quality: int = PHOTO_QUALITY) -> bytes:
    """The photo as stored: turned upright (EXIF orientation), longest side at most
    `long_side`, JPEG; the GPS position removed unless `keep_location`. Raises
    AttachmentError for bytes that are not a picture."""
    from PIL import Image, ImageOps
    img = _open_image(data, long_side)
    old = img.getexif()
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken orientation tag: keep the picture as it lies
        pass
    if img.mode not in ("RGB", "L"):
        img = _flatten(img)
    img.thumbnail((long_side, long_side), Image.LANCZOS)
    # Only what the evidence needs travels: when it was taken (and, if the township
    # keeps it, where); the camera's serial number, owner's name, a JPEG comment etc. are
    # dropped (Pillow writes the comment it read back unless told not to).
    img.info.pop("comment", None)
    out = io.BytesIO()
    try:
        img.save(out, "JPEG", quality=quality, optimize=True, exif=_kept_exif(old, keep_location), comment=b"")
    except ValueError:   # a GPS block longer than a JPEG segment holds: the photo without it
        out = io.BytesIO()
        img.save(out, "JPEG", quality=quality, optimize=True, exif=_kept_exif(old, False), comment=b"")
    return out.getvalue()


# A taking time as cameras write it: "YYYY:MM:DD HH:MM:SS" (20 bytes with its NUL).
_EXIF_TIME_RE = re.compile(r"^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}\Z")


def _kept_exif(old, keep_location: bool) -> bytes:
    """The EXIF block a stored photo keeps: its taking time (DateTime, DateTimeOriginal)
    when written as a time, and its GPS position if the township keeps it. A tag of
    another type or length (a damaged or crafted file: a 40 KB "time", a number) is left
    out, and a GPS block that cannot be written again is dropped, not the photo."""
    from PIL import Image
    exif = Image.Exif()
    when = old.get(0x0132)                    # DateTime
    if isinstance(when, str) and _EXIF_TIME_RE.match(when):
        exif[0x0132] = when
    taken = old.get_ifd(0x8769).get(0x9003)  # DateTimeOriginal
    if isinstance(taken, str) and _EXIF_TIME_RE.match(taken):
        exif.get_ifd(0x8769)[0x9003] = taken
    try:
        base = exif.tobytes()
    except Exception:
        return b""
    if keep_location:
        gps = old.get_ifd(0x8825)
        if gps:
            exif.get_ifd(0x8825).update(gps)
            try:
                return exif.tobytes()
            except Exception:
                return base
    return base


# The most pixels a picture is decoded at (after a JPEG's own down-scaling): 40 MP, some
# 160 MB at four bytes a pixel. A camera's JPEG decodes well under it at 1/2..1/8 scale.
MAX_DECODE_PIXELS = 40_000_000


def make_thumbnail(data: bytes, long_side: int = THUMB_LONG_SIDE) -> bytes:
    """A small JPEG of a photo (for the record's list, and the office)."""
    from PIL import Image, ImageOps
    img = _open_image(data, long_side)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:
        pass
    if img.mode not in ("RGB", "L"):
        img = _flatten(img)
    img.thumbnail((long_side, long_side), Image.LANCZOS)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=75, optimize=True)
    return out.getvalue()


def _open_image(data: bytes, long_side: int | None = None):
    from PIL import Image
    try:
        img = Image.open(io.BytesIO(data))
        if long_side and img.format == "JPEG":
            # decode a camera JPEG at the smallest scale still over the size wanted
            # (1/2, 1/4, 1/8): a phone shrinks a 12 MP photo in a fraction of the time
            w, h = img.size
            k = long_side / max(w, h, 1)
            if k < 1:
                img.draft("RGB", (max(1, int(w * k)), max(1, int(h * k))))
        if img.size[0] * img.size[1] > MAX_DECODE_PIXELS:
            # a 0.7 MB PNG of 13,000 × 13,000 decoded to 1.2 GB, per request
            raise Image.DecompressionBombError("too many pixels to decode")
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AttachmentError("photo: the picture is too large to open", "照片像素过大，无法打开", "photo")
    except Exception:
        raise AttachmentError("photo: the file is not a picture (JPEG, PNG, HEIF, WebP ...)",
                              "照片：所选文件不是图片", "photo")
    return img


def _flatten(img):
    """RGB on white (a PNG with transparency, a palette picture); a 16- or 32-bit grey
    picture (a scanner's PNG) scaled to 8 bits first: converted as it was, every value
    over 255 came out white, the whole picture blank."""
    from PIL import Image
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        top = 65535 if img.mode.startswith("I;16") else max(img.getextrema()[1] or 1, 1)
        img = img.convert("F").point(lambda v: v * (255.0 / top)).convert("L")
        return img.convert("RGB")
    rgba = img.convert("RGBA")
    bg = Image.new("RGB", rgba.size, (255, 255, 255))
    bg.paste(rgba, mask=rgba.split()[3])
    return bg


def _mb(n: float) -> str:
    return f"{n:g}"


def _clean_name(name: str | None, default_ext: str | None = None) -> str | None:
    """A name the model takes (at most 100 characters, no control characters)."""
    if not name:
        return None
    name = os.path.basename(str(name))
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if default_ext:
        name = os.path.splitext(name)[0] + default_ext
    if len(name) > 100:
        stem, ext = os.path.splitext(name)
        name = stem[:100 - len(ext[:10])] + ext[:10]
    return name or None


def _read(source: str | bytes, what: str, zh: str) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    try:
        with open(source, "rb") as f:
            return f.read(), source
    except OSError:
        raise AttachmentError(f"{what}: cannot read the file", f"{zh}：无法读取文件", what)


_REASONS_ZH = {  # why a file waits or was refused (reason_code) -> the screen's words
    "no_record": "等待所属记录先同步到镇里",
    "offline": "网络中断，下次同步时从中断处继续",
    "too_large": "超过镇里规定的大小上限",
    "damaged": "文件已损坏，请重新拍摄",
    "missing": "手机上的文件已丢失，请重新拍摄",
    "forbidden": "无权上传：所属记录不在您的范围内",
    "refused": "镇里拒收",
}


class Attachments:
    """The attachments of one phone's data folder: blobs by hash, thumbnails, the
    upload queue (a small SQLite file beside the replica, `attachments.db`), and this
    device's "photos only on Wi-Fi" choice."""

    def __init__(self, folder: str, settings: dict | None = None, now_ms=None):
        """`folder`: the phone's data folder; `settings`: the township's (resolved)
        settings, for the limits and photo_keep_location (defaults when None); `now_ms`:
        the time a file is marked sent, by the sync's clock (for_replica), as the kept
        changes are: a phone's wrong date, put right, had a restore skip the files
        while it offered the changes naming them again."""
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.folder = folder
        self.settings = township_settings.resolve(settings)
        self.blob_dir = os.path.join(folder, "attachments")
        self.thumb_dir = os.path.join(self.blob_dir, "thumbs")
        os.makedirs(self.thumb_dir, mode=0o700, exist_ok=True)
        for d in (folder, self.blob_dir, self.thumb_dir):
            if os.stat(d).st_mode & 0o077:
                os.chmod(d, 0o700)
        self.db_path = os.path.join(folder, "attachments.db")
        with self._conn() as c:
            c.execute("CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY, hash TEXT UNIQUE NOT NULL,"
                      " kind TEXT NOT NULL, size INTEGER NOT NULL, name TEXT, state TEXT NOT NULL,"
                      " sent_bytes INTEGER NOT NULL DEFAULT 0, reason TEXT, reason_code TEXT,"
                      " added_ms INTEGER NOT NULL, sent_ms INTEGER)")
            c.execute("CREATE INDEX IF NOT EXISTS queue_state ON queue(state, seq)")
            c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")

    @classmethod
    def for_replica(cls, replica) -> "Attachments":
        """The store beside a DeviceReplica, with the township settings it last pulled."""
        raw = replica.meta("township_settings")
        return cls(os.path.dirname(os.path.abspath(replica.path)), json.loads(raw) if raw else None,
                   now_ms=replica.clock.physical)

    def _conn(self):
        return _Conn(self.db_path)

    # --- adding (screens) ---------------------------------------------------------
    def add_photo(self, source: str | bytes, name: str | None = None) -> dict:
        """Take a photo from a file path or bytes: shrink it (shrink_photo), store it by
        hash, make its thumbnail, queue it for upload. Returns the attachment dict
        {hash, kind: "photo", size, name} to put in the record's `attachments` field.
        Adding the same picture twice gives the same dict and stores it once.
        AttachmentError when it is not a picture or is over photo_max_mb."""
        raw, path = _read(source, "photo", "照片")
        if not raw:
            raise AttachmentError("photo: the file is empty", "照片：文件是空的", "photo")
        keep = bool(self.settings.get("photo_keep_location"))
        limit = int(float(self.settings["photo_max_mb"]) * 1024 * 1024)
        data = shrink_photo(raw, keep)
        # A rare picture (fine noise everywhere) can stay large: try smaller before refusing.
        for side, q in ((PHOTO_LONG_SIDE, 70), (1200, 65), (1000, 55)):
            if len(data) <= limit:
                break
            data = shrink_photo(raw, keep, side, q)
        if len(data) > limit:
            mb = _mb(float(self.settings["photo_max_mb"]))
            raise AttachmentError(f"photo: larger than the township's limit of {mb} MB per photo even when shrunk",
                                  f"照片：压缩后仍超过镇里规定的每张 {mb} MB 上限", "photo")
        h = sha256_hex(data)
        thumb = make_thumbnail(data)
        return self._keep(h, "photo", data, _clean_name(name or path, ".jpg") or "photo.jpg", thumb)

    def add_audio(self, source: str | bytes, name: str | None = None) -> dict:
        """Take a voice note (a file path or bytes, as the recorder wrote it), store it by
        hash, queue it. Returns {hash, kind: "audio", size, name}. AttachmentError when
        empty or over audio_max_mb."""
        data, path = _read(source, "voice note", "语音")
        if not data:
            raise AttachmentError("voice note: the recording is empty", "语音：录音是空的", "audio")
        limit_mb = float(self.settings["audio_max_mb"])
        if len(data) > limit_mb * 1024 * 1024:
            mb = _mb(limit_mb)
            raise AttachmentError(f"voice note: larger than the township's limit of {mb} MB per voice note",
                                  f"语音：超过镇里规定的每条 {mb} MB 上限，请录短一些", "audio")
        return self._keep(sha256_hex(data), "audio", data, _clean_name(name or path) or "voice.m4a", None)

    def _keep(self, h: str, kind: str, data: bytes, name: str, thumb: bytes | None) -> dict:
        target = self._blob_path(h)
        if not os.path.exists(target):
            write_atomic(target, data)
        if thumb is not None and not os.path.exists(self._thumb_path(h)):
            write_atomic(self._thumb_path(h), thumb)
        with self._conn() as c:
            c.execute("INSERT OR IGNORE INTO queue (hash, kind, size, name, state, added_ms)"
                      " VALUES (?,?,?,?, 'waiting', ?)", (h, kind, len(data), name, int(time.time() * 1000)))
        return {"hash": h, "kind": kind, "size": len(data), "name": name}

    def _blob_path(self, h: str) -> str:
        _check_hash(h)
        return os.path.join(self.blob_dir, h[:2], h)

    def _thumb_path(self, h: str) -> str:
        _check_hash(h)
        return os.path.join(self.thumb_dir, h + ".jpg")

    # --- reading (screens) --------------------------------------------------------
    def forget_fetched(self, keep: set[str] | frozenset = frozenset()) -> int:
        """Delete the files this phone fetched from the server (someone else's photos and
        voice notes, their thumbnails), keeping those its own records took (the queue)
        and those in `keep`: every one when another person signs in on it; those no
        record left on it names when cases left it (a matter given to another leader:
        the server refuses them its photos now, and the phone kept them). Returns how
        many files went."""
        with self._conn() as c:
            own = {h for (h,) in c.execute("SELECT hash FROM queue")} | set(keep)
        gone = 0
        for root, _, files in os.walk(self.blob_dir):
            for name in files:
                h = name[:-4] if name.endswith(".jpg") else name
                if h not in own and HASH_RE.match(h):
                    try:
                        os.remove(os.path.join(root, name))
                        gone += 1
                    except OSError:
                        pass
        return gone

    def path(self, hash: str) -> str | None:
        """The local file of the attachment's bytes, or None when this phone does not
        hold them (someone else's, not opened yet: see fetch)."""
        p = self._blob_path(hash)
        return p if os.path.exists(p) else None

    def thumbnail(self, hash: str) -> str | None:
        """A local JPEG thumbnail path of a photo this phone holds (made when it was
        added or fetched), or None. Works offline."""
        p = self._thumb_path(hash)
        if os.path.exists(p):
            return p
        full = self.path(hash)
        if full is None:
            return None
        try:  # a photo fetched whole before its thumbnail was made
            with open(full, "rb") as f:
                write_atomic(p, make_thumbnail(f.read()))
        except (AttachmentError, OSError):
            return None
        return p

    def state(self, hash: str) -> dict:
        """{"hash", "state": waiting|sending|sent|refused|remote, "reason": English or None,
        "reason_zh": Chinese or None, "sent_bytes", "size"}. "remote": not from this phone
        and not fetched; "sent" also for someone else's attachment that was fetched."""
        return self.states([hash])[hash]

    def states(self, hashes: list[str]) -> dict[str, dict]:
        """state() of several at once (a record's list)."""
        out = {}
        with self._conn() as c:
            for h in hashes:
                row = c.execute("SELECT state, reason, reason_code, sent_bytes, size FROM queue WHERE hash=?",
                                (h,)).fetchone()
                if row:
                    st, reason, code, sent, size = row
                    out[h] = {"hash": h, "state": st, "reason": reason,
                              "reason_zh": _REASONS_ZH.get(code or "", None) if reason else None,
                              "sent_bytes": sent, "size": size}
                else:
                    here = self.path(h) is not None
                    out[h] = {"hash": h, "state": "sent" if here else "remote", "reason": None,
                              "reason_zh": None, "sent_bytes": 0, "size": None}
        return out

    def waiting_count(self) -> int:
        """Attachments of this phone not yet held by the server (waiting or sending):
        the sync bar's "photos waiting"."""
        with self._conn() as c:
            return c.execute("SELECT count(*) FROM queue WHERE state IN ('waiting', 'sending')").fetchone()[0]

    def retry(self, hash: str) -> None:
        """Put a refused attachment back in line (after the office raised the limit)."""
        with self._conn() as c:
            c.execute("UPDATE queue SET state='waiting', reason=NULL, reason_code=NULL"
                      " WHERE hash=? AND state='refused'", (hash,))

    # --- this device's choice -----------------------------------------------------
    @property
    def wifi_only(self) -> bool:
        """"Photos only on Wi-Fi" (voice notes, small, always go). Off by default."""
        with self._conn() as c:
            row = c.execute("SELECT value FROM meta WHERE key='wifi_only'").fetchone()
        return bool(row and row[0] == "1")

    def set_wifi_only(self, on: bool) -> None:
        with self._conn() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES ('wifi_only', ?)", ("1" if on else "0",))

    # --- travelling (the sync) ----------------------------------------------------
    def upload(self, client, *, on_wifi: bool = True,
               progress: Callable[[dict], None] | None = None) -> UploadReport:
        """Send what waits, oldest first, after the changes were pushed (the server takes
        bytes only for a hash a record it holds names). Each file resumes from the
        offset the server already holds. `client`: a SyncClient (its transport and
        token). With wifi_only set and on_wifi False, photos wait (voice notes go).
        Never raises for one file's trouble: a refused file is marked refused with why,
        a lost connection leaves it waiting; AuthRequired/ProtocolMismatch propagate."""
        from .errors import Unreachable
        report = UploadReport()
        hold_photos = self.wifi_only and not on_wifi
        with self._conn() as c:
            # a "sending" left by a process that stopped mid-file: it resumes like any other
            c.execute("UPDATE queue SET state='waiting' WHERE state='sending'")
            rows = c.execute("SELECT hash, kind, size FROM queue WHERE state='waiting' ORDER BY seq").fetchall()
        todo = [(h, kind, size) for h, kind, size in rows if not (hold_photos and kind == "photo")]
        report.skipped_wifi = len(todo) < len(rows)
        known: dict = {}
        try:  # where each file stands, for the whole queue in one round trip
            for i in range(0, len(todo), 500):
                got = client.blob_statuses([h for h, _, _ in todo[i:i + 500]])
                if got is None:  # an older server: one question per file
                    break
                known.update(got)
        except Unreachable as e:
            report.errors.append(e.message)
            report.waiting = self.waiting_count()
            return report
        for h, kind, size in todo:
            try:
                outcome = self._send_one(client, h, kind, size, report, progress, known.get(h))
            except Unreachable as e:
                self._set(h, "waiting", "the connection was lost: it continues where it stopped at the next sync",
                          "offline")
                report.errors.append(f"{h[:12]}: {e.message}")
                break  # offline: the rest waits for the next sync
            if outcome == "sent":
                report.sent += 1
            elif outcome == "refused":
                report.refused += 1
        report.waiting = self.waiting_count()
        return report

    def _set(self, h: str, state: str, reason: str | None, code: str | None, sent: int | None = None) -> None:
        with self._conn() as c:
            c.execute("UPDATE queue SET state=?, reason=?, reason_code=?, sent_bytes=COALESCE(?, sent_bytes),"
                      " sent_ms=CASE WHEN ?='sent' THEN ? ELSE sent_ms END WHERE hash=?",
                      (state, reason, code, sent, state, self.now_ms(), h))

    def _send_one(self, client, h: str, kind: str, size: int, report: UploadReport, progress,
                  first: dict | None = None) -> str:
        path = self.path(h)
        if path is None:
            self._set(h, "refused", "the file is no longer on this phone: take it again", "missing")
            return "refused"
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != size or sha256_hex(data) != h:
            self._set(h, "refused", "the file on this phone is damaged: take it again", "damaged")
            return "refused"
        if not (isinstance(first, dict) and isinstance(first.get("status"), int)):
            first = (client.blob_statuses([h]) or {}).get(h)
            if not (isinstance(first, dict) and isinstance(first.get("status"), int)):
                self._set(h, "waiting", "the server does not take attachments yet", "offline")
                return "waiting"
        r = None  # the status request answered for this file
        restarts = stalls = 0
        last = -1
        while True:
            body, status = (first, first["status"]) if r is None else (_json(r), r.status_code)
            if status == 200 and body.get("complete"):
                self._set(h, "sent", None, None, size)
                if progress:
                    progress({"phase": "attachments", "hash": h, "sent_bytes": size, "size": size,
                              "waiting": self.waiting_count()})
                return "sent"
            if status == 409 and body.get("error") == "not_named":
                self._set(h, "waiting", body.get("message") or "waiting for its record to reach the server",
                          "no_record")
                return "waiting"
            if status == 413:
                self._set(h, "refused", body.get("message") or "too large", "too_large")
                return "refused"
            if status == 403:
                self._set(h, "refused", body.get("message") or "forbidden", "forbidden")
                return "refused"
            if status == 422 and body.get("error") == "hash_mismatch" and restarts < 1:
                restarts += 1  # the server threw the partial away: once more from the start
                offset = 0
            elif status in (200, 409) and isinstance(body.get("offset"), int):
                offset = body["offset"]
            else:
                self._set(h, "refused", body.get("message") or f"refused with HTTP {status}", "refused")
                return "refused"
            if not 0 <= offset < size:
                self._set(h, "refused", "the server holds more of this file than it has", "refused")
                return "refused"
            stalls = stalls + 1 if offset <= last else 0
            last = offset
            if stalls >= 3:  # the server keeps answering the same offset: try again at the next sync
                self._set(h, "waiting", "the server did not take the bytes: it is tried again at the next sync",
                          "offline")
                return "waiting"
            self._set(h, "sending", None, None, offset)
            if progress:
                progress({"phase": "attachments", "hash": h, "sent_bytes": offset, "size": size,
                          "waiting": self.waiting_count()})
            step = client.attachment_chunk
            if size - offset <= step * 3 // 2:  # a short tail goes with the last chunk: one round trip less
                step = size - offset
            chunk = data[offset:offset + step]
            r = client.blob_request("PUT", h, "", params={"offset": offset, "size": size, "kind": kind},
                                    content=chunk)
            report.bytes_sent += len(chunk)

    def fetch(self, client, attachment: dict | str, *, thumb: bool = False) -> str:
        """The local path of an attachment's bytes (or, with thumb=True, of its
        thumbnail), downloading it from the server the first time it is opened and
        keeping it (someone else's photo). Raises SyncError subclasses (Refused with
        403 when this person may not see it; Unreachable offline)."""
        from .errors import Refused
        h = attachment["hash"] if isinstance(attachment, dict) else attachment
        _check_hash(h)
        if thumb:
            have = self.thumbnail(h)
            if have:
                return have
            r = client.blob_request("GET", h, "", params={"thumb": "true"})
            _refuse_unless_ok(r)
            write_atomic(self._thumb_path(h), r.content)
            return self._thumb_path(h)
        have = self.path(h)
        if have:
            return have
        r = client.blob_request("GET", h, "")
        _refuse_unless_ok(r)
        if sha256_hex(r.content) != h:
            raise Refused("the file arrived damaged: open it again", 422)
        write_atomic(self._blob_path(h), r.content)
        return self._blob_path(h)


def _refuse_unless_ok(r) -> None:
    from .errors import Refused
    if r.status_code != 200:
        body = _json(r)
        raise Refused(body.get("message") or f"HTTP {r.status_code}", r.status_code)


def _json(r) -> dict:
    try:
        got = r.json()
    except ValueError:
        return {}
    return got if isinstance(got, dict) else {}


def _check_hash(h: str) -> None:
    if not (isinstance(h, str) and len(h) == 64 and all(c in "0123456789abcdef" for c in h)):
        raise ValueError("hash: must be 64 lowercase hex digits (SHA-256)")


class _Conn:
    """A short-lived connection to attachments.db: the screens and the background sync
    (another thread, sometimes `gridbook sync` in another process) each open their own."""

    def __init__(self, path: str):
        from .replica import private_file
        private_file(path)
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.conn.close()


# --- added for the screens (fieldapp/screens/attachments.py) -------------------------
# A photo is stored and queued the moment it is taken, before its form is saved; a form
# left without saving, or a photo removed from it, leaves bytes no record names, which
# would wait for ever and keep the sync bar's count up.

def named_hashes(replica) -> set[str]:
    """Every attachment hash a record in this replica names (its tables hold the
    phone's own unsent writes too)."""
    from .model import ENTITIES
    from .replica import TABLES
    out: set[str] = set()
    for name, ent in ENTITIES.items():
        if "attachments" not in ent.by_name or name not in TABLES:
            continue
        for (text,) in replica.conn.execute(f"SELECT attachments FROM {TABLES[name]} WHERE attachments IS NOT NULL"):
            try:
                items = json.loads(text)
            except (TypeError, ValueError):
                continue
            out.update(a["hash"] for a in items if isinstance(a, dict) and isinstance(a.get("hash"), str))
    return out


def _sent_with_a_change(replica, h: str) -> bool:
    """Whether a change this phone sent, or is to send, names the file: its record may
    have left the phone since (a matter given to another leader, its visit with it), and
    the server still waits for the bytes from the one who took them."""
    return replica.conn.execute(
        "SELECT 1 FROM pushed WHERE instr(body, ?) > 0 UNION ALL SELECT 1 FROM outbox WHERE instr(body, ?) > 0"
        " LIMIT 1", (h, h)).fetchone() is not None


def forget_unnamed(store: Attachments, replica, hashes: list[str] | None = None, older_than_s: float = 0) -> int:
    """Drop from the queue, and from the phone, attachments that no record names and
    that have not started to travel: those among `hashes` (a photo removed from a form),
    or all of them added more than `older_than_s` ago (forms never saved). Returns how
    many went. A hash a record names, or one partly sent, is never touched."""
    named = named_hashes(replica)
    cutoff = int((time.time() - older_than_s) * 1000)
    with store._conn() as c:
        rows = c.execute("SELECT hash FROM queue WHERE state='waiting' AND sent_bytes=0 AND added_ms<=?",
                         (cutoff,)).fetchall()
        gone = [h for (h,) in rows if h not in named and (hashes is None or h in hashes)
                and not _sent_with_a_change(replica, h)]
        for h in gone:
            c.execute("DELETE FROM queue WHERE hash=?", (h,))
    for h in gone:
        for p in (store._blob_path(h), store._thumb_path(h)):
            try:
                os.remove(p)
            except OSError:
                pass
    return len(gone)
