"""The words on screen, Chinese first, English on the switch. Code tables carry their
own labels (sync/codes.py); this holds the rest."""

from __future__ import annotations

import re

from sync import codes

STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("网格台账", "Gridbook"),
    # signing in
    "sign_in": ("登录", "Sign in"),
    "server": ("服务器地址", "Server address"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "show_password": ("显示密码", "Show password"),
    "hide_password": ("不显示密码", "Hide password"),
    "sign_in_hint": ("首次使用需联网登录一次，之后可离线工作。", "Sign in once while online; then work offline."),
    "bad_credentials": ("用户名或密码错误", "Wrong username or password"),
    "sign_in_refused": ("用户名或密码的格式不对（用户名最多40个字符，密码最多200个字符）",
                        "The username or password is not as the server takes them (a username of at most 40"
                        " characters, a password of at most 200)"),
    "others_work": ("这部手机上还有{name}未同步的{n}条记录：请{name}（{user}）先登录并同步，再换人登录。",
                    "This phone holds {n} change(s) {name} has not synced yet: {name} ({user}) signs in and"
                    " syncs them first, then another person may sign in."),
    "too_many_attempts": ("登录失败次数过多，请稍后再试", "Too many failed sign-ins: try again later"),
    "too_many_attempts_wait": ("登录失败次数过多，请{minutes}分钟后再试", "Too many failed sign-ins: try again in {minutes} minutes"),
    "too_many_attempts_secs": ("登录失败次数过多，请{s}秒后再试", "Too many failed sign-ins: try again in {s} seconds"),
    "unreachable": ("无法连接服务器，请检查网络或服务器地址", "Cannot reach the server: check the network or the address"),
    "outdated": ("应用版本与服务器不一致，请更新应用", "The app and the server versions differ: update the app"),
    "update_required": ("请更新应用：服务器已升级，此版本不能再同步；未同步的记录会保留",
                        "Please update the app: the server has moved on and this version cannot sync; "
                        "unsent records are kept"),
    "required_field": ("必填", "Required"),
    "sign_out": ("退出登录", "Sign out"),
    "call": ("拨打电话", "Call"),
    "sign_out_blocked": ("还有 {n} 条记录未同步，联网同步后才能退出", "{n} records are not synced yet: sync before signing out"),
    # navigation
    "tab_today": ("今日", "Today"),
    "tab_households": ("住户", "Households"),
    "tab_cases": ("案件", "Cases"),
    "tab_my_cases": ("我的包案", "My cases"),
    "tab_map": ("地图", "Map"),
    "tab_me": ("我的", "Me"),
    "back": ("返回", "Back"),
    # sync
    "sync_now": ("立即同步", "Sync now"),
    "pending_n": ("待同步 {n}", "{n} to sync"),
    "all_synced": ("已全部同步", "All synced"),
    "syncing": ("正在同步…", "Syncing…"),
    "offline": ("离线，稍后自动重试", "Offline: will retry by itself"),
    "server_trouble": ("服务器暂时无法处理，记录保存在本机，稍后自动重试",
                       "The server cannot take it just now: kept on this phone, will retry by itself"),
    "server_full": ("服务器存储空间已满，记录保存在本机，稍后自动重试；请告知镇信访办",
                    "The server's disk is full: kept on this phone, will retry by itself; tell the township office"),
    "phone_full": ("手机存储空间已满，已保存的记录都在；请删除不用的照片或应用，有空间后自动同步",
                   "The phone's storage is full: what was saved is kept; free some space and it syncs by itself"),
    "signed_out_sync": ("登录已失效，请重新登录", "Signed out: sign in again"),
    "sign_in_again": ("重新登录", "Sign in again"),
    "sign_in_again_hint": ("服务器不再接受本机的登录（本机被注销，或账号曾被停用）。请重新输入密码。",
                           "The server no longer takes this phone's sign-in (the phone was revoked, or the"
                           " account was disabled). Enter your password again."),
    "sign_in_again_kept": ("本机还有 {n} 条记录未同步：都会保留，登录后自动发送。",
                           "{n} records on this phone are not yet sent: they are kept and sent after you sign in."),
    "sync_error": ("同步出错：{detail}", "Sync failed: {detail}"),
    "last_sync": ("上次同步 {when}", "Last sync {when}"),
    "never_synced": ("尚未同步", "Not synced yet"),
    "quarantined_n": ("{n} 条被服务器退回", "{n} refused by the server"),
    "quarantine_title": ("被退回的记录", "Records the server refused"),
    "quarantine_help": ("这些记录保存在手机上，但服务器没有接收。请按原因处理后重试。",
                        "These are kept on the phone, but the server refused them. Fix the cause, then retry."),
    "retry": ("重试", "Retry"),
    "conflicts_title": ("有冲突的记录", "Records with conflicting edits"),
    "conflicts_help": ("两人同时修改了同一项，系统保留了较新的修改，另一项在此列出，交信访办复核。",
                       "Two people changed the same item; the newer change is shown and the other is listed here for the office to review."),
    "conflict_row": ("{field}：另一版本「{value}」（{author}）", "{field}: other version “{value}” ({author})"),
    # today
    "today_due": ("待走访住户", "Households due for a visit"),
    "today_due_more": ("另有{n}户待走访，可在“住户”中查找", "{n} more are due: find them under Households"),
    "today_owned_more": ("另有{n}件，可在“我的包案”中查看", "{n} more: see them under My cases"),
    "today_changed": ("我关注的案件有更新", "Cases I follow that changed"),
    "today_problems": ("同步问题", "Sync problems"),
    "nothing_due": ("今天没有到期的走访。", "No visits due today."),
    "nothing_changed": ("没有新的案件变化。", "No case changes."),
    "today_owned_due": ("临近期限的包案事项", "My matters due soon"),
    "nothing_owned_due": ("7日内没有到期的包案事项。", "None of your matters is due within 7 days."),
    "today_left": ("已离开本机的事项", "Cases no longer on this phone"),
    "left_help": ("以下事项已改由他人办理或已不在您的网格内，已从本机移除；您未发送的内容不受影响。",
                  "These were given to someone else or left your grids, and were removed from this phone. "
                  "Nothing you had not sent is affected."),
    "left_case": ("{what} · {day}上报", "{what} · reported {day}"),
    "left_read": ("知道了", "Got it"),
    "a_matter": ("事项", "A matter"),
    "no_problems": ("没有同步问题。", "No sync problems."),
    "record_visit": ("记录走访", "Record a visit"),
    "report_case": ("上报矛盾纠纷", "Report a dispute"),
    "due_on": ("应于 {date} 走访", "Due {date}"),
    "overdue_days": ("已逾期 {n} 天", "{n} days overdue"),
    # households
    "search_hint": ("姓名、地址、电话", "Name, address, phone"),
    "case_search": ("查找案件", "Find a case"),
    "case_search_hint": ("编号、标题、当事人、地点", "Number, title, party, place"),
    "no_cases_found": ("没有相符的案件", "No case matches"),
    "near_me": ("附近", "Near me"),
    "all_needs": ("全部", "All"),
    "no_households": ("没有找到住户。换个关键词试试。", "No households found. Try other words."),
    "no_households_yet": ("还没有住户数据。联网同步后会显示本网格的住户。", "No households yet. Sync while online to get your grids' households."),
    "load_more": ("加载更多", "Load more"),
    "head": ("户主", "Head"),
    "id_number": ("身份证号", "ID number"),
    "phone": ("电话", "Phone"),
    "address": ("地址", "Address"),
    "members": ("家庭成员", "Members"),
    "needs": ("需求标签", "Needs"),
    "visits": ("走访记录", "Visits"),
    "no_visits": ("还没有走访记录。", "No visits yet."),
    "distance": ("距离 {d}", "{d} away"),
    "locating": ("正在定位…", "Locating…"),
    "saving": ("正在保存…", "Saving…"),
    "leave_unsaved_title": ("放弃未保存的内容？", "Discard what is not saved?"),
    "leave_unsaved": ("已填写的内容还没有保存，返回后将丢失。", "What you typed is not saved yet: going back loses it."),
    "leave_discard": ("放弃", "Discard"),
    "leave_stay": ("继续填写", "Keep editing"),
    "no_fix": ("无法定位：{why}。可手动输入位置。", "No position: {why}. You may type the position."),
    "fix_why_denied": ("本应用没有定位权限，请在手机设置中允许使用位置信息",
                       "this app may not use the location: allow it in the phone's settings"),
    "fix_why_off": ("手机的定位服务已关闭，请打开定位", "the phone's location service is off: turn it on"),
    "fix_why_timeout": ("等待定位超时，可到开阔处再试", "the position took too long: try again in the open"),
    "fix_why_none": ("没有取得位置", "no position came"),
    "fix_why_service": ("此设备没有定位服务", "this device has no location service"),
    # visit form
    "visit_title": ("记录走访", "Record a visit"),
    "home_visit_title": ("记录下访", "Record a home visit"),
    "household": ("住户", "Household"),
    "choose_household": ("请先在“住户”中选择一户", "Choose a household first, under Households"),
    "position": ("位置", "Position"),
    "get_position": ("获取定位", "Get position"),
    "manual_position": ("手动输入位置", "Type the position"),
    "lat": ("纬度", "Latitude"),
    "lon": ("经度", "Longitude"),
    "accuracy": ("精度 ±{m} 米", "accuracy ±{m} m"),
    "poor_accuracy": ("定位精度差（超过 50 米），如可能请到开阔处重新定位", "Poor accuracy (over 50 m): try again in the open if you can"),
    "mocked": ("注意：此位置来自模拟定位", "Note: this position is reported as mocked"),
    "manual_marked": ("手动位置（已标注）", "Manual position (marked as such)"),
    "visit_unplaced": ("无定位：此次走访没有位置", "No position: this visit was saved without one"),
    "far_from_home": ("距住户登记位置 {d}，超过 {limit} 米，记录将被标注", "{d} from the registered address, over {limit} m: the visit will be flagged"),
    "seen": ("看到的情况", "What you saw"),
    "requests": ("群众诉求", "What they ask for"),
    "needs_found": ("发现的需求", "Needs found"),
    "save": ("保存", "Save"),
    "saved_pending": ("已保存，待同步", "Saved; waiting to sync"),
    "fix_errors": ("请修改标红的项目", "Please correct the fields in red"),
    "number_needed": ("请输入数字", "Enter a number"),
    "out_of_range": ("超出范围", "Out of range"),
    # case form
    "case_title": ("上报矛盾纠纷", "Report a dispute"),
    "case_kind": ("类型", "Type"),
    "category": ("纠纷类别", "Category"),
    "parties": ("当事人（用逗号或顿号分隔）", "Parties (separated by commas)"),
    "place": ("地点", "Place"),
    "description": ("情况描述", "Description"),
    "risk": ("风险等级", "Risk"),
    "case_saved": ("已上报，待同步", "Reported; waiting to sync"),
    # cases
    "my_reports": ("我上报的", "I reported"),
    "grid_cases": ("本网格", "My grids"),
    "all_owned": ("全部", "All"),
    "open_only": ("未办结", "Open"),
    "no_cases": ("没有案件。", "No cases."),
    "no_owned_cases": ("目前没有您包案的案件。办公室分派后，同步即可收到。", "No cases assigned to you. They arrive with the next sync after the office assigns them."),
    "deadline": ("办理期限", "Deadline"),
    "days_left": ("剩 {n} 天", "{n} days left"),
    "overdue": ("已超期 {n} 天", "{n} days overdue"),
    "due_today": ("今天到期", "Due today"),
    "owner": ("包案领导", "Owning leader"),
    "departments": ("协办部门", "Departments"),
    "status": ("状态", "Status"),
    "channel": ("来源", "Channel"),
    "reported": ("上报", "Reported"),
    "outcome": ("办理结果", "Outcome"),
    "method": ("化解方式", "How it was resolved"),
    "timeline": ("办理过程", "Timeline"),
    "no_timeline": ("还没有办理记录。", "Nothing recorded yet."),
    "add_progress": ("记录进展", "Record progress"),
    "progress_text": ("进展情况", "Progress"),
    "resolve": ("办结", "Resolve"),
    "resolve_title": ("记录办结", "Record the resolution"),
    "cancel": ("取消", "Cancel"),
    "progress_saved": ("进展已记录，待同步", "Progress recorded; waiting to sync"),
    "resolved_saved": ("已记录办结，待同步", "Resolution recorded; waiting to sync"),
    "case_missing": ("这条案件不在本机上。", "This case is not on this phone."),
    "account_disabled": ("此账号已停用，请联系镇信访办恢复。", "This account is disabled: ask the township office to enable it."),
    "case_left": ("这条案件已不再由您办理，已从本机移除。", "This case is no longer yours: it has left this phone."),
    "handed_over_short": ("已移交他人", "Handed over"),
    "refused_mark": ("被退回", "refused"),
    "refused_grid_not_held": ("“{grid}”已不在您负责的网格内（网格已调整）：可放弃，由现在负责该网格的网格员记录",
                              "“{grid}” is no longer one of your grids (they were changed): discard it, and let "
                              "the grid's worker now record it"),
    "hh_grid_not_held": ("原网格“{grid}”已不在您负责的网格内：请确认住户现在所在的网格",
                         "“{grid}” is no longer one of your grids: check the grid the household is in now"),
    "resolution_kept_as_progress": ("此事项已由他人办结或改由他人包案：您写的办理情况将作为“进展”保存在事项记录中",
                                    "Someone else resolved this matter or holds it now: what you wrote is kept on "
                                    "its timeline as a progress note"),
    "timeline_earlier": ("显示更早的 {n} 条记录", "Show {n} earlier entries"),
    "refused_grid_correct": ("；如它在您现在负责的网格内，可点“更正”改选网格",
                             "; if it lies in one of your grids now, correct it and choose that grid"),
    "case_handed_over": ("此事项已不再由您办理（已改由他人包案或移出您的网格）。本机仅为尚未发送或被退回的记录保留它：请到“我的”处理，处理完后它会从本机移除。",
                         "This matter is no longer yours (given to another leader, or moved out of your grids). It stays"
                         " on this phone only for the records not yet sent or refused: settle them under Me, and it"
                         " leaves this phone."),
    # map
    "map_no_tiles": ("未配置地图底图：仅显示位置标记", "No map tiles configured: markers only"),
    "map_legend": ("红 橙 黄 蓝：风险等级；灰：住户", "Red, orange, yellow, blue: risk; grey: households"),
    # me
    "account": ("账号", "Account"),
    "language": ("语言 / Language", "Language / 语言"),
    "settings": ("设置", "Settings"),
    "far_limit": ("走访距离提醒（米）", "Far-visit warning (metres)"),
    "far_township": ("走访距离提醒：{m} 米（本镇设定，同步时更新）", "Far-visit warning: {m} m (the township's, updated at each sync)"),
    "tile_url": ("地图底图地址", "Map tile URL"),
    "device": ("本机编号", "Device id"),
    "settings_saved": ("设置已保存", "Settings saved"),
    "text_full": ("已达{n}字上限，超出的部分没有输入：请精简，或分成两条记录",
                  "The {n}-character limit is reached: anything beyond it was not taken. Shorten it, or make two records"),
    "clock_floored": ("手机日期早于上次同步的时间（{at}）：新记录暂按上次同步的时间记。请校正手机的日期和时间",
                      "The phone's date is before its last sync ({at}): new records are timed at that sync "
                      "until the date is put right. Set the phone's date and time"),
    "clock_guess": ("手机重启后尚未联网同步：上次同步时手机日期与服务器相差{off}，新记录的时间按此推算，可能不准。"
                    "如已改正手机日期，请尽快联网同步一次",
                    "The phone restarted since its last sync, when its date was {off} off the server's: new "
                    "records are timed by that guess and may be wrong. If the date has been put right, sync soon"),
    "clock_ahead": ("手机时间比服务器快{span}，记录将按服务器时间标记", "The phone's clock is {span} ahead of the server's: records are stamped with the server's time"),
    "clock_behind": ("手机时间落后服务器{span}，记录将按服务器时间标记", "The phone's clock is {span} behind the server's: records are stamped with the server's time"),
    # a fresh position on every form
    "refresh_position": ("重新定位", "Locate again"),
    "fix_age_s": ("{n} 秒前", "{n} s ago"),
    "fix_age_min": ("{n} 分钟前", "{n} min ago"),
    "fix_old": ("定位已超过1分钟，保存时将重新定位", "The position is over a minute old: a new one is taken on saving"),
    "fix_refused_old": ("手机给出的是{age}的旧位置，未采用", "the phone gave a position from {age}, not used"),
    "fix_stale_save": ("定位已超过1分钟，且无法重新定位：请重新定位或手动输入位置",
                       "The position is over a minute old and no new one could be had: locate again or type the position"),
    "fix_moved": ("手机已移动 {d}，已按当前位置记录", "The phone has moved {d}: the current position is recorded"),
    "recorded_position": ("记录时的位置（未重新定位）", "The position as recorded (not taken again)"),
    # visits: what counts as recorded
    "cards": ("发放明白卡（张）", "Explanation cards handed out"),
    "whole_number": ("请输入0到1000之间的整数", "Enter a whole number from 0 to 1000"),
    # the leader's case page
    "plan": ("化解方案", "Resolution plan"),
    "urgency": ("紧急程度", "Urgency"),
    "signals": ("升级信号", "Escalation signals"),
    "deadline_statute": ("法定期限", "statutory limit"),
    "deadline_higher": ("上级要求", "higher body's deadline"),
    "stage": ("复查复核", "Review"),
    "stage_review": ("已申请复查，答复期限 {due}", "Review asked; answer due {due}"),
    "stage_recheck": ("已申请复核，答复期限 {due}", "Re-review asked; answer due {due}"),
    "stage_final": ("复核已答复，同一诉求不再受理", "Re-review answered: the same claim is not accepted again"),
    "reception_leader": ("接访领导", "Receiving leader"),
    "parties_shown": ("当事人", "Parties"),
    "higher_ref": ("上级交办文号", "Higher body's reference"),
    # refused records: discard or correct
    "discard": ("放弃", "Discard"),
    "correct": ("更正", "Correct"),
    "discard_title": ("放弃这条修改？", "Discard this change?"),
    "discard_body": ("本机上的这条记录将恢复为服务器最后接受的状态；放弃会记入审计。",
                     "The record on this phone goes back to the state the server last accepted; the discard is audited."),
    "discard_gone": ("服务器从未接受这条记录：放弃后它将从本机删除。", "The server never accepted this record: discarding it deletes it from this phone."),
    "discard_later": ("此记录之后的 {n} 条修改也将一并放弃。", "The {n} later changes of this record are discarded with it."),
    "discard_dependents": ("依附于它的 {n} 条未同步记录（走访、进展）也将一并放弃。",
                           "The {n} unsent records that depend on it (visits, progress) are discarded with it."),
    "discard_offline": ("需联网完成：下次同步时向服务器取回最后接受的状态。", "Needs the network: done at the next sync, with the state the server last accepted."),
    "discard_waiting": ("已放弃，等待联网完成", "Discarded: waits for the network to finish"),
    "correction_waiting": ("已更正，等待联网提交", "Corrected: waits for the network to be sent"),
    "discard_done": ("已放弃，记录已恢复为服务器的状态", "Discarded: the record is as the server holds it"),
    "discard_queued": ("已放弃，联网同步时完成", "Discarded: finished at the next sync"),
    "correction_queued": ("已更正，联网同步时提交", "Corrected: sent at the next sync"),
    "refused_because": ("退回原因", "Why it was refused"),
    "correct_title": ("更正被退回的记录", "Correct a refused record"),
    "entity_visit": ("走访", "Visit"),
    "entity_case": ("上报事项", "Report"),
    "refused_case_edit": ("事项的修改{move}", "A change to a matter{move}"),
    "entity_case_event": ("办理进展", "Progress"),
    "entity_household": ("住户", "Household"),
    "entity_callback": ("回访", "Callback"),
}


