"""Attachments' bytes on the server (photos, voice notes): kept by hash beside the store,
uploaded apart from the changes that name them, served only to who may see a record
that names them. (Issue 9; `add_routes` is called by app.py.)

Where they live: `<store>.blobs/` (0700), one file per SHA-256 at `ab/abcdef…` (0600);
uploads in progress in `partial/<hash>`, the office's thumbnails in `thumbs/<hash>.jpg`.
A hash is stored once whoever sends it. A backup of the store takes this folder too
(docs/sync-protocol.md, "Attachments").

Who may send or read a hash: whoever may see a record that names it in its
`attachments` field (access.py scopes: the office and the admin see all). A phone pushes
the record before its bytes, so the rule holds for the person who took the photo; bytes
no record names are not taken at all (409, the phone waits), so the server never holds
what nobody can see. Every read is audited; a finished upload is too.

The upload (resumable, chunked):
    POST /api/v1/blobs/status {"hashes": [...]} → {"blobs": {hash: {"status": 200, "offset",
           "size", "complete", "limit"} or {"status": 4xx, "error", "message"}}}
    PUT  /api/v1/blobs/{hash}?offset=N         body: the bytes from N on (one chunk)
         → {"offset", "size", "complete"}; 409 {"offset"} when N is not what the
           server holds; on the last byte the hash is checked (422 on a mismatch, the
           partial thrown away) and the file is named; every answer comes after fsync.
    GET  /api/v1/blobs/{hash}                  the bytes
    GET  /api/v1/blobs/{hash}?thumb=true       a JPEG thumbnail of a photo (made once, kept)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .. import access
from ..access import Principal
from ..files import fsync_dir, private_dir, write_atomic
from ..model import ENTITIES
from . import api_models as m

HASH_PATTERN = r"^[0-9a-f]{64}$"
THUMB_LONG_SIDE = 480  # px: the office's cards are wider than a phone's list
# Thumbnails made at once, the others waiting: each holds a decoded picture in memory.
THUMBNAILS_AT_ONCE = 2
_THUMBNAILS = threading.BoundedSemaphore(THUMBNAILS_AT_ONCE)
# what a voice note is served as, by the name the recorder gave it (the rest: octet-stream)
AUDIO_TYPES = {".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac", ".mp3": "audio/mpeg",
               ".wav": "audio/wav", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".webm": "audio/webm"}
LIMIT_SETTING = {"photo": "photo_max_mb", "audio": "audio_max_mb"}
KIND_WORD = {"photo": "photo", "audio": "voice note"}


class BlobError(Exception):
    """An answer that is not the bytes: status, code and English words (the API's shape)."""

    def __init__(self, status: int, error: str, message: str, **extra):
        super().__init__(message)
        self.status, self.error, self.message, self.extra = status, error, message, extra
        self.own_claim: tuple | None = None   # allowed(): a record naming it by this person's own claim


class BlobFolder:
    """The files: complete blobs by hash, partial uploads, thumbnails."""

    def __init__(self, db_path: str):
        self.root = os.path.abspath(db_path) + ".blobs"
        self.partial_dir = os.path.join(self.root, "partial")
        self.thumb_dir = os.path.join(self.root, "thumbs")
        for d in (self.root, self.partial_dir, self.thumb_dir):
            private_dir(d)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, h: str) -> threading.Lock:
        """One upload of a hash at a time (a retried chunk may race its own first try)."""
        with self._guard:
            return self._locks.setdefault(h, threading.Lock())

    def path(self, h: str) -> str:
        return os.path.join(self.root, h[:2], h)

    def has(self, h: str) -> bool:
        return os.path.exists(self.path(h))

    def held(self, h: str, part: str | None = None, complete_first: bool | None = None) -> int:
        """Bytes the server holds of it: the whole size when complete, else the partial's
        (`part`: one person's, upload_part); a claim's upload (claim_part) counts its
        partial alone (`complete_first` False; by default, when no part is named)."""
        if complete_first is None:
            complete_first = part is None
        if complete_first:
            try:
                return os.path.getsize(self.path(h))
            except FileNotFoundError:
                pass
        try:
            return os.path.getsize(os.path.join(self.partial_dir, part or h))
        except FileNotFoundError:
            return 0

    @staticmethod
    def upload_part(h: str, username: str) -> str:
        """The partial of one person's upload: each uploader appends to their own. One shared
        partial let a co-worker who may see the record append a byte whenever the owner's
        offset moved: the whole upload failed its hash, twice, and the photo was refused."""
        return f"{h}.up-{hashlib.sha256(username.encode()).hexdigest()[:16]}"

    @staticmethod
    def claim_part(h: str, username: str) -> str:
        """The partial of one person's upload of a file they claimed (a name of its own:
        the file may be complete already, from another record's upload)."""
        return f"{h}.claim-{hashlib.sha256(username.encode()).hexdigest()[:16]}"

    def settle(self, h: str, size: int, mine: str | None = None) -> None:
        """A partial holding the whole file (the process died between its last write and
        its naming) is checked and named now, or thrown away: the shared one of uploads
        made before each person had their own, and `mine` (upload_part)."""
        with self.lock(h):
            for name in dict.fromkeys(n for n in (h, mine) if n):
                part = os.path.join(self.partial_dir, name)
                if not self.has(h) and os.path.exists(part) and os.path.getsize(part) >= size:
                    self._finish(h, part)

    def append(self, h: str, offset: int, data: bytes, size: int, claim: str | None = None,
               mine: str | None = None) -> tuple[int, bool]:
        """Add a chunk at `offset`; (bytes held, complete). Durable before it returns.
        `claim`: the partial of a claim (claim_part), sent whole even when the file is
        held already: the bytes are the proof. `mine`: the uploader's own partial
        (upload_part; the shared one when None)."""
        if claim is None:
            self.settle(h, size, mine)
        with self.lock(h):
            if claim is None and self.has(h):
                return size, True
            part = os.path.join(self.partial_dir, claim or mine or h)
            have = self.held(h, claim or mine, complete_first=False)
            if offset != have:
                raise BlobError(409, "offset_mismatch", f"offset: the server holds {have} bytes of this file,"
                                f" send from there", offset=have)
            if have + len(data) > size:
                raise BlobError(422, "too_long", f"body: the file is {size} bytes; these bytes go past its end")
            new = not os.path.exists(part)
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:
                fsync_dir(self.partial_dir)
            have += len(data)
            if have < size:
                return have, False
            self._finish(h, part)
            return size, True

    def _finish(self, h: str, part: str) -> None:
        """Hash the whole partial: name it when it is the file it claims to be, else throw
        it away (BlobError 422). Under the hash's lock."""
        digest = hashlib.sha256()
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != h:
            os.unlink(part)
            fsync_dir(self.partial_dir)
            raise BlobError(422, "hash_mismatch", "body: the bytes received do not match the hash they were"
                            " sent for; the upload was discarded, send it again from the start", offset=0)
        final = self.path(h)
        if os.path.exists(final):  # a claim's proof: the file itself is there already
            os.unlink(part)
            fsync_dir(self.partial_dir)
            return
        private_dir(os.path.dirname(final))
        os.replace(part, final)
        fsync_dir(os.path.dirname(final))
        for name in os.listdir(self.partial_dir):   # the others' uploads of it are done with
            if name.startswith(h + ".up-"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.partial_dir, name))
        fsync_dir(self.partial_dir)

    def read(self, h: str) -> bytes:
        with open(self.path(h), "rb") as f:
            return f.read()

    def thumbnail(self, h: str) -> bytes:
        """The JPEG thumbnail of a photo, made from the blob the first time and kept.
        Made by the phone's own code (a JPEG decoded at the smallest scale over the size
        wanted, nothing decoded past MAX_DECODE_PIXELS), THUMBNAILS_AT_ONCE at a time:
        four requests for one small PNG of 13,000 × 13,000 pixels took the server from
        98 MB to 5 GB."""
        p = os.path.join(self.thumb_dir, h + ".jpg")
        if os.path.exists(p):
            with open(p, "rb") as f:
                return f.read()
        with _THUMBNAILS:
            if os.path.exists(p):   # made by another request while this one waited
                with open(p, "rb") as f:
                    return f.read()
            from ..attachments import AttachmentError, make_thumbnail
            try:
                data = make_thumbnail(self.read(h), THUMB_LONG_SIDE)
            except AttachmentError:
                raise BlobError(422, "not_a_picture", "hash: this attachment is not a picture, or one too"
                                                      " large to show") from None
            write_atomic(p, data)
            return data

    def usage(self) -> dict:
        """{"files", "bytes"} of the complete blobs (for the backup and the health page)."""
        files = size = 0
        for sub in os.listdir(self.root):
            d = os.path.join(self.root, sub)
            if len(sub) == 2 and os.path.isdir(d):
                for name in os.listdir(d):
                    files += 1
                    size += os.path.getsize(os.path.join(d, name))
        return {"files": files, "bytes": size}


