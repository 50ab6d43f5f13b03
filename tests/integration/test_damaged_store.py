"""A store damaged on disk (a failing disk wrote over some of its pages), served again:
the server says so to the monitor and takes no push into it, and the phones keep their
work, against the real server process."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from sync.errors import ServerTrouble

from .conftest import household_fields, phone

pytestmark = pytest.mark.integration


def test_a_damaged_store_is_said_by_the_health_check_and_takes_no_push(fresh_server, tmp_path):
    srv = fresh_server
    worker, client = phone(tmp_path / "worker", srv, "worker1")
    for n in range(300):
        worker.create("household", {**household_fields("g1", n), "note": "情况" * 30}, "worker1")
    assert client.sync().pushed == 300
    srv.kill()
    with sqlite3.connect(srv.db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with sqlite3.connect(srv.db) as c:   # the households' own pages: not read to start the server
        size = c.execute("PRAGMA page_size").fetchone()[0]
        pages = [n for (n,) in c.execute("SELECT pageno FROM dbstat WHERE name='households' AND pagetype='leaf'")]
    assert len(pages) > 10
    with open(srv.db, "r+b") as f:   # a failing disk: garbage over the middle of some of them
        for page in pages[::3]:
            f.seek(size * (page - 1) + 200)
            f.write(bytes(range(256)) * 6)
    srv.start(answers=(200, 503))
    end = time.monotonic() + 120     # the check runs beside the serving: wait for its verdict
    while (health := httpx.get(srv.url + "/api/v1/health", timeout=10)).status_code == 200:
        assert time.monotonic() < end, "the damaged store was never reported"
        time.sleep(0.2)
    assert health.status_code == 503 and health.json()["error"] == "store_damaged"
    worker.create("household", household_fields("g1", 999), "worker1")
    with pytest.raises(ServerTrouble) as e:
        client.push()
    assert e.value.error == "store_damaged" and worker.pending_count() == 1   # kept, to send to the restored one
    assert "the store is damaged" in srv.output()


def test_a_sound_store_s_check_is_done_and_says_ok(fresh_server):
    end = time.monotonic() + 120
    while (health := httpx.get(fresh_server.url + "/api/v1/health", timeout=10).json())["store_check"] != "ok":
        assert health["store_check"] == "running" and time.monotonic() < end
        time.sleep(0.2)
    assert health["status"] == "ok"
