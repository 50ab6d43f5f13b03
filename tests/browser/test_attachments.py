"""Photos on records, in Debian's Chromium against a real township server and a real
phone app instance: a grid worker attaches photos through the file picker (the path a
browser has: no camera there), the phone shows them at once with their state, they
reach the server apart from the records, and the office sees them on the matter.

How a test feeds Flet 1.0.5's FilePicker on web: `pick_files()` makes Flutter create a
hidden `<input type="file">` and click it; Playwright catches that as a file chooser
(`page.expect_file_chooser()` around the click on the button), and
`file_chooser.set_files(path)` hands the file over. With `with_data=True` the bytes
reach the Python side in the pick's answer (`FilePickerFile.bytes`)."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

from PIL import Image, ImageDraw

from sync.server.central import CentralStore

from .conftest import query
from .harness import DESKTOP, FIRST_SYNC_S, AppPage, app_process
from .test_field_app import GPS, sign_in
from .test_office import office_sign_in


def scene_jpeg(path: Path, colour=(70, 130, 90), size=(2400, 1800), gps: bool = True) -> Path:
    """A camera-sized photo of a blocked drain, drawn: a gradient, shapes, words; with a
    GPS position in its EXIF, as a phone's camera writes it."""
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(0, size[1], 6):
        shade = (colour[0] + y * 60 // size[1], colour[1], colour[2] + y * 80 // size[1])
        draw.rectangle([0, y, size[0], y + 6], fill=shade)
    draw.ellipse([size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4], fill=(90, 70, 40))
    draw.rectangle([100, 100, 700, 300], fill=(240, 240, 240))
    exif = Image.Exif()
    exif[0x0132] = "2026:11:27 09:30:00"
    if gps:
        exif[0x8825] = {1: "N", 2: (29.0, 4.0, 16.0), 3: "E", 4: (119.0, 38.0, 49.0)}
    img.save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path


def noise_jpeg(path: Path, size=(1200, 900)) -> Path:
    """A picture no JPEG can make small (fine noise everywhere): about 0.65 MB stored."""
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(path, "JPEG", quality=90)
    return path


def attach(app: AppPage, path: Path, button: str = "添加照片") -> None:
    """Tap the button that opens the file picker and choose the file in it."""
    with app.page.expect_file_chooser(timeout=30_000) as chooser:
        app.tap(button)
    chooser.value.set_files(str(path))


def signed_in(app: AppPage, username: str) -> None:
    """Sign in (retyping if the form says 必填: harness.AppPage.sign_in) and wait for the
    first sync."""
    sign_in(app, username)
    app.text("已全部同步", timeout_s=FIRST_SYNC_S)


def open_screen(app: AppPage, tap: str, then: str) -> None:
    """Tap `tap` and wait for the button `then` of the screen it opens. A tap that lands
    while the screen is being redrawn by a sync is lost: it is repeated until it shows."""
    for _ in range(3):
        app.tap(tap)
        try:
            app.button(then).wait_for(timeout=10_000)
            return
        except Exception:
            continue
    app.button(then).wait_for(timeout=10_000)


def open_household(app: AppPage, name: str) -> None:
    open_screen(app, name, "记录走访")


def settled_shot(app: AppPage, name: str) -> Path:
    """A screenshot once two frames in a row are the same: a photo of several hundred KB
    is decoded and painted some time after the accessibility tree names it."""
    path = app.shots / f"{name}.png"
    before, same = None, 0
    for _ in range(60):
        app.page.wait_for_timeout(250)
        now = app.page.screenshot()
        same = same + 1 if now == before else 0
        if same >= 4:   # a second without a change
            break
        before = now
    path.write_bytes(now)
    return path


def blob_path(db: str, h: str) -> Path:
    return Path(f"{db}.blobs") / h[:2] / h


def test_photos_on_a_visit_a_report_and_a_household_reach_the_office(township, tmp_path, browser):
    server, db = township
    visit_photo = scene_jpeg(tmp_path / "水沟堵塞.jpg")
    report_photo = scene_jpeg(tmp_path / "report.jpg", colour=(150, 60, 60), size=(1800, 2400))
    house_photo = scene_jpeg(tmp_path / "house.jpg", colour=(60, 60, 160), gps=False)
    progress_photo = scene_jpeg(tmp_path / "cleared.jpg", colour=(200, 180, 60), size=(1600, 1200))
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "worker").start()
    try:
        app = browser(phone.url, GPS)
        signed_in(app, "wangfang")
        app.tap("住户", role="tab")
        open_household(app, "张建国")
        app.tap("记录走访")
        app.fix("精度 ±9 米")
        app.type("看到的情况", "排水沟被垃圾堵塞，雨天积水")
        attach(app, visit_photo)
        app.button("照片 水沟堵塞.jpg").wait_for(timeout=30_000)   # the thumbnail, at once
        app.shows("等待上传")
        app.shot("attach-phone-visit-form")
        app.tap("保存")
        app.text("已保存，待同步")
        app.button("照片 水沟堵塞.jpg").wait_for(timeout=30_000)   # on the household's visit
        app.shows("已上传", timeout_s=60)                         # the sync sent it by itself
        app.shot("attach-phone-household-visit-sent")
        app.tap("照片 水沟堵塞.jpg")
        app.shows("照片原图")                               # full size, from the phone itself
        settled_shot(app, "attach-phone-photo-full")
        app.tap("关闭")

        # the household's own photo, from its form (fieldapp/screens/household_form.py)
        app.tap("编辑")
        attach(app, house_photo)
        app.button("照片 house.jpg").wait_for(timeout=30_000)
        app.tap("保存")
        app.text("住户已保存，待同步")
        app.button("照片 house.jpg").wait_for(timeout=30_000)   # on the household's page
        app.tap("返回")

        app.tap("今日", role="tab")
        open_screen(app, "上报矛盾纠纷", "纠纷类别")
        app.tap("纠纷类别")
        app.tap("09 环境污染")
        app.type("当事人", "张建国")
        app.type("情况描述", "村口排水沟长期堵塞，多户反映")
        app.fix("精度 ±9 米")
        attach(app, report_photo)
        app.button("照片 report.jpg").wait_for(timeout=30_000)
        app.tap("保存")
        app.text("已上报，待同步")
        # a progress entry on the report, with its photo (the dialog's own picker)
        app.tap("案件", role="tab")
        open_screen(app, "村口排水沟长期堵塞", "记录进展")
        app.tap("记录进展")
        app.type("进展情况", "已组织清理一半")
        attach(app, progress_photo)
        app.button("照片 cleared.jpg").wait_for(timeout=30_000)
        app.tap("保存", role="button")
        app.text("进展已记录，待同步")
        app.button("照片 cleared.jpg").wait_for(timeout=30_000)    # on the case's timeline
        app.shows("已上传", timeout_s=60)
        app.shot("attach-phone-case-timeline")
        app.tap("返回")

        app.text("已全部同步", timeout_s=60)
        app.page.get_by_text("照片/录音待上传", exact=False).first.wait_for(state="detached", timeout=60_000)
    finally:
        phone.stop()

    visit = query(db, "SELECT attachments FROM visits WHERE household_id='hh-1'")[0]
    [va] = json.loads(visit["attachments"])
    case = query(db, "SELECT id, ref, attachments FROM cases WHERE reported_by='wangfang'")[0]
    [ca] = json.loads(case["attachments"])
    [ha] = json.loads(query(db, "SELECT attachments FROM households WHERE id='hh-1'")[0]["attachments"])
    [pa] = json.loads(query(db, "SELECT attachments FROM case_events WHERE case_id=? AND by='wangfang'",
                            (case["id"],))[0]["attachments"])
    for att in (va, ca, ha, pa):
        assert att["kind"] == "photo" and blob_path(db, att["hash"]).exists()   # the bytes arrived whole
    stored = Image.open(blob_path(db, va["hash"]))
    assert max(stored.size) == 1600                     # shrunk on the phone from 2400 px
    assert 0x8825 not in stored.getexif()               # the position taken out of the photo
    assert Image.open(blob_path(db, ca["hash"])).size == (1200, 1600)   # upright, portrait kept

    office = browser(server.url, viewport=DESKTOP)
    office_sign_in(office)
    office.tap(case["ref"])
    office.shows("照片和录音（2）")                      # on the matter page: the report's, the progress
    office.button("受理").wait_for(timeout=30_000)
    settled_shot(office, "attach-office-matter-thumbnail")
    office.tap("查看 照片 上报")
    office.shows("照片原图")                             # the dialog with the photo full size
    settled_shot(office, "attach-office-photo-full")
    office.tap("关闭")
    office.tap("返回")
    office.open_tab("住户")                              # the household: its photo and its visit's
    office.text("共 3 户")
    office.page.get_by_role("group", name="张建国 金山镇白鹤村3组12号").first.click()
    office.shows("照片和录音（2）")
    office.page.mouse.move(640, 400)
    office.page.mouse.wheel(0, 3000)                    # the dialog scrolled to its photos
    settled_shot(office, "attach-office-household")
    office.tap("查看 照片 走访")
    office.shows("照片原图")
    settled_shot(office, "attach-office-household-visit-photo")
    reads = query(db, "SELECT action, detail, device FROM audit WHERE username='xinfang' AND action LIKE 'attachment%'")
    assert {"attachment_thumb", "attachment"} <= {r["action"] for r in reads}
    assert {r["detail"][:16] for r in reads} == {a["hash"][:16] for a in (ca, pa, va, ha)}
    assert all(r["device"] for r in reads)              # who read which photo, from which sign-in


