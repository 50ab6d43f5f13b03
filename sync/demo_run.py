"""`make demo`: seed the demo township (once) and run the server, saying where and who."""

from __future__ import annotations

import argparse

from .demo import ACCOUNTS, DEMO_PASSWORD, seed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    seed(args.db)
    url = f"http://{args.host}:{args.port}"
    print(f"""
Gridbook demo — 金山镇 (白鹤村, 高山村, 丰龙村)
  township server : {url}   (API docs: {url}/docs, health: {url}/api/v1/health)
  central store   : {args.db}
  logins (password for all: {DEMO_PASSWORD}):""")
    for username, name, role, grids in ACCOUNTS:
        print(f"    {username:<10} {role:<12} {name}  {' '.join(grids)}")
    print(f"""  a phone's sync from the command line:
    gridbook sync --data demo-data/phone-wangfang --server {url} --user wangfang
Stop with Ctrl+C.
""", flush=True)
    import uvicorn
    from .server import create_app
    uvicorn.run(create_app(args.db), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
