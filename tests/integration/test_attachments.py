"""Photos and voice notes against the real `gridbook serve` process: the bytes travel
apart from the record, resumably, through a link that is cut mid-upload and a server
that is SIGKILLed mid-chunk; stored once per hash; read only by who may see the record;
refused when over the township's limit or not matching their hash."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import stat
import threading
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageFilter

from sync.attachments import Attachments
from sync.errors import Refused

from .conftest import auth_headers, household_fields, phone

pytestmark = pytest.mark.integration


# --- a link that breaks --------------------------------------------------------------

class CutProxy:
    """A TCP proxy on loopback in front of the server. After `budget` bytes from the
    phone it cuts the connection in the middle of whatever it carries (calling `on_cut`
    first, with the byte still undelivered) and refuses every new connection until
    `heal()`: the phone walking out of signal mid-upload."""

    def __init__(self, port: int, budget: int | None = None, on_cut=None):
        self.target, self.budget, self.on_cut = port, budget, on_cut
        self.forwarded = 0
        self.broken = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def heal(self) -> None:
        with self._lock:
            self.budget = None
            self.broken.clear()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self.broken.is_set():
                conn.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            except OSError:
                conn.close()
                continue
            up.settimeout(None)
            threading.Thread(target=self._pump, args=(conn, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, conn, False), daemon=True).start()

    def _pump(self, src, dst, upstream: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream:
                    with self._lock:
                        room = None if self.budget is None else self.budget - self.forwarded
                        if room is not None and len(data) >= room:
                            dst.sendall(data[:room])
                            self.forwarded += room
                            self.broken.set()
                            if self.on_cut:
                                self.on_cut()
                            break
                        self.forwarded += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


# --- pictures that do not compress to nothing ------------------------------------------

def noisy_photo(w: int = 900, h: int = 700, sigma: float = 40) -> bytes:
    """A camera-like JPEG: gradients under fine noise (each call a different picture)."""
    n = [Image.effect_noise((w, h), sigma).filter(ImageFilter.GaussianBlur(0.6)) for _ in range(3)]
    g = Image.linear_gradient("L").resize((w, h))
    img = Image.merge("RGB", [Image.blend(n[0], g, 0.5), n[1], Image.blend(n[2], g.rotate(90), 0.5)])
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def blob_files(srv) -> list[Path]:
    root = Path(str(srv.db) + ".blobs")
    return [p for p in root.glob("??/*") if p.is_file()]


def server_blob(srv, h: str) -> bytes:
    return (Path(str(srv.db) + ".blobs") / h[:2] / h).read_bytes()


def household_with(replica, author: str, grid: str, atts: list[dict], n: int = 0) -> str:
    ch = replica.create("household", {**household_fields(grid, n), "attachments": atts}, author)
    return ch["record"]


def upload_state(srv, username: str, h: str) -> dict:
    """What the server says it holds of `h` (POST /api/v1/blobs/status)."""
    r = httpx.post(f"{srv.url}/api/v1/blobs/status", json={"hashes": [h]}, headers=auth_headers(srv, username),
                   timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["blobs"][h]


# --- the tests -----------------------------------------------------------------------

def test_cut_mid_upload_resumes_where_it_stopped(server, tmp_path):
    srv = server
    proxy = CutProxy(srv.port)
    replica, client = phone(tmp_path / "w1", srv, "worker1", retries=1)
    client.server = proxy.url
    client.attachment_chunk = 32 * 1024
    store = Attachments.for_replica(replica)
    att = store.add_photo(noisy_photo(), "drain.jpg")
    assert att["kind"] == "photo" and att["size"] > 4 * client.attachment_chunk
    household_with(replica, "worker1", "g1", [att])
    assert store.state(att["hash"])["state"] == "waiting"
    assert store.waiting_count() == 1

    client.sync()  # the record first; the photo does not hold it back
    assert srv.sql("SELECT count(*) FROM households WHERE instr(attachments, ?) > 0", (att["hash"],))[0][0] == 1

    # the link dies 100 KB into the photo (after the sync's own bytes)
    with proxy._lock:
        proxy.budget = proxy.forwarded + 100 * 1024
    first = client.send_attachments()
    assert proxy.broken.is_set(), store.state(att["hash"])
    assert first["sent"] == 0 and first["waiting"] == 1 and first["errors"]
    st = store.state(att["hash"])
    assert st["state"] == "waiting" and 0 < st["sent_bytes"] < att["size"]
    held = upload_state(srv, "worker1", att["hash"])
    assert 0 < held["offset"] < att["size"] and held["complete"] is False
    assert held["offset"] >= st["sent_bytes"]  # every acknowledged chunk is there

    proxy.heal()  # back in signal
    second = client.send_attachments()
    assert second["sent"] == 1 and second["waiting"] == 0
    # resumed: only what the server did not hold went the second time
    assert second["bytes_sent"] == att["size"] - held["offset"]
    assert store.state(att["hash"])["state"] == "sent" and store.waiting_count() == 0
    local = Path(store.path(att["hash"])).read_bytes()
    assert server_blob(srv, att["hash"]) == local and hashlib.sha256(local).hexdigest() == att["hash"]
    assert not Path(str(srv.db) + ".blobs", "partial", att["hash"]).exists()
    # private on the server: files 0600, folders 0700
    root = Path(str(srv.db) + ".blobs")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / att["hash"][:2]).stat().st_mode) == 0o700
    assert stat.S_IMODE((root / att["hash"][:2] / att["hash"]).stat().st_mode) == 0o600
    proxy.close()


def test_sigkill_mid_chunk_loses_nothing(fresh_server, tmp_path):
    srv = fresh_server
    proxy = CutProxy(srv.port, on_cut=srv.kill)  # the server dies with a chunk half received
    replica, client = phone(tmp_path / "w1", srv, "worker1", retries=1)
    client.attachment_chunk = 48 * 1024
    store = Attachments.for_replica(replica)
    att = store.add_photo(noisy_photo(1000, 800))
    household_with(replica, "worker1", "g1", [att])
    client.sync()

    client.server = proxy.url
    with proxy._lock:
        proxy.budget = proxy.forwarded + int(2.5 * client.attachment_chunk)
    report = client.send_attachments()
    assert not srv.alive and report["sent"] == 0 and report["waiting"] == 1
    acked = store.state(att["hash"])["sent_bytes"]
    assert acked >= client.attachment_chunk  # the server acknowledged whole chunks before it died

    srv.start()  # same file, same port
    held = upload_state(srv, "worker1", att["hash"])
    assert held["offset"] >= acked and held["offset"] % client.attachment_chunk == 0
    client.server = srv.url
    report = client.send_attachments()
    assert report["sent"] == 1
    assert report["bytes_sent"] == att["size"] - held["offset"]
    assert server_blob(srv, att["hash"]) == Path(store.path(att["hash"])).read_bytes()
    proxy.close()


def test_same_photo_twice_is_stored_once(server, tmp_path):
    picture = noisy_photo(700, 500)
    r1, c1 = phone(tmp_path / "w1", server, "worker1")
    r2, c2 = phone(tmp_path / "lost", server, "lostphone")  # another phone of the same grid
    s1, s2 = Attachments.for_replica(r1), Attachments.for_replica(r2)
    a1 = s1.add_photo(picture, "a.jpg")
    assert s1.add_photo(picture, "a.jpg") == a1  # twice on one phone: one file, one entry
    assert len(list(Path(s1.blob_dir).glob("??/*"))) == 1
    a2 = s2.add_photo(picture, "b.jpg")
    assert a2["hash"] == a1["hash"]
    before = len(blob_files(server))
    household_with(r1, "worker1", "g1", [a1], 1)
    household_with(r2, "lostphone", "g1", [a2], 2)
    c1.sync(), c2.sync()
    assert c1.send_attachments()["sent"] == 1
    again = c2.send_attachments()
    assert again["sent"] == 1 and again["bytes_sent"] == 0  # the server had it already
    files = blob_files(server)
    assert len(files) == before + 1
    assert sum(1 for p in files if p.name == a1["hash"]) == 1


def test_bytes_only_for_who_may_see_the_record(server, tmp_path):
    r1, c1 = phone(tmp_path / "w1", server, "worker1")
    s1 = Attachments.for_replica(r1)
    photo = s1.add_photo(noisy_photo(600, 450), "wage-list.jpg")
    voice = s1.add_audio(os.urandom(40_000), "说明.m4a")
    household_with(r1, "worker1", "g1", [photo, voice], 3)
    c1.sync()
    assert c1.send_attachments()["sent"] == 2

    for h in (photo["hash"], voice["hash"]):  # another grid's worker: 403, not the bytes
        r = httpx.get(f"{server.url}/api/v1/blobs/{h}", headers=auth_headers(server, "worker2"), timeout=30)
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = httpx.get(f"{server.url}/api/v1/blobs/{photo['hash']}", params={"thumb": "true"},
                  headers=auth_headers(server, "worker2"), timeout=30)
    assert r.status_code == 403
    r = httpx.put(f"{server.url}/api/v1/blobs/{photo['hash']}", params={"offset": 0}, content=b"x",
                  headers=auth_headers(server, "worker2"), timeout=30)
    assert r.status_code == 403
    r2, c2 = phone(tmp_path / "w2", server, "worker2")
    with pytest.raises(Refused) as e:
        c2.fetch_attachment(photo)
    assert e.value.status == 403

    # the office: the thumbnail, and the full size on click
    office = auth_headers(server, "office1")
    r = httpx.get(f"{server.url}/api/v1/blobs/{photo['hash']}", params={"thumb": "true"}, headers=office,
                  timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(r.content)).size) <= 480
    r = httpx.get(f"{server.url}/api/v1/blobs/{photo['hash']}", headers=office, timeout=30)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == photo["hash"]
    audited = server.sql("SELECT username, action, detail FROM audit WHERE action LIKE 'attachment%'"
                         " AND detail LIKE ?", (photo["hash"][:16] + "%",))
    assert {(u, a) for u, a, _ in audited} >= {("office1", "attachment"), ("office1", "attachment_thumb"),
                                               ("worker1", "attachment_upload")}

    # a colleague of the same grid: nothing arrives with the pull; fetched when opened
    r3, c3 = phone(tmp_path / "lost", server, "lostphone")
    c3.sync()
    assert r3.get("household", next(iter(
        server.sql("SELECT id FROM households WHERE instr(attachments, ?) > 0", (photo["hash"],))))[0])
    s3 = Attachments.for_replica(r3)
    assert s3.path(photo["hash"]) is None and s3.state(photo["hash"])["state"] == "remote"
    assert not list(Path(s3.blob_dir).glob("??/*"))
    thumb = c3.fetch_attachment(photo, thumb=True)
    assert Image.open(thumb).format == "JPEG" and s3.path(photo["hash"]) is None
    full = c3.fetch_attachment(photo)
    assert hashlib.sha256(Path(full).read_bytes()).hexdigest() == photo["hash"]
    got = c3.fetch_attachment(voice)
    assert Path(got).read_bytes() == Path(s1.path(voice["hash"])).read_bytes()


def test_a_picture_forwarded_to_two_grids_is_taken_and_shown_once_its_bytes_come(server, tmp_path):
    """The same notice forwarded to grid workers of two villages, attached by each: both
    records land; the second grid sees the file only after its own worker's phone has
    sent the bytes (the hash alone proves nothing), and that phone sends them whole."""
    notice = noisy_photo(640, 480)
    r2, c2 = phone(tmp_path / "w2", server, "worker2")
    s2 = Attachments.for_replica(r2)
    a2 = s2.add_photo(notice, "通知.jpg")
    household_with(r2, "worker2", "g2", [a2], 21)
    assert c2.sync().pushed == 1 and c2.send_attachments()["sent"] == 1

    r1, c1 = phone(tmp_path / "w1", server, "worker1")
    s1 = Attachments.for_replica(r1)
    a1 = s1.add_photo(notice, "通知.jpg")
    assert a1["hash"] == a2["hash"]
    household_with(r1, "worker1", "g1", [a1], 22)
    report = c1.sync()
    assert report.pushed == 1 and report.quarantined == 0
    r3, c3 = phone(tmp_path / "lost", server, "lostphone")     # worker1's colleague in g1
    c3.sync()
    r = httpx.get(f"{server.url}/api/v1/blobs/{a1['hash']}", headers=auth_headers(server, "lostphone"), timeout=30)
    assert r.status_code == 404 and r.json()["error"] == "claimed"
    assert upload_state(server, "worker1", a1["hash"])["offset"] == 0
    sent = c1.send_attachments()
    assert sent["sent"] == 1 and sent["bytes_sent"] == Path(s1.path(a1["hash"])).stat().st_size
    full = c3.fetch_attachment(a1)
    assert hashlib.sha256(Path(full).read_bytes()).hexdigest() == a1["hash"]
    assert server.sql("SELECT count(*) FROM blob_claims") == [(0,)]


def test_over_the_limit_is_refused_naming_it(server, tmp_path):
    # The phone still believes in a larger limit (the office lowered it since its last sync).
    r1, c1 = phone(tmp_path / "w1", server, "worker1")
    s1 = Attachments(str(tmp_path / "w1"), {"audio_max_mb": 10})
    big = s1.add_audio(os.urandom(3 * 1024 * 1024), "long.m4a")
    household_with(r1, "worker1", "g1", [big], 4)
    c1.sync()
    report = c1.send_attachments()
    assert report["refused"] == 1 and report["bytes_sent"] == 0
    st = s1.state(big["hash"])
    assert st["state"] == "refused"
    assert "limit of 2 MB per voice note" in st["reason"] and st["reason_zh"]
    r = httpx.put(f"{server.url}/api/v1/blobs/{big['hash']}", params={"offset": 0}, content=b"x" * 1000,
                  headers=auth_headers(server, "worker1"), timeout=30)
    assert r.status_code == 413 and "2 MB" in r.json()["message"]
    assert not (Path(str(server.db) + ".blobs") / "partial" / big["hash"]).exists()


def test_bytes_that_do_not_match_their_hash_are_refused(server, tmp_path):
    r1, c1 = phone(tmp_path / "w1", server, "worker1")
    right = os.urandom(20_000)
    h = hashlib.sha256(right).hexdigest()
    household_with(r1, "worker1", "g1", [{"hash": h, "kind": "audio", "size": len(right), "name": "a.m4a"}], 5)
    c1.sync()
    url, head = f"{server.url}/api/v1/blobs/{h}", auth_headers(server, "worker1")
    r = httpx.put(url, params={"offset": 0}, content=right[:10_000], headers=head, timeout=30)
    assert r.status_code == 200 and r.json()["offset"] == 10_000
    r = httpx.put(url, params={"offset": 0}, content=right[:10_000], headers=head, timeout=30)
    assert r.status_code == 409 and r.json()["offset"] == 10_000  # a repeated chunk: told where to go on
    r = httpx.put(url, params={"offset": 10_000}, content=os.urandom(10_000), headers=head, timeout=30)
    assert r.status_code == 422 and r.json()["error"] == "hash_mismatch"
    assert "do not match the hash" in r.json()["message"]
    assert upload_state(server, "worker1", h)["offset"] == 0
    assert not (Path(str(server.db) + ".blobs") / h[:2] / h).exists()
    r = httpx.put(url, params={"offset": 0}, content=right, headers=head, timeout=30)
    assert r.status_code == 200 and r.json()["complete"] is True
    assert server_blob(server, h) == right


def test_bytes_wait_for_their_record_and_for_wifi(server, tmp_path):
    r1, c1 = phone(tmp_path / "w1", server, "worker1")
    s1 = Attachments.for_replica(r1)
    photo = s1.add_photo(noisy_photo(500, 400))
    voice = s1.add_audio(os.urandom(5_000), "v.m4a")
    # No record names them on the server yet: nothing is sent, both wait and say why.
    report = c1.send_attachments()
    assert report["sent"] == 0 and report["waiting"] == 2 and report["bytes_sent"] == 0
    assert "push the record first" in s1.state(photo["hash"])["reason"]
    household_with(r1, "worker1", "g1", [photo, voice], 6)
    c1.sync()
    s1.set_wifi_only(True)
    assert Attachments.for_replica(r1).wifi_only  # this device's choice is kept
    report = c1.send_attachments(on_wifi=False)  # on mobile data: the voice note goes, the photo waits
    assert report["sent"] == 1 and report["skipped_wifi"] and report["waiting"] == 1
    assert s1.state(voice["hash"])["state"] == "sent" and s1.state(photo["hash"])["state"] == "waiting"
    report = c1.send_attachments(on_wifi=True)
    assert report["sent"] == 1 and s1.waiting_count() == 0


def test_gridbook_sync_sends_the_photos_after_the_records(server, tmp_path):
    import json

    from sync.device import DeviceReplica

    from .conftest import PASSWORD, cli
    folder = tmp_path / "phone-data"
    replica = DeviceReplica.in_folder(str(folder))
    att = Attachments.for_replica(replica).add_photo(noisy_photo(400, 300), "门牌.jpg")
    household_with(replica, "worker1", "g1", [att], 7)
    replica.close()
    r = cli("sync", "--data", str(folder), "--server", server.url, "--user", "worker1", "--quiet",
            env={"GRIDBOOK_PASSWORD": PASSWORD})
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["pushed"] == 1 and report["attachments"]["sent"] == 1 and report["attachments"]["waiting"] == 0
    assert server_blob(server, att["hash"]) == Path(Attachments(str(folder)).path(att["hash"])).read_bytes()


def test_the_apps_background_sync_sends_photos_and_counts_those_waiting(server, tmp_path):
    import asyncio

    from fieldapp.syncer import SyncRunner
    replica, client = phone(tmp_path / "w1", server, "worker1")
    store = Attachments.for_replica(replica)
    photo = store.add_photo(noisy_photo(500, 400))
    household_with(replica, "worker1", "g1", [photo], 8)
    store.set_wifi_only(True)
    link = {"wifi": False}
    runner = SyncRunner(lambda: client, on_wifi=lambda: link["wifi"])
    seen = []
    runner.subscribe(seen.append)

    assert asyncio.run(runner.sync_once()) is True
    assert runner.status.pending == 0 and runner.status.attachments_waiting == 1  # on mobile data: it waits
    assert any(s.state == "idle" and s.attachments_waiting == 1 for s in seen)   # records synced, said so
    link["wifi"] = True
    assert asyncio.run(runner.sync_once()) is True
    assert runner.status.attachments_waiting == 0 and store.state(photo["hash"])["state"] == "sent"
    assert server_blob(server, photo["hash"]) == Path(store.path(photo["hash"])).read_bytes()
