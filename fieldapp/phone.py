"""What one phone holds, whatever screens are open: its replica, its settings and
its background sync. Built once per app process."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from sync.client import SyncClient, sign_out
from sync.device import DeviceReplica
from sync.errors import SyncError
from sync.workspace import DeviceWorkspace

from .geo import FAR_FROM_HOME_M
from .syncer import SyncRunner, remembered_sync_ms


def default_data_dir() -> str:
    """Packaged apps get FLET_APP_STORAGE_DATA; elsewhere a folder in the home."""
    return os.environ.get("FLET_APP_STORAGE_DATA") or os.path.join(os.path.expanduser("~"), ".gridbook")


@dataclass
class Settings:
    server: str = "http://127.0.0.1:8080"
    lang: str = "zh"
    far_m: float = FAR_FROM_HOME_M
    tile_url: str = ""

    @classmethod
    def load(cls, replica: DeviceReplica, **defaults) -> "Settings":
        raw = json.loads(replica.meta("settings") or "{}")
        merged = {**{k: v for k, v in defaults.items() if v is not None}, **raw}
        return cls(**{k: v for k, v in merged.items() if k in cls.__dataclass_fields__})

    def save(self, replica: DeviceReplica) -> None:
        replica.set_meta("settings", json.dumps(self.__dict__, ensure_ascii=False))


class Phone:
    def __init__(self, data_dir: str, server: str | None = None, *, interval_s: float = 60,
                 max_pause_s: float = 60, tile_url: str | None = None):
        self.data_dir = data_dir
        self.replica = DeviceReplica.in_folder(data_dir)
        self.settings = Settings.load(self.replica, server=server, tile_url=tile_url)
        if server:  # the command line wins over what was saved
            self.settings.server = server
        self.runner = SyncRunner(self._sync_client, interval_s=interval_s, max_pause_s=max_pause_s,
                                 last_sync_ms=remembered_sync_ms(self.replica.meta("last_sync_ms")))

    def _sync_client(self) -> SyncClient:
        # The sync runs in a thread: it gets its own connection to the same file.
        return SyncClient(DeviceReplica(self.replica.path), self.settings.server, retries=2,
                          timeout_s=20)

    # --- signing in -------------------------------------------------------------------
    def account(self) -> dict | None:
        raw = self.replica.meta("account")
        return json.loads(raw) if raw and self.replica.meta("token") else None

    def sign_in(self, server: str, username: str, password: str) -> dict:
        """Raises SyncError (AuthRequired for a wrong password, Unreachable, ...)."""
        client = SyncClient(self.replica, server, retries=1, timeout_s=15)
        account = client.login(username, password)
        self.settings.server = server
        self.settings.save(self.replica)
        self.runner._client = None  # the next sync uses the new server and token
        return account

    def sign_out(self) -> None:
        sign_out(self.replica)

    def workspace(self) -> DeviceWorkspace | None:
        acct = self.account()
        return DeviceWorkspace(self.replica, acct) if acct else None

    def township(self) -> dict:
        """The township's settings (sync/settings.py), as learned at the last sync."""
        from sync import settings
        try:
            return settings.resolve(json.loads(self.replica.meta("township_settings") or "{}"))
        except ValueError:
            return settings.defaults()

    @property
    def far_m(self) -> float:
        """The far-visit threshold: the township's, not this phone's."""
        try:
            return float(self.township()["far_m"])
        except (TypeError, ValueError):
            return self.settings.far_m

    def save_settings(self) -> None:
        self.settings.save(self.replica)
        self.runner._client = None


__all__ = ["Phone", "Settings", "SyncError", "default_data_dir"]
