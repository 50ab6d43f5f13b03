"""What goes onto the phone: pure Python, no server-only packages, the permission it needs."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_ONLY = ("fastapi", "uvicorn", "starlette", "orjson", "flet_web", "openpyxl")
# The two folders that never reach a phone (and township.py, which composes them).
SERVER_PACKAGES = ("sync.server", "fieldapp.office", "township")


def _modules(folder: str, skip: str) -> list[str]:
    out = []
    for f in sorted((ROOT / folder).rglob("*.py")):
        rel = f.relative_to(ROOT).with_suffix("")
        if skip in rel.parts or f.name == "__main__.py":
            continue
        out.append(".".join(rel.parts).removesuffix(".__init__"))
    return out


# Every module that is packaged onto a phone: all of sync/ and fieldapp/ but the server's folders.
PHONE_MODULES = tuple(_modules("sync", "server") + _modules("fieldapp", "office"))

BLOCKER = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {SERVER_ONLY!r} or name.startswith({SERVER_PACKAGES!r}):
            raise ImportError('phone code imported server-only module ' + name)
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
    assert {"sync/server", "fieldapp/office", "township.py"} <= set(flet["app"]["exclude"])
    assert (ROOT / f"{flet['app']['module']}.py").exists()
    deps = " ".join(conf["project"]["dependencies"])
    assert not any(pkg in deps for pkg in ("fastapi", "uvicorn", "orjson"))
    assert all(f"{p}==1.0.5" in deps for p in ("flet", "flet-geolocator", "flet-map"))


def _imports(path: Path) -> set[str]:
    """Every module a file imports, relative imports made absolute."""
    import ast
    package = list(path.relative_to(ROOT).parent.parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)
    return names


def test_no_import_arrow_runs_both_ways_between_server_and_screens():
    """sync/server never imports the screens (township.py composes them), and the phone's
    code never imports the server's folders."""
    for f in (ROOT / "sync").rglob("*.py"):
        assert not {m for m in _imports(f) if m.startswith(("fieldapp", "township"))}, f
    for f in (ROOT / "fieldapp").rglob("*.py"):
        if "office" not in f.parts:
            assert not {m for m in _imports(f) if m.startswith(SERVER_PACKAGES)}, f
    assert len(PHONE_MODULES) > 20


def test_every_character_the_screens_use_is_in_the_fonts_the_pages_load():
    """A character outside the app's CJK font shows as a box on a phone with no signal;
    one outside the fallback font makes the office page ask for a file it cannot get
    (assets/fonts/make_fallback.py rebuilds it)."""
    import importlib.util

    from fontTools.ttLib import TTFont
    spec = importlib.util.spec_from_file_location("make_fallback", ROOT / "assets" / "fonts" / "make_fallback.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    used = make.ui_characters()
    main = TTFont(ROOT / "assets" / "fonts" / "NotoSansSC-GBK.otf").getBestCmap()
    fallback = TTFont(ROOT / "assets" / "fonts" / "ui-fallback.woff2").getBestCmap()
    assert sorted(c for c in used if ord(c) not in main) == []
    assert sorted(c for c in used if ord(c) not in fallback) == []
    assert len(used) > 500
