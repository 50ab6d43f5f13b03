"""Photos and voice notes at the office (issue 9): thumbnails on a matter and on a
household, the photo full size on a click.

The office's screens run in the server's process: the bytes come through the same
function the download route uses (sync/server/blobs.py `read`), with this person's
principal, so the rule of who may see them and the audit of every reading hold here
exactly as for a phone.
"""

from __future__ import annotations

import flet as ft

from sync import codes
from sync.server import blobs

THUMB = 120   # px: a thumbnail on the matter page


def _principal(ctx):
    p = ctx.ws.principal
    if ctx.session and not p.device:
        from dataclasses import replace
        p = replace(p, device=ctx.session[1])
    return p


def fetch(ctx, h: str, thumb: bool) -> tuple[bytes | None, str]:
    """(bytes or None, why not in the person's words): read for this person, audited
    (a thumbnail once per sign-in)."""
    if thumb and h in ctx.thumbs:
        return ctx.thumbs[h], ""
    try:
        data, _ = blobs.read(ctx.store, _principal(ctx), h, thumb=thumb, address=ctx.address)
        if thumb:
            if len(ctx.thumbs) >= 500:  # ~15 MB of thumbnails: start again rather than grow
                ctx.thumbs.clear()
            ctx.thumbs[h] = data
        return data, ""
    except blobs.BlobError as e:
        if e.status == 403:
            return None, ctx.t("oatt_forbidden")
        if e.status == 422:   # on the server, but no picture can be made of it (not_a_picture)
            return None, ctx.t("oatt_unreadable")
        return None, ctx.t("oatt_not_uploaded")
    except Exception:  # a damaged file must not take the page down: say it
        return None, ctx.t("oatt_unreadable")


def _size_words(n) -> str:
    n = n or 0
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def tile(ctx, att: dict, caption: str = "") -> ft.Control:
    """One attachment: the photo's thumbnail (or why it is not there yet), a voice
    note's icon and size; a click opens it."""
    kind = ctx.code(codes.ATTACHMENT_KINDS, att.get("kind"))
    data, why = fetch(ctx, att["hash"], thumb=True) if att.get("kind") == "photo" else (None, "")
    if data:
        face = ft.Image(src=data, width=THUMB, height=THUMB, fit=ft.BoxFit.COVER, border_radius=6)
    else:
        face = ft.Container(ft.Column([
            ft.Icon(ft.Icons.MIC if att.get("kind") == "audio" else ft.Icons.HOURGLASS_EMPTY,
                    color=ft.Colors.BLUE_GREY_700),
            ft.Text(why or _size_words(att.get("size")), size=11, color=ft.Colors.GREY_800,
                    text_align=ft.TextAlign.CENTER)],
            horizontal_alignment=ft.CrossAxisAlignment.CENTER, alignment=ft.MainAxisAlignment.CENTER, spacing=2),
            width=THUMB, height=THUMB, bgcolor=ft.Colors.BLUE_GREY_50, border_radius=6, padding=4)
    label = " ".join(x for x in (kind, caption) if x)
    return ft.Column([
        ft.Semantics(label=f"{ctx.t('oatt_open')} {label}", button=True,
                     content=ft.Container(face, on_click=lambda e: open_full(ctx, att, caption))),
        ft.Text(caption, size=11, color=ft.Colors.GREY_700, width=THUMB, max_lines=2,
                overflow=ft.TextOverflow.ELLIPSIS),
    ], spacing=2, width=THUMB)


def open_full(ctx, att: dict, caption: str = "") -> None:
    """The photo full size in a dialog (zoomable); a voice note's facts."""
    if not ctx.act(lambda: None):   # the sign-in still holds
        return
    title = ft.Text(" ".join(x for x in (ctx.code(codes.ATTACHMENT_KINDS, att.get("kind")), caption) if x))
    close = ft.TextButton(ctx.t("close"), on_click=lambda e: ctx.close_dialog(full))
    if att.get("kind") != "photo":
        content = ft.Text(f"{att.get('name') or ''} · {_size_words(att.get('size'))}")
    else:
        data, why = fetch(ctx, att["hash"], thumb=False)
        content = (ft.Container(ft.InteractiveViewer(ft.Image(src=data, fit=ft.BoxFit.CONTAIN,
                                                              semantics_label=ctx.t("oatt_full")), min_scale=1,
                                                     max_scale=6), width=900, height=620)
                   if data else ft.Text(why, color=ft.Colors.RED_700))
    full = ft.AlertDialog(title=title, content=content, actions=[close])
    ctx.page.show_dialog(full)


def gallery(ctx, items: list[tuple[dict, str]], heading: str | None = None) -> list[ft.Control]:
    """The thumbnails of (attachment, caption) pairs under a heading with their number;
    nothing when there are none."""
    items = [(a, c) for a, c in items if isinstance(a, dict) and a.get("hash")]
    if not items:
        return []
    return [ft.Text((heading or ctx.t('oatt_title')) + ctx.aside(len(items)), weight=ft.FontWeight.BOLD),
            ft.Row([tile(ctx, a, c) for a, c in items], wrap=True, spacing=10, run_spacing=10)]


def _when(text: str | None) -> str:
    return (text or "")[:16].replace("T", " ")


def matter_items(ctx, case: dict, names: dict) -> list[tuple[dict, str]]:
    """Every attachment of a matter: its report's, its visits', its timeline's, each
    captioned with what it belongs to, when and who."""
    out = [(a, f"{ctx.t('oatt_report')} {_when(case.get('reported_at'))}") for a in case.get("attachments") or []]
    for v in ctx.ws.case_visits(case["id"]):
        who = names.get(v.get("visitor"), v.get("visitor") or "")
        out += [(a, f"{ctx.code(codes.VISIT_KINDS, v.get('kind'))} {_when(v.get('visited_at'))} {who}")
                for a in v.get("attachments") or []]
    for it in ctx.ws.timeline(case["id"]):
        if it.get("type") != "event" or not it.get("id"):
            continue
        ev = ctx.ws.replica.get("case_event", it["id"]) or {}
        who = names.get(ev.get("by"), ev.get("by") or "")
        out += [(a, f"{ctx.code(codes.EVENT_KINDS, ev.get('kind'))} {_when(ev.get('at'))} {who}")
                for a in ev.get("attachments") or []]
    return out


def household_items(ctx, hh: dict, names: dict | None = None) -> list[tuple[dict, str]]:
    """Every attachment of a household: its own, and its visits'."""
    names = names or ctx.ws.staff_names()
    out = [(a, ctx.t("oatt_household")) for a in hh.get("attachments") or []]
    for v in ctx.ws.household_visits(hh["id"]):
        who = names.get(v.get("visitor"), v.get("visitor") or "")
        out += [(a, f"{ctx.code(codes.VISIT_KINDS, v.get('kind'))} {_when(v.get('visited_at'))} {who}")
                for a in v.get("attachments") or []]
    return out


def matter_gallery(ctx, case: dict, names: dict) -> list[ft.Control]:
    return gallery(ctx, matter_items(ctx, case, names))


def household_gallery(ctx, hh: dict, names: dict | None = None) -> list[ft.Control]:
    return gallery(ctx, household_items(ctx, hh, names))


__all__ = ["gallery", "household_gallery", "household_items", "matter_gallery", "matter_items", "open_full"]
