"""The township server as a command: `gridbook` (and `make demo`).

The composition root. The sync API and everything server-side live in `sync/server/`;
the office's screens live in `fieldapp/office/` and use the server's store. Neither
package imports the other's entry points: this module mounts the screens on the API,
so no import arrow runs both ways.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def office_ui(db_path: str, tickets, throttle, hub):
    """The office's screens (Flet, web mode) as an ASGI app, for `create_app(ui=...)`."""
    from fieldapp.office.app import office_asgi
    return office_asgi(db_path, tickets, throttle, hub)


def main(argv: list[str] | None = None) -> int:
    """`gridbook ...`: the server's commands, with `serve` showing the office's screens."""
    from sync.server.cli import main as cli_main
    return cli_main(argv, ui=office_ui)


def demo(argv: list[str] | None = None) -> None:
    """`make demo`: seed the demo township (once), run the township server, and run a
    second process playing a grid worker's phone with its own replica; say where and who."""
    from sync.server.demo import ACCOUNTS, DEMO_PASSWORD, seed
    ap = argparse.ArgumentParser(prog="township demo")
    ap.add_argument("--db", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--phone-port", type=int, default=8550)
    ap.add_argument("--phone-data", default=None)
    args = ap.parse_args(argv)
    seed(args.db)
    url = f"http://{args.host}:{args.port}"
    phone_url = f"http://{args.host}:{args.phone_port}"
    phone_data = args.phone_data or os.path.join(os.path.dirname(args.db) or ".", "phone-wangfang")
    print(f"""
Gridbook demo — 金山镇 (白鹤村, 高山村, 丰龙村)
  township server : {url}   (the office's ledger in a browser: sign in as xinfang;
                    health: {url}/api/v1/health, API description: {url}/openapi.json)
  a grid worker's phone (the app, in a browser): {phone_url}
      its own replica: {phone_data}/gridbook.db — sign in as wangfang
  logins (password for all: {DEMO_PASSWORD}):""")
    for username, name, role, grids in ACCOUNTS:
        print(f"    {username:<10} {role:<12} {name}  {' '.join(grids)}")
    print(f"""  sync a phone's data folder from the command line:
    gridbook sync --data demo-data/phone-cli --server {url} --user zhangwei
Stop with Ctrl+C.
""", flush=True)
    phone = subprocess.Popen([sys.executable, "-m", "fieldapp", "--data", phone_data, "--server", url,
                              "--host", args.host, "--port", str(args.phone_port)])
    try:
        import uvicorn
        from sync.server.app import create_app
        from sync.server.cli import SHUTDOWN_GRACE_S
        uvicorn.run(create_app(args.db, ui=office_ui, write_process=True), host=args.host, port=args.port,
                    log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    finally:
        phone.terminate()
        phone.wait(10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["demo-run"]:
        demo(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
