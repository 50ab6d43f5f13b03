"""`gridbook`: a thin shell over the library; each command opens a store and calls one
method. Server-only modules are imported inside the commands that need them, so the
phone-side package never pulls them in."""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import os
import sqlite3
import sys


def _password(args, prompt="Password: ", confirm: bool = False) -> str:
    """--password, else $GRIDBOOK_PASSWORD, else a line of standard input, else asked at
    the terminal (twice when `confirm`: a new password mistyped once locked its person out)."""
    if getattr(args, "password", None):
        return args.password
    env = os.environ.get("GRIDBOOK_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if line:
            return line
        # no terminal to ask at (a script, ssh without a tty): a traceback said nothing
        raise SystemExit("error: no password given: use --password, $GRIDBOOK_PASSWORD or a line on standard input")
    try:
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("Again: ") != first:
            raise SystemExit("error: the two passwords differ: nothing was changed")
    except (EOFError, KeyboardInterrupt):
        raise SystemExit("error: no password given") from None
    return first


def _store(args, create: bool = False):
    """The store at --db. Only the commands that set a township up (`grid add`, `user
    add`) make one where there is none: a mistyped path given to any other command made
    a new empty township, and `serve` served it to the phones."""
    from .central import CentralStore
    if not create:
        store_must_exist(args.db)
    return CentralStore(args.db)


def store_must_exist(path: str) -> None:
    if os.path.isdir(path):
        raise ValueError(f"--db {path}: is a folder, not a township store")
    if not os.path.exists(path):
        raise ValueError(f"--db {path}: no store there (a township's store is made by `gridbook grid add` and"
                         " `gridbook user add`, the demo's by `gridbook demo`)")


# How long a stop waits for open connections before it closes them: a browser tab of
# the office's left open on a laptop gone to sleep (a websocket that never answers the
# close) held the server's shutdown for ever, until systemd killed it.
SHUTDOWN_GRACE_S = 10


def cmd_serve(args) -> int:
    import uvicorn
    from .app import create_app
    if not getattr(args, "backup", None):   # with a backup, a missing store may be one to restore: backup.py says
        store_must_exist(args.db)
    watcher = None
    if getattr(args, "backup", None):
        from . import backup
        target = backup.parse_target(args.backup, args.s3_endpoint, args.s3_region, args.s3_path_style)
        if not backup.under_litestream():
            # Litestream becomes this process and runs the same command as its child.
            backup.exec_under_litestream(args.db, target, _serve_argv(args))
        watcher = backup.BackupWatcher(args.db, target)
    app = create_app(args.db, ui=args.ui, write_process=True)
    if watcher is not None:
        app.state.backup = watcher.start()
        print(f"backed up continuously to {target.describe()} (Litestream)", flush=True)
    print(f"Gridbook township server on http://{args.host}:{args.port}  (store: {args.db})", flush=True)
    # The client's address (the sign-in throttle keys on it) comes from the proxy's
    # X-Forwarded-For only when that proxy is named: anyone else could forge it.
    proxies = ",".join(args.trusted_proxy or [])
    # What start-up made (modules, routes, the model) lives as long as the server: out of
    # the cyclic collector's reach, so a full collection during a wave of pushes walks
    # only what the wave made (collections took 0.26 s over a start and a 1,000-phone
    # wave, 0.14 s with this; docs/performance.md).
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None, server_header=False,
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    return 0


def _serve_argv(args) -> list[str]:
    """This serve command again, as Litestream starts it (`litestream replicate -exec`)."""
    argv = [sys.executable, "-m", "township", "serve", "--db", os.path.abspath(args.db), "--host", args.host,
            "--port", str(args.port), "--log-level", args.log_level, "--backup", args.backup]
    for proxy in args.trusted_proxy or []:
        argv += ["--trusted-proxy", proxy]
    if args.s3_endpoint:
        argv += ["--s3-endpoint", args.s3_endpoint]
    if args.s3_region:
        argv += ["--s3-region", args.s3_region]
    if args.s3_path_style:
        argv.append("--s3-path-style")
    return argv


def cmd_restore(args) -> int:
    """Bring the store and its attachments back from the backup: one JSON line."""
    from . import backup
    target = backup.parse_target(args.from_url, args.s3_endpoint, args.s3_region, args.s3_path_style)
    done = backup.restore(target, args.db, args.timestamp, force=args.force)
    print(json.dumps(done, ensure_ascii=False))
    if done["schema_now"] > done["schema_backed_up"]:
        # the way back from an upgrade: this version's restore made a store only it can serve
        print(f"the store was backed up at schema version {done['schema_backed_up']} and this Gridbook brought it "
              f"to {done['schema_now']}: serve it with this version. To go back to the version before an "
              "upgrade, install that version and run ITS gridbook restore instead", file=sys.stderr)
    if args.timestamp:
        print("restored to a point in time: serve it with a NEW --backup location (the old one holds "
              "the later history)", file=sys.stderr)
    return 0


def cmd_doctor(args) -> int:
    """Check the store; non-zero exit when something needs doing (sync/server/doctor.py)."""
    from . import doctor
    return doctor.main(args)


def _operator() -> str:
    """Who did it, on the audit trail: the console and the OS account it was typed at
    (the trail said "system" for every account disabled, password set or grid given)."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):   # a container's user without a name
        who = f"uid{os.getuid()}"
    return f"console:{who}"[:40]


def cmd_user_add(args) -> int:
    _store(args, create=True).add_account(args.username, args.name or args.username, args.role,
                             _password(args, "Password for the new account: ", confirm=True), args.grid or [],
                             by=_operator())
    print(f"added {args.role} {args.username}")
    return 0


def _when(ms: int | None) -> str:
    """A time kept in milliseconds, as the township reads it."""
    import datetime as dt
    from ..households import CST
    return dt.datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d %H:%M") if ms else "never"


def cmd_user_list(args) -> int:
    from .central import OFFICE_DEVICE_PREFIX
    st = _store(args)
    rows, devices = st.accounts(), st.live_devices()
    if not rows:
        print("no accounts yet: add one with 'gridbook user add'")
    for a in rows:
        print(f"{a['username']:<16} {a['role']:<12} {','.join(a['grids']) or '-':<24} "
              f"{a['devices']} device(s){'' if a['active'] else '  (disabled)'}")
        # the ids `gridbook user revoke --device` takes: a lost phone is told by when it last synced
        for device, seen in devices.get(a["username"], ()):
            kind = "office browser" if device.startswith(OFFICE_DEVICE_PREFIX) else "device"
            print(f"    {kind} {device}  last seen {_when(seen)}")
    return 0


def cmd_user_revoke(args) -> int:
    st = _store(args)
    if st.account(args.username) is None:
        raise SystemExit(f"error: no account named {args.username}")
    n = st.revoke(args.username, args.device, by=_operator())
    print(f"revoked {n} device token(s) of {args.username} (office browsers signed in as it are signed out too)")
    return 0


def cmd_user_disable(args) -> int:
    n = _store(args).set_active(args.username, False, by=_operator())
    print(f"disabled {args.username}: {n} sign-in(s) ended (phones and office browsers)")
    return 0


def cmd_user_enable(args) -> int:
    _store(args).set_active(args.username, True, by=_operator())
    print(f"enabled {args.username}: the account may sign in again")
    return 0


def cmd_user_password(args) -> int:
    st = _store(args)
    if st.account(args.username) is None:
        raise SystemExit(f"error: no account named {args.username}")
    n = st.set_password(args.username, _password(args, "New password: ", confirm=True), by=_operator())
    print(f"new password for {args.username}: {n} sign-in(s) ended; its phones keep what they hold"
          " unsent and send it once signed in again")
    return 0


def cmd_user_grids(args) -> int:
    st = _store(args)
    before = set((st.account(args.username) or {}).get("grids") or [])
    st.set_grids(args.username, args.grid or [], by=_operator())
    print(f"{args.username} now covers {', '.join(args.grid or []) or 'no grid'}")
    lost = sorted(before - set(args.grid or []))
    devices = st.live_devices(args.username).get(args.username, [])
    if lost and devices:
        # the account's phones are refused what they recorded in those grids and have not
        # sent yet (the write rules judge the grids held now): it waits on them, refused
        seen = ", ".join(f"{d} {_when(ms)}" for d, ms in devices)
        print(f"note: work recorded in {', '.join(lost)} since a phone's last sync ({seen}) and not sent yet"
              f" will be refused: give the grid back until those phones have synced, then take it away")
    return 0


def cmd_setting(args) -> int:
    st = _store(args)
    if args.name:
        if args.value is None:
            raise ValueError(f"give a value: gridbook setting {args.name} VALUE")
        st.set_setting(args.name, args.value, by=_operator())
    for name, value in st.settings().items():
        print(f"{name} = {value}")
    return 0


def cmd_household_import(args) -> int:
    from .roster import import_command
    return import_command(args)


def cmd_tiles_import(args) -> int:
    from .tiles import import_command
    return import_command(args)


def cmd_grid_add(args) -> int:
    _store(args, create=True).add_grid(args.grid_id, args.name, args.village, args.township, args.lat, args.lon)
    print(f"added grid {args.grid_id}")
    return 0


def cmd_grid_list(args) -> int:
    st = _store(args)
    rows = st.conn.execute("SELECT id, name, village, township FROM grids ORDER BY id").fetchall()
    if not rows:
        print("no grids yet: add one with 'gridbook grid add'")
    for r in rows:
        print(f"{r[0]:<12} {r[1]:<16} {r[2]:<12} {r[3]}")
    return 0


def cmd_sync(args) -> int:
    from ..client import SyncClient
    from ..device import DeviceReplica
    from ..errors import SyncError
    replica = DeviceReplica.in_folder(args.data)
    client = SyncClient(replica, args.server)
    try:
        if args.user or not client.signed_in:
            if not args.user:
                raise SystemExit("error: this data folder has not signed in yet: pass --user")
            client.login(args.user, _password(args))
        report = client.sync(progress=None if args.quiet else
                             lambda p: print(json.dumps(p), file=sys.stderr))
        # photos and voice notes after the records, never holding them back
        sent = client.send_attachments(on_wifi=not args.metered)
    except SyncError as e:
        print(f"sync failed: {e.message}", file=sys.stderr)
        return 2
    print(json.dumps({**report.as_dict(), "attachments": sent}))
    for q in replica.quarantined():
        print(f"quarantined {q['entity']} {q['record']}: {q['reason']}", file=sys.stderr)
    return 0


def cmd_erase(args) -> int:
    """Erase a person's personal data (PIPL art. 47): one JSON line of what was done."""
    from .erasure import erase, erasure_plan, check
    st = _store(args)
    check(st, args.entity, args.record_id, args.reason, args.request or "")
    if args.dry_run:
        print(json.dumps({"dry_run": True, **erasure_plan(st, args.entity, args.record_id)}))
        return 0
    by = args.by or _operator()
    print(json.dumps(erase(st, args.entity, args.record_id, by, args.reason, args.request or "")))
    return 0


def cmd_retention_apply(args) -> int:
    """The township's retention rule (setting retention_years): one JSON line."""
    from .retention import apply
    print(json.dumps(apply(_store(args), dry_run=args.dry_run, by=_operator())))
    return 0


def cmd_demo(args) -> int:
    from .demo import seed
    info = seed(args.db)
    print(json.dumps(info, ensure_ascii=False, indent=1))
    return 0


def _s3_options(sp) -> None:
    sp.add_argument("--s3-endpoint", metavar="URL", help="an S3-compatible service (MinIO): http://host:9000 "
                                                        "(default: $GRIDBOOK_S3_ENDPOINT)")
    sp.add_argument("--s3-region", help="the bucket's region (default: $GRIDBOOK_S3_REGION, else us-east-1)")
    sp.add_argument("--s3-path-style", action="store_true", help="bucket in the path (MinIO; implied by an endpoint)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gridbook", description="Gridbook (网格台账) township server and tools")
    sub = p.add_subparsers(dest="cmd", required=True)
    default_db = os.environ.get("GRIDBOOK_DB", "gridbook.db")

    def with_db(sp):
        sp.add_argument("--db", default=default_db, help="central store file (default: $GRIDBOOK_DB or gridbook.db)")
        return sp

    s = with_db(sub.add_parser("serve", help="run the township server"))
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--log-level", default="info")
    s.add_argument("--trusted-proxy", action="append", metavar="ADDRESS",
                   help="the reverse proxy's address, whose X-Forwarded-For names the client (repeatable)")
    s.add_argument("--backup", metavar="URL", default=os.environ.get("GRIDBOOK_BACKUP_URL"),
                   help="back the store up continuously with Litestream to a folder (path or file:///path) "
                        "or s3://bucket/prefix (default: $GRIDBOOK_BACKUP_URL); see docs/deploy.md")
    _s3_options(s)
    s.set_defaults(fn=cmd_serve)

    s = with_db(sub.add_parser("restore", help="bring the store (and its attachments) back from the backup"))
    s.add_argument("--from", dest="from_url", required=True, metavar="URL", help="the backup: folder or s3:// URL")
    s.add_argument("--timestamp", help="the store as it was at this time (ISO; without a zone: China Standard Time)")
    s.add_argument("--force", action="store_true", help="an existing store is moved aside (PATH.replaced-<time>)")
    _s3_options(s)
    s.set_defaults(fn=cmd_restore)

    s = with_db(sub.add_parser("doctor", help="check the store: integrity, WAL, disk, backup lag, permissions"))
    s.add_argument("--backup", metavar="URL", default=os.environ.get("GRIDBOOK_BACKUP_URL"),
                   help="the backup to check the lag of (default: $GRIDBOOK_BACKUP_URL)")
    s.add_argument("--json", action="store_true", help="one JSON line instead of sentences")
    _s3_options(s)
    s.set_defaults(fn=cmd_doctor)

    user = sub.add_parser("user", help="accounts").add_subparsers(dest="sub", required=True)
    s = with_db(user.add_parser("add", help="add an account"))
    s.add_argument("username")
    s.add_argument("--name")
    s.add_argument("--role", required=True, choices=["grid_worker", "leader", "office", "admin"])
    s.add_argument("--grid", action="append", help="a grid the account covers (repeatable)")
    s.add_argument("--password", help="else $GRIDBOOK_PASSWORD, standard input, or a prompt")
    s.set_defaults(fn=cmd_user_add)
    s = with_db(user.add_parser("list", help="list accounts"))
    s.set_defaults(fn=cmd_user_list)
    s = with_db(user.add_parser("grids", help="give an account other grids"))
    s.add_argument("username")
    s.add_argument("--grid", action="append", help="a grid the account covers (repeatable)")
    s.set_defaults(fn=cmd_user_grids)
    s = with_db(user.add_parser("disable", help="disable an account: every sign-in ends at once"))
    s.add_argument("username")
    s.set_defaults(fn=cmd_user_disable)
    s = with_db(user.add_parser("enable", help="let a disabled account sign in again"))
    s.add_argument("username")
    s.set_defaults(fn=cmd_user_enable)
    s = with_db(user.add_parser("password", help="set a new password: every sign-in of the account ends"))
    s.add_argument("username")
    s.add_argument("--password", help="else $GRIDBOOK_PASSWORD, standard input, or a prompt")
    s.set_defaults(fn=cmd_user_password)
    s = with_db(user.add_parser("revoke", help="cut off an account's devices (a lost phone)"))
    s.add_argument("username")
    s.add_argument("--device", help="only this device id")
    s.set_defaults(fn=cmd_user_revoke)

    grid = sub.add_parser("grid", help="grids").add_subparsers(dest="sub", required=True)
    s = with_db(grid.add_parser("add", help="add a grid"))
    s.add_argument("grid_id")
    s.add_argument("--name", required=True)
    s.add_argument("--village", required=True)
    s.add_argument("--township", required=True)
    s.add_argument("--lat", type=float)
    s.add_argument("--lon", type=float)
    s.set_defaults(fn=cmd_grid_add)
    s = with_db(grid.add_parser("list", help="list grids"))
    s.set_defaults(fn=cmd_grid_list)

    s = sub.add_parser("sync", help="sync a device data folder with the server")
    s.add_argument("--data", required=True, help="the device's data folder")
    s.add_argument("--server", required=True, help="e.g. http://127.0.0.1:8080")
    s.add_argument("--user", help="sign in as this account first")
    s.add_argument("--password")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--metered", action="store_true",
                   help="the link is not Wi-Fi: photos wait if the device keeps them for Wi-Fi")
    s.set_defaults(fn=cmd_sync)

    household = sub.add_parser("household", help="households").add_subparsers(dest="sub", required=True)
    s = with_db(household.add_parser("import", help="import a roster (.xlsx or .csv): one JSON line of counts"))
    s.add_argument("file")
    s.add_argument("--grid", help="the grid of rows that name none")
    s.add_argument("--report", help="write every refused row with its reasons to this .xlsx")
    s.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    s.set_defaults(fn=cmd_household_import)

    tiles_cmd = sub.add_parser("tiles", help="the township's base map").add_subparsers(dest="sub", required=True)
    s = with_db(tiles_cmd.add_parser("import", help="load an MBTiles or PMTiles extract"))
    s.add_argument("file")
    s.add_argument("--crs", choices=["wgs84", "gcj02"],
                   help="the tiles' coordinate system (sets the township's tiles_crs; GCJ-02 for most Chinese providers)")
    s.set_defaults(fn=cmd_tiles_import)

    s = with_db(sub.add_parser("setting", help="show the township's settings, or change one (far_m: the far-visit threshold)"))
    s.add_argument("name", nargs="?")
    s.add_argument("value", nargs="?")
    s.set_defaults(fn=cmd_setting)

    s = with_db(sub.add_parser("demo", help="fill a new store with the demo township"))
    s.set_defaults(fn=cmd_demo)

    s = with_db(sub.add_parser("erase", help="erase a person's personal data: a household (with its visits and "
                                            "matters) or a matter, everywhere, phones included at their next sync"))
    s.add_argument("entity", choices=["household", "case"])
    s.add_argument("record_id")
    s.add_argument("--reason", default="request", choices=["request", "retention", "purpose", "withdrawn", "unlawful"],
                   help="why (kept on the tombstone): request = the person asked (PIPL art. 47)")
    s.add_argument("--request", help="the request's reference number (letters, digits, _.:-; never a name)")
    s.add_argument("--by", help="who erases, kept on the tombstone and the audit trail (default: console:<OS user>)")
    s.add_argument("--dry-run", action="store_true", help="say what would be erased, change nothing")
    s.set_defaults(fn=cmd_erase)

    retention = sub.add_parser("retention", help="the retention rule (setting retention_years)").add_subparsers(
        dest="sub", required=True)
    s = with_db(retention.add_parser("apply", help="erase the personal fields of matters closed more than "
                                                   "retention_years ago: one JSON line"))
    s.add_argument("--dry-run", action="store_true", help="say what would be erased, change nothing")
    s.set_defaults(fn=cmd_retention_apply)
    return p


def main(argv: list[str] | None = None, ui=None) -> int:
    """`ui`: the office's screens to mount at / of `gridbook serve` (township.py gives
    them); without it the server answers the API alone."""
    args = parser().parse_args(argv)
    args.ui = ui
    try:
        return args.fn(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as e:   # one line, not a traceback: the file is not a store, or is damaged
        from .doctor import not_the_files_fault
        db = getattr(args, "db", "") or ""
        why = not_the_files_fault(db, e) if db else None
        print(f"error: --db {db}: " + (why or f"not a readable township store ({e})"), file=sys.stderr)
        return 1
    except OSError as e:   # a folder that does not exist, a file that may not be written
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
