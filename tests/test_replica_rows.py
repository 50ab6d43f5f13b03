"""A record's row as stored: only the columns that hold a value are written
(replica._write_rows), so what a column does not name must still come back as it was
folded: cleared fields empty, every record of a mixed batch whole, in the order given."""

from sync import merge
from sync.device import DeviceReplica
from sync.model import ENTITIES
from sync.replica import TABLES

GRID = "g-01"


def _case(title: str, **more) -> dict:
    return {"grid_id": GRID, "kind": "dispute", "channel": "grid", "category": "01", "title": title,
            "description": "两户因宅基地边界争执", "status": "reported", "reported_by": "worker",
            "reported_at": "2026-11-20T09:00:00+08:00", **more}


def test_a_field_cleared_by_a_later_edit_reads_back_empty_even_after_reopening(tmp_path):
    path = str(tmp_path / "phone.db")
    phone = DeviceReplica(path)
    rid = phone.create("case", _case("邻里纠纷", place="白鹤村3组", parties=["张三", "李四"], risk="red"),
                       "worker")["record"]
    phone.update("case", rid, {"place": None, "risk": None}, "worker")
    row = phone.conn.execute("SELECT place, risk, parties, title FROM cases WHERE id=?", (rid,)).fetchone()
    assert row == (None, None, '["张三","李四"]', "邻里纠纷")
    phone.close()
    again = DeviceReplica(path)
    got = again.get("case", rid)
    assert got["place"] is None and got["risk"] is None and got["parties"] == ["张三", "李四"]
    again.close()


def test_records_of_one_batch_with_different_fields_are_each_written_whole_in_order(tmp_path):
    writer = DeviceReplica(str(tmp_path / "a.db"))
    # Interleaved: a case with many fields, one with few, a household, again; each run of
    # the same columns is one statement, and the order must survive the runs.
    made = []
    for i in range(12):
        if i % 3 == 0:
            made.append(writer.create("case", _case(f"案{i}", place=f"{i}组", lat=30.1 + i, lon=110.2,
                                                   accuracy_m=8.0), "worker"))
        elif i % 3 == 1:
            made.append(writer.create("case", _case(f"案{i}"), "worker"))
        else:
            made.append(writer.create("household", {"grid_id": GRID, "head_name": f"户主{i}",
                                                    "address": f"白鹤村{i}号"}, "worker"))
    writer.close()
    phone = DeviceReplica(str(tmp_path / "b.db"))
    assert phone.apply_pulled(made, "12") == 12   # one fold, one write of all twelve rows
    for ch in made:
        got = phone.get(ch["entity"], ch["record"])
        assert got["id"] == ch["record"]
        for name in ENTITIES[ch["entity"]].columns:
            assert got.get(name) == ch["fields"].get(name), (ch["entity"], name)
        assert phone._load(ch["entity"], [ch["record"]])[ch["record"]][1] == merge.merge_change(None, {}, ch)[1]
    for entity in ("case", "household"):
        ids = [r[0] for r in phone.conn.execute(f"SELECT id FROM {TABLES[entity]} ORDER BY rowid")]
        assert ids == [ch["record"] for ch in made if ch["entity"] == entity]
    phone.close()
