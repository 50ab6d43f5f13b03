"""The office is told when phones brought changes back after a restore: the store is
put back to an earlier state and given a new generation (what `gridbook restore` does
after Litestream's restore), a grid worker's phone syncs and offers again what it had
pushed, and the dashboard says how many changes came back."""

import os
import shutil
import sqlite3

from sync.client import SyncClient
from sync.device import DeviceReplica
from sync.server.central import CentralStore

from .conftest import PW, query
from .harness import DESKTOP
from .test_office import office_sign_in, rail


def test_the_dashboard_says_how_many_changes_the_phones_brought_back(township, tmp_path, browser):
    server, db = township
    phone = DeviceReplica(str(tmp_path / "worker.db"))
    client = SyncClient(phone, server.url)
    client.login("wangfang", PW)
    assert client.sync().pushed == 0
    snapshot = tmp_path / "backup-copy.db"
    src, dst = sqlite3.connect(db), sqlite3.connect(snapshot)
    src.backup(dst)                     # what the backup held
    src.close()
    dst.close()
    for n in range(3):                  # pushed and acknowledged after it
        phone.create("household", {"grid_id": "bh-01", "head_name": f"赵大勇{n}",
                                   "address": f"金山镇白鹤村7组{n}号"}, "wangfang")
    assert client.sync().pushed == 3

    server.stop()                       # the disk dies; the store comes back from the backup
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    shutil.copy(snapshot, db)
    restored = CentralStore(db)
    restored.begin_generation("restored from the drill's copy")
    restored.close()
    assert query(db, "SELECT count(*) AS n FROM households WHERE head_name LIKE '赵大勇%'")[0]["n"] == 0
    server.start()

    assert client.sync().recovered == 3
    assert query(db, "SELECT count(*) AS n FROM households WHERE head_name LIKE '赵大勇%'")[0]["n"] == 3

    office = browser(server.url, viewport=DESKTOP)
    office_sign_in(office)
    rail(office, "统计")
    office.shows("数据恢复后，手机补交了 3 条备份中缺少的记录（累计 3 条），均已入库。")
    office.shot("office-dashboard-recovered")
