"""The demo township: 金山镇 with 白鹤村, 高山村 and 丰龙村, its people and its matters.

Deterministic (a fixed seed), written through the same server-side write path as
real data, so the demo exercises the real rules. Every account's password is
DEMO_PASSWORD; it is printed by `make demo` and is for the demo only.
"""

from __future__ import annotations

import datetime as dt
import random

from .. import codes, idnumber, rules
from .central import CentralStore

DEMO_PASSWORD = "jinshan-demo"
TOWNSHIP = "金山镇"
VILLAGES = {  # village: (grid id prefix, centre lat, lon)
    "白鹤村": ("bh", 29.0712, 119.6471),
    "高山村": ("gs", 29.0925, 119.6803),
    "丰龙村": ("fl", 29.0508, 119.6245),
}
ACCOUNTS = [  # username, name, role, grids
    ("wangfang", "王芳", "grid_worker", ["bh-01", "bh-02"]),
    ("zhangwei", "张伟", "grid_worker", ["gs-01", "gs-02"]),
    ("liuyang", "刘洋", "grid_worker", ["fl-01", "fl-02"]),
    ("lizhen", "李振华（镇长）", "leader", []),
    ("chenshuji", "陈建国（书记）", "leader", []),
    ("xinfang", "镇信访办", "office", []),
    ("admin", "系统管理员", "admin", []),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱覃武戴孔汤庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍申尤毕聂柴焦向柳邢岳齐沿梅莫庄辛管祝左涂谷祁时舒耿牟卜路詹关苗凌费纪靳盛童欧甄项曲成游阳裴席卫查屈鲍位覃霍翁隋植甘景薄单包司柏宁柯阮桂闵欧阳解强丛华车冉房边辜吉饶刁瞿戚丘古米池滕晋苑邬臧畅宫来嵺苟全褚廉简娄盖符奚木穆党燕郎邸冀谈姬屠连郜晏栾郁商蒙计喻揭窦迟宇敖糜鄢冷卓花艾蓝都巩稽井练仲乐虞卞封竺冼原官衣楚佟栗匡宗应台巫鞠僧桑荆谌银扬明沙薄伏岑习胥保和蔺"
GIVEN = "建国秀英桂兰志强海燕明华丽娟春梅文斌德福金凤永军小红玉珍国强淑芬红梅俊杰晓东云飞家豪"

CASE_SEEDS = [  # category, kind, channel, risk, description
    ("09", "dispute", "grid", "yellow", "邻居养猪场粪污外排，气味大、污染水渠，双方多次争吵（养殖污染）。"),
    ("10", "petition", "visit", "orange", "某建材企业拖欠十余名农民工工资约二十万元，工人要求尽快支付。"),
    ("08", "petition", "handed_down", "red", "征地拆迁补偿标准有异议，户主称评估面积漏算附属房，多次上访。"),
    ("02", "dispute", "grid", "blue", "两户因宅前排水沟堵塞互相指责，尚未激化。"),
    ("07", "dispute", "screening", "yellow", "山林承包界址不清，两户对一片竹林归属各执一词。"),
    ("01", "dispute", "phone", "yellow", "赡养老人费用分担，兄弟三人意见不一。"),
    ("13", "petition", "letter", "orange", "家属认为卫生院延误诊治，要求说明情况并赔偿。"),
    ("03", "dispute", "grid", "yellow", "宅基地翻建占用公共通道，邻居反对。"),
]
STATUS_CYCLE = ["reported", "accepted", "assigned", "in_progress", "resolved", "called_back",
                "closed", "declined", "reopened"]


def valid_id(first17: str) -> str:
    """A made-up ID number that passes GB 11643's check (the office's form would flag
    any other the moment a clerk edits the household)."""
    return first17 + idnumber.check_char(first17)


def seed(db_path: str, households_per_grid: int = 50, rng_seed: int = 2026) -> dict:
    rng = random.Random(rng_seed)
    st = CentralStore(db_path)
    if st.count("grid"):
        return {"db": db_path, "note": "store already holds data; left as it was",
                "password": DEMO_PASSWORD, "accounts": [a[0] for a in ACCOUNTS]}
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    wall = st.now

    def entered_at(at: dt.datetime) -> None:
        """The server received what follows at `at`, as a township's records are entered
        the day they happen: else every past month of the demo would say all its entries
        were entered after it ended (补录, late_entries.py)."""
        st.now = lambda: min(int(at.timestamp() * 1000), wall())
    with st.transaction():
        grids = []
        for village, (prefix, lat, lon) in VILLAGES.items():
            for n in (1, 2):
                gid = f"{prefix}-0{n}"
                st.add_grid(gid, f"{village}第{n}网格", village, TOWNSHIP,
                            round(lat + (n - 1.5) * 0.006, 6), round(lon + (n - 1.5) * 0.006, 6))
                grids.append((gid, village, lat + (n - 1.5) * 0.006, lon + (n - 1.5) * 0.006))
        for username, name, role, gs in ACCOUNTS:
            st.add_account(username, name, role, DEMO_PASSWORD, gs)
        worker_of = {g: a[0] for a in ACCOUNTS for g in a[3]}
        needs = list(codes.NEEDS)
        households = []
        for gid, village, lat, lon in grids:
            for i in range(households_per_grid):
                rid = f"hh-{gid}-{i:03d}"
                head = rng.choice(SURNAMES[:80]) + "".join(rng.sample(GIVEN, 2))
                fields = {
                    "grid_id": gid, "head_name": head,
                    "address": f"{TOWNSHIP}{village}{rng.randint(1, 12)}组{rng.randint(1, 60)}号",
                    "phone": f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
                    "id_number": valid_id(f"3307{rng.randint(10, 99)}19{rng.randint(40, 99)}"
                                          f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(100, 999)}"),
                    "members": [{"name": head, "relation": "户主"}],
                    "tags": rng.sample(needs, rng.choice([0, 0, 0, 1, 1, 2])),
                    "lat": round(lat + rng.uniform(-0.004, 0.004), 6),
                    "lon": round(lon + rng.uniform(-0.004, 0.004), 6),
                    "next_visit_due": (now.date() + dt.timedelta(days=rng.randint(-10, 30))).isoformat(),
                }
                st.server_write("household", rid, fields, author=worker_of[gid])
                households.append((rid, gid, fields))
        for n, (rid, gid, h) in enumerate(rng.sample(households, 60)):
            at = now - dt.timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 8))
            entered_at(at)
            st.server_write("visit", f"visit-{n:04d}", {
                "grid_id": gid, "household_id": rid, "kind": "household", "visited_at": at.isoformat(),
                "visitor": worker_of[gid], "lat": h["lat"], "lon": h["lon"], "accuracy_m": 12.0,
                "location_source": "gps", "mocked": False, "distance_m": 8.0, "far_from_home": False,
                "seen": "家中整洁，老人身体尚可。", "requests": rng.choice(["", "希望帮助申请低保。", "反映路灯不亮。"]),
                "cards": rng.choice([0, 1, 1, 2]),
            }, author=worker_of[gid])
        leaders = [a[0] for a in ACCOUNTS if a[2] == "leader"]
        for n in range(36):
            cat, kind, channel, risk, text = CASE_SEEDS[n % len(CASE_SEEDS)]
            status = STATUS_CYCLE[n % len(STATUS_CYCLE)]
            rid, gid, h = households[(n * 7) % len(households)]
            at = now - dt.timedelta(days=rng.randint(1, 80))
            fields = {
                "grid_id": gid, "kind": kind, "channel": channel, "category": cat,
                "title": text[:14], "parties": [h["head_name"]], "household_id": rid,
                **({"petitioner_phone": h["phone"]} if h.get("phone") else {}),
                "place": h["address"], "lat": h["lat"], "lon": h["lon"], "accuracy_m": 15.0,
                "location_source": "gps", "description": text, "risk": risk, "status": status,
                "reported_by": worker_of[gid], "reported_at": at.isoformat(),
                "ref": f"金山-{at.year}-{n + 1:04d}",
            }
            received = at.date()
            fields.update(received_on=received.isoformat(), register_by=rules.register_by(received).isoformat())
            if n % 5 != 4:  # most were told within the 15 days (art. 23); a few were not, and show it
                # no step of a matter received lately is dated after today (the office's own dialogs
                # refuse such a day): each is today at the latest
                told = min(received + dt.timedelta(days=rng.randint(1, 10)), now.date())
                fields["notice_sent_on"] = told.isoformat()
            if channel == "visit":  # a walk-in on a leader's reception day
                fields.update(reception_leader=leaders[n % 2], visitors=rng.choice([1, 2, 3, 7]))
            if channel == "handed_down":
                fields.update(higher_ref=f"县信访局交〔{at.year}〕{n + 1}号")
            if cat in ("08", "13"):
                fields["litigation"] = True
            if status == "declined":
                fields.update(decline_reason="不属于本机关职权范围，已告知向县人社局反映。")
            elif status != "reported":
                accepted = min(received + dt.timedelta(days=rng.randint(1, 5)), now.date())
                fields.update(accepted_on=accepted.isoformat(), deadline=rules.handle_by(accepted).isoformat(),
                              urgency="normal")
                if channel == "handed_down":  # the county wants it sooner than the statute's 60 days
                    higher = accepted + dt.timedelta(days=40)
                    fields.update(higher_deadline=higher.isoformat(), deadline=higher.isoformat())
            if status not in ("reported", "accepted", "declined"):
                fields.update(owner=leaders[n % 2], departments=["综治办", "司法所"],
                              plan="包案领导牵头，综治办、司法所配合，先调解后依法处理。",
                              consulted_on=min(received + dt.timedelta(days=7), now.date()).isoformat())
            if status in ("resolved", "called_back", "closed"):
                fields.update(outcome="mediation", method="村情理法工作室调解，双方签订调解协议。",
                              resolved_on=min(now.date(), max(rules.as_date(fields.get("accepted_on")) or received,
                                                              received + dt.timedelta(days=rng.randint(10, 50))))
                              .isoformat())
            cid = f"case-{n:04d}"
            entered_at(at)
            st.server_write("case", cid, fields, author="xinfang")
            st.server_write("case_event", f"ev-{n:04d}-1", {
                "case_id": cid, "kind": "note", "at": at.isoformat(), "by": worker_of[gid],
                "text": "网格员上报。"}, author="xinfang")
            if status == "closed" and n % 2 == 0 and fields.get("resolved_on"):
                # the petitioner asked for a review (复查) of the written opinion (art. 35)
                asked = min(now.date(), rules.as_date(fields["resolved_on"]) + dt.timedelta(days=10))
                st.server_write("case", cid, {"review_requested_on": asked.isoformat(),
                                              "review_due": (asked + dt.timedelta(days=30)).isoformat()},
                                author="xinfang")
            st.now = wall
            if status in ("called_back", "closed"):
                st.server_write("callback", f"cb-{n:04d}", {
                    "case_id": cid, "at": now.isoformat(), "by": "xinfang", "method": "phone",
                    "answer": rng.choice(["satisfied", "satisfied", "basically"]), "comment": ""},
                    author="xinfang")
        # 接访: the leaders' reception days, recorded as visits of kind "reception"
        for n in range(24):
            rid, gid, h = households[(n * 11) % len(households)]
            at = now - dt.timedelta(days=rng.randint(0, 90), hours=rng.randint(0, 6))
            entered_at(at)
            st.server_write("visit", f"reception-{n:04d}", {
                "grid_id": gid, "household_id": rid, "kind": "reception", "visited_at": at.isoformat(),
                "visitor": leaders[n % 2], "seen": "来访群众反映情况，已登记。"}, author="xinfang")
        st.now = wall
    return {"db": db_path, "township": TOWNSHIP, "grids": [g[0] for g in grids],
            "households": len(households), "cases": 36, "password": DEMO_PASSWORD,
            "accounts": [{"username": a[0], "name": a[1], "role": a[2]} for a in ACCOUNTS]}
