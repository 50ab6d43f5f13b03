"""The admin's erase button in the office (fieldapp/office/erasure.py): shown to the admin
alone; its dialog says what the erasure reaches, refuses without the typed confirmation
or with a name for a request number, and erases with it. The real store and the real
erasure; the page is a stand-in that keeps the dialog it was asked to show."""

from __future__ import annotations

import flet as ft

from fieldapp.office import erasure as office_erasure
from sync.erasure_rules import ERASED_TEXT
from sync.server import auth
from sync.server.central import CentralStore


class Page:
    def __init__(self):
        self.dialogs = []

    def show_dialog(self, d):
        self.dialogs.append(d)

    def pop_dialog(self):
        self.dialogs.pop()

    def update(self):
        pass


class Ws:
    def __init__(self, role):
        self.role, self.username = role, f"{role}1"


class Ctx:
    lang = "zh"

    def __init__(self, store, role):
        self.store, self.ws, self.page = store, Ws(role), Page()
        self.snacks = []

    def t(self, key, **kw):
        from fieldapp.office import words  # noqa: F401  (the office's words join the table)
        from fieldapp.i18n import STRINGS
        return STRINGS[key][0].format(**kw)

    def touch(self):
        pass

    def act(self, fn, *args, **kw):   # a sign-in that holds (the real check: the test below)
        fn(*args, **kw)
        return True

    def snack(self, text, error=False):
        self.snacks.append(text)

    def close_dialog(self, d):   # navigation.Screens': that dialog, not the last one shown
        self.page.dialogs.remove(d)


def store(tmp_path) -> CentralStore:
    saved, auth._N = auth._N, 2 ** 4
    try:
        st = CentralStore(str(tmp_path / "s.db"))
    finally:
        auth._N = saved
    st.add_grid("g1", "白鹤村第1网格", "白鹤村", "金山镇")
    st.server_write("household", "h1", {"grid_id": "g1", "head_name": "欧阳秀兰", "address": "白鹤村9组88号",
                                        "phone": "13512345678"})
    return st


def texts(control) -> str:
    out = []

    def walk(c):
        for attr in ("value", "label", "content", "title"):
            v = getattr(c, attr, None)
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, ft.Control):
                walk(v)
        for attr in ("controls", "actions"):
            for child in getattr(c, attr, None) or []:
                walk(child)
    walk(control)
    return "\n".join(out)


def press(dialog, label):
    button = next(a for a in dialog.actions if getattr(a, "content", None) == label or getattr(a, "text", None) == label
                  or label in texts(a))
    button.on_click(None)


def test_only_the_admin_sees_the_button(tmp_path):
    st = store(tmp_path)
    h = st.get("household", "h1")
    for role in ("office", "leader", "grid_worker"):
        assert office_erasure.erase_button(Ctx(st, role), "household", h, lambda: None) is None
    button = office_erasure.erase_button(Ctx(st, "admin"), "household", h, lambda: None)
    assert isinstance(button, ft.TextButton) and "删除个人信息" in texts(button)


def test_the_dialog_asks_for_confirmation_then_erases(tmp_path):
    st = store(tmp_path)
    ctx = Ctx(st, "admin")
    refreshed = []
    office_erasure.erase_button(ctx, "household", st.get("household", "h1"), lambda: refreshed.append(1)).on_click(None)
    d = ctx.page.dialogs[-1]
    shown = texts(d)
    assert "不可恢复" in shown and "住户 1" in shown and "备份" in shown

    request, confirm = [c for c in d.content.controls if isinstance(c, ft.TextField)]
    press(d, "删除")  # nothing typed: refused, nothing erased
    assert confirm.error and st.get("household", "h1")["head_name"] == "欧阳秀兰"
    confirm.value, request.value = "删除", "欧阳秀兰的申请"  # a name where a number belongs
    confirm.error = None
    press(d, "删除")
    assert request.error and "申请编号只能填编号" in request.error and "勿填姓名" in request.error   # in the admin's words
    assert st.get("household", "h1")["head_name"] == "欧阳秀兰" and ctx.page.dialogs
    request.value, request.error = "REQ-7", None
    press(d, "删除")
    assert st.get("household", "h1")["head_name"] == ERASED_TEXT and st.get("household", "h1")["phone"] is None
    assert not ctx.page.dialogs and refreshed == [1]
    tomb = st.conn.execute("SELECT by_user, reason, request FROM erasures").fetchall()
    assert tomb == [("admin1", "request", "REQ-7")]


def test_the_erase_dialog_erases_nothing_once_the_tabs_sign_in_has_ended(tmp_path):
    """The admin's account was disabled (or its password changed) while the dialog stood
    open: the erasure, the one action that cannot be undone, still went through in their
    name. Like every other office action, it checks the sign-in and signs the tab out."""
    from fieldapp.office.context import OfficeContext
    st = store(tmp_path)
    st.add_account("admin", "系统管理员", "admin", "long-enough-1")
    ctx = OfficeContext(Page(), st, tickets=None)
    ctx.start_session(st.account("admin"), "10.0.0.9")
    signed_out = []
    ctx.sign_out = lambda why: signed_out.append(why)
    office_erasure.erase_dialog(ctx, "household", "h1", lambda: None)
    d = ctx.page.dialogs[-1]
    request, confirm = [c for c in d.content.controls if isinstance(c, ft.TextField)]
    request.value, confirm.value = "REQ-12", "删除"
    st.set_active("admin", False)                # meanwhile, at the console
    press(d, "删除")
    assert st.get("household", "h1")["head_name"] == "欧阳秀兰" and signed_out
