"""The fonts a generated page is drawn with, and where each comes from (Debian package or data/fonts)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from pipeline.errors import MissingDependency
from pipeline.paths import FONTS_DIR

_DEB = Path("/usr/share/fonts/truetype")

#: name -> (file, where it comes from). Names, not paths, go into truth.json so a truth file
#: does not depend on the machine that made it.
FONTS: dict[str, tuple[Path, str]] = {
    "LiberationSerif": (_DEB / "liberation2/LiberationSerif-Regular.ttf", "fonts-liberation2"),
    "LiberationSerif-Bold": (_DEB / "liberation2/LiberationSerif-Bold.ttf", "fonts-liberation2"),
    "LiberationSans-Bold": (_DEB / "liberation2/LiberationSans-Bold.ttf", "fonts-liberation2"),
    "FreeMono": (_DEB / "freefont/FreeMono.ttf", "fonts-freefont-ttf"),
    "LiberationMono": (_DEB / "liberation2/LiberationMono-Regular.ttf", "fonts-liberation2"),
    "PatrickHand": (FONTS_DIR / "PatrickHand_400Regular.ttf", "data/fonts (OFL)"),
    "Itim": (FONTS_DIR / "Itim_400Regular.ttf", "data/fonts (OFL)"),
    "Mali": (FONTS_DIR / "Mali_400Regular.ttf", "data/fonts (OFL)"),
    "Sriracha": (FONTS_DIR / "Sriracha_400Regular.ttf", "data/fonts (OFL)"),
}

LABEL_FONT = "LiberationSerif"
TITLE_FONT = "LiberationSerif-Bold"
TYPEWRITER_FONTS = ("FreeMono", "LiberationMono")
HAND_FONTS = ("PatrickHand", "Itim", "Mali", "Sriracha")


def vietnamese_letters() -> str:
    """Every letter a Vietnamese name or place can contain: 12 vowels × 6 tones × 2 cases, đ/Đ."""
    letters = set("đĐbcdghklmnpqrstvxBCDGHKLMNPQRSTVX")
    for base in "aăâeêioôơuưy":
        for tone in ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"):
            syllable = unicodedata.normalize("NFC", base + tone)
            letters.update((syllable, syllable.upper()))
    return "".join(sorted(letters))


def font_path(name: str) -> Path:
    path, source = FONTS[name]
    if not path.is_file():
        if source.startswith("data/"):
            hint = f"tệp {path.name} phải có trong data/fonts/ của kho mã"
        else:
            hint = f"cài gói Debian: apt-get install {source}"
        raise MissingDependency(f"Thiếu phông chữ {path.name}", hint=hint)
    return path


@lru_cache(maxsize=256)
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    # Basic layout: NFC text maps to precomposed glyphs, and the result does not depend on
    # whether this Pillow was built with libraqm.
    return ImageFont.truetype(str(font_path(name)), size, layout_engine=ImageFont.Layout.BASIC)


def missing_glyphs(name: str, text: str | None = None) -> str:
    """Characters of ``text`` (default: all Vietnamese letters) the font has no glyph for."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(font_path(name)), lazy=True).getBestCmap()
    text = vietnamese_letters() if text is None else unicodedata.normalize("NFC", text)
    return "".join(sorted({ch for ch in text if not ch.isspace() and ord(ch) not in cmap}))
