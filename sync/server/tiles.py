"""The township's base map on the server: `gridbook tiles import FILE` loads an MBTiles or
PMTiles extract; the tiles are served to the office and to signed-in phones.
(Issue 9; `add_routes` is called by app.py, `import_command` by the CLI.)"""

from __future__ import annotations


def add_routes(app, deps) -> None:
    """The tile routes; `deps` has store, protocol, principal, ApiError, client_address."""


def import_command(args) -> int:
    raise ValueError("gridbook tiles import is not available yet")
