"""Private, durable files: what the phone's attachments, the server's blobs and the
backup's copies write. Each is created 0600 in a 0700 folder (they hold photos of people
and their papers), written aside, on disk before it is named, and named in one step: a
power cut leaves the whole file or none of it, never a part taken for the whole."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Iterable


def fsync_dir(path: str) -> None:
    """A rename or a new entry in the folder is on disk (the file's own fsync does not
    cover its name)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(path: str) -> None:
    """The folder, 0700, made (durably) if missing, its mode narrowed if it was wider."""
    made = not os.path.isdir(path)
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)
    if made:
        fsync_dir(os.path.dirname(os.path.abspath(path)))


def write_atomic(path: str, data: bytes | Iterable[bytes]) -> None:
    """Write `data` (bytes, or chunks of them) to `path` whole or not at all."""
    folder = os.path.dirname(os.path.abspath(path))
    private_dir(folder)
    # unique per process and thread: two threads may write the same file at once
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for chunk in ([data] if isinstance(data, (bytes, bytearray, memoryview)) else data):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(folder)


def whole_hashes(hashes: Iterable) -> set[str]:
    """The SHA-256 hashes among these, written whole (64 lowercase hex digits): a file's
    name begins with one (an empty or short one would name every file)."""
    return {h for h in hashes if isinstance(h, str) and len(h) == 64 and all(c in "0123456789abcdef" for c in h)}


def remove_named(folder: str, hashes: Iterable[str]) -> set[str]:
    """Delete every file under `folder` whose name begins with one of these SHA-256
    hashes (the bytes, a thumbnail `<hash>.jpg`, a partial upload), whatever the folder's
    layout, in one walk. Returns the hashes of which a file was deleted. Only whole
    hashes count: an empty or short one would name every file."""
    wanted = whole_hashes(hashes)
    gone: set[str] = set()
    if not wanted or not os.path.isdir(folder):
        return gone
    for root, _, files in os.walk(folder):
        for name in files:
            if name[:64] in wanted:
                try:
                    os.remove(os.path.join(root, name))
                except FileNotFoundError:   # another process (the server's other one) took it first
                    continue
                gone.add(name[:64])
    return gone
