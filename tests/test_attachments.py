"""Attachments on the phone (shrinking, location, the queue, this device's Wi-Fi choice)
and their keeping on the server (the blob folder, who may read, the ledger's count).
The travel through a real server is in tests/integration/test_attachments.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import stat

import pytest
from PIL import Image

from sync import changes, clock
from sync.access import Principal
from sync.attachments import Attachments, AttachmentError, make_thumbnail, shrink_photo
from sync.device import DeviceReplica
from sync.server import blobs, export
from sync.server.central import CentralStore

GPS = 0x8825


def camera_jpeg(w=3000, h=2000, gps=True, orientation=None) -> bytes:
    """A camera-like JPEG with a GPS position, a taking time and a serial number."""
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    exif = Image.Exif()
    exif[0x0132] = "2026:11:20 09:30:00"
    exif[0x0131] = "CameraFirmware 1.0"  # Software
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 09:30:00"
    exif.get_ifd(0x8769)[0xA431] = "SERIAL-123456"  # the body's serial number
    if gps:
        exif.get_ifd(GPS).update({1: "N", 2: (29.0, 4.0, 16.0), 3: "E", 4: (119.0, 38.0, 49.0)})
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
def phone(tmp_path):
    replica = DeviceReplica.in_folder(str(tmp_path / "phone"))
    yield replica, Attachments.for_replica(replica)
    replica.close()


# --- shrinking ------------------------------------------------------------------------

def test_a_photo_is_shrunk_to_1600_px_jpeg_without_its_position():
    raw = camera_jpeg()
    out = shrink_photo(raw)
    img = Image.open(io.BytesIO(out))
    assert img.format == "JPEG" and max(img.size) == 1600 and img.size == (1600, 1067)
    exif = img.getexif()
    assert not exif.get_ifd(GPS)                      # where it was taken: gone
    assert exif.get_ifd(0x8769).get(0xA431) is None   # the camera's serial: gone
    assert exif.get_ifd(0x8769).get(0x9003) == "2026:11:20 09:30:00"  # when: kept, it is evidence
    assert len(out) < len(raw)


def test_the_township_may_keep_the_position():
    img = Image.open(io.BytesIO(shrink_photo(camera_jpeg(), keep_location=True)))
    gps = img.getexif().get_ifd(GPS)
    assert gps[1] == "N" and float(gps[2][0]) == 29.0


def test_a_jpeg_comment_does_not_travel_with_the_photo():
    """Pillow writes back the comment it read (an owner's name, a phone number): the
    stored photo, served whole to the office and colleagues, carried it."""
    img = Image.open(io.BytesIO(camera_jpeg(400, 300)))
    marked = io.BytesIO()
    img.save(marked, "JPEG", exif=img.getexif().tobytes(), comment=b"owner Zhang Wei 13912345678")
    for keep in (False, True):
        out = shrink_photo(marked.getvalue(), keep_location=keep)
        assert b"13912345678" not in out and "comment" not in Image.open(io.BytesIO(out)).info
        assert Image.open(io.BytesIO(out)).getexif().get(0x0132) == "2026:11:20 09:30:00"


def _jpeg_with_exif(tiff: bytes) -> bytes:
    """A JPEG whose APP1 segment holds this TIFF (EXIF) block as written, however odd."""
    import struct
    b = io.BytesIO()
    Image.new("RGB", (400, 200), "blue").save(b, "JPEG")
    d, payload = b.getvalue(), b"Exif\0\0" + tiff
    return d[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + d[2:]


def test_a_photo_whose_exif_times_are_not_times_is_taken_without_them():
    """A damaged or crafted EXIF block raised an error the screen did not catch (the
    photo not added, nothing said, the rest of the selection dropped): DateTime and
    DateTimeOriginal sharing one 40 KB string (legal TIFF: 80 KB written out, over a JPEG
    segment's 64 KB), and a DateTime written as a number. Taken, without them."""
    import struct
    s = b"2" * 40_000 + b"\0"
    exif_off = 8 + 2 + 2 * 12 + 4
    data_off = exif_off + 2 + 12 + 4
    shared = (b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2)
              + struct.pack("<HHII", 0x132, 2, len(s), data_off) + struct.pack("<HHII", 0x8769, 4, 1, exif_off)
              + struct.pack("<I", 0) + struct.pack("<H", 1) + struct.pack("<HHII", 0x9003, 2, len(s), data_off)
              + struct.pack("<I", 0) + s)
    rational = (b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
                + struct.pack("<HHII", 0x132, 5, 1, 26) + struct.pack("<I", 0) + struct.pack("<II", 1, 0))
    for tiff in (shared, rational):
        img = Image.open(io.BytesIO(shrink_photo(_jpeg_with_exif(tiff), keep_location=True)))
        assert img.size == (400, 200) and img.getexif().get(0x0132) is None


def test_a_16_bit_grey_scan_is_stored_grey_not_blank_white():
    """A scanner's 16-bit greyscale PNG came out white: every value over 255 was clipped."""
    ramp = Image.linear_gradient("L").resize((64, 256)).convert("I")
    scan = ramp.point(lambda v: v * 257).convert("I;16")
    raw = io.BytesIO()
    scan.save(raw, "PNG")
    for out in (shrink_photo(raw.getvalue()), make_thumbnail(raw.getvalue())):
        img = Image.open(io.BytesIO(out)).convert("L")
        middle = img.getpixel((img.size[0] // 2, img.size[1] // 2))
        assert 110 <= middle <= 145, middle
        assert img.getpixel((0, 0)) < 20 and img.getpixel((0, img.size[1] - 1)) > 235   # the ramp runs down


def test_a_photo_taken_sideways_is_stored_upright():
    img = Image.open(io.BytesIO(shrink_photo(camera_jpeg(2000, 1000, orientation=6))))
    assert img.size == (800, 1600)  # rotated by its orientation tag, longest side 1600
    assert img.getexif().get(0x0112) is None


def test_a_small_photo_is_not_enlarged_and_thumbnails_are_small():
    out = shrink_photo(camera_jpeg(800, 600, gps=False))
    assert Image.open(io.BytesIO(out)).size == (800, 600)
    assert max(Image.open(io.BytesIO(make_thumbnail(out))).size) == 320


def _png_of(width: int, height: int) -> bytes:
    """A PNG that says it is width × height (its header alone: nothing decodes it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")   # Pillow's, at opening
def test_a_picture_of_more_pixels_than_can_be_decoded_is_refused_before_it_is_decoded(tmp_path):
    """A 0.7 MB PNG of 13,000 × 13,000 pixels fits under the photo limit and decoded to
    1.2 GB at every thumbnail request: four at once took the server to 5 GB."""
    bomb = _png_of(13_000, 13_000)
    with pytest.raises(AttachmentError) as e:
        make_thumbnail(bomb)
    assert "too large" in e.value.message and "像素过大" in e.value.zh
    folder = blobs.BlobFolder(str(tmp_path / "blobs"))
    h = hashlib.sha256(bomb).hexdigest()
    folder.append(h, 0, bomb, len(bomb))
    with pytest.raises(blobs.BlobError) as refused:
        folder.thumbnail(h)
    assert refused.value.status == 422
    assert make_thumbnail(camera_jpeg(8000, 6000, gps=False))   # a 48 MP camera photo decodes at 1/8


def test_what_is_not_a_picture_is_refused_in_both_languages(phone):
    _, store = phone
    with pytest.raises(AttachmentError) as e:
        store.add_photo(b"%PDF-1.4 not a picture")
    assert "not a picture" in e.value.message and "不是图片" in e.value.zh
    with pytest.raises(AttachmentError) as e:
        store.add_photo(b"")
    assert "empty" in e.value.message


# --- the phone's store -----------------------------------------------------------------

def test_added_photo_is_kept_by_hash_with_thumbnail_at_once(phone, tmp_path):
    replica, store = phone
    path = tmp_path / "IMG_0001.JPG"
    path.write_bytes(camera_jpeg())
    att = store.add_photo(str(path))
    assert set(att) == {"hash", "kind", "size", "name"} and att["kind"] == "photo" and att["name"] == "IMG_0001.jpg"
    data = open(store.path(att["hash"]), "rb").read()
    assert hashlib.sha256(data).hexdigest() == att["hash"] and len(data) == att["size"]
    assert Image.open(store.thumbnail(att["hash"])).format == "JPEG"  # offline, at once
    # the record takes it as it is
    assert changes.check_fields({"entity": "household", "fields": {
        "grid_id": "g1", "head_name": "王建国", "address": "白鹤村1组", "attachments": [att]}}, False) == []
    ch = replica.create("household", {"grid_id": "g1", "head_name": "王建国", "address": "白鹤村1组",
                                      "attachments": [att]}, "w1")
    assert replica.get("household", ch["record"])["attachments"] == [att]
    st = store.state(att["hash"])
    assert (st["state"], st["sent_bytes"], st["size"]) == ("waiting", 0, att["size"])
    assert store.waiting_count() == 1
    # the same picture again: one file, one entry in line
    assert store.add_photo(str(path)) == att
    assert store.waiting_count() == 1 and len(list((tmp_path / "phone" / "attachments").glob("??/*"))) == 1


def test_files_are_private(phone, tmp_path):
    _, store = phone
    att = store.add_audio(os.urandom(1000), "语音.m4a")
    assert att["name"] == "语音.m4a" and att["kind"] == "audio"
    for d in (store.blob_dir, store.thumb_dir, os.path.dirname(store.path(att["hash"]))):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    for f in (store.path(att["hash"]), store.db_path):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600


def test_limits_follow_the_township_settings(tmp_path):
    store = Attachments(str(tmp_path / "p"), {"audio_max_mb": 0.5, "photo_max_mb": 0.1})
    with pytest.raises(AttachmentError) as e:
        store.add_audio(os.urandom(600 * 1024))
    assert "limit of 0.5 MB per voice note" in e.value.message and "0.5 MB" in e.value.zh
    with pytest.raises(AttachmentError) as e:  # noise does not shrink under 100 KB
        store.add_photo(_noise(1100, 800))
    assert "limit of 0.1 MB per photo" in e.value.message
    assert store.waiting_count() == 0


def _noise(w, h) -> bytes:
    img = Image.merge("RGB", [Image.effect_noise((w, h), 60) for _ in range(3)])
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_states_and_retry_and_wifi_choice(phone):
    replica, store = phone
    att = store.add_audio(b"x" * 100)
    store._set(att["hash"], "refused", "voice note: 3.0 MB is over the township's limit", "too_large")
    st = store.state(att["hash"])
    assert st["state"] == "refused" and "limit" in st["reason"] and st["reason_zh"] == "超过镇里规定的大小上限"
    assert store.waiting_count() == 0
    store.retry(att["hash"])
    assert store.state(att["hash"])["state"] == "waiting" and store.waiting_count() == 1
    unknown = "0" * 64
    assert store.state(unknown)["state"] == "remote" and store.path(unknown) is None
    assert store.thumbnail(unknown) is None
    assert store.wifi_only is False
    store.set_wifi_only(True)
    assert Attachments.for_replica(replica).wifi_only is True  # kept on the device


# --- the server's folder -----------------------------------------------------------------

def test_blob_folder_appends_in_order_and_checks_the_hash(tmp_path):
    folder = blobs.BlobFolder(str(tmp_path / "c.db"))
    data = os.urandom(10_000)
    h = hashlib.sha256(data).hexdigest()
    assert folder.append(h, 0, data[:4000], len(data)) == (4000, False)
    with pytest.raises(blobs.BlobError) as e:
        folder.append(h, 0, data[:4000], len(data))
    assert e.value.status == 409 and e.value.extra["offset"] == 4000
    with pytest.raises(blobs.BlobError) as e:
        folder.append(h, 4000, data[4000:] + b"more", len(data))
    assert e.value.status == 422
    assert folder.append(h, 4000, data[4000:], len(data)) == (10_000, True)
    assert folder.read(h) == data and folder.held(h) == 10_000
    assert folder.append(h, 0, data, len(data)) == (10_000, True)  # never stored twice
    assert folder.usage() == {"files": 1, "bytes": 10_000}
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(blobs.BlobError) as e:
        folder.append(wrong, 0, data, len(data))
    assert e.value.error == "hash_mismatch" and folder.held(wrong) == 0
    assert stat.S_IMODE(os.stat(folder.root).st_mode) == 0o700


@pytest.fixture
def central(tmp_path, monkeypatch):
    monkeypatch.setattr("sync.server.auth._N", 2 ** 4)
    st = CentralStore(str(tmp_path / "c.db"))
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    st.add_grid("g2", "二组", "高山村", "金山镇")
    yield st
    st.close()


def _att(data: bytes, kind="photo") -> dict:
    return {"hash": hashlib.sha256(data).hexdigest(), "kind": kind, "size": len(data), "name": "a.jpg"}


def test_read_only_by_who_sees_a_record_naming_it(central):
    pic = io.BytesIO()
    Image.linear_gradient("L").resize((900, 600)).save(pic, "JPEG")
    data = pic.getvalue()
    att = _att(data)
    central.server_write("household", "h1", {"grid_id": "g1", "head_name": "王", "address": "1组",
                                             "attachments": [att]}, author="xinfang")
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "d1")
    w2 = Principal("w2", "grid_worker", frozenset({"g2"}), "d2")
    office = Principal("xinfang", "office", frozenset(), "")
    assert blobs.upload_chunk(central, w1, att["hash"], 0, data)["complete"] is True
    got, media = blobs.read(central, office, att["hash"], address="127.0.0.1")
    assert got == data and media == "image/jpeg"
    thumb, _ = blobs.read(central, w1, att["hash"], thumb=True)
    assert max(Image.open(io.BytesIO(thumb)).size) == blobs.THUMB_LONG_SIDE
    with pytest.raises(blobs.BlobError) as e:
        blobs.read(central, w2, att["hash"])
    assert e.value.status == 403
    with pytest.raises(blobs.BlobError) as e:
        blobs.read(central, office, "f" * 64)
    assert e.value.status == 404
    with pytest.raises(blobs.BlobError) as e:  # bytes nobody names are not taken
        blobs.upload_chunk(central, w1, hashlib.sha256(b"loose").hexdigest(), 0, b"loose")
    assert e.value.status == 409 and e.value.error == "not_named"
    trail = central.conn.execute("SELECT username, action FROM audit WHERE action LIKE 'attachment%'").fetchall()
    assert ("xinfang", "attachment") in trail and ("w1", "attachment_thumb") in trail
    assert ("w1", "attachment_upload") in trail


def test_a_co_worker_writing_into_the_same_upload_cannot_spoil_it(central):
    """Every uploader appended to one partial per hash: a co-worker who may see the record
    added a byte whenever the owner's offset moved, the file failed its hash twice and the
    phone gave the photo up. Each uploader has a partial of their own."""
    data = os.urandom(300_000)
    att = _att(data)
    central.server_write("household", "h1", {"grid_id": "g1", "head_name": "王", "address": "1组",
                                             "attachments": [att]}, author="xinfang")
    owner = Principal("w1", "grid_worker", frozenset({"g1"}), "d1")
    colleague = Principal("w3", "grid_worker", frozenset({"g1"}), "d3")
    h = att["hash"]
    assert blobs.upload_chunk(central, owner, h, 0, data[:100_000])["offset"] == 100_000
    assert blobs.upload_chunk(central, colleague, h, 0, b"x")["offset"] == 1      # into their own
    assert blobs.upload_status(central, owner, h)["offset"] == 100_000           # the owner's is whole
    done = blobs.upload_chunk(central, owner, h, 100_000, data[100_000:])
    assert done["complete"] is True
    assert blobs.read(central, colleague, h)[0] == data
    assert blobs.upload_status(central, colleague, h)["complete"] is True
    assert not [n for n in os.listdir(blobs.folder_for(central).partial_dir) if n.startswith(h)]


def test_a_co_worker_naming_the_same_file_with_another_size_cannot_keep_its_bytes_out(central):
    """王芳's visit names her photo; a co-worker's tampered app, having pulled the visit,
    names the same hash on a household of the grid with a size of 1. The first record
    naming the hash decided the size, and her upload was refused (size_mismatch) for as
    long as the forged record named it: the photo never reached the township."""
    data = os.urandom(40_000)
    att = _att(data)
    central.server_write("visit", "v1", {"grid_id": "g1", "household_id": "h0", "kind": "household",
                                         "visited_at": "2026-11-28T09:00:00+08:00", "visitor": "w1",
                                         "seen": "房屋漏雨", "attachments": [att]}, author="w1")
    central.server_write("household", "h0", {"grid_id": "g1", "head_name": "王", "address": "1组",
                                             "attachments": [dict(att, size=1)]}, author="w3")
    owner = Principal("w1", "grid_worker", frozenset({"g1"}), "d1")
    # and she had put the photo on another household too, the one the co-worker made
    # wrong afterwards: her visit's author field, not a change of hers, still says the size
    central.server_write("household", "h9", {"grid_id": "g1", "head_name": "李", "address": "2组",
                                             "attachments": [att]}, author="w1")
    central.server_write("household", "h9", {"attachments": [dict(att, size=1)]}, author="w3")
    assert blobs.upload_status(central, owner, att["hash"], size=len(data))["size"] == len(data)
    assert blobs.upload_chunk(central, owner, att["hash"], 0, data)["complete"] is True
    office = Principal("xinfang", "office", frozenset(), "")
    assert blobs.read(central, office, att["hash"])[0] == data


def test_a_hash_learnt_elsewhere_opens_no_file_until_its_bytes_are_sent(central):
    """Reading a file is granted by seeing a record naming it; a hash kept from a matter
    that left one's grid, written into one's own record, must not open the file. The
    record is taken (the same picture is often forwarded to two grid workers), but its
    naming opens the file to nobody, its author included, until that author uploads
    the bytes themselves."""
    data = b"\xff\xd8 a photo of the petitioner's papers"
    att = _att(data)
    central.server_write("household", "h2", {"grid_id": "g2", "head_name": "李", "address": "2组",
                                             "attachments": [att]}, author="xinfang")
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "d1")
    w1b = Principal("w1b", "grid_worker", frozenset({"g1"}), "d3")   # w1's colleague in g1
    w2 = Principal("w2", "grid_worker", frozenset({"g2"}), "d2")
    assert blobs.upload_chunk(central, w2, att["hash"], 0, data)["complete"] is True

    def household(p, rid, grid, atts):
        ch = changes.make("household", rid, {"grid_id": grid, "head_name": "赵", "address": "3组",
                                             "attachments": atts}, clock.encode(clock.wall_ms(), 0, p.device), p.device, p.username)
        return central.push(p, [ch]).results[0]

    assert household(w1, "h-w1", "g1", [att])["status"] == "applied"
    for who in (w1, w1b):   # the claimant and whoever sees the claimant's record
        for thumb in (False, True):
            with pytest.raises(blobs.BlobError) as e:
                blobs.read(central, who, att["hash"], thumb=thumb)
            assert e.value.status == 404 and e.value.error == "claimed"
    # the upload asks for the whole file from w1 (the server holds it, but not from w1)
    status = blobs.upload_status(central, w1, att["hash"])
    assert status["offset"] == 0 and status["complete"] is False
    with pytest.raises(blobs.BlobError):                           # a colleague cannot settle it
        blobs.upload_chunk(central, w1b, att["hash"], 0, data)
    # wrong bytes of the right length: refused, and still nothing to read
    with pytest.raises(blobs.BlobError) as e:
        blobs.upload_chunk(central, w1, att["hash"], 0, b"x" * len(data))
    assert e.value.error == "hash_mismatch"
    with pytest.raises(blobs.BlobError):
        blobs.read(central, w1b, att["hash"])
    # an erasure of the only record that shows the file deletes it, whatever the claim
    from sync.server import erasure
    assert erasure.erase(central, "household", "h2", by="admin", compact=False)["blobs_deleted"] == 1
    assert not blobs.folder_for(central).has(att["hash"])


def test_the_same_picture_forwarded_to_two_grids_is_shown_once_its_bytes_come(central):
    data = b"\xff\xd8 the township's flood notice, forwarded to every grid worker"
    att = _att(data)
    w1 = Principal("w1", "grid_worker", frozenset({"g1"}), "d1")
    w1b = Principal("w1b", "grid_worker", frozenset({"g1"}), "d3")
    w2 = Principal("w2", "grid_worker", frozenset({"g2"}), "d2")

    def household(p, rid, grid):
        ch = changes.make("household", rid, {"grid_id": grid, "head_name": "钱", "address": "5组",
                                             "attachments": [att]}, clock.encode(clock.wall_ms(), 0, p.device),
                          p.device, p.username)
        return central.push(p, [ch]).results[0]

    assert household(w2, "h-w2", "g2")["status"] == "applied"
    assert blobs.upload_chunk(central, w2, att["hash"], 0, data)["complete"] is True
    assert household(w1, "h-w1", "g1")["status"] == "applied"           # not refused
    half = len(data) // 2
    assert blobs.upload_chunk(central, w1, att["hash"], 0, data[:half]) == {
        "hash": att["hash"], "offset": half, "size": len(data), "complete": False}
    assert blobs.upload_status(central, w1, att["hash"])["offset"] == half   # resumed where it stopped
    assert blobs.upload_chunk(central, w1, att["hash"], half, data[half:])["complete"] is True
    for who in (w1, w1b, w2):
        assert blobs.read(central, who, att["hash"])[0] == data
    assert blobs.upload_status(central, w1, att["hash"])["complete"] is True
    assert central.conn.execute("SELECT count(*) FROM blob_claims").fetchone()[0] == 0
    assert not [f for f in os.listdir(blobs.folder_for(central).partial_dir)]   # no partial left behind


def test_the_ledger_counts_attachments_per_matter(central):
    a, b, c = (_att(bytes([n]) * 10) for n in range(3))
    base = {"grid_id": "g1", "kind": "petition", "channel": "visit", "category": "08", "description": "补偿款",
            "status": "reported", "reported_by": "xinfang", "reported_at": "2026-11-02T09:30:00+08:00"}
    central.server_write("case", "c1", {**base, "title": "有附件", "attachments": [a]}, author="xinfang")
    central.server_write("case", "c2", {**base, "title": "无附件"}, author="xinfang")
    central.server_write("case_event", "e1", {"case_id": "c1", "kind": "progress", "at": "2026-11-03T09:00:00+08:00",
                                              "by": "xinfang", "text": "进展", "attachments": [b, c]}, author="xinfang")
    central.server_write("visit", "v1", {"grid_id": "g1", "case_id": "c1", "kind": "home",
                                         "visited_at": "2026-11-04T09:00:00+08:00", "visitor": "xinfang",
                                         "seen": "见面", "attachments": [a]}, author="xinfang")
    rows = {r["事项摘要"]: r for r in export.ledger_rows(central, dt.date(2026, 11, 1), dt.date(2026, 11, 30))}
    assert rows["有附件"]["附件数"] == 4 and rows["无附件"]["附件数"] == 0
    assert export.LEDGER_COLUMNS[-1] == "附件数"
    assert blobs.counts_by_case(central) == {"c1": 4}


def test_who_names_a_hash_survives_a_rebuilt_change_log(central):
    data = b"voice" * 100
    att = _att(data, "audio")
    central.server_write("household", "h1", {"grid_id": "g1", "head_name": "王", "address": "1组",
                                             "attachments": [att]}, author="xinfang")
    office = Principal("xinfang", "office", frozenset(), "")
    assert [e for e, _, _ in blobs.naming(central, att["hash"])] == ["household"]
    central.conn.execute("DELETE FROM blob_refs")  # as after a VACUUM renumbered the log
    central.conn.execute("UPDATE blob_refs_seen SET last = 1 << 40")
    assert blobs.upload_chunk(central, office, att["hash"], 0, data)["complete"] is True
    # a record that drops the photo names it no more
    central.server_write("household", "h1", {"attachments": []}, author="xinfang")
    assert blobs.naming(central, att["hash"]) == []
    with pytest.raises(blobs.BlobError) as e:
        blobs.read(central, office, att["hash"])
    assert e.value.status == 404


def test_a_hash_no_record_names_costs_an_index_probe_not_a_read_of_every_table(central):
    """A phone asking after 500 made-up hashes held the store's lock for a read of every
    table with attachments, hash after hash."""
    data = b"photo" * 50
    central.server_write("household", "h1", {"grid_id": "g1", "head_name": "王", "address": "1组",
                                             "attachments": [_att(data)]}, author="xinfang")
    worker = Principal("w1", "grid_worker", frozenset({"g1"}), "")
    made_up = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50)]
    statements = []
    central.conn.set_trace_callback(statements.append)
    try:
        got = blobs.upload_statuses(central, worker, made_up)
    finally:
        central.conn.set_trace_callback(None)
    assert {v["error"] for v in got.values()} == {"not_named"}
    read_tables = [s for s in statements if "households" in s or "cases" in s or "visits" in s]
    assert read_tables == []


def test_an_index_of_hashes_is_read_again_after_the_file_is_compacted(central):
    """A VACUUM may renumber the change log: a change numbered past the index's mark that
    took a lower number would be hidden from it once pushes passed that mark again."""
    from sync.server import erasure
    data = b"voice" * 100
    att = _att(data, "audio")
    central.server_write("household", "h0", {"grid_id": "g1", "head_name": "李", "address": "2组"}, author="xinfang")
    assert blobs.naming(central, att["hash"]) == []          # the index has read the log so far
    low = central.conn.execute("SELECT min(rowid) FROM changes").fetchone()[0]
    central.server_write("household", "h1", {"grid_id": "g1", "head_name": "王", "address": "1组",
                                             "attachments": [att]}, author="xinfang")
    with central.transaction():   # as a renumbering VACUUM would: the new change takes a freed number
        central.conn.execute("DELETE FROM changes WHERE rowid=?", (low,))
        central.conn.execute("UPDATE changes SET rowid=? WHERE record='h1'", (low,))
    erasure.compact_file(central)
    for n in range(3):
        central.server_write("household", f"x{n}", {"grid_id": "g1", "head_name": "赵", "address": "3组"},
                             author="xinfang")
    assert [row["id"] for _, row, _ in blobs.naming(central, att["hash"])] == ["h1"]


def test_a_photo_sent_with_a_record_that_left_the_phone_still_waits_to_be_sent(phone):
    """A visit's record went up on mobile data, its photo waiting for Wi-Fi; the matter was
    given to another leader and the visit left the phone with it. The photo was then
    forgotten as named by no record, and the server's visit named a file that never came."""
    from sync.attachments import forget_unnamed
    replica, store = phone
    entry = store.add_photo(camera_jpeg(800, 600))
    made = replica.create("visit", {"grid_id": "g1", "case_id": "c1", "kind": "home", "visitor": "lz",
                                    "visited_at": "2026-11-03T09:00:00+08:00", "seen": "房屋裂缝",
                                    "attachments": [entry]}, "lz")
    unsent = store.add_photo(camera_jpeg(640, 480, gps=False))   # a form never saved: this one goes
    replica.acknowledge([made["id"]])
    replica.conn.execute("DELETE FROM visits WHERE id=?", (made["record"],))   # let go with its matter
    assert forget_unnamed(store, replica, older_than_s=0) == 1
    assert store.state(entry["hash"])["state"] == "waiting" and store.path(entry["hash"]) is not None
    assert store.path(unsent["hash"]) is None


def test_files_sent_under_a_wrong_date_go_again_to_a_restored_server_with_the_changes(tmp_path, monkeypatch):
    """A file is marked sent by the sync's clock, as the changes kept for a restore are:
    a phone 400 days behind, its date put right, offered the changes again and left the
    photos they name as sent (the server held records naming files it never got)."""
    from sync.client import SyncClient
    township = clock.wall_ms()
    wall, boot = [township - 400 * 86_400_000], [50_000]
    monkeypatch.setattr(clock, "wall_ms", lambda: wall[0])
    monkeypatch.setattr("time.time", lambda: wall[0] / 1000)
    replica = DeviceReplica.in_folder(str(tmp_path / "phone"), now=lambda: wall[0], boot=lambda: boot[0])
    replica.learn_server_time(township)
    store = Attachments.for_replica(replica)
    photo = store.add_photo(camera_jpeg(400, 300))
    store._set(photo["hash"], "sent", None, None, photo["size"])    # uploaded, then the date put right
    wall[0], boot[0] = township, boot[0] + 60_000
    SyncClient(replica, "http://127.0.0.1:9")._resend_attachments()  # the server was restored
    assert store.waiting_count() == 1
    replica.close()


def test_the_office_is_told_a_file_it_holds_cannot_be_shown_not_that_it_never_came(central):
    """A 'photo' a modified phone sent as something else: its bytes are on the server, and
    the office's tile said 手机尚未上传, to wait for a file it already held."""
    import types

    from fieldapp.office.attachments import fetch
    data = b"%PDF-1.4 not a picture at all\n" * 50
    att = _att(data)
    central.server_write("household", "h1", {"grid_id": "g1", "head_name": "王", "address": "1组",
                                             "attachments": [att]}, author="xinfang")
    office = Principal("xinfang", "office", device="desk")
    blobs.upload_chunk(central, office, att["hash"], 0, data)
    words = {"oatt_forbidden": "无权查看", "oatt_not_uploaded": "手机尚未上传", "oatt_unreadable": "文件无法读取"}
    ctx = types.SimpleNamespace(thumbs={}, store=central, ws=types.SimpleNamespace(principal=office), session=None,
                                address="", t=lambda k, **kw: words[k])
    assert fetch(ctx, att["hash"], thumb=True) == (None, "文件无法读取")