_folders: dict[str, BlobFolder] = {}
_folders_guard = threading.Lock()


def folder_for(store) -> BlobFolder:
    """The blob folder beside a CentralStore (one object per store file and process)."""
    path = os.path.abspath(store.path)
    with _folders_guard:
        if path not in _folders:
            _folders[path] = BlobFolder(path)
        return _folders[path]


# --- who names a hash, and who may see it --------------------------------------------

def naming(store, h: str) -> list[tuple[str, dict, dict]]:
    """(entity, row, the attachment entry) of every record whose attachments name `h`
    now. Looked up in `blob_refs` (every record a change ever attached the hash to),
    then checked against the record as it is: one that dropped the photo names it no
    more. The index is whole (_catch_up, reread_log): a hash it does not hold is named by
    no record, and costs a probe, not a read of every table (a phone asking after 500
    made-up hashes held the store's lock for a scan of each)."""
    out = []
    with store.lock:
        _catch_up(store)
        refs = store.conn.execute("SELECT entity, record FROM blob_refs WHERE hash=?", (h,)).fetchall()
        for entity, rid in refs:
            row = store.get(entity, rid) if entity in ENTITIES else None
            entry = next((a for a in (row or {}).get("attachments") or []
                          if isinstance(a, dict) and a.get("hash") == h), None)
            if entry is not None:
                out.append((entity, row, entry))
    return out


