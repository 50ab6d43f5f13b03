"""Photos and voice notes on a record (issue 9): the buttons that add them on a form,
the thumbnails with each one's state, and the full-size view.

Where a photo comes from: on a phone (Android, iOS) the camera (flet-camera) or the
album; in a browser, or on a machine without a camera, the file picker (in a phone's
browser the picker itself offers the camera). Voice notes: flet-audio-recorder, to a
file on a phone, streamed as PCM into a WAV in a browser; where there is no microphone
the screen says so. The bytes are kept by sync/attachments.py (shrunk, by hash, queued
for upload): nothing here talks to the network itself.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import time
import wave

import flet as ft

from sync.attachments import AttachmentError, Attachments, forget_unnamed

from .. import i18n
from .widgets import TOUCH

THUMB = 88             # px: a thumbnail on a record
VOICE_MAX_S = 60       # a voice note is short: the recorder stops by itself
VOICE_RATE = 16_000    # Hz, mono: speech, about 32 KB a second as WAV
STATE_COLOURS = {"waiting": ft.Colors.ORANGE_900, "sending": ft.Colors.BLUE_700, "sent": ft.Colors.GREEN_800,
                 "refused": ft.Colors.RED_700, "remote": ft.Colors.GREY_700}


def store(ctx) -> Attachments:
    """This phone's attachments (a fresh handle each time: screens' handlers run in
    more than one thread, and the store's file is small)."""
    return Attachments.for_replica(ctx.phone.replica)


def state_words(ctx, st: dict | None) -> tuple[str, str]:
    """(words, colour) for one attachment's state: 等待上传, 上传中 (with how far),
    已上传, 被拒：why, or 未下载 for someone else's not opened yet."""
    st = st or {}
    state = st.get("state") or "waiting"
    if state == "sending" and st.get("size"):
        words = ctx.t("att_sending_pct", pct=int(100 * (st.get("sent_bytes") or 0) / st["size"]))
    elif state == "refused":
        why = (st.get("reason_zh") if ctx.lang == "zh" else None) or st.get("reason")
        words = i18n.labelled(ctx.t("att_refused"), why, ctx.lang) if why else ctx.t("att_refused")
        limit = re.search(r"limit of ([\d.]+ ?MB)", st.get("reason") or "")
        if limit and ctx.lang == "zh":  # the server's sentence names the limit: so does ours
            words += f"（{limit.group(1)}）"
    else:
        words = ctx.t(f"att_{state}") if state in STATE_COLOURS else state
    return words, STATE_COLOURS.get(state, ft.Colors.GREY_700)


def _read(path: str | None) -> bytes | None:
    if not path or not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def _size_words(n: int | None) -> str:
    n = n or 0
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


