"""The township office's screens (信访办), served by `gridbook serve` to browsers.

Server-side only: they work on the central store (sync/office.py) and are left out
of the phone's package ([tool.flet.app] exclude)."""
