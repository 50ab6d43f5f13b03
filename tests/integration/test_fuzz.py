"""A schema-driven fuzzer against the real server: Schemathesis reads /openapi.json and
sends what it generates from it (and what deliberately breaks it) to every operation,
once per role: a grid worker, a leader, the office (and the administrator, when the
seeded store has one), each a device signed in through the real login, and once with
no credentials at all.

No answer may be a 5xx, a status code the operation does not document, a content type
it does not document, a body that breaks the documented schema, or a success to a
request that breaks the schema. The run is bounded (a fixed number of examples per
operation, a fixed seed, one worker, no stateful phase) and has a deadline.

Sign-in is fuzzed in the run without credentials only: it takes no token, and its
failures count against the client's address (the throttle), so the devices sign
in before any fuzzing and keep their tokens throughout; each run ends by checking
that its device is still served. The server is this module's own: nothing the fuzzer
pushes or slows reaches another test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ACCOUNTS, PROTO, ServerProcess, _server_from, auth_headers

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("fuzz.toml")
LOGIN = "/api/v1/auth/login"
BUDGET_S = 300.0          # all the runs together, from the server's start: a guard against a hang,
                          # generous for a busy 2-core machine (a quiet one needs ~100 s)
TAIL = 6000               # characters of Schemathesis's output in a failure message

# run id (the role) -> the account whose device the run speaks as: the first seeded
# account of each role (worker1, leader1, office1, and an admin when the store has one),
# then a run with no credentials at all.
ROLES = ("grid_worker", "leader", "office", "admin")
_first = {}
for _user, _role, _ in ACCOUNTS:
    _first.setdefault(_role, _user)
RUNS: dict[str, str | None] = {role: _first[role] for role in ROLES if role in _first} | {"anonymous": None}

# `st`, with the interpreter running the tests (no reliance on PATH or the script's shebang)
ST = [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis(prog_name='st')"]


class FuzzTarget:
    def __init__(self, srv: ServerProcess, headers: dict[str, dict]):
        self.srv, self.headers = srv, headers
        self.deadline = time.monotonic() + BUDGET_S


@pytest.fixture(scope="module")
def target(template_db, tmp_path_factory):
    """A server of its own, and every role's device signed in before any fuzzing."""
    srv = _server_from(template_db, tmp_path_factory.mktemp("fuzz") / "server")
    try:
        srv.start()
        t = FuzzTarget(srv, {run: auth_headers(srv, user) for run, user in RUNS.items() if user})
        yield t
    finally:
        srv.kill()


def _tail(text: str, n: int = TAIL) -> str:
    return text if len(text) <= n else "...\n" + text[-n:]


def run_schemathesis(target: FuzzTarget, run: str, folder: Path) -> tuple[int | None, str, Path]:
    """One `st run` against the live server; (exit code or None on timeout, output, log)."""
    srv = target.srv
    cmd = [*ST, "--config-file", str(CONFIG), "run", f"{srv.url}/openapi.json", "--no-color"]
    for name, value in target.headers.get(run, {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if run != "anonymous":
        cmd += ["--exclude-path", LOGIN]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    env.update(NO_COLOR="1", COLUMNS="120")
    log = folder / f"schemathesis-{run}.log"
    remaining = target.deadline - time.monotonic()
    if remaining < 5:
        pytest.fail(f"the fuzz budget of {BUDGET_S:.0f} s was spent before the {run} run began")
    with open(log, "w") as out:
        try:
            rc = subprocess.run(cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                timeout=remaining).returncode
        except subprocess.TimeoutExpired:
            rc = None
    return rc, log.read_text(errors="replace"), log


@pytest.mark.parametrize("run", list(RUNS))
def test_schemathesis_finds_nothing(target, run, tmp_path):
    srv = target.srv
    started = time.monotonic()
    rc, out, log = run_schemathesis(target, run, tmp_path)
    took = time.monotonic() - started
    where = f"Schemathesis as {run} ({took:.1f} s; full output in {log})"

    if rc is None:
        pytest.fail(f"{where} did not finish within the fuzz budget of {BUDGET_S:.0f} s:\n{_tail(out)}")
    assert srv.alive, f"{where}: the server died:\n{srv.output()}\n--- Schemathesis ---\n{_tail(out)}"
    assert rc == 0, (f"{where} exited {rc}: it found answers the schema does not allow "
                     f"(or could not run):\n{_tail(out)}\n--- server log ---\n{srv.output()[-2000:]}")

    generated = re.search(r"(\d+) generated", out)
    assert generated and int(generated.group(1)) > 0, f"{where} tested nothing:\n{_tail(out)}"
    if run != "anonymous":
        # The run spoke as a signed-in device throughout (its headers are the same on every
        # request), and nothing the fuzzer sent took that sign-in away.
        r = httpx.get(srv.url + "/api/v1/sync/pull", headers=target.headers[run],
                      params={"limit": 1}, timeout=30)
        assert r.status_code == 200, f"after {where}: {r.status_code} {r.text}"
    assert httpx.get(srv.url + "/api/v1/health", headers=PROTO, timeout=30).status_code == 200
