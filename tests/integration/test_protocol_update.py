"""A phone whose app speaks an older sync protocol than the server is told to update the
app: HTTP 426 "update_required" with words saying so, which the sync client raises as
its own error (UpdateRequired) and the app shows in Chinese in the sync bar and at
sign-in. The real server in a subprocess, the real client."""

from __future__ import annotations

import httpx
import pytest

from fieldapp.i18n import STRINGS
from fieldapp.syncer import SyncStatus, error_state
from sync import changes
from sync.errors import ProtocolMismatch, UpdateRequired

from .conftest import PASSWORD, PROTO, household_fields, phone

OLD = changes.PROTOCOL_VERSION - 1


class ZhCtx:
    """The app's words in Chinese, as the screens look them up."""

    def t(self, key: str, **kw) -> str:
        return STRINGS[key][0].format(**kw)


def test_an_old_app_is_told_to_update_over_http(server):
    r = httpx.post(server.url + "/api/v1/auth/login", headers={"X-Gridbook-Protocol": str(OLD)}, timeout=30,
                   json={"username": "worker1", "password": PASSWORD, "device_id": "old-phone"})
    assert r.status_code == 426
    body = r.json()
    assert body["error"] == "update_required"
    assert "please update the app" in body["message"]
    assert f"protocol {OLD}" in body["message"] and str(changes.PROTOCOL_VERSION) in body["message"]
    assert body["supported"] == [changes.PROTOCOL_VERSION]
    # the current app is let in, and an app newer than the server hears something else
    ok = httpx.post(server.url + "/api/v1/auth/login", headers=PROTO, timeout=30,
                    json={"username": "worker1", "password": PASSWORD, "device_id": "new-phone"})
    assert ok.status_code == 200, ok.text
    newer = httpx.get(server.url + "/api/v1/sync/pull", timeout=30,
                      headers={"X-Gridbook-Protocol": str(changes.PROTOCOL_VERSION + 1)})
    assert newer.status_code == 426 and newer.json()["error"] == "protocol_unsupported"


def test_the_old_app_cannot_sign_in_and_says_update_in_chinese(server, tmp_path):
    replica, client = phone(tmp_path / "old", server)
    client.protocol = OLD  # the app as it was before the server's upgrade
    with pytest.raises(UpdateRequired) as e:
        client.login("worker1", PASSWORD)
    assert isinstance(e.value, ProtocolMismatch) and e.value.status == 426
    assert "update the app" in e.value.message
    assert client.signed_in is False
    state = error_state(e.value)
    assert state == "update_required"
    from fieldapp.screens.widgets import status_text
    text, _ = status_text(ZhCtx(), SyncStatus(state=state))
    assert "请更新应用" in text


def test_a_signed_in_phone_left_behind_keeps_its_work_and_is_told_to_update(server, tmp_path):
    """The phone signed in and wrote while the server was on its protocol; the server then
    moved on (here: the app is the older one). Its sync stops with UpdateRequired, and
    nothing it holds is lost: the record stays in the outbox for the updated app."""
    replica, client = phone(tmp_path / "left-behind", server, "worker1", retries=0)
    rec = replica.create("household", household_fields("g1", 4242), author="worker1")
    client.protocol = OLD
    with pytest.raises(UpdateRequired):
        client.sync()
    assert replica.pending_count() == 1 and replica.get("household", rec["record"]) is not None
    client.protocol = changes.PROTOCOL_VERSION  # the updated app
    report = client.sync()
    assert report.pushed == 1 and replica.pending_count() == 0
