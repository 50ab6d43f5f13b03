"""GET /metrics scraped from the real `gridbook serve` process after real syncs: the
counts are the syncs, changes, errors and sign-ins that happened; the store's sizes are
the file's; a visitor through the reverse proxy is refused, the machine itself is not."""

from __future__ import annotations

import os

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import PASSWORD, PROTO, _server_from, case_fields, phone

pytestmark = pytest.mark.integration


def scrape(url: str, **headers) -> dict[tuple, float]:
    r = httpx.get(url + "/metrics", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_what_happened(template_db, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDBOOK_METRICS_TOKEN", "scrape-token-for-the-test")
    srv = _server_from(template_db, tmp_path / "server", args=("--trusted-proxy", "127.0.0.1"))
    try:
        srv.start()
        before = scrape(srv.url)
        assert before[("gridbook_changes_total", (("result", "applied"),))] == 0

        replica, client = phone(tmp_path / "w1", srv, "worker1")           # a sign-in that works
        bad = httpx.post(srv.url + "/api/v1/auth/login", headers=PROTO, timeout=30,
                         json={"username": "worker1", "password": "not-" + PASSWORD, "device_id": "d-x"})
        assert bad.status_code == 401                                     # one that fails
        for n in range(3):
            replica.create("case", case_fields("g1", "worker1", title=f"路灯损坏 {n}"), "worker1")
        report = client.sync()                                            # push 3, pull
        assert report.pushed == 3
        # The same changes once more: the server answers duplicate for each.
        rows = replica.pushed()
        again = httpx.post(srv.url + "/api/v1/sync/push", headers=client._headers(), timeout=30,
                           json={"changes": [__import__("json").loads(b) for _, _, b in rows]})
        assert again.json()["counts"] == {"applied": 0, "duplicate": 3, "rejected": 0}
        # A change the rules refuse: a grid worker reporting in someone else's grid.
        replica.create("case", case_fields("g2", "worker1"), "worker1")
        assert client.sync().quarantined == 1
        # An unsigned request: an error with its code.
        assert httpx.get(srv.url + "/api/v1/sync/pull", headers=PROTO, timeout=30).status_code == 401

        m = scrape(srv.url)
        assert m[("gridbook_changes_total", (("result", "applied"),))] == 3
        assert m[("gridbook_changes_total", (("result", "duplicate"),))] == 3
        assert m[("gridbook_changes_total", (("result", "rejected"),))] == 1
        assert m[("gridbook_sign_ins_total", (("outcome", "ok"),))] == 1
        assert m[("gridbook_sign_ins_total", (("outcome", "failed"),))] == 1
        assert m[("gridbook_sync_requests_total", (("kind", "push"),))] == 3
        assert m[("gridbook_sync_requests_total", (("kind", "pull"),))] >= 2
        assert m[("gridbook_api_errors_total", (("code", "unauthorized"),))] == 1
        assert m[("gridbook_api_errors_total", (("code", "bad_credentials"),))] == 1
        assert m[("gridbook_store_bytes", ())] == os.path.getsize(srv.db)
        assert m[("gridbook_wal_bytes", ())] > 0
        assert m[("gridbook_log_head", ())] == srv.sql("SELECT max(seq) FROM log")[0][0]
        assert m[("gridbook_recovered_changes_total", ())] == 0
        assert m[("gridbook_backup_configured", ())] == 0   # served without --backup

        # Through the proxy, a visitor from elsewhere is refused; nothing is revealed.
        r = httpx.get(srv.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=30)
        assert r.status_code == 403 and "gridbook_" not in r.text
        r = httpx.get(srv.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9",
                                                     "Authorization": "Bearer wrong-token"}, timeout=30)
        assert r.status_code == 403
        # A Prometheus elsewhere with the token is served.
        m2 = scrape(srv.url, **{"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer scrape-token-for-the-test"})
        assert m2[("gridbook_changes_total", (("result", "applied"),))] == 3
    finally:
        srv.kill()


def test_metrics_show_the_backup(template_db, tmp_path):
    """Served under Litestream: the backup is configured and caught up (lag 0) once the
    replica holds the store."""
    srv = _server_from(template_db, tmp_path / "server", args=("--backup", str(tmp_path / "backup")))
    try:
        srv.start()
        import time
        end = time.monotonic() + 30   # a deadline for the first replication, not a timing claim
        while True:
            m = scrape(srv.url)
            if m.get(("gridbook_backup_lag_seconds", ())) == 0:
                break
            assert time.monotonic() < end, m
            time.sleep(0.2)
        assert m[("gridbook_backup_configured", ())] == 1
        assert m[("gridbook_backup_error", ())] == 0
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            os.killpg(srv.proc.pid, 9)
        srv.kill()
