"""A phone asks for the next pull page while it folds the one it has (sync/client.py,
`_Ahead`): against the real server, every page is asked once, nothing is missed, a
page that waited does not set the phone's clock back, and a connection lost between
two pages costs a repeat, not a record.
"""

from __future__ import annotations

import time

import pytest

from .conftest import household_fields, phone
from .test_metrics import scrape

pytestmark = pytest.mark.integration
RECORDS, PAGE = 100, 20


def pulls_answered(srv) -> float:
    return scrape(srv.url).get(("gridbook_sync_requests_total", (("kind", "pull"),)), 0.0)


def filled(srv, tmp_path) -> set[str]:
    replica, client = phone(tmp_path / "writer", srv, "worker1", batch=50)
    ids = {replica.create("household", household_fields("g1", n), "worker1")["record"] for n in range(RECORDS)}
    client.sync()
    return ids


def test_a_pull_in_pages_asks_each_page_once_and_misses_nothing(fresh_server, tmp_path):
    ids = filled(fresh_server, tmp_path)
    replica, client = phone(tmp_path / "reader", fresh_server, "worker1", page=PAGE)
    before = pulls_answered(fresh_server)
    folded = []
    client.pull(progress=folded.append)
    held = {r[0] for r in replica.conn.execute("SELECT id FROM households")}
    assert ids <= held
    assert len(folded) >= RECORDS // PAGE
    # every page the phone folded was asked for once: none twice, none thrown away
    assert pulls_answered(fresh_server) - before == len(folded)
    again = client.pull()
    assert again.pulled == 0


def test_a_page_that_waited_while_the_phone_was_busy_does_not_set_its_clock_back(fresh_server, tmp_path):
    filled(fresh_server, tmp_path)
    replica, client = phone(tmp_path / "slow", fresh_server, "worker1", page=40)

    def slow_phone(_):
        time.sleep(1.5)   # a slow phone folding a page: the next one arrived meanwhile

    client.pull(progress=slow_phone)
    # The server runs on this machine: its clock is ours. A page that had waited 1.5 s,
    # taken at its word, would have set the phone 1.5 s behind (it re-anchors past 1 s).
    assert abs(replica.clock.physical() - time.time() * 1000) < 1000


def test_a_connection_lost_between_two_pages_costs_a_repeat_not_a_record(fresh_server, tmp_path):
    ids = filled(fresh_server, tmp_path)
    replica, client = phone(tmp_path / "cut", fresh_server, "worker1", page=PAGE, retries=5)
    cut = []

    def lose_the_server_once(_):
        if not cut:
            cut.append(1)
            fresh_server.kill()      # the page asked ahead is lost, or arrived before
            fresh_server.start()

    client.pull(progress=lose_the_server_once)
    assert cut
    assert ids <= {r[0] for r in replica.conn.execute("SELECT id FROM households")}
    assert client.pull().pulled == 0
