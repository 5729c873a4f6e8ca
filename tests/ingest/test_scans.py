"""Bad scans get one clear line naming the file; good ones are counted without rendering."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from pipeline.errors import ImageTooLarge, UnreadableFile
from pipeline.scans import PDF, PNG, TIFF, inspect_scan, render_page, single_page_bytes

LIMIT = 120_000_000


def write_png(path: Path, size=(400, 300), color=(200, 180, 160)) -> Path:
    Image.new("RGB", size, color).save(path, format="PNG")
    return path


def write_pdf(path: Path, pages: int) -> Path:
    images = [Image.new("RGB", (620, 877), (255, 255, 255 - 10 * i)) for i in range(pages)]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=75)
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A syntactically valid PNG that claims an absurd size (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


def test_counts_pages_of_pdf_and_multipage_tiff(tmp_path):
    pdf = write_pdf(tmp_path / "book.pdf", 3)
    assert inspect_scan(pdf, max_pixels=LIMIT, dpi=300).page_count == 3
    frames = [Image.new("L", (200, 100), v) for v in (10, 120, 250)]
    tiff = tmp_path / "scan.tif"
    frames[0].save(tiff, save_all=True, append_images=frames[1:])
    info = inspect_scan(tiff, max_pixels=LIMIT, dpi=300)
    assert (info.media_type, info.page_count) == (TIFF, 3)


def test_format_comes_from_content_not_extension(tmp_path):
    disguised = write_png(tmp_path / "page.pdf")
    assert inspect_scan(disguised, max_pixels=LIMIT, dpi=300).media_type == PNG


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "tệp rỗng"),
    (lambda p: p.write_bytes(b"%PDF-1.4\n garbage that is not a pdf \n%%EOF"), "PDF hỏng"),
    (lambda p: p.write_bytes(b"hello, I am a text file"), "không phải PDF"),
])
def test_unreadable_files_are_named_in_one_line(tmp_path, make, message):
    path = tmp_path / "bad.pdf"
    make(path)
    with pytest.raises(UnreadableFile) as err:
        inspect_scan(path, max_pixels=LIMIT, dpi=300)
    text = str(err.value)
    assert text.startswith("bad.pdf: ") and message in text and "\n" not in text


def test_encrypted_pdf_is_refused(tmp_path):
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", owner_password="owner")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(UnreadableFile, match="mật khẩu"):
        inspect_scan(path, max_pixels=LIMIT, dpi=300)


def zero_page_pdf(path: Path) -> Path:
    """A well-formed PDF whose page tree is empty, written byte by byte (valid xref offsets)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_hand_written_zero_page_pdf_is_empty_not_corrupt(tmp_path):
    """Poppler 22 does not answer "Pages: 0" for it but fails with "Invalid page count 0";
    that is an empty book, and the archive must be told so, not that the file is damaged."""
    path = zero_page_pdf(tmp_path / "empty.pdf")
    assert len(PdfReader(path, strict=True).pages) == 0  # well-formed, strictly parsed
    pdfinfo = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=False)
    assert re.search(r"^Pages:\s+0$", pdfinfo.stdout, re.MULTILINE) or "page count 0" in pdfinfo.stderr
    with pytest.raises(UnreadableFile) as err:
        inspect_scan(path, max_pixels=LIMIT, dpi=300)
    assert str(err.value) == "empty.pdf: PDF không có trang nào (tệp rỗng)"


def test_pdf_without_pages_from_a_pdf_library_is_empty_too(tmp_path):
    path = tmp_path / "blank.pdf"
    with path.open("wb") as fh:
        PdfWriter().write(fh)
    with pytest.raises(UnreadableFile) as err:
        inspect_scan(path, max_pixels=LIMIT, dpi=300)
    assert str(err.value) == "blank.pdf: PDF không có trang nào (tệp rỗng)"


def test_truncated_image_is_refused(tmp_path):
    good = write_png(tmp_path / "full.png", size=(800, 600))
    noisy = np.random.default_rng(1).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    Image.fromarray(noisy).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(UnreadableFile, match="cut.png"):
        inspect_scan(cut, max_pixels=LIMIT, dpi=300)


def test_absurd_image_size_is_refused_without_decoding(tmp_path):
    bomb = png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(ImageTooLarge, match="bomb.png"):
        inspect_scan(bomb, max_pixels=LIMIT, dpi=300)


def test_pixel_limit_is_configurable(tmp_path):
    page = write_png(tmp_path / "big.png", size=(2000, 1500))
    with pytest.raises(ImageTooLarge, match="giới hạn"):
        inspect_scan(page, max_pixels=1_000_000, dpi=300)
    pdf = write_pdf(tmp_path / "a4.pdf", 1)  # 620x877 px at 75 dpi → A4-ish at 300 dpi ≈ 8.7 Mpx
    with pytest.raises(ImageTooLarge):
        inspect_scan(pdf, max_pixels=1_000_000, dpi=300)


def test_one_page_of_a_pdf_travels_alone_and_renders(tmp_path):
    pdf = write_pdf(tmp_path / "book.pdf", 3)
    data = single_page_bytes(pdf, PDF, 2)
    assert data.startswith(b"%PDF") and len(data) < pdf.stat().st_size
    image = render_page(data, PDF, name="book.pdf trang 3", dpi=75, max_pixels=LIMIT)
    assert image.shape == (877, 620, 3)
    assert tuple(image[10, 10]) == (255, 255, 235)  # the third page's colour, not the first's