def test_offline_photo_waits_and_a_photo_over_the_limit_is_refused_naming_it(township, tmp_path, browser):
    server, db = township
    big = noise_jpeg(tmp_path / "noise.jpg")
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "worker").start()
    try:
        app = browser(phone.url, GPS)
        signed_in(app, "wangfang")

        server.stop()   # no signal from here on
        app.tap("住户", role="tab")
        open_household(app, "张建国")
        app.tap("记录走访")
        app.type("看到的情况", "屋后山体有裂缝")
        attach(app, big)
        app.button("照片 noise.jpg").wait_for(timeout=30_000)   # shown offline, from the phone
        app.tap("保存")
        app.text("已保存，待同步")
        app.button("照片 noise.jpg").wait_for(timeout=30_000)
        app.shows("等待上传")
        app.shot("attach-phone-offline-waiting")
        app.tap("返回")
        app.text("照片/录音待上传 1")                          # the sync bar counts it
        app.text("离线", timeout_s=60)
        app.shot("attach-phone-offline-syncbar")

        # Meanwhile the township lowers its limit: the waiting photo is now too large.
        st = CentralStore(db)
        st.set_setting("photo_max_mb", 0.1)
        st.close()
        server.start()
        app.text("已全部同步", timeout_s=60)
        open_household(app, "张建国")
        app.shows("被拒：超过镇里规定的大小上限（0.1 MB）", timeout_s=60)  # refused, with why
        app.shot("attach-phone-refused")

        # The phone learned the new limit at that sync: a new photo over it is refused
        # at once, the limit named.
        app.tap("记录走访")
        attach(app, big)
        app.shows("照片：压缩后仍超过镇里规定的每张 0.1 MB 上限")
        app.shot("attach-phone-over-limit")
        app.tap("录音")                                   # this browser has no microphone
        app.shows("此设备无法录音：没有麦克风，或未允许使用麦克风")
    finally:
        phone.stop()
    visit = query(db, "SELECT attachments FROM visits WHERE household_id='hh-1'")[0]
    [att] = json.loads(visit["attachments"])
    assert not blob_path(db, att["hash"]).exists()   # the record went through; the bytes did not



