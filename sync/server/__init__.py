"""The township server's side of `sync`: never packaged onto a phone.

The central store, passwords and tokens, the office's verbs, the figures, the
exports, the sync API and the demo live here, so the APK's exclusion is this one
folder (`[tool.flet.app] exclude`). Nothing here imports the office's screens:
`township.py` composes the two.
"""
