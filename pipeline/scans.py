"""Scan files → page images: recognising the format, counting pages, rasterizing one page.

This is the only module that opens scan files. Formats are recognised by their first bytes,
not by their extension, because archives rename files freely. Every failure becomes an
``UnreadableFile`` or ``ImageTooLarge`` with one Vietnamese line naming the file, so that one
bad scan never stops a batch.
"""

from __future__ import annotations

import io
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.errors import ImageTooLarge, MissingDependency, UnreadableFile

PDF, TIFF, JPEG, PNG = "application/pdf", "image/tiff", "image/jpeg", "image/png"
SUPPORTED_SUFFIXES = {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}
POPPLER_HINT = "cài poppler: sudo apt-get install -y poppler-utils"


@dataclass(frozen=True)
class ScanInfo:
    media_type: str
    page_count: int


def sniff_media_type(head: bytes) -> str | None:
    """The format named by a file's magic bytes, or None for anything we do not read."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


def require_poppler() -> None:
    if shutil.which("pdfinfo") is None or shutil.which("pdftoppm") is None:
        raise MissingDependency("Thiếu chương trình poppler (pdfinfo, pdftoppm)", hint=POPPLER_HINT)


def inspect_scan(path: Path, *, max_pixels: int, dpi: int) -> ScanInfo:
    """Check that a scan can be read and count its pages, without rendering them.

    >>> inspect_scan(Path("book.pdf"), max_pixels=120_000_000, dpi=300).page_count  # doctest: +SKIP
    6
    """
    name = path.name
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise UnreadableFile(f"{name}: không đọc được tệp ({exc.strerror})") from exc
    if not head:
        raise UnreadableFile(f"{name}: tệp rỗng")
    media_type = sniff_media_type(head)
    if media_type is None:
        raise UnreadableFile(f"{name}: không phải PDF, TIFF, JPEG hay PNG")
    if media_type == PDF:
        return ScanInfo(PDF, _inspect_pdf(path, max_pixels=max_pixels, dpi=dpi))
    return ScanInfo(media_type, _inspect_image(path, max_pixels=max_pixels))


def _inspect_pdf(path: Path, *, max_pixels: int, dpi: int) -> int:
    from pdf2image import pdfinfo_from_path
    from pdf2image.exceptions import PDFPageCountError, PDFPopplerTimeoutError

    require_poppler()
    name = path.name
    try:
        info = pdfinfo_from_path(str(path), timeout=60)
    except PDFPageCountError as exc:
        text = str(exc).lower()
        if "password" in text or "encrypt" in text:
            raise UnreadableFile(f"{name}: PDF có mật khẩu (mã hóa), không mở được") from None
        if "invalid page count 0" in text or "last page (0)" in text:
            # Poppler refuses a well-formed PDF whose page tree is empty instead of
            # answering "Pages: 0"; the file is empty, not damaged.
            raise UnreadableFile(f"{name}: PDF không có trang nào (tệp rỗng)") from None
        raise UnreadableFile(f"{name}: PDF hỏng, không đọc được") from None
    except PDFPopplerTimeoutError:
        raise UnreadableFile(f"{name}: PDF đọc quá lâu (quá 60 giây), có thể bị hỏng") from None
    if str(info.get("Encrypted", "no")).startswith("yes"):
        # Poppler opens PDFs that only carry an owner password; we still refuse them: the
        # archive must hand over the unprotected original.
        raise UnreadableFile(f"{name}: PDF có mật khẩu (mã hóa), không mở được")
    pages = int(info.get("Pages", 0) or 0)
    if pages == 0:
        raise UnreadableFile(f"{name}: PDF không có trang nào (tệp rỗng)")
    size = str(info.get("Page size", ""))  # e.g. "595.276 x 841.89 pts (A4)"
    try:
        width_pt, height_pt = (float(v) for v in size.split(" pts")[0].split(" x "))
    except ValueError:
        return pages
    pixels = (width_pt / 72 * dpi) * (height_pt / 72 * dpi)
    if pixels > max_pixels:
        raise ImageTooLarge(
            f"{name}: trang PDF quá lớn ({pixels / 1e6:.0f} triệu điểm ảnh ở {dpi} dpi, "
            f"giới hạn {max_pixels / 1e6:.0f} triệu)"
        )
    return pages


def _check_pixels(name: str, image: Image.Image, max_pixels: int) -> None:
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise ImageTooLarge(
            f"{name}: ảnh quá lớn ({image.width}×{image.height}, giới hạn "
            f"{max_pixels / 1e6:.0f} triệu điểm ảnh)"
        )


def _open_image(name: str, data: io.BytesIO | Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Our own limit is checked right after opening; Pillow's warning adds nothing.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(data)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name}: ảnh quá lớn, từ chối mở ({exc})") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise UnreadableFile(f"{name}: ảnh hỏng, không đọc được") from exc


def _inspect_image(path: Path, *, max_pixels: int) -> int:
    name = path.name
    Image.MAX_IMAGE_PIXELS = max(max_pixels, Image.MAX_IMAGE_PIXELS or 0)
    image = _open_image(name, path)
    with image:
        _check_pixels(name, image, max_pixels)
        frames = getattr(image, "n_frames", 1)
        try:
            for index in range(frames):
                image.seek(index)
                _check_pixels(name, image, max_pixels)
                image.load()  # a truncated file fails here, not at OCR time
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnreadableFile(f"{name}: ảnh hỏng hoặc bị cắt cụt (trang {index + 1})") from exc
    return frames


def single_page_bytes(path: Path, media_type: str, index: int) -> bytes:
    """The bytes of one page as a self-contained document, to ship to a worker.

    A 300-page PDF is not sent 300 times: each task carries its own one-page PDF (or one
    TIFF frame as PNG). Single-image files are sent as they are.
    """
    if media_type == PDF:
        from pypdf import PdfReader, PdfWriter

        reader = PdfReader(str(path))
        writer = PdfWriter()
        writer.add_page(reader.pages[index])
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    if media_type == TIFF:
        with Image.open(path) as image:
            image.seek(index)
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue()
    return path.read_bytes()


def render_page(data: bytes, media_type: str, *, name: str, dpi: int, max_pixels: int) -> np.ndarray:
    """Rasterize one page (as given by ``single_page_bytes``) to an RGB uint8 array."""
    if media_type == PDF:
        from pdf2image import convert_from_bytes
        from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFSyntaxError

        try:
            images = convert_from_bytes(data, dpi=dpi, first_page=1, last_page=1, timeout=120)
        except PDFInfoNotInstalledError:
            raise MissingDependency("Thiếu chương trình poppler (pdftoppm)", hint=POPPLER_HINT) from None
        except (PDFPageCountError, PDFSyntaxError) as exc:
            raise UnreadableFile(f"{name}: trang PDF hỏng, không dựng được ảnh") from exc
        if not images:
            raise UnreadableFile(f"{name}: trang PDF không dựng được ảnh")
        image = images[0]
    else:
        image = _open_image(name, io.BytesIO(data))
    with image:
        _check_pixels(name, image, max_pixels)
        try:
            return np.asarray(image.convert("RGB"))
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnreadableFile(f"{name}: ảnh hỏng hoặc bị cắt cụt") from exc