def reread_log(store) -> None:
    """The change log was rebuilt (a VACUUM may renumber its rows): the index reads it
    all again at the next lookup. Without this, pushes that took the log past the old
    high-water mark before that lookup would hide the renumbered rows from it."""
    if store.conn.execute("SELECT 1 FROM sqlite_master WHERE name='blob_refs_seen'").fetchone():
        store.conn.execute("DELETE FROM blob_refs_seen")


def _catch_up(store) -> None:
    """Index the hashes the changes accepted since the last look name (`blob_refs`, in
    the store; kept by this module alone). The change log only grows, so the index
    follows it by rowid: a lookup costs an index probe, not a scan of every table."""
    import json
    x = store.conn.execute
    x("CREATE TABLE IF NOT EXISTS blob_refs (hash TEXT NOT NULL, entity TEXT NOT NULL, record TEXT NOT NULL,"
      " PRIMARY KEY (hash, entity, record)) WITHOUT ROWID")
    x("CREATE TABLE IF NOT EXISTS blob_refs_seen (id INTEGER PRIMARY KEY CHECK (id = 0), last INTEGER NOT NULL)")
    got = x("SELECT last FROM blob_refs_seen WHERE id=0").fetchone()
    last = got[0] if got else 0
    top = x("SELECT max(rowid) FROM changes").fetchone()[0] or 0
    if top < last:  # the log was renumbered (a VACUUM after an erasure): read it all again
        last = 0
    if top == last:
        return
    refs = set()
    for entity, rid, body in x("SELECT entity, record, body FROM changes WHERE rowid > ? AND rowid <= ?"
                               " AND instr(body, '\"attachments\"') > 0", (last, top)):
        try:
            atts = (json.loads(body).get("fields") or {}).get("attachments")
        except (ValueError, AttributeError):
            continue
        for a in atts if isinstance(atts, list) else ():
            if isinstance(a, dict) and isinstance(a.get("hash"), str):
                refs.add((a["hash"], entity, rid))
    with store.transaction():
        store.conn.executemany("INSERT OR IGNORE INTO blob_refs VALUES (?,?,?)", sorted(refs))
        x("INSERT OR REPLACE INTO blob_refs_seen VALUES (0, ?)", (top,))


def _sees(store, p: Principal, entity: str, row: dict) -> bool:
    if p.sees_all:
        return True
    parent = ENTITIES[entity].parent
    case = store.get("case", row[parent]) if parent and row.get(parent) else None
    return bool(access.record_keys(entity, row, case) & p.keys)


