"""Attachment benchmark: a phone offline for a week (500 records, 100 photos) syncs over
a simulated 3G link. The real server (`gridbook serve`) runs in a subprocess; the phone
talks to it through a throttling TCP proxy in this process (1 Mbit/s each way, 100 ms
added each way, so 200 ms round trip; one link shared by every connection).

Measures the time until the records are on the server (SyncClient.sync) and until the
photos are too (SyncClient.send_attachments), and the bytes through the link each way
for both. Photos are made with Pillow from fine noise over gradients, shrunk by the
phone as any photo is (1600 px, JPEG), so they weigh what camera photos weigh
(about 200-400 KB). Prints one JSON line.

Usage: python bench/attachment_bench.py [--records 500] [--photos 100] [--kbit 1000] [--delay-ms 100]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import io
import json
import os
import random
import shutil
import socket
import tempfile
import threading
import time

from PIL import Image, ImageDraw, ImageFilter
from township_process import TownshipServer

from sync.attachments import Attachments
from sync.client import SyncClient
from sync.device import DeviceReplica
from sync.server.central import CentralStore

PASSWORD = "bench-password"
GRID = "bench-01"


# --- the 3G link ---------------------------------------------------------------------

class Link:
    """One direction of a slow link: bytes leave one after another at `rate` bytes/s
    (whatever connection they belong to) and arrive `delay` seconds later."""

    def __init__(self, bytes_per_s: float, delay_s: float):
        self.rate, self.delay = bytes_per_s, delay_s
        self.free_at = 0.0
        self.bytes = 0
        self._lock = threading.Lock()

    def schedule(self, n: int) -> float:
        """When `n` bytes handed over now arrive at the other end."""
        with self._lock:
            start = max(time.monotonic(), self.free_at)
            self.free_at = start + n / self.rate
            self.bytes += n
            return self.free_at + self.delay


class ThrottleProxy:
    def __init__(self, target_port: int, kbit: float, delay_ms: float):
        rate = kbit * 1000 / 8
        self.up, self.down = Link(rate, delay_ms / 1000), Link(rate, delay_ms / 1000)
        self.target = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            # the TCP handshake crosses the link too: one round trip before any byte
            time.sleep(self.up.delay + self.down.delay)
            up = socket.create_connection(("127.0.0.1", self.target))
            for s in (conn, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pipe(conn, up, self.up)
            self._pipe(up, conn, self.down)

    def _pipe(self, src, dst, link: Link):
        q: collections.deque = collections.deque()
        ready = threading.Condition()

        def read():
            try:
                while True:
                    data = src.recv(16 * 1024)
                    if not data:
                        break
                    at = link.schedule(len(data))
                    with ready:
                        q.append((at, data))
                        ready.notify()
            except OSError:
                pass
            with ready:
                q.append((None, None))
                ready.notify()

        def write():
            try:
                while True:
                    with ready:
                        while not q:
                            ready.wait()
                        at, data = q.popleft()
                    if data is None:
                        break
                    wait = at - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=write, daemon=True).start()

    def counts(self) -> tuple[int, int]:
        return self.up.bytes, self.down.bytes

    def close(self):
        self._listener.close()


# --- a week in the field ---------------------------------------------------------------

def canvas(w: int = 2400, h: int = 1800) -> Image.Image:
    """Fine noise over gradients: it compresses like a photo of a wall or a field."""
    n = [Image.effect_noise((w, h), 40).filter(ImageFilter.GaussianBlur(1.1)) for _ in range(3)]
    g = Image.linear_gradient("L").resize((w, h))
    return Image.merge("RGB", [Image.blend(n[0], g, 0.5), n[1], Image.blend(n[2], g.rotate(90), 0.5)])


def camera_photo(base: Image.Image, rnd: random.Random, n: int) -> bytes:
    """A 2000x1500 'camera' JPEG, each one different (a crop, shapes, a label)."""
    x, y = rnd.randrange(0, base.width - 2000), rnd.randrange(0, base.height - 1500)
    img = base.crop((x, y, x + 2000, y + 1500))
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rnd.randrange(1800), rnd.randrange(1300)
        d.rectangle((x0, y0, x0 + rnd.randrange(50, 400), y0 + rnd.randrange(50, 300)),
                    outline=tuple(rnd.randrange(256) for _ in range(3)), width=6)
    d.text((40, 40), f"photo {n}", fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def iso(day: int, minute: int) -> str:
    t = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return (t + dt.timedelta(days=day, minutes=minute)).isoformat()


def a_week_offline(phone: DeviceReplica, store: Attachments, records: int, photos: int, seed: int) -> dict:
    """Households, visits (some with a photo), reports and their progress, as a grid
    worker makes them in a week without signal. Returns the photo sizes."""
    rnd = random.Random(seed)
    base = canvas()
    sizes, made, households, cases = [], 0, [], []
    t = time.perf_counter()
    pics = [store.add_photo(camera_photo(base, rnd, i), f"IMG_{i:04d}.jpg") for i in range(photos)]
    shrink_s = time.perf_counter() - t
    sizes = [p["size"] for p in pics]
    with phone.transaction():
        while made < records:
            k = made % 10
            if k in (0, 1) or not households:
                households.append(phone.create("household", {
                    "grid_id": GRID, "head_name": f"王建国{made}", "address": f"金山镇白鹤村{made % 12 + 1}组{made}号",
                    "lat": 29.07, "lon": 119.64}, "worker")["record"])
            elif k == 2:
                cases.append(phone.create("case", {
                    "grid_id": GRID, "kind": "dispute", "channel": "grid", "category": "02", "title": f"排水沟堵塞 {made}",
                    "description": "两户因宅前排水沟堵塞互相指责，网格员现场了解情况。", "status": "reported",
                    "reported_by": "worker", "reported_at": iso(made % 7, made)}, "worker")["record"])
            elif k == 3 and cases:
                phone.create("case_event", {"case_id": cases[-1], "kind": "progress", "at": iso(made % 7, made + 5),
                                            "by": "worker", "text": "已电话联系双方，约定周三现场协调。"}, "worker")
            else:
                phone.create("visit", {
                    "grid_id": GRID, "household_id": rnd.choice(households), "kind": "household",
                    "visited_at": iso(made % 7, made), "visitor": "worker", "seen": "老人身体尚可，家中整洁。",
                    **({"attachments": [pics.pop()]} if pics else {})}, "worker")
            made += 1
    assert not pics, "more photos than visits: raise --records"
    return {"sizes": sizes, "shrink_s": shrink_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--kbit", type=float, default=1000, help="link rate each way, kbit/s")
    ap.add_argument("--delay-ms", type=float, default=100, help="added delay each way")
    ap.add_argument("--seed", type=int, default=9)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gridbook-attbench-")
    try:
        print(json.dumps(run(tmp, args)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: str, args) -> dict:
    db = os.path.join(tmp, "central.db")
    central = CentralStore(db)
    central.add_grid(GRID, "白鹤村第1网格", "白鹤村", "金山镇")
    central.add_account("worker", "网格员", "grid_worker", PASSWORD, [GRID])
    central.close()
    server = TownshipServer(db).start()
    proxy = ThrottleProxy(server.port, args.kbit, args.delay_ms)
    try:
        folder = os.path.join(tmp, "phone")
        phone = DeviceReplica.in_folder(folder)
        client = SyncClient(phone, server.url)
        client.login("worker", PASSWORD)  # signed in and synced before the week began
        client.sync()
        store = Attachments.for_replica(phone)
        week = a_week_offline(phone, store, args.records, args.photos, args.seed)

        client = SyncClient(phone, proxy.url, timeout_s=120)  # back in (3G) signal
        up0, down0 = proxy.counts()
        t0 = time.perf_counter()
        report = client.sync()
        records_s = time.perf_counter() - t0
        up1, down1 = proxy.counts()
        sent = client.send_attachments(on_wifi=False)  # 3G: the device lets photos go on mobile data
        photos_s = time.perf_counter() - t0
        up2, down2 = proxy.counts()
        assert report.pushed == args.records and report.pending == 0, report
        assert sent["sent"] == args.photos and sent["waiting"] == 0, sent
        on_server = 0
        for root, _, files in os.walk(db + ".blobs"):
            if os.path.basename(root) not in ("partial", "thumbs"):
                for name in files:
                    with open(os.path.join(root, name), "rb") as f:
                        assert hashlib.sha256(f.read()).hexdigest() == name
                    on_server += 1
        assert on_server == args.photos
    finally:
        proxy.close()
        server.stop()
    photo_bytes = sum(week["sizes"])
    floor_s = photo_bytes * 8 / (args.kbit * 1000)
    return {
        "records": args.records, "photos": args.photos, "link_kbit": args.kbit, "delay_ms_each_way": args.delay_ms,
        "photo_kb_min": round(min(week["sizes"]) / 1024), "photo_kb_median": round(sorted(week["sizes"])[len(week["sizes"]) // 2] / 1024),
        "photo_kb_max": round(max(week["sizes"]) / 1024), "photo_bytes": photo_bytes,
        "records_synced_s": round(records_s, 2), "photos_synced_s": round(photos_s, 2),
        "photos_only_s": round(photos_s - records_s, 2), "photos_floor_s": round(floor_s, 1),
        "photo_link_efficiency": round(floor_s / (photos_s - records_s), 3),
        "records_bytes_up": up1 - up0, "records_bytes_down": down1 - down0,
        "photos_bytes_up": up2 - up1, "photos_bytes_down": down2 - down1,
        "bytes_on_wire": (up2 - up0) + (down2 - down0), "shrink_s_per_photo": round(week["shrink_s"] / max(1, args.photos), 3),
    }


if __name__ == "__main__":
    main()
