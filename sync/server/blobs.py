"""Attachments' bytes on the server (photos, voice notes): kept by hash beside the store,
uploaded apart from the changes that name them, served only to who may see a record
that names them. (Issue 9; `add_routes` is called by app.py.)"""

from __future__ import annotations


def add_routes(app, deps) -> None:
    """The attachment routes; `deps` has store, protocol, principal, ApiError, client_address."""