# Claims: a record naming a file that other records name and its author could not see
# (central.CentralStore._unshown_attachments). Taken, since the same picture is often
# forwarded to two grid workers, but it opens the file to nobody until its author
# uploads the bytes (the hash is no proof of holding them: it may be kept from a matter
# that has left one's grid). Nor does it keep the file from an erasure.

def claims(store, h: str) -> dict[tuple[str, str], str]:
    """(entity, record) -> claimant, of the namings of `h` not yet shown."""
    with store.lock:   # the write connection: not between another thread's statements
        return {(e, r): u for e, r, u in store.conn.execute(
            "SELECT entity, record, username FROM blob_claims WHERE hash=?", (h,))}


def allowed(store, p: Principal, h: str) -> tuple[str, dict, dict]:
    """The first record naming `h` that this person may see, not by a claim: (entity,
    row, entry). BlobError 404 when no record names it ("claimed" when those they see
    name it by a claim not yet shown), 403 when none of those is theirs to see."""
    named = naming(store, h)
    if not named:
        raise BlobError(404, "not_found", "hash: no record names this attachment")
    unshown = claims(store, h)
    claimed, own = False, None
    for entity, row, entry in named:
        if _sees(store, p, entity, row):
            claimant = unshown.get((entity, row["id"]))
            if claimant is None:
                return entity, row, entry
            claimed = True
            if claimant == p.username and own is None:
                own = (entity, row, entry)
    if claimed:
        e = BlobError(404, "claimed", "hash: the phone that attached this file has not sent its bytes yet")
    else:
        e = BlobError(403, "forbidden", "this attachment belongs to a record this account may not see")
    e.own_claim = own   # their upload of the bytes settles it (_upload_target)
    raise e


def _written_by(store, p: Principal, h: str) -> tuple[str, dict, dict] | None:
    """The first record naming `h` that this person wrote (its author field names them;
    a household, which has none, by a change of theirs that named the file), whether or
    not they may see it now; None if none."""
    from ..permissions import AUTHOR_FIELDS
    unshown = claims(store, h)
    named = [(e, row, entry) for e, row, entry in naming(store, h) if (e, row["id"]) not in unshown]
    for entity, row, entry in named:   # a record whose author field names them comes first
        author = AUTHOR_FIELDS.get(entity)
        if author and row.get(author) == p.username:
            return entity, row, entry
    for entity, row, entry in named:
        if not AUTHOR_FIELDS.get(entity) and _named_by(store, p.username, entity, row["id"], h):
            # a household photo whose household the office moved to another grid before
            # the photo went up: refused, it was missing for ever from the household
            return entity, row, entry
    return None


def _named_by(store, username: str, entity: str, rid: str, h: str) -> bool:
    """Whether a change of this person's put the file on the record."""
    with store.lock:   # the write connection: not between another thread's statements
        return store.conn.execute(
            "SELECT 1 FROM changes WHERE record=? AND entity=? AND author=? AND instr(body, ?) > 0 LIMIT 1",
            (rid, entity, username, f'"hash":"{h}"')).fetchone() is not None


def _settle_claim(store, p: Principal, h: str) -> None:
    with store.lock, store.transaction():
        store.conn.execute("DELETE FROM blob_claims WHERE hash=? AND username=?", (h, p.username))


def limit_bytes(store, kind: str) -> tuple[int, str]:
    """(bytes, words) of the township's limit for this kind of attachment."""
    setting = LIMIT_SETTING.get(kind, "photo_max_mb")
    mb = float(store.settings()[setting])
    return int(mb * 1024 * 1024), f"{mb:g} MB per {KIND_WORD.get(kind, kind)} (setting {setting})"


