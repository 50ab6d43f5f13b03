"""Fixtures the unit tests of the phone's side share."""

import pytest

from sync.device import DeviceReplica
from sync.workspace import DeviceWorkspace

WORKER = {"username": "w1", "role": "grid_worker", "grids": ["g1"]}


@pytest.fixture
def replica(tmp_path):
    """A phone's replica in a real SQLite file."""
    r = DeviceReplica(str(tmp_path / "phone.db"), device_id="dtest")
    yield r
    r.close()


@pytest.fixture
def ws(replica):
    """Grid worker w1's workspace (grid g1) over that replica."""
    return DeviceWorkspace(replica, WORKER)