class StateBoard:
    """The state words of the attachments one screen shows, kept current while the
    sync moves them (waiting → sending → sent, or refused): one listener per screen."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.labels: dict[str, list[ft.Text]] = {}

    def clear(self) -> None:
        self.labels = {}

    def label(self, att: dict, st: dict | None) -> ft.Text:
        words, colour = state_words(self.ctx, st)
        text = ft.Text(words, size=11, color=colour, width=THUMB, max_lines=3, overflow=ft.TextOverflow.ELLIPSIS)
        self.labels.setdefault(att["hash"], []).append(text)
        return text

    def follow(self, view) -> None:
        self.ctx.on_status(lambda st: self.refresh(), owner=view)

    def refresh(self) -> None:
        if not self.labels:
            return
        states = store(self.ctx).states(list(self.labels))
        for h, texts in self.labels.items():
            words, colour = state_words(self.ctx, states.get(h))
            for t in texts:
                t.value, t.color = words, colour


def tile(ctx, att: dict, board: StateBoard, st: dict | None = None, on_remove=None) -> ft.Control:
    """One attachment: its thumbnail (a photo this phone holds), or an icon (a voice
    note; someone else's photo not opened yet), its state under it; a tap opens it."""
    st = st if st is not None else store(ctx).state(att["hash"])
    thumb = _read(store(ctx).thumbnail(att["hash"])) if att.get("kind") == "photo" else None
    kind_words = ctx.t("att_photo" if att.get("kind") == "photo" else "att_voice")
    if thumb:
        face = ft.Image(src=thumb, width=THUMB, height=THUMB, fit=ft.BoxFit.COVER, border_radius=6)
    else:
        face = ft.Container(ft.Column([
            ft.Icon(ft.Icons.MIC if att.get("kind") == "audio" else ft.Icons.IMAGE, color=ft.Colors.BLUE_GREY_700),
            ft.Text(_size_words(att.get("size")), size=11, color=ft.Colors.GREY_800)],
            horizontal_alignment=ft.CrossAxisAlignment.CENTER, alignment=ft.MainAxisAlignment.CENTER, spacing=2),
            width=THUMB, height=THUMB, bgcolor=ft.Colors.BLUE_GREY_50, border_radius=6)
    parts: list[ft.Control] = [ft.Semantics(label=f"{kind_words} {att.get('name') or ''}".strip(), button=True,
                                            content=ft.Container(face, on_click=lambda e: open_full(ctx, att)))]
    parts.append(board.label(att, st))
    if on_remove is not None:
        parts.append(ft.TextButton(ctx.t("att_remove"), height=32, on_click=lambda e: on_remove(att)))
    return ft.Column(parts, spacing=2, width=THUMB, horizontal_alignment=ft.CrossAxisAlignment.START)


def strip(ctx, attachments: list[dict] | None, board: StateBoard) -> ft.Control | None:
    """The thumbnails of a saved record (a visit, a report, a timeline entry, a
    household), or None when it has none."""
    atts = [a for a in attachments or [] if isinstance(a, dict) and a.get("hash")]
    if not atts:
        return None
    states = store(ctx).states([a["hash"] for a in atts])
    return ft.Row([tile(ctx, a, board, states.get(a["hash"])) for a in atts], wrap=True, spacing=8, run_spacing=8)


def of_timeline_item(ws, item: dict) -> list[dict]:
    """The attachments of one timeline entry (a progress entry, a resolution, a visit):
    the timeline lists what happened; the record itself carries its photos."""
    entity = {"event": "case_event", "visit": "visit"}.get(item.get("type"))
    if entity is None or not item.get("id"):
        return []
    rec = ws.replica.get(entity, item["id"]) or {}
    return [a for a in rec.get("attachments") or [] if isinstance(a, dict)]


def open_full(ctx, att: dict) -> None:
    """The photo full size (fetched from the server the first time when it is someone
    else's: other people's photos come only when opened), or a voice note's facts."""
    if att.get("kind") != "photo":
        st = store(ctx).state(att["hash"])
        voice = ft.AlertDialog(
            title=ft.Text(ctx.t("att_voice")),
            content=ft.Text(f"{att.get('name') or ''} {_size_words(att.get('size'))}\n{state_words(ctx, st)[0]}"),
            actions=[ft.TextButton(ctx.t("close"), on_click=lambda e: ctx.close_dialog(voice))])
        ctx.show_dialog(voice, key=f"att:{att['hash']}")
        return
    body = ft.Container(ft.ProgressRing(), width=320, height=120, alignment=ft.Alignment.CENTER)
    photo = ft.AlertDialog(
        title=ft.Text(ctx.t("att_photo")), content=body, inset_padding=8, content_padding=8,
        actions=[ft.TextButton(ctx.t("close"), on_click=lambda e: ctx.close_dialog(photo))])
    if not ctx.show_dialog(photo, key=f"att:{att['hash']}"):
        return

    async def load() -> None:
        data = _read(store(ctx).path(att["hash"]))
        if data is None:
            def fetch() -> bytes | None:
                from sync.errors import SyncError
                client = ctx.phone._sync_client()
                try:
                    return _read(Attachments.for_replica(client.replica).fetch(client, att))
                except SyncError as e:
                    raise RuntimeError(fetch_failure(ctx, e)) from e
            try:
                data = await asyncio.to_thread(fetch)
            except RuntimeError as e:
                body.content = ft.Text(ctx.t("att_fetch_failed", why=str(e)), color=ft.Colors.RED_700)
                body.update()
                return
        full = ft.Image(src=data, fit=ft.BoxFit.CONTAIN, semantics_label=ctx.t("oatt_full"))
        body.content = ft.InteractiveViewer(full, min_scale=1, max_scale=5)
        body.width, body.height = 340, 460
        body.update()
    ctx.page.run_task(load)


def fetch_failure(ctx, e) -> str:
    """Why a photo could not be fetched, in the person's words: no network, and the
    server's two usual answers (not the person's to see; the phone that took it has not
    sent it yet) as the screens say them elsewhere; other failures by their own message."""
    from sync.errors import Refused, Unreachable
    if isinstance(e, Unreachable):
        return ctx.t("offline")
    key = {403: "oatt_forbidden", 404: "oatt_not_uploaded"}.get(e.status) if isinstance(e, Refused) else None
    return ctx.t(key) if key else e.message


def _picker(ctx) -> ft.FilePicker:
    """One file picker per root view (services belong to the root view, which a sign-in
    builds anew; a service no one holds is unregistered)."""
    services = ctx.page.services
    picker = next((s for s in services if isinstance(s, ft.FilePicker)), None)
    if picker is None:
        picker = ft.FilePicker()
        services.append(picker)
        ctx.page.update()
    return picker


def has_camera(page: ft.Page) -> bool:
    """The camera is offered on a phone; in a browser the file picker offers it."""
    try:
        return not page.web and page.platform in (ft.PagePlatform.ANDROID, ft.PagePlatform.IOS)
    except Exception:
        return False


COMMON_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)