def _upload_target(store, p: Principal, h: str, size: int | None) -> tuple[str, dict, dict, int, str | None]:
    """What an upload of `h` by this person may be: the record's entry, its size, and the
    partial of their claim when it settles one (else None); refused when no record they
    may see names it (409: push the record first), when it is over the township's limit
    (413), or when the size sent is not the record's."""
    claim = None
    try:
        entity, row, entry = allowed(store, p, h)
    except BlobError as e:
        own = e.own_claim
        if own is None and e.error == "not_found":
            raise BlobError(409, "not_named", "hash: no record on the server names this attachment yet:"
                                              " push the record first, then its bytes")
        written = _written_by(store, p, h) if own is None and e.status == 403 else None
        if written is not None:
            # their own record's file, the record since gone out of their sight (a matter
            # given to another leader while the photo waited for Wi-Fi): sending is not
            # reading, and the file would be missing for ever from the record it belongs to
            entity, row, entry = written
        elif own is None:
            raise
        else:
            (entity, row, entry), claim = own, BlobFolder.claim_part(h, p.username)
    if claim is None:
        mine = _written_by(store, p, h)
        if mine is not None:
            # the uploader's own record says what its file is: another record naming the
            # same hash with another size (a co-worker's tampered app, having pulled the
            # visit, named it with a size of 1) refused the true bytes for good
            entity, row, entry = mine
    want = entry.get("size")
    kind = entry.get("kind") or "photo"
    limit, words = limit_bytes(store, kind)
    if not isinstance(want, int) or want > limit:
        have = f"{want / (1024 * 1024):.1f} MB" if isinstance(want, int) else "of no size"
        raise BlobError(413, "too_large", f"{KIND_WORD.get(kind, kind)}: {have} is over the township's limit"
                                          f" of {words}", limit=limit)
    if size is not None and size != want:
        raise BlobError(422, "size_mismatch", f"size: the record names this attachment with {want} bytes, not {size}")
    return entity, row, entry, want, claim


# --- what the routes and the office's screens call -----------------------------------

def upload_status(store, p: Principal, h: str, size: int | None = None) -> dict:
    _, _, entry, want, claim = _upload_target(store, p, h, size)
    blobs, mine = folder_for(store), BlobFolder.upload_part(h, p.username)
    if claim is None:
        blobs.settle(h, want, mine)
    limit, _ = limit_bytes(store, entry.get("kind") or "photo")
    return {"hash": h, "offset": blobs.held(h, claim or mine, claim is None), "size": want,
            "complete": claim is None and blobs.has(h), "limit": limit}


def upload_statuses(store, p: Principal, hashes: list[str]) -> dict[str, dict]:
    """upload_status of several hashes in one request (a phone's whole queue in one round
    trip): each {"status": 200, offset, size, complete, limit} or {"status": 4xx,
    "error", "message"} as its own request would have answered."""
    out = {}
    for h in dict.fromkeys(hashes):
        try:
            out[h] = {"status": 200, **upload_status(store, p, h)}
        except BlobError as e:
            out[h] = {"status": e.status, "error": e.error, "message": e.message, **e.extra}
    return out


def upload_chunk(store, p: Principal, h: str, offset: int, data: bytes, size: int | None = None,
                 address: str = "") -> dict:
    entity, row, entry, want, claim = _upload_target(store, p, h, size)
    held, complete = folder_for(store).append(h, offset, data, want, claim, BlobFolder.upload_part(h, p.username))
    if complete and claim is not None:   # the bytes were the file: the claim is shown
        _settle_claim(store, p, h)
    if complete and offset + len(data) == want:  # the request that finished it
        store.audit(p.username, "attachment_upload", f"{h[:16]} {entity} {row['id']} {want}",
                    device=p.device, address=address)
    return {"hash": h, "offset": held, "size": want, "complete": complete}


def read(store, p: Principal, h: str, thumb: bool = False, address: str = "") -> tuple[bytes, str]:
    """(bytes, media type) of an attachment, or of its thumbnail, for this person;
    audited (who, which attachment of which record). BlobError 403/404 otherwise."""
    entity, row, entry = allowed(store, p, h)
    blobs = folder_for(store)
    if not blobs.has(h):
        raise BlobError(404, "not_uploaded", "hash: the phone that took this attachment has not sent it yet")
    store.audit(p.username, "attachment_thumb" if thumb else "attachment",
                f"{h[:16]} {entity} {row['id']}", device=p.device, address=address)
    if thumb:
        return blobs.thumbnail(h), "image/jpeg"
    if entry.get("kind") == "photo":
        media = "image/jpeg"
    else:
        media = AUDIO_TYPES.get(os.path.splitext(entry.get("name") or "")[1].lower(), "application/octet-stream")
    return blobs.read(h), media


