"""The admin's "erase personal data" (删除个人信息) on a household or a matter: a button
for the admin role only, and a dialog that says what the erasure reaches and asks for
the reason, the request's number and a typed confirmation before anything happens.
The work is sync/server/erasure.py's (the same as `gridbook erase`)."""

from __future__ import annotations

import flet as ft

from sync.server import erasure

from .. import i18n
from ..screens.widgets import ERROR_LINES
from .dialogs import dialog, radios
from .forms import Form

CONFIRM_WORD = "删除"
WORDS = {
    "erase_personal": ("删除个人信息", "Erase personal data"),
    "erase_title": ("删除个人信息（不可恢复）", "Erase personal data (cannot be undone)"),
    "erase_reaches": ("将删除以下记录中的姓名、身份证号、电话、住址、家庭成员、文字描述和附件：{what}。"
                      "记录本身和统计数字保留；各手机下次同步时一并删除。",
                      "Names, ID numbers, phones, addresses, members, free text and attachments go from: {what}. "
                      "The records and the figures stay; every phone erases them at its next sync."),
    "erase_backups": ("此前的备份仍含这些信息，到备份保存期满后才消失。",
                      "Backups made before keep the data until they expire."),
    "erase_backup_left": ("个人信息已删除，但备份中的附件未能删除，请系统管理员手工删除：{what}",
                          "The personal data is erased, but the backup's copies of its attachments could not be"
                          " deleted; the administrator should delete them by hand: {what}"),
    "erase_reason": ("删除原因", "Reason"),
    "erase_request": ("申请编号（只填编号，勿填姓名）", "Request number (a number, never a name)"),
    "erase_confirm": ("请输入“删除”以确认", "Type 删除 to confirm"),
    "erase_confirm_wrong": ("请输入“删除”两个字", "Type the two characters 删除"),
    "erase_button": ("删除", "Erase"),
    "erased_already": ("此记录的个人信息已于此前删除", "This record's personal data was erased before"),
}
ENTITY_WORDS = {"household": ("住户", "households"), "visit": ("走访", "visits"), "case": ("事项", "matters"),
                "case_event": ("办理记录", "timeline entries"), "callback": ("回访", "callbacks")}


def _t(ctx, key: str, **kw) -> str:
    zh, en = WORDS[key]
    return (zh if ctx.lang == "zh" else en).format(**kw)


def erase_button(ctx, entity: str, record: dict | None, refresh, in_dialog: bool = False) -> ft.Control | None:
    """The button, for the admin alone; None for every other role (and for a new record)."""
    if record is None or ctx.ws.role != "admin":
        return None

    def click(e):
        ctx.touch()
        if in_dialog:
            ctx.page.pop_dialog()
        erase_dialog(ctx, entity, record["id"], refresh)
    return ft.TextButton(_t(ctx, "erase_personal"), icon=ft.Icons.PERSON_REMOVE, on_click=click,
                         style=ft.ButtonStyle(color=ft.Colors.RED_700))


def erase_dialog(ctx, entity: str, record_id: str, refresh) -> None:
    plan = erasure.erasure_plan(ctx.store, entity, record_id)
    i = 0 if ctx.lang == "zh" else 1
    what = i18n.listed((f"{ENTITY_WORDS.get(e, (e, e))[i]} {n}" for e, n in plan["records"].items()), ctx.lang)
    reasons = {k: {"zh": zh, "en": en} for k, (en, zh) in erasure.REASONS.items()}
    reason = radios(reasons, ctx.lang, "request", column=True)
    request = ft.TextField(label=_t(ctx, "erase_request"), max_length=64, width=360, error_max_lines=ERROR_LINES)
    confirm = ft.TextField(label=_t(ctx, "erase_confirm"), width=200, error_max_lines=ERROR_LINES)
    form = Form(ctx, {"request": request, "confirm": confirm})
    notes = [ft.Text(_t(ctx, "erase_reaches", what=what)),
             ft.Text(_t(ctx, "erase_backups"), color=ft.Colors.GREY_700)]
    if erasure.tombstones(ctx.store, entity, record_id):
        notes.append(ft.Text(_t(ctx, "erased_already"), color=ft.Colors.ORANGE_900))

    def ok() -> bool:
        if not ctx.act(lambda: None):   # the tab's sign-in ended since the dialog opened: it signs out
            return False
        if (confirm.value or "").strip() != CONFIRM_WORD:
            form.say("confirm", _t(ctx, "erase_confirm_wrong"))
            return False
        try:
            done = erasure.erase(ctx.store, entity, record_id, ctx.ws.username, reason.value or "request",
                                 (request.value or "").strip())
        except erasure.NotErasable as e:
            form.say("request", e.message(ctx.lang))
            return False
        if done.get("backup_blobs_left"):   # the bucket was out of reach: its copies are the admin's to delete
            ctx.snack(_t(ctx, "erase_backup_left", what=done["backup_blobs_left"]), error=True)
        return True
    dialog(ctx, _t(ctx, "erase_title"), form,
           [*notes, ft.Text(_t(ctx, "erase_reason")), reason, request, confirm], ok, refresh,
           ok_label=_t(ctx, "erase_button"))
