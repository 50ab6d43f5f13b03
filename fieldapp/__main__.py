"""`python -m fieldapp`: run the app as a phone with its own data folder, served to a
browser on this machine (the demo's "grid worker's phone", and the browser tests)."""

from __future__ import annotations

import argparse
import os

from .phone import Phone, default_data_dir


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m fieldapp")
    ap.add_argument("--data", default=default_data_dir(), help="the phone's data folder")
    ap.add_argument("--server", help="township server, e.g. http://127.0.0.1:8080")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8550)
    ap.add_argument("--tiles", help="map tile URL template (default: none, markers only)")
    args = ap.parse_args()
    phone = Phone(args.data, args.server, tile_url=args.tiles,
                  interval_s=float(os.environ.get("GRIDBOOK_SYNC_INTERVAL", 60)),
                  max_pause_s=float(os.environ.get("GRIDBOOK_SYNC_MAX_PAUSE", 60)))
    import uvicorn
    from .app import asgi_app
    print(f"Gridbook phone app on http://{args.host}:{args.port}  (data: {args.data})", flush=True)
    uvicorn.run(asgi_app(phone), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