# Labels of the records' fields, for messages that name a field (the screens' own
# words above may say more, such as how to separate parties).
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "record": ("此记录", "this record"), "fields": ("字段", "fields"), "grid_id": ("网格", "Grid"),
    "ref": ("编号", "Reference"), "kind": ("类型", "Type"), "title": ("标题", "Title"),
    "household_id": ("住户", "Household"), "case_id": ("事项", "Matter"), "accuracy_m": ("定位精度", "Accuracy"),
    "location_source": ("位置来源", "Position source"), "reported_by": ("上报人", "Reported by"),
    "reported_at": ("上报时间", "Reported at"), "received_on": ("登记日期", "Received on"),
    "register_by": ("登记转送期限", "Register-by"), "accepted_on": ("受理日期", "Accepted on"),
    "extended_days": ("延期天数", "Days of extension"), "extension_reason": ("延期理由", "Reason for extending"),
    "consulted_on": ("会商日期", "Consultation date"), "resolved_on": ("办结日期", "Resolved on"),
    "merged_into": ("并入事项", "Merged into"), "notice_sent_on": ("告知日期", "Petitioner told on"),
    "visitors": ("来访人数", "People who came"), "litigation": ("涉法涉诉", "Litigation-related"),
    "review_requested_on": ("申请复查日期", "Review asked on"), "review_due": ("复查答复期限", "Review due"),
    "review_answered_on": ("复查答复日期", "Review answered on"),
    "opinion_received_on": ("收到处理意见日期", "Opinion received on"),
    "review_answer_received_on": ("收到复查意见日期", "Review answer received on"), "review_outcome": ("复查结论", "Review outcome"),
    "recheck_requested_on": ("申请复核日期", "Re-review asked on"), "recheck_due": ("复核答复期限", "Re-review due"),
    "recheck_answered_on": ("复核答复日期", "Re-review answered on"), "recheck_outcome": ("复核结论", "Re-review outcome"),
    "at": ("时间", "Time"), "by": ("记录人", "Recorded by"), "answer": ("满意度", "Satisfaction"),
    "comment": ("回访意见", "Comment"), "visited_at": ("走访时间", "Visited at"), "visitor": ("走访人", "Visitor"),
    "distance_m": ("距住户距离", "Distance from the household"), "cards": ("发放明白卡（张）", "Explanation cards handed out"),
    "head_name": ("户主", "Head"), "tags": ("需求标签", "Needs"), "note": ("备注", "Note"),
    "next_visit_due": ("下次走访日期", "Next visit due"), "higher_ref": ("上级交办文号", "Higher body's reference"),
    "higher_deadline": ("上级要求办结日期", "Higher body's deadline"), "plan": ("化解方案", "Resolution plan"),
    "urgency": ("紧急程度", "Urgency"), "signals": ("升级信号", "Escalation signals"),
    "decline_reason": ("不予受理理由", "Reason for declining"), "reception_leader": ("接访领导", "Receiving leader"),
    "days": ("延期天数", "Days"), "reason": ("理由", "Reason"),
}


