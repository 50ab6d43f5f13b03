"""The browser-served app's patched client files: kept once per flet-web build in a
folder private to the user, never one more folder per start (fieldapp/webserve.py)."""

import os
import tempfile
import time

import pytest

from fieldapp import webserve


@pytest.fixture
def temp(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_every_start_reuses_one_private_copy_of_the_client(temp):
    first = webserve._patched_client()
    for _ in range(3):  # three more starts of the office or the phone in a browser
        assert webserve._patched_client() == first
    assert sorted(os.listdir(temp)) == [f"gridbook-web-{os.getuid()}"]
    folder = temp / f"gridbook-web-{os.getuid()}"
    assert sorted(os.listdir(folder)) == sorted(os.path.basename(p) for p in first.values())
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)
    for path in first.values():
        data = open(path, "rb").read()
        assert webserve.RIVE_LOCAL in data and webserve.RIVE_CDN not in data
        assert oct(os.stat(path).st_mode & 0o077) == oct(0)


def test_a_damaged_copy_is_written_again(temp):
    files = webserve._patched_client()
    js = files["/main.dart.js"]
    good = open(js, "rb").read()
    with open(js, "wb") as f:
        f.write(good[: len(good) // 2])  # a copy cut short (a full disk, a crash)
    assert webserve._patched_client() == files
    assert open(js, "rb").read() == good


def test_a_folder_others_can_write_to_is_not_served_from(temp):
    shared = temp / f"gridbook-web-{os.getuid()}"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)  # as if another account had made it for us
    files = webserve._patched_client()
    assert all(not p.startswith(str(shared) + os.sep) for p in files.values())
    assert os.listdir(shared) == []


def test_the_folders_earlier_versions_left_are_swept_once_unused_for_a_week(temp):
    week_ago = time.time() - 8 * 86_400
    old, recent, read = (temp / "gridbook-web-k2j4x_9q"), (temp / "gridbook-web-00mzbr0s"), (temp / "gridbook-web-a1b2c3d4")
    for folder in (old, recent, read):
        folder.mkdir()
        (folder / "main.dart.js").write_bytes(b"client")
    for folder in (old, read):
        os.utime(folder / "main.dart.js", (week_ago, week_ago))
        os.utime(folder, (week_ago, week_ago))
    os.utime(read / "main.dart.js", (time.time() - 3600, week_ago))  # a page loaded it an hour ago
    other = temp / "gridbook-web-notes.txt"  # not a folder a start made
    other.write_text("mine")
    os.utime(other, (week_ago, week_ago))
    webserve._patched_client()
    assert not old.exists()
    assert recent.exists() and read.exists() and other.exists()


NAMES_IN_SCRIPTS = {  # a name the office may register, by the fallback family Flutter asks for
    "notosansarabic": "ئابدۇرەھمان مەمەتىمىن",   # Uyghur
    "notosansmongolian": "ᠪᠠᠲᠦ",                   # Mongolian
    "notoseriftibetan": "བཀྲ་ཤིས་ཚེ་རིང་",          # Tibetan
    "notosansyi": "ꀉꂿꐯ",                          # Yi
}


def test_a_name_in_a_minority_script_gets_its_font_from_this_machine(temp):
    """Flutter's web engine asks for a fallback font when a name holds a script the
    page's font lacks; offline, unanswered, such a name showed as nothing on every screen
    (Uyghur, Tibetan, Mongolian). Each family it asks for is answered with a font that
    holds every letter of such a name."""
    import asyncio
    import io

    import flet_web
    import httpx
    from fontTools.ttLib import TTFont

    with open(os.path.join(flet_web.get_package_web_dir(), "main.dart.js"), "rb") as f:
        client = f.read()

    async def nothing_else(scope, receive, send):
        raise AssertionError(f"{scope['path']} reached the app")

    async def fetch(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=webserve.OfflineRive(nothing_else))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
            return await c.get(path)
    for family, name in NAMES_IN_SCRIPTS.items():
        assert f"{family}/".encode() in client, family   # the engine asks for it by this name
        r = asyncio.run(fetch(f"/assets/fonts/{family}/v22/AbC-x.woff2"))
        assert r.status_code == 200 and r.headers["content-type"] == "font/woff2", family
        cmap = TTFont(io.BytesIO(r.content)).getBestCmap()
        assert [c for c in name if not c.isspace() and ord(c) not in cmap] == [], family
