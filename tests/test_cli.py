"""The admin commands: a thin shell over the central store; each is documented."""

import re
from pathlib import Path

import pytest

from sync.server.central import CentralStore
from sync.server.cli import main, parser

README = Path(__file__).resolve().parent.parent / "README.md"


def test_grid_and_user_commands_write_the_store(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    assert main(["grid", "add", "bh-01", "--name", "白鹤村第1网格", "--village", "白鹤村",
                 "--township", "金山镇", "--db", db]) == 0
    assert main(["user", "add", "wangfang", "--name", "王芳", "--role", "grid_worker",
                 "--grid", "bh-01", "--password", "long-enough-1", "--db", db]) == 0
    assert main(["grid", "list", "--db", db]) == 0
    assert main(["user", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "白鹤村第1网格" in out and "wangfang" in out and "bh-01" in out
    st = CentralStore(db)
    assert st.account("wangfang")["grids"] == ["bh-01"]
    # the directory record phones pull
    assert st.get("staff", "staff-wangfang")["name"] == "王芳"
    # a lost phone is revoked by the id `user list` shows, beside when it last synced
    st.login("wangfang", "long-enough-1", "phone-7f3a")
    st.login("wangfang", "long-enough-1", "phone-lost-02")
    st.close()
    assert main(["user", "list", "--db", db]) == 0
    listed = capsys.readouterr().out
    assert "device phone-7f3a  last seen 20" in listed and "device phone-lost-02" in listed
    assert main(["user", "revoke", "wangfang", "--device", "phone-lost-02", "--db", db]) == 0
    assert main(["user", "list", "--db", db]) == 0
    listed = capsys.readouterr().out
    assert "phone-7f3a" in listed and "phone-lost-02" not in listed and "1 device(s)" in listed
    # a grid taken away: its phones' unsent work there will be refused, and the admin is told how to avoid it
    assert main(["grid", "add", "bh-02", "--name", "白鹤村第2网格", "--village", "白鹤村",
                 "--township", "金山镇", "--db", db]) == 0
    assert main(["user", "grids", "wangfang", "--grid", "bh-02", "--db", db]) == 0
    said = capsys.readouterr().out
    assert "work recorded in bh-01 since a phone's last sync (phone-7f3a 20" in said and "give the grid back" in said
    assert main(["user", "grids", "wangfang", "--grid", "bh-02", "--grid", "bh-01", "--db", db]) == 0
    assert "note:" not in capsys.readouterr().out          # nothing taken away


def test_user_add_refuses_unknown_grid_and_short_password(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    assert main(["user", "add", "x1", "--role", "grid_worker", "--grid", "nowhere",
                 "--password", "long-enough-1", "--db", db]) == 1
    assert "no grid nowhere" in capsys.readouterr().err
    assert main(["user", "add", "x1", "--role", "office", "--password", "short", "--db", db]) == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert CentralStore(db).account("x1") is None


def test_revoke_cuts_off_every_device_of_the_account(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    st = CentralStore(db)
    st.add_account("li", "李", "leader", "long-enough-1")
    token, _, _ = st.login("li", "long-enough-1", "phone-1")
    assert st.authenticate(token, "phone-1") is not None
    assert main(["user", "revoke", "li", "--db", db]) == 0
    assert "revoked 1" in capsys.readouterr().out
    assert st.authenticate(token, "phone-1") is None


def test_disable_ends_every_sign_in_and_enable_lets_the_account_back(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    st = CentralStore(db)
    st.add_account("li", "李", "leader", "long-enough-1")
    token, _, _ = st.login("li", "long-enough-1", "phone-1")
    office_token, office_device = st.open_session("li")
    assert main(["user", "disable", "li", "--db", db]) == 0
    assert "2 sign-in(s) ended" in capsys.readouterr().out
    assert st.authenticate(token, "phone-1") is None and st.authenticate(office_token, office_device) is None
    assert st.login("li", "long-enough-1", "phone-2") is None      # the right password no longer opens it
    assert st.get("staff", "staff-li")["active"] is False           # phones learn it from the directory
    assert main(["user", "enable", "li", "--db", db]) == 0
    assert st.login("li", "long-enough-1", "phone-2") is not None
    assert [a["active"] for a in st.accounts()] == [True]


def test_a_new_password_opens_the_account_and_ends_every_sign_in_the_old_one_made(tmp_path, capsys):
    """A forgotten or leaked password: there was no way to set another but to disable."""
    db = str(tmp_path / "t.db")
    st = CentralStore(db)
    st.add_account("li", "李", "leader", "long-enough-1")
    token, _, _ = st.login("li", "long-enough-1", "phone-1")
    office_token, office_device = st.open_session("li")
    assert main(["user", "password", "li", "--password", "another-one-2", "--db", db]) == 0
    assert "2 sign-in(s) ended" in capsys.readouterr().out
    assert st.authenticate(token, "phone-1") is None and st.authenticate(office_token, office_device) is None
    assert st.login("li", "long-enough-1", "phone-1") is None
    assert st.login("li", "another-one-2", "phone-1") is not None   # the phone signs in again
    assert main(["user", "password", "li", "--password", "short", "--db", db]) == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert st.login("li", "another-one-2", "phone-3") is not None   # a refused one changed nothing
    with pytest.raises(SystemExit, match="no account named ghost"):
        main(["user", "password", "ghost", "--password", "another-one-2", "--db", db])
    assert st.conn.execute("SELECT COUNT(*) FROM audit WHERE action='password_set' AND detail='li'").fetchone()[0] == 1


def test_a_password_asked_for_with_no_terminal_and_nothing_on_standard_input_is_one_line(tmp_path, monkeypatch):
    """From a script or an ssh session without a terminal it was a traceback."""
    import io
    db = str(tmp_path / "t.db")
    CentralStore(db).add_account("li", "李", "leader", "long-enough-1")
    monkeypatch.delenv("GRIDBOOK_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SystemExit, match="no password given: use --password"):
        main(["user", "password", "li", "--db", db])
    monkeypatch.setattr("sys.stdin", io.StringIO("from-a-pipe-1\n"))
    assert main(["user", "password", "li", "--db", db]) == 0
    assert CentralStore(db).login("li", "from-a-pipe-1", "phone-1") is not None


def test_revoking_and_changing_grids_are_on_the_audit_trail(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    st = CentralStore(db)
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    st.add_account("w", "王", "grid_worker", "long-enough-1", ["g1"])
    st.login("w", "long-enough-1", "phone-1")
    assert main(["user", "revoke", "w", "--db", db]) == 0
    assert main(["user", "grids", "w", "--db", db]) == 0
    rows = st.conn.execute("SELECT action, detail FROM audit WHERE action IN ('devices_revoked', 'grids_set')").fetchall()
    assert rows == [("devices_revoked", "w all n=1"), ("grids_set", "w -")]


def test_the_trail_names_the_console_account_that_ran_each_command(tmp_path, monkeypatch):
    """Every account disabled, password set, grid given or setting changed from the
    console said "system": nobody could tell which administrator did it. Adding an
    account was not on the trail at all."""
    monkeypatch.setattr("getpass.getuser", lambda: "zhaoli")
    monkeypatch.setenv("GRIDBOOK_PASSWORD", "long-enough-1")
    db = str(tmp_path / "t.db")
    st = CentralStore(db)
    st.add_grid("g1", "一组", "白鹤村", "金山镇")
    for args in (["user", "add", "w", "--role", "grid_worker", "--grid", "g1"], ["user", "disable", "w"],
                 ["user", "enable", "w"], ["user", "password", "w"], ["user", "grids", "w", "--grid", "g1"],
                 ["user", "revoke", "w"], ["setting", "retention_years", "10"]):
        assert main([*args, "--db", db]) == 0, args
    rows = st.conn.execute("SELECT username, action, detail FROM audit WHERE action NOT IN ('login')"
                           " ORDER BY rowid").fetchall()
    assert [(who, action) for who, action, _ in rows] == [
        ("console:zhaoli", a) for a in ("account_added", "account_disabled", "account_enabled", "password_set",
                                        "grids_set", "devices_revoked", "setting")]
    assert rows[0][2] == "w grid_worker g1"


def test_revoke_of_unknown_account_says_so(tmp_path):
    CentralStore(str(tmp_path / "t.db")).close()
    with pytest.raises(SystemExit, match="no account named ghost"):
        main(["user", "revoke", "ghost", "--db", str(tmp_path / "t.db")])


def test_a_wrong_store_path_is_one_line_of_error_and_makes_no_store(tmp_path, capsys):
    """A file that is not a store answered with a traceback; a mistyped path made a new
    empty township (and `serve` would have served it to the phones)."""
    letter = tmp_path / "letter.db"
    letter.write_text("a letter, not a database")
    for argv in (["user", "list", "--db", str(letter)], ["user", "add", "x", "--role", "office",
                                                          "--password", "long-enough-1", "--db", str(letter)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: --db {letter}: not a readable township store") and "Traceback" not in err
    assert letter.read_text() == "a letter, not a database"
    for argv in (["user", "list"], ["grid", "list"], ["setting"], ["serve", "--port", "1"],
                 ["erase", "case", "c1", "--request", "R1"]):
        assert main([*argv, "--db", str(tmp_path / "tyop.db")]) == 1
        assert "no store there" in capsys.readouterr().err
    assert not (tmp_path / "tyop.db").exists()
    assert main(["user", "list", "--db", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err


def _commands(p, prefix=()):
    for action in p._subparsers._group_actions if p._subparsers else ():
        for name, sub in action.choices.items():
            if sub._subparsers:
                yield from _commands(sub, (*prefix, name))
            else:
                yield " ".join((*prefix, name))


def test_every_command_is_in_the_readme():
    text = README.read_text()
    missing = [c for c in _commands(parser()) if
               not re.search(rf"gridbook {re.escape(c)}\b", text)]
    assert missing == []


def test_setting_shows_and_changes_the_townships_far_visit_threshold(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    CentralStore(db).close()
    assert main(["setting", "--db", db]) == 0
    assert "far_m = 300.0" in capsys.readouterr().out
    assert main(["setting", "far_m", "500", "--db", db]) == 0
    assert CentralStore(db).settings()["far_m"] == 500.0
    assert main(["setting", "far_m", "a lot", "--db", db]) == 1
    assert main(["setting", "nothing", "1", "--db", db]) == 1
