"""Reading the audit trail (the store writes it: CentralStore.audit): who signed in or
failed to, who read which matter, pulled, exported, and which changes were refused.
It holds ids, counts and rule names, never a record's content."""

from __future__ import annotations

import csv
import datetime as dt

CST = dt.timezone(dt.timedelta(hours=8))

ACTIONS = {  # action: (zh, en)
    "login": ("手机登录", "phone sign-in"),
    "login_failed": ("手机登录失败", "phone sign-in failed"),
    "login_disabled": ("停用账号登录（密码正确）", "sign-in to a disabled account (right password)"),
    "login_slowed": ("手机登录被限速", "phone sign-in slowed"),
    "office_sign_in": ("工作台登录", "office sign-in"),
    "office_sign_in_failed": ("工作台登录失败", "office sign-in failed"),
    "office_sign_in_slowed": ("工作台登录被限速", "office sign-in slowed"),
    "office_sign_in_disabled": ("停用账号登录工作台（密码正确）", "office sign-in to a disabled account (right password)"),
    "office_sign_out": ("工作台退出", "office sign-out"),
    "view": ("查阅事项", "matter read"),
    "pull": ("手机同步下载", "phone pull"),
    "export": ("导出", "export"),
    "download_refused": ("下载被拒", "download refused"),   # why: the entry's detail
    "refused": ("拒收的修改", "change refused"),
    "account_disabled": ("停用账号", "account disabled"),
    "password_set": ("重设密码", "password set"),
    "devices_revoked": ("注销设备", "devices revoked"),
    "grids_set": ("调整网格", "grids changed"),
    "account_enabled": ("启用账号", "account enabled"),
    "account_added": ("新建账号", "account added"),
    "generation": ("从备份恢复数据库", "store restored from the backup"),  # backup.py: a new generation
    "recovered": ("恢复后手机补交", "changes brought back by a phone after a restore"),
    "erase": ("删除个人信息", "personal data erased"),  # erasure.py: which record, why; never a value
    "discard": ("手机放弃被拒的修改", "refused change given up on a phone"),
    "setting": ("修改乡镇设置", "township setting changed"),
    "attachment": ("查看附件", "attachment read"),
    "attachment_thumb": ("查看附件缩略图", "attachment thumbnail read"),
    "attachment_upload": ("上传附件", "attachment uploaded"),
    "household_import": ("导入住户名册", "household roster imported"),
    "tiles_import": ("导入地图底图", "base map imported"),
}
COLUMNS = ["时间", "账号", "操作", "内容", "设备", "地址"]


def _ms(day: dt.date, end: bool = False) -> int:
    t = dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time(), CST)
    return int(t.timestamp() * 1000)


def query(conn, *, user: str | None = None, action: str | None = None, since: dt.date | None = None,
          until: dt.date | None = None, limit: int = 200, offset: int = 0) -> list[dict]:
    """Entries newest first, filtered by account, action and days (township time)."""
    where, args = ["1"], []
    if user:
        where.append("username = ?")
        args.append(user)
    if action:
        where.append("action = ?")
        args.append(action)
    if since:
        where.append("at_ms >= ?")
        args.append(_ms(since))
    if until:
        where.append("at_ms < ?")
        args.append(_ms(until, end=True))
    rows = conn.execute(f"SELECT at_ms, username, action, detail, device, address FROM audit"
                        f" WHERE {' AND '.join(where)} ORDER BY at_ms DESC, rowid DESC LIMIT ? OFFSET ?",
                        (*args, limit, offset)).fetchall()
    return [{"at": dt.datetime.fromtimestamp(r[0] / 1000, CST).replace(microsecond=0), "username": r[1],
             "action": r[2], "detail": r[3] or "", "device": r[4] or "", "address": r[5] or ""} for r in rows]


def label(action: str, lang: str = "zh") -> str:
    row = ACTIONS.get(action)
    return (row[0] if lang == "zh" else row[1]) if row else action


def write_csv(rows, out) -> None:
    """The trail as Excel opens it (UTF-8 with a BOM); cells that a spreadsheet would
    run as formulas are written as text."""
    import io
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(x) for x in (r["at"].strftime("%Y-%m-%d %H:%M:%S"), r["username"], label(r["action"]),
                                       r["detail"], r["device"], r["address"])])
    out.write(("\ufeff" + text.getvalue()).encode("utf-8"))


def _cell(v: str) -> str:
    return "'" + v if v and v[0] in "=+-@\t\r" else v
