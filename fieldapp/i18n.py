"""The words on screen, Chinese first, English on the switch. Code tables carry their
own labels (sync/codes.py); this holds the rest."""

from __future__ import annotations

from sync import codes

STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("网格台账", "Gridbook"),
    # signing in
    "sign_in": ("登录", "Sign in"),
    "server": ("服务器地址", "Server address"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "sign_in_hint": ("首次使用需联网登录一次，之后可离线工作。", "Sign in once while online; then work offline."),
    "bad_credentials": ("用户名或密码错误", "Wrong username or password"),
    "too_many_attempts": ("登录失败次数过多，请15分钟后再试", "Too many failed sign-ins: try again in 15 minutes"),
    "unreachable": ("无法连接服务器，请检查网络或服务器地址", "Cannot reach the server: check the network or the address"),
    "outdated": ("应用版本与服务器不一致，请更新应用", "The app and the server versions differ: update the app"),
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
    "signed_out_sync": ("登录已失效，请重新登录", "Signed out: sign in again"),
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
    "today_changed": ("我关注的案件有更新", "Cases I follow that changed"),
    "today_problems": ("同步问题", "Sync problems"),
    "nothing_due": ("今天没有到期的走访。", "No visits due today."),
    "nothing_changed": ("没有新的案件变化。", "No case changes."),
    "no_problems": ("没有同步问题。", "No sync problems."),
    "record_visit": ("记录走访", "Record a visit"),
    "report_case": ("上报矛盾纠纷", "Report a dispute"),
    "due_on": ("应于 {date} 走访", "Due {date}"),
    "overdue_days": ("已逾期 {n} 天", "{n} days overdue"),
    # households
    "search_hint": ("姓名、地址、电话", "Name, address, phone"),
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
    "no_fix": ("无法定位：{why}。可手动输入位置。", "No position: {why}. You may type the position."),
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
    # map
    "map_no_tiles": ("未配置地图底图：仅显示位置标记", "No map tiles configured: markers only"),
    "map_legend": ("红 橙 黄 蓝：风险等级；灰：住户", "Red, orange, yellow, blue: risk; grey: households"),
    # me
    "account": ("账号", "Account"),
    "language": ("语言 / Language", "Language / 语言"),
    "settings": ("设置", "Settings"),
    "far_limit": ("走访距离提醒（米）", "Far-visit warning (metres)"),
    "tile_url": ("地图底图地址", "Map tile URL"),
    "device": ("本机编号", "Device id"),
    "settings_saved": ("设置已保存", "Settings saved"),
    "clock_off": ("手机时间与服务器相差 {m} 分钟，记录将按服务器时间标记", "The phone's clock is {m} minutes off the server's: records are stamped with the server's time"),
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
    "review_answered_on": ("复查答复日期", "Review answered on"), "review_outcome": ("复查结论", "Review outcome"),
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


def t(key: str, lang: str = "zh", **kw) -> str:
    zh, en = STRINGS[key]
    text = en if lang == "en" else zh
    return text.format(**kw) if kw else text


def code(table: codes.Table, value: str | None, lang: str = "zh") -> str:
    return codes.label(table, value, lang)


def field_label(name: str, lang: str = "zh") -> str:
    """A field's name as a person reads it (its code, for a field no one has named)."""
    if name in FIELD_LABELS:
        zh, en = FIELD_LABELS[name]
        return en if lang == "en" else zh
    return t(name, lang) if name in STRINGS else name
