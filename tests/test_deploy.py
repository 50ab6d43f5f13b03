"""docs/deploy.md and the files it installs (deploy/): the doc prints them exactly; Caddy
(the Debian package, installed by .ci/run) accepts the Caddyfile; systemd accepts the
unit, whose ExecStart is a command `gridbook` understands; the settings the doc promises
(UMask, trusted proxy, loopback, metrics refused outside) are in the files."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sync.server.cli import parser

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
UNIT = (REPO / "deploy" / "gridbook.service").read_text(encoding="utf-8")
CADDYFILE = (REPO / "deploy" / "Caddyfile").read_text(encoding="utf-8")


def fenced_blocks(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"```[a-z]*\n(.*?)```", text, re.S)]


def test_the_doc_prints_both_files_exactly():
    blocks = fenced_blocks(DOC)
    assert UNIT in blocks, "docs/deploy.md does not print deploy/gridbook.service as it is"
    assert CADDYFILE in blocks, "docs/deploy.md does not print deploy/Caddyfile as it is"


def test_caddy_accepts_the_caddyfile(tmp_path):
    caddy = shutil.which("caddy")
    assert caddy, ("caddy is not installed: `apt-get install -y caddy` (the Debian package; .ci/run installs it) "
                   "- this test validates deploy/Caddyfile with it and must not be skipped")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "GRIDBOOK_SITE": "gridbook.jinshan.internal"}
    r = subprocess.run([caddy, "validate", "--config", str(REPO / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and "Valid configuration" in (r.stdout + r.stderr), r.stdout + r.stderr
    # What the doc promises of it: TLS from the township's own CA, the server behind it
    # on loopback, metrics refused at the door.
    assert "tls internal" in CADDYFILE
    assert "reverse_proxy 127.0.0.1:8080" in CADDYFILE
    assert "respond @metrics 404" in CADDYFILE


def _unit_sections() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str
    cp.read_string(UNIT)
    return cp


def test_systemd_accepts_the_unit(tmp_path):
    cp = _unit_sections()
    exec_start = cp["Service"]["ExecStart"]
    analyze = shutil.which("systemd-analyze")
    if analyze:
        # The unit as installed, with the path of this checkout's gridbook for /opt/gridbook.
        gridbook = Path(sys.executable).parent / "gridbook"
        assert gridbook.exists(), gridbook
        unit = tmp_path / "gridbook.service"
        unit.write_text(UNIT.replace("/opt/gridbook/.venv/bin/gridbook", str(gridbook)), encoding="utf-8")
        r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120)
        problems = [line for line in (r.stdout + r.stderr).splitlines() if "gridbook.service" in line]
        assert r.returncode == 0 and not problems, r.stdout + r.stderr
    else:  # no systemd here: the file must at least be a unit with the parts that matter
        assert set(cp.sections()) == {"Unit", "Service", "Install"}
        assert cp["Install"]["WantedBy"] == "multi-user.target"
    service = cp["Service"]
    assert service["UMask"] == "0077"
    assert service["User"] == "gridbook"
    env = dict(line.removeprefix("Environment=").split("=", 1) for line in UNIT.splitlines()
               if line.startswith("Environment="))
    assert env["GRIDBOOK_DB"].startswith("/var/lib/gridbook/")
    assert env["GRIDBOOK_BACKUP_URL"]
    # ExecStart is a serve command gridbook takes, on loopback, behind the local proxy,
    # and (through the environment) with the backup on.
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/gridbook") and argv[1] == "serve"
    old = {k: os.environ.get(k) for k in ("GRIDBOOK_DB", "GRIDBOOK_BACKUP_URL")}
    os.environ.update({"GRIDBOOK_DB": env["GRIDBOOK_DB"], "GRIDBOOK_BACKUP_URL": env["GRIDBOOK_BACKUP_URL"]})
    try:
        args = parser().parse_args(argv[1:])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert args.host == "127.0.0.1" and args.trusted_proxy == ["127.0.0.1"]
    assert args.db == env["GRIDBOOK_DB"] and args.backup == env["GRIDBOOK_BACKUP_URL"]
    assert env["GRIDBOOK_BACKUP_URL"] in service["ReadWritePaths"]


def test_the_doc_covers_what_the_issue_asks():
    for words in ("tls internal", "--trusted-proxy", "GRIDBOOK_BACKUP_URL", "gridbook restore --from",
                  "--timestamp", "gridbook doctor", "/metrics", "## 6. Sizing", "## 7. Upgrades",
                  "## 8. Restore", "s3://", "--s3-endpoint"):
        assert words in DOC, words
    # every gridbook subcommand the doc runs exists
    for cmd in set(re.findall(r"gridbook (serve|restore|doctor|grid add|user add)\b", DOC)):
        parser().parse_known_args(cmd.split() + (["--from", "x"] if cmd == "restore" else [])
                                  + (["x", "--name", "n", "--village", "v", "--township", "t"] if cmd == "grid add" else [])
                                  + (["x", "--role", "admin"] if cmd == "user add" else []))
