"""The backup to an S3-compatible bucket (moto's S3 server standing in for MinIO, on
loopback): `gridbook serve --backup s3://... --s3-endpoint` replicates the store with
the real Litestream binary and puts the attachments in the bucket; after the store and
its attachments are lost, `gridbook restore` brings both back from the bucket."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sync.attachments import Attachments
from sync.server import backup

from .conftest import _server_from, cli, free_port, household_fields, phone
from .test_disaster_drill import picture, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(monkeypatch, tmp_path):
    """An S3 service on loopback with an empty bucket; the credentials in the environment
    as the service's unit would give them."""
    port = free_port()
    log = open(tmp_path / "s3.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("LITESTREAM_ACCESS_KEY_ID", "gridbook-test")
    monkeypatch.setenv("LITESTREAM_SECRET_ACCESS_KEY", "gridbook-test-secret")
    # A CA bundle variable makes Litestream's S3 client refuse a plain-HTTP endpoint.
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    try:
        def up():
            try:
                return httpx.put(endpoint + "/township", timeout=2).status_code == 200
            except httpx.TransportError:
                return False
        wait_for(up, "the S3 service")
        yield endpoint
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()


def test_store_and_attachments_come_back_from_a_bucket(template_db, tmp_path, bucket):
    url = "s3://township/jinshan"
    srv = _server_from(template_db, tmp_path / "server", args=("--backup", url, "--s3-endpoint", bucket))
    target = backup.parse_target(url, endpoint=bucket)
    try:
        srv.start()
        replica, client = phone(tmp_path / "w1", srv, "worker1")
        store = Attachments.for_replica(replica)
        att = store.add_photo(picture(7), "门牌.jpg")
        made = replica.create("household", {**household_fields("g1", 7), "attachments": [att]}, "worker1")
        assert client.sync().pushed == 1 and client.send_attachments()["sent"] == 1

        key = target.blobs_prefix + att["hash"][:2] + "/" + att["hash"]
        with _bucket(target) as b:
            wait_for(lambda: key in b.keys(target.blobs_prefix), "the photo in the bucket")

        def replica_holds_it():
            probe = tmp_path / f"probe-{time.monotonic_ns()}" / "t.db"
            try:
                backup.restore(target, str(probe))
            except backup.BackupError:
                return False
            import sqlite3
            conn = sqlite3.connect(probe)
            try:
                return conn.execute("SELECT 1 FROM changes WHERE change_id=?", (made["id"],)).fetchone()
            finally:
                conn.close()
        wait_for(replica_holds_it, "the bucket's replica to hold the household")

        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=30)
        srv.kill()
        for suffix in ("", "-wal", "-shm"):
            Path(str(srv.db) + suffix).unlink(missing_ok=True)
        shutil.rmtree(str(srv.db) + ".blobs")

        out = json.loads(cli("restore", "--from", url, "--s3-endpoint", bucket, "--db", str(srv.db)).stdout)
        assert out["attachments_copied"] == 1
        assert srv.sql("SELECT count(*) FROM changes WHERE change_id=?", (made["id"],)) == [(1,)]
        photo = Path(str(srv.db) + ".blobs") / att["hash"][:2] / att["hash"]
        assert hashlib.sha256(photo.read_bytes()).hexdigest() == att["hash"]
        assert oct(photo.stat().st_mode & 0o777) == oct(0o600)

        # An erasure takes the photo out of the bucket too: `gridbook erase` run where the
        # unit's environment names the bucket (docs/deploy.md)
        thumb = f"{target.blobs_prefix}thumbs/{att['hash']}.jpg"     # the office opened the photo
        with _bucket(target) as b:
            b.put(thumb, b"a thumbnail")
        env = {"GRIDBOOK_BACKUP_URL": url, "GRIDBOOK_S3_ENDPOINT": bucket}
        done = json.loads(cli("erase", "household", made["record"], "--request", "REQ-2026-0042",
                              "--db", str(srv.db), env=env).stdout)
        assert done["blobs_deleted"] == 1 and "backup_blobs_left" not in done
        assert not photo.exists()
        with _bucket(target) as b:
            assert not {key, thumb} & b.keys(target.blobs_prefix)
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.kill()


class _bucket:
    def __init__(self, target):
        self.b = target.open_bucket()

    def __enter__(self):
        return self.b

    def __exit__(self, *exc):
        self.b.close()
