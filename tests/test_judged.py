"""Satisfaction per leader and per department stays with whom a callback judged
(sync/server/judged.py): the office's verbs over a real central store, the matter
handed to another leader and other departments after its callback, in a store written
before the judgements were kept too."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.server import stats
from tests.test_past_periods import matter, opened_after_upgrade, township_office

D = dt.date
JANUARY = (D(2026, 1, 1), D(2026, 1, 31))
READ_ON = D(2026, 3, 10)


@pytest.fixture
def office(tmp_path, monkeypatch):
    ws, cal = township_office(tmp_path, monkeypatch, (("li", "李镇长"), ("chen", "陈书记")))
    yield ws, cal
    ws.replica.close()


def per_leader_and_department(conn) -> tuple[list, list]:
    f = stats.figures(conn, *JANUARY, today=READ_ON)
    return ([(r["label"], r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_owner"]],
            [(r["label"], r["callbacks"], r["satisfaction_rate"]) for r in f["satisfaction_by_department"]])


def called_back_in_january_then_handed_over(ws, cal) -> str:
    cal.set(D(2026, 1, 5))
    cid = matter(ws, D(2026, 1, 5))
    ws.accept(cid, on=D(2026, 1, 5))
    ws.consult(cid, D(2026, 1, 5), ["人社所"], "先行垫付", "li")
    cal.set(D(2026, 1, 20))
    ws.resolve_case(cid, "mediation", "签订调解协议")
    ws.call_back(cid, "phone", "unsatisfied", "仍有两人未领到")   # 李镇长's matter, 人社所's work
    return cid


def test_a_matter_handed_to_another_leader_leaves_its_callback_with_the_first(office):
    ws, cal = office
    cid = called_back_in_january_then_handed_over(ws, cal)
    handed_in = per_leader_and_department(ws.replica.conn)
    assert handed_in == ([("李镇长", 1, 0.0)], [("人社所", 1, 0.0)])
    cal.set(D(2026, 2, 3))
    ws.consult(cid, D(2026, 2, 3), ["司法所"], "重新调解", "chen")
    assert ws.case(cid)["owner"] == "chen"
    assert per_leader_and_department(ws.replica.conn) == handed_in
    # and a callback after the hand-over counts for the new leader and department
    cal.set(D(2026, 2, 20))
    ws.resolve_case(cid, "mediation", "补发到位")
    ws.call_back(cid, "phone", "satisfied")
    feb = stats.figures(ws.replica.conn, D(2026, 2, 1), D(2026, 2, 28), today=READ_ON)
    assert [(r["label"], r["satisfaction_rate"]) for r in feb["satisfaction_by_owner"]] == [("陈书记", 1.0)]
    assert [r["label"] for r in feb["satisfaction_by_department"]] == ["司法所"]


def test_a_store_from_before_judges_its_old_callbacks_from_the_change_log(office):
    ws, cal = office
    cid = called_back_in_january_then_handed_over(ws, cal)
    cal.set(D(2026, 2, 3))
    ws.consult(cid, D(2026, 2, 3), ["司法所"], "重新调解", "chen")
    again = opened_after_upgrade(ws.replica, "callback_judged", 5)
    try:
        assert per_leader_and_department(again.conn) == ([("李镇长", 1, 0.0)], [("人社所", 1, 0.0)])
    finally:
        again.close()
