"""What goes onto the phone: pure Python, no server-only packages, the permission it needs."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_ONLY = ("fastapi", "uvicorn", "starlette", "orjson", "flet_web")
PHONE_MODULES = ("fieldapp.app", "fieldapp.phone", "fieldapp.screens.shell", "sync.client",
                 "sync.device", "sync.workspace", "sync.queries")

BLOCKER = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {SERVER_ONLY!r}:
            raise ImportError('phone code imported server-only package ' + name)
sys.meta_path.insert(0, Block())
"""


def test_phone_modules_import_without_any_server_only_package():
    code = BLOCKER + "".join(f"import {m}\n" for m in PHONE_MODULES) + "print('ok')"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


def test_packaging_asks_for_location_and_leaves_server_code_out():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    flet = conf["tool"]["flet"]
    assert "location" in flet["permissions"]
    assert flet["android"]["permission"]["android.permission.ACCESS_FINE_LOCATION"] is True
    assert "sync/server.py" in flet["app"]["exclude"]
    assert (ROOT / f"{flet['app']['module']}.py").exists()
    deps = " ".join(conf["project"]["dependencies"])
    assert not any(pkg in deps for pkg in ("fastapi", "uvicorn", "orjson"))
    assert all(f"{p}==1.0.5" in deps for p in ("flet", "flet-geolocator", "flet-map"))
