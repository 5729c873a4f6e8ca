"""The HTML report: self-contained, Vietnamese, the figures and findings of every book, no names."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest

from pipeline.report.render import write_report
from pipeline.storage.db import session_scope

from report_helpers import seed_small


class Assets(HTMLParser):
    """Every tag with a src or href, and the text of <style> blocks."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "src" in attrs or "href" in attrs or tag in ("link", "script", "img", "iframe", "object"):
            self.refs.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


@pytest.fixture
def report(engine, tmp_path):
    with session_scope(engine) as s:
        seed_small(s)
    out = tmp_path / "out" / "bao-cao.html"  # its folder does not exist yet
    write_report(engine, out)
    return out.read_text(encoding="utf-8")


@pytest.mark.backends("sqlite")
def test_report_is_self_contained(report):
    parser = Assets()
    parser.feed(report)
    images = [attrs for tag, attrs in parser.refs if tag == "img"]
    assert len(images) == 2
    for tag, attrs in parser.refs:
        assert tag == "img", f"<{tag}> in a self-contained report"
        assert attrs["src"].startswith("data:image/png;base64,")
    for attrs in images:  # real PNGs, of a readable size
        png = base64.b64decode(attrs["src"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    css = "".join(parser.styles)
    assert "url(" not in css and "@import" not in css
    assert not re.search(r"https?://", report)


@pytest.mark.backends("sqlite")
def test_report_shows_every_level_and_finding(report):
    assert '<html lang="vi">' in report
    for text in ("Tỉnh Nghệ Tĩnh", "Huyện Hưng Nguyên", "Huyện Nghi Lộc", "Xã Hưng Lộc", "Xã Nghi Phong",
                 "HL-KS-1978", "NP-KS-1979", "HL-KT-1980",
                 "thiếu số đăng ký 4–7 (4 bản ghi) giữa trang 1 và trang 2",
                 "số đăng ký 8 lặp lại", "ảnh không đọc được", "2, 4", "scan.tif: tệp TIFF hỏng",
                 "40,0 %", "Tỷ lệ khớp dân cư"):
        assert text in report, text
    # counts and book codes only: no name stored in the records reaches the report
    for name in ("Nguyễn Văn An", "Lê Thị Bình", "Trần Văn Cư", "Hồ Thị Dung", "Phan Văn Em"):
        assert name not in report


def test_report_of_an_empty_database(engine, tmp_path):
    out = tmp_path / "r.html"
    figures = write_report(engine, out)
    html = out.read_text(encoding="utf-8")
    assert figures.books == [] and "Chưa có sổ nào" in html and "<img" not in html
