"""Rebuild assets/fonts/ui-fallback.woff2: the characters the screens are written with,
cut from the app's own CJK font (NotoSansSC-GBK.otf).

Flutter's web engine asks for Noto Sans SC "fallback slices" while it lays out some
text (a text field taking the focus, for one) even when the page's font covers it; the
server answers every such request with this small font (fieldapp/webserve.py) rather
than a 404. Run it after adding words to the screens (a test says when):

    pip install fonttools brotli && python assets/fonts/make_fallback.py
"""

from __future__ import annotations

import glob
import os

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def ui_characters() -> set[str]:
    """Every character beyond ASCII in the string literals of the screens and the rules
    (what can reach a screen; comments cannot)."""
    import io
    import tokenize
    chars = set()
    for path in glob.glob(os.path.join(ROOT, "fieldapp", "**", "*.py"), recursive=True) + glob.glob(
            os.path.join(ROOT, "sync", "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as f:
            source = f.read()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)):
                chars |= {c for c in tok.string if ord(c) > 127}
    return chars


def build() -> str:
    font = TTFont(os.path.join(HERE, "NotoSansSC-GBK.otf"))
    cmap = font.getBestCmap()
    wanted = [ord(c) for c in ui_characters() if ord(c) in cmap] + list(range(32, 127))
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    sub = subset.Subsetter(options)
    sub.populate(unicodes=wanted)
    sub.subset(font)
    font.flavor = "woff2"
    out = os.path.join(HERE, "ui-fallback.woff2")
    font.save(out)
    return out


if __name__ == "__main__":
    print(build())