def wait_words(seconds: int | None, lang: str = "zh") -> str:
    """A slowed sign-in's wait as it is: "1分钟" for a wait of two seconds sent the
    person away for nothing, and a fixed "15分钟" for any wait."""
    if not seconds:
        return t("too_many_attempts", lang)
    if seconds < 60:
        return t("too_many_attempts_secs", lang, s=seconds)
    return t("too_many_attempts_wait", lang, minutes=-(-seconds // 60))


def t(key: str, lang: str = "zh", **kw) -> str:
    zh, en = STRINGS[key]
    text = en if lang == "en" else zh
    return text.format(**kw) if kw else text


def code(table: codes.Table, value: str | None, lang: str = "zh") -> str:
    return codes.label(table, value, lang)


def aside(text, lang: str = "zh") -> str:
    """Words in brackets after others, as each language writes them: "上报（走访）",
    "Reported (walk-in)" (full-width brackets in an English line read as a fault)."""
    return f"（{text}）" if lang != "en" else f" ({text})"


# The punctuation the app itself puts between words. Full-width marks in an English line
# read as a fault (helper BI), so each is chosen by the language, as aside's brackets are.

def listed(items, lang: str = "zh") -> str:
    """Things named one after another: "张三、李四", "Alice, Bob"."""
    return ("、" if lang != "en" else ", ").join(items)


def labelled(label, text, lang: str = "zh") -> str:
    """A label and what it labels: "协办部门：司法所", "Departments: Justice"."""
    return f"{label}：{text}" if lang != "en" else f"{label}: {text}"


def clauses(parts, lang: str = "zh") -> str:
    """Separate statements in one line: "距离 80 米；模拟定位", "80 m away; mocked"."""
    return ("；" if lang != "en" else "; ").join(parts)


# A member's field, as the server and the household form name it ("members.1.id_number"),
# said by the member's place and the field's short name (成员2 身份证号).
MEMBER_FIELD = re.compile(r"members\.(\d+)\.(name|relation|id_number|note)")
MEMBER_WORDS = {"name": ("姓名", "name"), "relation": ("与户主关系", "relation to the head"),
                "id_number": ("身份证号", "ID number"), "note": ("备注", "note")}


def field_label(name: str, lang: str = "zh") -> str:
    """A field's name as a person reads it (its code, for a field no one has named); a
    member's by the member's place, as the household form says it ("成员2 姓名")."""
    member = MEMBER_FIELD.fullmatch(name)
    if member:
        zh, en = MEMBER_WORDS[member[2]]
        n = int(member[1]) + 1
        return f"{t('hh_member_n', lang, n=n)}: {en}" if lang == "en" else f"{t('hh_member_n', lang, n=n)} {zh}"
    if name in FIELD_LABELS:
        zh, en = FIELD_LABELS[name]
        return en if lang == "en" else zh
    return t(name, lang) if name in STRINGS else name


# Photos and voice notes on a record (fieldapp/screens/attachments.py, issue 9).
STRINGS.update({
    "att_title": ("照片和录音", "Photos and voice notes"),
    "att_add_photo": ("添加照片", "Add a photo"),
    "att_take_photo": ("拍照", "Take a photo"),
    "att_album": ("从相册选择", "From the album"),
    "att_shutter": ("拍摄", "Shoot"),
    "att_record_voice": ("录音", "Voice note"),
    "att_recording": ("正在录音…", "Recording…"),
    "att_stop": ("停止并保存", "Stop and keep"),
    "att_remove": ("移除", "Remove"),
    "att_photo": ("照片", "Photo"),
    "att_voice": ("录音", "Voice note"),
    "att_waiting": ("等待上传", "Waiting to upload"),
    "att_sending": ("上传中", "Uploading"),
    "att_sending_pct": ("上传中 {pct}%", "Uploading {pct}%"),
    "att_sent": ("已上传", "Uploaded"),
    "att_refused": ("被拒", "Refused"),
    "show_all": ("展开全文", "Show all"), "show_less": ("收起", "Show less"),
    "att_remote": ("未下载，点击查看", "Not downloaded: tap to open"),
    "att_waiting_n": ("照片/录音待上传 {n}", "{n} photos/voice notes to upload"),
    "att_wifi_only": ("仅在Wi-Fi下上传照片", "Upload photos on Wi-Fi only"),
    "att_wifi_only_short": ("仅Wi-Fi上传", "Wi-Fi only"),
    "att_too_many": ("每条记录最多 {n} 个附件", "At most {n} attachments per record"),
    "att_no_camera": ("此设备没有可用的相机，请从相册选择", "No camera available on this device: choose from the album"),
    "att_no_voice": ("此设备无法录音：没有麦克风，或未允许使用麦克风", "Cannot record here: no microphone, or it is not allowed"),
    "att_voice_empty": ("没有录到声音", "Nothing was recorded"),
    "att_fetch_failed": ("无法打开照片：{why}", "Cannot open the photo: {why}"),
    "close": ("关闭", "Close"),
    # at the office (fieldapp/office/attachments.py)
    "oatt_title": ("照片和录音", "Photos and voice notes"),
    "oatt_open": ("查看", "Open"),
    "oatt_full": ("照片原图", "The photo, full size"),
    "oatt_report": ("上报", "Report"),
    "oatt_household": ("住户照片", "Household photo"),
    "oatt_not_uploaded": ("手机尚未上传", "Not uploaded by the phone yet"),
    "oatt_forbidden": ("无权查看", "Not yours to see"),
    "oatt_unreadable": ("文件无法读取", "The file cannot be read"),
})


# Households in the field and at the office (fieldapp/screens/household_form.py,
# fieldapp/office/households.py, issue 9).
STRINGS.update({
    "hh_add": ("新增住户", "Add a household"),
    "hh_edit": ("编辑", "Edit"),
    "hh_edit_title": ("编辑住户", "Edit the household"),
    "hh_grid": ("所属网格", "Grid"),
    "hh_head": ("户主姓名", "Head of household"),
    "hh_id_number": ("户主身份证号", "Head's ID number"),
    "hh_id_masked_help": ("已隐去部分数字；如需更正，请输入完整号码", "Partly hidden: to correct it, type the whole number"),
    "hh_phone": ("联系电话", "Phone"),
    "hh_number": ("户号", "Household number"),
    "hh_note": ("备注", "Note"),
    "hh_member_add": ("添加成员", "Add a member"),
    "hh_member_remove": ("删除", "Remove"),
    "hh_member_n": ("成员{n}", "Member {n}"),
    "hh_member_name": ("成员姓名", "Member's name"),
    "hh_member_relation": ("与户主关系", "Relation to the head"),
    "hh_member_relation_hint": ("如 配偶、子、女、父亲", "e.g. spouse, son, daughter"),
    "hh_member_id": ("成员身份证号（选填）", "Member's ID number (optional)"),
    "hh_member_note": ("成员备注", "Note on the member"),
    "hh_status": ("在册状态", "Registry status"),
    "hh_status_help": ("已迁出或户主已故的住户保留存档，不再列入待走访，仍可查找",
                       "A household moved out or whose head died is kept, archived: it leaves the due list and can still be found"),
    "hh_saved": ("住户已保存，待同步", "Household saved; waiting to sync"),
    "hh_archived": ("已存档", "archived"),
    "hh_next_due": ("下次走访", "Next visit"),
    "hh_never_due": ("未定", "not set"),
    "hh_none_phone": ("还没有住户。联网同步后会显示本网格的住户；新迁入的住户可点“新增住户”登记。",
                      "No households yet. Your grids' households arrive with a sync; register a new arrival with Add a household."),
    # the office's 住户 tab
    "hh_search_label": ("搜索住户", "Search households"),
    "hh_search": ("户主、地址、电话、身份证号、户号", "Head, address, phone, ID number, household number"),
    "hh_all_grids": ("全部网格", "All grids"),
    "hh_all_needs": ("全部需求", "All needs"),
    "hh_filter_status": ("状态", "Status"),
    "hh_filter_grid": ("网格", "Grid"),
    "hh_filter_need": ("需求", "Need"),
    "hh_status_all": ("全部", "All"),
    "hh_status_active": ("在册", "In the registry"),
    "hh_status_archived": ("已存档（迁出、已故）", "Archived (moved out, deceased)"),
    "hh_count": ("第 {a}–{b} 户，共 {n} 户", "{a}–{b} of {n} households"),
    "hh_none": ("没有符合条件的住户。", "No households match."),
    "hh_none_yet": ("还没有住户。可“新增住户”，或在“导入”中导入花名册。",
                    "No households yet. Add one, or import a roster under Import."),
    "hh_prev": ("上一页", "Previous"),
    "hh_next": ("下一页", "Next"),
    "hh_col_head": ("户主", "Head"),
    "hh_col_address": ("地址", "Address"),
    "hh_col_grid": ("网格", "Grid"),
    "hh_col_phone": ("电话", "Phone"),
    "hh_col_id": ("身份证号", "ID number"),
    "hh_col_needs": ("需求", "Needs"),
    "hh_col_due": ("下次走访", "Next visit"),
    "hh_col_status": ("状态", "Status"),
    "hh_visit": ("记录走访", "Record a visit"),
    "hh_visit_day": ("走访日期", "Day of the visit"),
    "hh_visit_future": ("不能晚于今天", "Cannot be later than today"),
    "hh_visit_saved": ("走访已记录，下次走访 {date}", "Visit recorded; next visit {date}"),
})
FIELD_LABELS.update({"hh_number": ("户号", "Household number"), "members": ("家庭成员", "Members"),
                     "id_number": ("身份证号", "ID number"), "phone": ("电话", "Phone"),
                     "address": ("地址", "Address"), "petitioner_phone": ("联系电话", "Contact phone")})
# the petitioner's number on a matter's form and page (case_form.py, case_detail.py)
STRINGS["petitioner_phone"] = FIELD_LABELS["petitioner_phone"]

# The township's base map on the phone (fieldapp/screens/map_view.py, me.py; issue 9).
STRINGS.update({
    "map_offline_tiles": ("离线底图（{lo}–{hi} 级）", "Offline map (zoom {lo}–{hi})"),
    "map_download": ("下载离线地图", "Download the offline map"),
    "map_download_help": ("下载负责网格一带的镇底图，离线也能看地图。",
                          "The township's map around your grids, to see the map offline."),
    "map_download_size": ("共 {n} 张图块，约 {size}；本机已有 {have} 张。",
                          "{n} tiles, about {size}; {have} already on this phone."),
    "map_download_wifi": ("仅在 Wi-Fi 下下载", "Only over Wi-Fi"),
    "map_download_start": ("开始下载", "Start the download"),
    "map_download_asking": ("正在查询地图大小…", "Asking the size of the map…"),
    "map_download_progress": ("正在下载地图 {done}/{total}", "Downloading the map {done}/{total}"),
    "map_download_done": ("离线地图已下载：{n} 张图块", "Offline map downloaded: {n} tiles"),
    "map_download_not_wifi": ("当前不是 Wi-Fi：连上 Wi-Fi 后再下载，或取消“仅在 Wi-Fi 下下载”",
                              "Not on Wi-Fi: connect to Wi-Fi, or untick \"Only over Wi-Fi\""),
    "map_download_none": ("镇里还没有导入底图", "The township has not imported a base map yet"),
    "map_download_failed": ("地图下载未完成：{why}（再次下载会接着下）",
                            "The map download stopped: {why} (downloading again continues it)"),
    "map_have_tiles": ("本机离线地图：{n} 张图块", "Offline map on this phone: {n} tiles"),
})