def test_a_voice_note_recorded_in_the_browser_is_kept_on_the_report(township, tmp_path, playwright_instance, shots):
    """Chromium's fake microphone (it beeps): the recorder streams PCM to the app, which
    keeps it as a WAV on the phone and shows it on the form."""
    import wave

    from .harness import CHROMIUM, CHROMIUM_ARGS, PHONE
    server, db = township
    phone = app_process(str(tmp_path / "phone"), server.url, tmp_path, "worker").start()
    ctx = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path / "chromium-mic"), executable_path=CHROMIUM, headless=True, viewport=PHONE, locale="zh-CN",
        args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
        permissions=["geolocation", "microphone"],
        geolocation={"latitude": GPS["latitude"], "longitude": GPS["longitude"], "accuracy": 9})
    try:
        app = AppPage(ctx.pages[0], shots).open(phone.url)
        signed_in(app, "wangfang")
        app.tap("今日", role="tab")
        open_screen(app, "上报矛盾纠纷", "录音")
        app.tap("录音")
        app.shows("正在录音")
        import re
        deadline = time.monotonic() + 90                  # the dialog counts the seconds (a busy machine is slow)
        while not any(int(m) * 60 + int(sec) >= 2 for m, sec in re.findall(r"(\d+):(\d\d) / 1:00", app.aria())):
            assert time.monotonic() < deadline, "the recording's seconds never counted up"
            app.page.wait_for_timeout(250)
        app.tap("停止并保存")
        app.shows("等待上传")
        tile = app.page.get_by_role("button", name="录音 录音").first
        tile.wait_for(timeout=30_000)
        app.page.mouse.move(180, 500)
        app.page.mouse.wheel(0, 800)                      # the form scrolled to its voice note
        settled_shot(app, "attach-phone-voice-note")
    finally:
        ctx.close()
        phone.stop()
    [note] = list((tmp_path / "phone" / "attachments").glob("??/*"))
    with wave.open(str(note)) as w:
        # the rate is guessed from the stream's timing (Chromium ignores the one asked
        # for): on a busy machine the guess can snap to another usual rate (closing note)
        from fieldapp.screens.attachments import COMMON_RATES, downsampled
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        assert w.getframerate() in {downsampled(b"", r)[1] for r in COMMON_RATES}
        pcm = w.readframes(w.getnframes())
    from array import array
    assert max(abs(x) for x in array("h", pcm)) > 10_000  # the beeps are in it: not silence


