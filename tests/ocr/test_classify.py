"""`--template auto` names the template from the page's title and its ruled grid."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pipeline.errors import BadInput
from pipeline.ocr.classify import detect_template
from pipeline.samplegen import BookSpec, generate_book


def first_page(tmp_path, template, degradation, face, seed=13):
    out = tmp_path / f"{template}-{degradation}"
    generate_book(BookSpec(seed=seed, template=template, pages=1, degradation=degradation, face=face), out)
    return out, np.asarray(Image.open(out / "pages" / "page-001.png").convert("RGB"))


@pytest.mark.parametrize("template, degradation, face", [
    ("birth_form", "clean", "typewriter"),
    ("birth_ledger", "moderate", "hand"),
    ("marriage_form", "moderate", "hand"),
    ("marriage_ledger", "clean", "typewriter"),
    ("death_form", "heavy", "typewriter"),
    ("death_ledger", "heavy", "hand"),
])
def test_detects_book_type_and_layout(tmp_path, template, degradation, face):
    _, image = first_page(tmp_path, template, degradation, face)
    assert detect_template(image).template == template


def test_a_page_without_a_title_asks_for_the_template():
    blank = np.full((3508, 2480, 3), 255, np.uint8)
    with pytest.raises(BadInput, match="--template"):
        detect_template(blank)


def test_ingest_auto_registers_the_detected_template(tmp_path, monkeypatch):
    from cli import app

    out, _ = first_page(tmp_path, "death_form", "clean", "typewriter")
    monkeypatch.setenv("HOTICH_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv("HOTICH_DB_URL", raising=False)
    result = CliRunner().invoke(app, ["ingest", str(out / "book.pdf"), "--template", "auto",
                                      "--commune", "Nghi Hưng", "--district", "Nghi Lộc",
                                      "--province", "Nghệ Tĩnh", "--year", "1980", "--volume", "1"])
    assert result.exit_code == 0, result.output
    assert "Nhận ra mẫu sổ: death_form" in result.output
    with sqlite3.connect(tmp_path / "ws" / "hotich.db") as conn:
        assert conn.execute("select template, book_type from books").fetchall() == [("death_form", "death")]