def counts_by_case(store) -> dict[str, int]:
    """Attachments per matter: the case's own, its timeline's and its visits'."""
    sql = """SELECT id, json_array_length(attachments) FROM cases WHERE json_valid(attachments)
             UNION ALL SELECT case_id, json_array_length(attachments) FROM case_events
               WHERE json_valid(attachments) AND case_id IS NOT NULL
             UNION ALL SELECT case_id, json_array_length(attachments) FROM visits
               WHERE json_valid(attachments) AND case_id IS NOT NULL"""
    out: dict[str, int] = {}
    with store.lock:
        for cid, n in store.conn.execute(sql):
            if n:
                out[cid] = out.get(cid, 0) + n
    return out


# --- the routes -----------------------------------------------------------------------

MAX_STATUS = 500  # hashes per status request


class StatusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hashes: list[Annotated[str, StringConstraints(pattern=HASH_PATTERN, min_length=64, max_length=64)]] = Field(
        max_length=MAX_STATUS, description="SHA-256 hashes of attachments, lowercase hex")


class HashState(BaseModel):
    status: int
    offset: int | None = None
    size: int | None = None
    complete: bool | None = None
    limit: int | None = None
    error: str | None = None
    message: str | None = None


class StatusAnswer(BaseModel):
    blobs: dict[str, HashState]


class UploadState(BaseModel):
    hash: str
    offset: int
    size: int
    complete: bool
    limit: int | None = None


def add_routes(app, deps) -> None:
    """The attachment routes; `deps` has store, protocol, principal, ApiError, client_address."""
    store, ApiError = deps.store, deps.error

    def errors(*codes: int) -> dict:
        why = {409: "the server holds another offset of this file (offset says which), or no record names it yet"}
        return {c: {"model": m.ErrorBody, "description": why.get(c) or m._WHY[c]} for c in codes}

    def answer(fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except BlobError as e:
            raise ApiError(e.status, e.error, e.message, **e.extra)

    hash_path = Path(min_length=64, max_length=64, pattern=HASH_PATTERN,
                     description="the SHA-256 of the attachment's bytes, lowercase hex")
    size_q = Query(default=None, ge=1, le=1 << 40, description="the file's whole size, as the record names it")

    @app.post("/api/v1/blobs/status", tags=["sync"], response_model=StatusAnswer,
              responses=errors(400, 401, 413, 422, 426))
    def upload_states(req: StatusRequest, _: int = Depends(deps.protocol), p: Principal = Depends(deps.principal)):
        """How much of each attachment the server holds (or why it takes none), for a
        phone's whole queue in one round trip; an upload continues at each one's offset."""
        return {"blobs": upload_statuses(store, p, req.hashes)}

    @app.put("/api/v1/blobs/{hash}", tags=["sync"], response_model=UploadState,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
             responses=errors(400, 401, 403, 409, 413, 422, 426))
    async def upload(request: Request, hash: str = hash_path,
                     offset: int = Query(ge=0, le=1 << 40, description="where these bytes start in the file"),
                     size: int | None = size_q,
                     kind: str | None = Query(default=None, max_length=10, description="photo or audio (informative)"),
                     _: int = Depends(deps.protocol), p: Principal = Depends(deps.principal)):
        """A chunk of an attachment from `offset` on; answered once it is on disk."""
        data = await request.body()
        if not data:
            raise ApiError(422, "invalid_request", "body: send the bytes of the attachment from offset on")
        return await run_in_threadpool(answer, upload_chunk, store, p, hash, offset, data, size,
                                       deps.client_address(request))

    file_answer = {200: {"description": "the bytes", "content": {
        media: {"schema": {"type": "string", "format": "binary"}}
        for media in ("image/jpeg", "application/octet-stream", *sorted(set(AUDIO_TYPES.values())))}}}

    @app.get("/api/v1/blobs/{hash}", tags=["sync"], response_class=Response,
             responses={**file_answer, **errors(400, 401, 403, 404, 422, 426)})
    def download(request: Request, hash: str = hash_path,
                 thumb: bool = Query(default=False, description="a photo's JPEG thumbnail (made on the server"
                                                               " the first time, kept) instead of the bytes"),
                 _: int = Depends(deps.protocol), p: Principal = Depends(deps.principal)):
        """An attachment's bytes, or a photo's thumbnail, for who may see a record that
        names it (audited)."""
        data, media = answer(read, store, p, hash, thumb, deps.client_address(request))
        return Response(data, media_type=media, headers={"Cache-Control": "private, no-store"})