# --- the words and the bookkeeping behind the screens (no browser) --------------------

class _Words:
    lang = "zh"

    def t(self, key, **kw):
        from fieldapp import i18n
        return i18n.t(key, "zh", **kw)


def test_each_state_is_said_in_chinese_and_a_refusal_names_the_limit():
    from fieldapp.screens.attachments import state_words
    said = {s: state_words(_Words(), {"state": s})[0] for s in ("waiting", "sent", "remote")}
    assert said == {"waiting": "等待上传", "sent": "已上传", "remote": "未下载，点击查看"}
    assert state_words(_Words(), {"state": "sending", "sent_bytes": 64, "size": 256})[0] == "上传中 25%"
    refused = {"state": "refused", "reason_zh": "超过镇里规定的大小上限",
               "reason": "photo: 0.6 MB is over the township's limit of 0.1 MB per photo (setting photo_max_mb)"}
    assert state_words(_Words(), refused)[0] == "被拒：超过镇里规定的大小上限（0.1 MB）"


def test_a_voice_note_streamed_in_a_browser_is_kept_as_a_playable_wav():
    import wave

    from fieldapp.screens.attachments import VOICE_RATE, wav_bytes
    pcm = b"\x00\x01" * VOICE_RATE   # one second of 16-bit mono
    with wave.open(io.BytesIO(wav_bytes(pcm))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, VOICE_RATE, VOICE_RATE)


def test_photos_of_a_form_never_saved_are_forgotten_and_saved_ones_kept(tmp_path):
    from sync.attachments import Attachments, forget_unnamed
    from sync.device import DeviceReplica
    replica = DeviceReplica.in_folder(str(tmp_path))
    store = Attachments.for_replica(replica)
    kept = store.add_photo(scene_jpeg(tmp_path / "a.jpg").read_bytes(), name="a.jpg")
    dropped = store.add_photo(scene_jpeg(tmp_path / "b.jpg", colour=(10, 10, 200)).read_bytes(), name="b.jpg")
    replica.create("visit", {"grid_id": "bh-01", "kind": "household", "visited_at": "2026-11-27T09:00:00+08:00",
                             "visitor": "wangfang", "seen": "积水", "attachments": [kept]}, "wangfang")
    assert store.waiting_count() == 2
    assert forget_unnamed(store, replica, older_than_s=0) == 1
    assert store.waiting_count() == 1                       # the sync bar no longer counts it
    assert store.path(kept["hash"]) and store.thumbnail(kept["hash"])
    assert store.path(dropped["hash"]) is None and store.state(dropped["hash"])["state"] == "remote"
    assert forget_unnamed(store, replica, [kept["hash"]]) == 0   # a photo a record names stays


def test_photos_wait_only_where_the_link_is_certainly_mobile_data():
    import flet as ft

    from fieldapp.screens.attachments import on_wifi
    T = ft.ConnectivityType
    assert not on_wifi([T.MOBILE]) and not on_wifi([T.VPN, T.MOBILE])
    assert on_wifi([T.WIFI]) and on_wifi([T.MOBILE, T.WIFI]) and on_wifi([T.ETHERNET])
    assert on_wifi([T.OTHER])   # a browser that cannot say: photos are not held back


def test_a_browsers_stream_rate_is_read_from_its_pace_and_brought_down_for_speech():
    from fieldapp.screens.attachments import downsampled, stream_rate
    # Chromium streams at 44.1 kHz whatever was asked: 0.1 s chunks, 4410 samples each
    chunks = [(t / 10, b"\x00\x00" * 4410) for t in range(30)]
    assert stream_rate(chunks) == 44_100
    pcm, rate = downsampled(b"".join(c for _, c in chunks), 44_100)
    assert rate == 14_700 and len(pcm) == 2 * 30 * 1470   # a minute: about 1.7 MB, under 2 MB
    assert downsampled(b"\x10\x00\x20\x00\x30\x00", 48_000) == (b"\x20\x00", 16_000)   # averaged