def stream_rate(chunks: list[tuple[float, bytes]], fallback: int = 48_000) -> int:
    """The rate a browser really streamed at (it may ignore the one asked for: Chromium
    streams at its audio device's 44.1 or 48 kHz): the bytes that came after the first
    chunk over the time they took, snapped to the nearest usual rate."""
    if len(chunks) < 3 or chunks[-1][0] - chunks[0][0] < 0.5:
        return fallback
    samples = sum(len(c) for _, c in chunks[1:]) / 2
    guess = samples / (chunks[-1][0] - chunks[0][0])
    return min(COMMON_RATES, key=lambda r: abs(r - guess))


def downsampled(pcm: bytes, rate: int, target: int = VOICE_RATE) -> tuple[bytes, int]:
    """16-bit mono PCM brought near `target` (speech needs no more) by averaging each
    run of `step` samples: (pcm, its rate). A minute stays under the 2 MB default."""
    from array import array
    step = max(1, round(rate / target))
    if step == 1:
        return pcm, rate
    samples = array("h", pcm[:len(pcm) // 2 * 2])
    n = len(samples) // step * step
    out = array("h", (sum(samples[i:i + step]) // step for i in range(0, n, step)))
    return out.tobytes(), rate // step


def wav_bytes(pcm: bytes, rate: int = VOICE_RATE) -> bytes:
    """Raw 16-bit mono PCM (what the recorder streams in a browser) as a WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


class AttachmentEditor:
    """Photos and voice notes on a form being filled: `value` is the list to save in the
    record's `attachments` field. Each one is stored (and queued for upload) the moment
    it is taken, so it shows at once, offline."""

    def __init__(self, ctx, initial: list[dict] | None = None, limit: int = 10):
        self.ctx, self.limit = ctx, limit
        self.items: list[dict] = [a for a in initial or [] if isinstance(a, dict) and a.get("hash")]
        self.board = StateBoard(ctx)
        self.thumbs = ft.Row(wrap=True, spacing=8, run_spacing=8)
        self.message = ft.Text(color=ft.Colors.RED_700, size=13)
        buttons = [ft.OutlinedButton(ctx.t("att_add_photo"), icon=ft.Icons.ADD_A_PHOTO, height=TOUCH,
                                     on_click=self.add_photo)]
        if has_camera(ctx.page):
            buttons = [ft.OutlinedButton(ctx.t("att_take_photo"), icon=ft.Icons.PHOTO_CAMERA, height=TOUCH,
                                         on_click=self.take_photo),
                       ft.OutlinedButton(ctx.t("att_album"), icon=ft.Icons.PHOTO_LIBRARY, height=TOUCH,
                                         on_click=self.add_photo)]
        buttons.append(ft.OutlinedButton(ctx.t("att_record_voice"), icon=ft.Icons.MIC, height=TOUCH,
                                         on_click=self.record_voice))
        self.control = ft.Column([ft.Text(ctx.t("att_title"), weight=ft.FontWeight.BOLD),
                                  ft.Row(buttons, wrap=True, spacing=8), self.thumbs, self.message], spacing=6)
        self._draw()

    @property
    def value(self) -> list[dict]:
        return list(self.items)

    def follow(self, view) -> None:
        self.board.follow(view)

    def _draw(self) -> None:
        self.board.clear()
        states = store(self.ctx).states([a["hash"] for a in self.items]) if self.items else {}
        self.thumbs.controls = [tile(self.ctx, a, self.board, states.get(a["hash"]), on_remove=self.remove)
                                for a in self.items]

    def remove(self, att: dict) -> None:
        self.items = [a for a in self.items if a["hash"] != att["hash"]]
        forget_unnamed(store(self.ctx), self.ctx.phone.replica, [att["hash"]])  # unless a record names it
        self._draw()
        self.ctx.phone.runner._publish()

    def _take(self, adding) -> None:
        """Store one picture or note (shrunk, by hash) and show it; a refusal (too large,
        not a picture) is said under the buttons, naming the limit."""
        self.message.value = ""
        if len(self.items) >= self.limit:
            self.message.value = self.ctx.t("att_too_many", n=self.limit)
            return
        try:
            att = adding(store(self.ctx))
        except AttachmentError as e:
            self.message.value = e.zh if self.ctx.lang == "zh" else e.message
            return
        if all(a["hash"] != att["hash"] for a in self.items):
            self.items.append(att)
        self._draw()
        self.ctx.phone.runner._publish()   # the sync bar counts it at once; it travels once saved

    async def add_photo(self, e=None) -> None:
        files = await _picker(self.ctx).pick_files(
            file_type=ft.FilePickerFileType.IMAGE, allow_multiple=True, with_data=True,
            cancel_upload_on_window_blur=False)
        for f in files or []:
            source = f.bytes if f.bytes is not None else f.path
            if source is None:
                continue
            self._take(lambda s, src=source, name=f.name: s.add_photo(src, name=name[:100]))
        self.ctx.page.update()

    async def take_photo(self, e=None) -> None:
        """The phone's camera, full screen; a phone with none falls back to the album."""
        try:
            import flet_camera as fc
        except ImportError:
            return await self.add_photo()
        cam = fc.Camera(expand=True, preview_enabled=True)
        shutter = ft.FilledButton(self.ctx.t("att_shutter"), icon=ft.Icons.CAMERA, height=TOUCH)
        view = ft.View(route="/camera", padding=0, controls=[ft.Column([cam, ft.Row(
            [shutter, ft.TextButton(self.ctx.t("cancel"), height=TOUCH, on_click=lambda e: self.ctx.pop())],
            alignment=ft.MainAxisAlignment.CENTER)], expand=True)])

        async def snap(e) -> None:
            data = await cam.take_picture()
            self.ctx.pop()
            self._take(lambda s: s.add_photo(data, name=f"IMG_{time.strftime('%Y%m%d_%H%M%S')}.jpg"))
            self.ctx.page.update()
        shutter.on_click = snap
        self.ctx.push(view)
        try:
            cameras = await cam.get_available_cameras()
            if not cameras:
                raise RuntimeError("no camera")
            back = next((c for c in cameras if c.lens_direction == fc.CameraLensDirection.BACK), cameras[0])
            await cam.initialize(back, fc.ResolutionPreset.VERY_HIGH, enable_audio=False)
        except Exception:
            self.ctx.pop()
            self.ctx.snack(self.ctx.t("att_no_camera"), error=True)
            await self.add_photo()

    async def record_voice(self, e=None) -> None:
        """A short voice note: a dialog that counts the seconds, stop or cancel; it stops
        by itself at VOICE_MAX_S. No microphone (or none allowed): said plainly."""
        ctx = self.ctx
        try:
            import flet_audio_recorder as far
        except ImportError:
            self.message.value = ctx.t("att_no_voice")
            ctx.page.update()
            return
        chunks: list[tuple[float, bytes]] = []
        web = ctx.page.web
        rec = far.AudioRecorder(configuration=far.AudioRecorderConfiguration(
            encoder=far.AudioEncoder.PCM16BITS if web else far.AudioEncoder.AACLC,
            channels=1, sample_rate=VOICE_RATE, bit_rate=32_000),
            on_stream=(lambda ev: chunks.append((time.monotonic(), ev.chunk))) if web else None)
        ctx.page.services.append(rec)
        ctx.page.update()
        path = os.path.join(ctx.phone.data_dir, f"voice-{int(time.time() * 1000)}.m4a")
        clock = ft.Text("0:00", size=24)
        state = {"running": True}

        async def finish(keep: bool) -> None:
            if not state["running"]:
                return
            state["running"] = False
            try:
                out = await rec.stop_recording() if keep else await rec.cancel_recording()
            except Exception:
                out = None
            ctx.close_dialog(recording)
            if keep:
                if web and chunks:
                    data = wav_bytes(*downsampled(b"".join(c for _, c in chunks), stream_rate(chunks)))
                    self._take(lambda s: s.add_audio(data, name=f"录音{time.strftime('%H%M%S')}.wav"))
                elif not web and out and os.path.exists(out):
                    self._take(lambda s: s.add_audio(out, name=os.path.basename(out)))
                else:
                    self.message.value = ctx.t("att_voice_empty")
            for p in (path,):
                if os.path.exists(p):
                    os.remove(p)  # the store keeps its own copy, by hash
            ctx.page.services.remove(rec) if rec in ctx.page.services else None
            ctx.page.update()

        try:
            ok = await rec.has_permission()
            if ok:
                ok = await rec.start_recording(output_path=None if web else path)
        except Exception:
            ok = False
        if not ok:
            ctx.page.services.remove(rec) if rec in ctx.page.services else None
            self.message.value = ctx.t("att_no_voice")
            ctx.page.update()
            return
        recording = ft.AlertDialog(
            modal=True, title=ft.Text(ctx.t("att_recording")),
            content=ft.Row([ft.Icon(ft.Icons.MIC, color=ft.Colors.RED_700), clock], tight=True),
            actions=[ft.TextButton(ctx.t("cancel"), on_click=lambda e: ctx.page.run_task(finish, False)),
                     ft.FilledButton(ctx.t("att_stop"), on_click=lambda e: ctx.page.run_task(finish, True))])
        ctx.page.show_dialog(recording)
        ctx.page.update()
        started = time.monotonic()
        while state["running"]:
            await asyncio.sleep(0.5)
            left = time.monotonic() - started
            clock.value = f"{int(left) // 60}:{int(left) % 60:02d} / {VOICE_MAX_S // 60}:{VOICE_MAX_S % 60:02d}"
            if left >= VOICE_MAX_S:
                await finish(True)
                break
            try:
                clock.update()
            except Exception:
                break


def photos_waiting(ctx) -> ft.Control:
    """Under the sync bar: how many photos and voice notes wait to go up, and why when
    it is the Wi-Fi rule that holds them."""
    text = ft.Text(size=12, color=ft.Colors.ORANGE_900)
    row = ft.Container(ft.Row([ft.Icon(ft.Icons.PHOTO_LIBRARY, size=16, color=ft.Colors.ORANGE_900), text],
                              spacing=6), padding=ft.Padding.only(left=12, bottom=4), bgcolor=ft.Colors.BLUE_GREY_50)

    # photos of forms never saved (the screens were all closed to build this one): gone
    forget_unnamed(store(ctx), ctx.phone.replica, older_than_s=3600)
    wifi_only = {"on": store(ctx).wifi_only}

    def show(st=None) -> None:
        # the sync publishes the count with its status (fieldapp/syncer.py); a zero may
        # come from before the sync's first run: then the store is asked
        n = getattr(st, "attachments_waiting", None) if st is not None else None
        if not n:
            s = store(ctx)
            n, wifi_only["on"] = s.waiting_count(), s.wifi_only
        row.visible = n > 0
        text.value = ctx.t("att_waiting_n", n=n) + (f" · {ctx.t('att_wifi_only_short')}" if wifi_only["on"] else "")
    show()
    ctx.on_status(show)
    return row


def on_wifi(types) -> bool:
    """Whether photos may go now: not when the only link is mobile data. A link the
    platform cannot name (a browser often says "other") counts as Wi-Fi: the rule holds
    photos back only where mobile data is certain."""
    kinds = {getattr(t, "value", t) for t in types or ()}
    return not ("mobile" in kinds and not kinds & {"wifi", "ethernet"})


def follow_connectivity(ctx, root: ft.View) -> None:
    """Tell the background sync what the link is (ft.Connectivity, a service of the
    window's root view, which is built anew on each sign-in): the sync asks
    `runner.on_wifi()` before it sends photos."""
    link = {"wifi": True}

    def changed(e) -> None:
        link["wifi"] = on_wifi(e.connectivity)
        if link["wifi"]:
            ctx.phone.runner.request()   # Wi-Fi again: the photos held back may go now

    service = ft.Connectivity(on_change=changed)
    root.services.append(service)  # kept by the root view: a service no one holds is unregistered
    ctx.phone.runner.on_wifi = lambda: link["wifi"]

    async def first() -> None:
        try:
            link["wifi"] = on_wifi(await service.get_connectivity())
        except Exception:  # a platform that cannot say: photos are not held back
            link["wifi"] = True
    ctx.page.run_task(first)


def wifi_switch(ctx) -> ft.Control:
    """The "photos only on Wi-Fi" choice of this phone (voice notes, small, always go)."""
    def changed(e) -> None:
        store(ctx).set_wifi_only(bool(e.control.value))
        ctx.wrote()
        ctx.snack(ctx.t("settings_saved"))
    return ft.Switch(label=ctx.t("att_wifi_only"), value=store(ctx).wifi_only, on_change=changed)


__all__ = ["AttachmentEditor", "StateBoard", "follow_connectivity", "of_timeline_item", "on_wifi", "open_full",
           "photos_waiting", "state_words", "strip", "wav_bytes", "wifi_switch"]
