"""One colour PDF per entry: the entry's region of the original scan, as a JPEG inside a PDF.

The Ministry asks for about 100 kB per A4 page. The page is rendered again from the stored
scan (``pipeline.scans``, as the OCR and the review crops do, so record boxes line up),
brought to 150 dpi, cropped to the entry and encoded at the highest JPEG quality that keeps
within the budget for its area (100 kB × its share of an A4 page); a page that fits at no
quality is given fewer pixels (down to about 90 dpi), printed at the same size. The PDF's dates are fixed
by the caller and its title is the file name, so the same entry gives the same bytes.
"""

from __future__ import annotations

import io
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.errors import NotFound
from pipeline.scans import render_page, single_page_bytes
from pipeline.settings import Settings
from pipeline.storage.models import Page, SourceFile

TARGET_DPI = 150
#: An A4 page at TARGET_DPI (8.27 × 11.69 in), in pixels; its long side also scales pages
#: whose scanning resolution is unknown (images carry none we keep).
A4_PIXELS = (1240, 1754)
A4_BUDGET = 100_000  # bytes for a whole A4 page
MIN_BUDGET = 12_000
QUALITIES = (85, 78, 70, 62, 55, 48, 40)
SHRINK, SHRINK_STEPS = 0.85, 3
#: Context kept around an entry's box, in page pixels, so no stroke of the entry is cut.
MARGIN = 24


def scan_path(settings: Settings, source: SourceFile) -> Path:
    path = Path(source.stored_path)
    return path if path.is_absolute() else settings.home / path


def render_scan_page(settings: Settings, page: Page) -> np.ndarray:
    """The page rendered from its stored scan (RGB), at the resolution its boxes refer to."""
    source = page.source_file
    path = scan_path(settings, source)
    if not path.is_file():
        raise NotFound(f"Không tìm thấy tệp quét của trang {page.page_no} (tệp {source.id})")
    data = single_page_bytes(path, source.media_type, page.index_in_file)
    return render_page(data, source.media_type, name=f"trang {page.id}",
                       dpi=page.dpi or settings.render_dpi, max_pixels=settings.max_pixels)


def entry_image(page_rgb: np.ndarray, page: Page, box: tuple[int, int, int, int] | None,
                header: tuple[int, int] | None = None) -> Image.Image:
    """The entry's region (the whole page when ``box`` is None) at about TARGET_DPI.

    ``box`` is in the coordinates of ``page.width`` × ``page.height``, which may differ from
    the rendered image's size (rendered at another dpi). ``header`` (top, bottom), for a
    ledger row, is the band of column headers (pipeline.export.ledger_header): it is put
    above the row, over the row's width, so the row can be read alone.
    """
    image = Image.fromarray(page_rgb).convert("RGB")
    to_image = image.width / page.width if page.width else 1.0

    def region(x0, y0, x1, y1):
        return (max(0, round((x0 - MARGIN) * to_image)), max(0, round((y0 - MARGIN) * to_image)),
                min(image.width, round((x1 + MARGIN) * to_image)),
                min(image.height, round((y1 + MARGIN) * to_image)))

    if box is not None:
        x0, y0, x1, y1 = box
        crop = region(x0, y0, x1, y1)
        if crop[2] > crop[0] and crop[3] > crop[1]:
            row = image.crop(crop)
            band = region(x0, header[0], x1, header[1]) if header and header[1] <= y0 else None
            if band:  # the margins of the two must not show the same strip twice
                band = (band[0], band[1], band[2], min(band[3], crop[1]))
            if band and band[3] > band[1]:
                top = image.crop(band)
                image = Image.new("RGB", (row.width, top.height + row.height), "white")
                image.paste(top, (0, 0))
                image.paste(row, (0, top.height))
            else:
                image = row
    if page.dpi:
        factor = TARGET_DPI / page.dpi
    else:
        long_side = max(page_rgb.shape[0], page_rgb.shape[1])
        factor = A4_PIXELS[1] / long_side
    if factor < 1:
        image = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                             Image.Resampling.LANCZOS)
    return image


def entry_pdf(image: Image.Image, *, title: str, when: datetime) -> bytes:
    """A one-page PDF holding ``image`` as a colour JPEG at TARGET_DPI.

        >>> len(entry_pdf(Image.new("RGB", (1240, 1754), "white"), title="a", when=now)) < 100_000
        True
    """
    share = (image.width * image.height) / (A4_PIXELS[0] * A4_PIXELS[1])
    budget = max(MIN_BUDGET, round(A4_BUDGET * share))
    stamp = time.gmtime(when.timestamp())
    width_pt = image.width * 72 / TARGET_DPI  # the printed size stays that of 150 dpi
    pdf = b""
    for _ in range(SHRINK_STEPS + 1):
        # A noisy or stained page may not fit at any quality: fewer pixels, same paper size.
        resolution = image.width * 72 / width_pt
        for quality in QUALITIES:
            out = io.BytesIO()
            image.save(out, format="PDF", resolution=resolution, quality=quality, title=title,
                       creationDate=stamp, modDate=stamp, producer="hotich")
            pdf = out.getvalue()
            if len(pdf) <= budget:
                return pdf
        image = image.resize((max(1, round(image.width * SHRINK)), max(1, round(image.height * SHRINK))),
                             Image.Resampling.LANCZOS)
    return pdf
