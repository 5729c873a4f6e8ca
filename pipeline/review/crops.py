"""Page images and field crops for the review screen, rendered from the stored scan.

The original scan is never touched: a page is rendered again from it (the same
``single_page_bytes`` / ``render_page`` the OCR used, so boxes line up), and what is shown is
cached under ``$HOTICH_HOME/cache/review/``, named by the scan's SHA-256, the page's index in
it and the box, so a cached file can never be stale. Paths are built only from ids the
database holds; nothing from the request becomes part of a path.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipeline.errors import NotFound, UnreadableFile
from pipeline.scans import render_page, single_page_bytes
from pipeline.settings import Settings
from pipeline.storage.models import Page, SourceFile

#: Pixels around a field's box, so the crop shows the ink that leaks out of it and the
#: start of the printed label.
MARGIN = (60, 14)
JPEG_QUALITY = 85
#: Height in screen pixels that a field's box (the written value, ascenders and Vietnamese
#: marks included) is scaled to. The crop is shown at its own size, never shrunk to the row:
#: 42 px puts the x-height of typed and hand-written values at about 20 px, above the 18 px a
#: reviewer reads without opening the whole page (issue 19 §1); at the row's width a
#: full-width field such as Nơi sinh came out about 7 px high.
CROP_BOX_PX = 42
#: Kept right of the last written stroke, in box heights: the end of the value and a little
#: paper, so a reviewer sees nothing was cut off.
TRAIL = 1.0
#: A crop is trimmed only when that drops at least this share of its width; a value that
#: fills its box is shown whole.
MIN_TRIM = 0.15
CROP_RULE = "t1"  # in the cache name: a crop cut by an older rule is never served

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def cache_dir(settings: Settings) -> Path:
    return settings.home / "cache" / "review"


def _page_key(source: SourceFile, page: Page, dpi: int) -> str:
    return f"{source.sha256[:24]}-{page.index_in_file}-{dpi}"


def _scan_path(settings: Settings, source: SourceFile) -> Path:
    path = Path(source.stored_path)
    return path if path.is_absolute() else settings.home / path


def _atomic_save(image: Image.Image, target: Path, **params) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{threading.get_ident()}.tmp")
    image.save(tmp, **params)
    tmp.replace(target)


def _full_page(settings: Settings, page: Page, source: SourceFile) -> tuple[Path, float]:
    """The page rendered at full resolution (cached), and the factor from box pixels to it."""
    dpi = page.dpi or settings.render_dpi
    key = _page_key(source, page, dpi)
    target = cache_dir(settings) / "pages" / f"{key}.png"
    with _lock(key):
        if not target.exists():
            path = _scan_path(settings, source)
            if not path.is_file():
                raise NotFound(f"Không tìm thấy tệp quét của trang {page.id}")
            data = single_page_bytes(path, source.media_type, page.index_in_file)
            array = render_page(data, source.media_type, name=f"trang {page.id}", dpi=dpi,
                                max_pixels=settings.max_pixels)
            # PNG level 1: lossless (fine strokes of diacritics matter) and quick to write.
            _atomic_save(Image.fromarray(array), target, format="PNG", compress_level=1)
    with Image.open(target) as image:  # reads the header only
        width = image.width
    scale = width / page.width if page.width else 1.0
    return target, scale


class _Recent:
    """The last few decoded pages, so the dozen crops of one record decode the page once
    (a 300 dpi A4 page takes ~100 ms to decode; a crop from memory takes ~1 ms)."""

    def __init__(self, size: int = 3):
        self.size = size
        self._lock = threading.Lock()
        self._images: dict[Path, Image.Image] = {}

    def crop(self, path: Path, box: tuple[int, int, int, int]) -> Image.Image:
        with self._lock:
            image = self._images.pop(path, None)
            if image is None:
                with Image.open(path) as opened:
                    image = opened.convert("RGB")
            self._images[path] = image  # most recent last
            while len(self._images) > self.size:
                self._images.pop(next(iter(self._images)))
            left, top, right, bottom = box
            box = (max(0, left), max(0, top), min(image.width, right), min(image.height, bottom))
            if box[2] <= box[0] or box[3] <= box[1]:
                raise UnreadableFile("Ô của trường nằm ngoài trang")
            return image.crop(box)


_recent = _Recent()


def page_image(settings: Settings, page: Page, width: int) -> Path:
    """A JPEG of the whole page, ``width`` pixels wide (or less), for the page viewer."""
    source = page.source_file
    full, _ = _full_page(settings, page, source)
    key = _page_key(source, page, page.dpi or settings.render_dpi)
    target = cache_dir(settings) / "previews" / f"{key}-w{width}.jpg"
    with _lock(f"{key}-w{width}"):
        if not target.exists():
            with Image.open(full) as image:
                image = image.convert("RGB")
                if image.width > width:
                    image = image.resize((width, round(image.height * width / image.width)),
                                         Image.Resampling.LANCZOS)
                _atomic_save(image, target, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return target


def field_crop(settings: Settings, page: Page, box: tuple[int, int, int, int]) -> Path:
    """A JPEG of the part of the page where a field was read, with a little context, scaled
    so that the box is ``CROP_BOX_PX`` high whatever the scan's resolution."""
    source = page.source_file
    full, scale = _full_page(settings, page, source)
    key = _page_key(source, page, page.dpi or settings.render_dpi)
    x0, y0, x1, y1 = (int(v) for v in box)
    name = f"{x0}-{y0}-{x1}-{y1}-h{CROP_BOX_PX}-{CROP_RULE}.jpg"
    target = cache_dir(settings) / "crops" / key / name
    with _lock(f"{key}-{x0}-{y0}-{x1}-{y1}"):
        if not target.exists():
            crop = _recent.crop(full, (round((x0 - MARGIN[0]) * scale), round((y0 - MARGIN[1]) * scale),
                                       round((x1 + MARGIN[1]) * scale), round((y1 + MARGIN[1]) * scale)))
            crop = trim_to_writing(crop, round((y1 - y0) * scale))
            factor = CROP_BOX_PX / max(1.0, (y1 - y0) * scale)
            crop = crop.resize((max(1, round(crop.width * factor)), max(1, round(crop.height * factor))),
                               Image.Resampling.LANCZOS)
            _atomic_save(crop, target, format="JPEG", quality=JPEG_QUALITY)
    return target


def trim_to_writing(crop: Image.Image, box_height: int) -> Image.Image:
    """The crop cut on the right just after the last written stroke.

    A full-width field (Nơi sinh, Nơi thường trú) is read from a box running to the margin,
    while the value often fills a third of it: scaled to a readable height the crop was
    mostly empty leader dots, wider than the screen (issue 19 §1). Strokes are told from
    leaders and rules by their height: an opening with a vertical line a fifth of the box
    high (under the x-height) keeps letters and digits and removes dots and horizontal lines.
    Stains count as writing, so a doubtful crop is left wider, never cut inside a value.
    """
    gray = np.asarray(crop.convert("L"))
    if gray.size == 0 or box_height < 6:
        return crop
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if ink.mean() > 0.5 * 255:  # a dark or blank crop: Otsu split nothing useful
        return crop
    stroke = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(3, box_height // 5)))
    columns = np.flatnonzero(cv2.morphologyEx(ink, cv2.MORPH_OPEN, stroke).any(axis=0))
    if columns.size == 0:
        return crop
    right = min(crop.width, int(columns[-1]) + round(TRAIL * box_height))
    if right > (1 - MIN_TRIM) * crop.width:
        return crop
    return crop.crop((0, 0, min(crop.width, max(right, 4 * box_height)), crop.height))
