"""`make demo`: seed the demo township (once), run the township server, and run a
second process playing a grid worker's phone with its own replica; say where and who."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from .demo import ACCOUNTS, DEMO_PASSWORD, seed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--phone-port", type=int, default=8550)
    ap.add_argument("--phone-data", default=None)
    args = ap.parse_args()
    seed(args.db)
    url = f"http://{args.host}:{args.port}"
    phone_url = f"http://{args.host}:{args.phone_port}"
    phone_data = args.phone_data or os.path.join(os.path.dirname(args.db) or ".", "phone-wangfang")
    print(f"""
Gridbook demo — 金山镇 (白鹤村, 高山村, 丰龙村)
  township server : {url}   (the office's ledger in a browser: sign in as xinfang;
                    API docs: {url}/docs, health: {url}/api/v1/health)
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
        from .server import create_app
        uvicorn.run(create_app(args.db, ui=True), host=args.host, port=args.port, log_level="warning")
    finally:
        phone.terminate()
        phone.wait(10)


if __name__ == "__main__":
    main()
