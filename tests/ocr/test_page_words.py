"""The page-level read that finds the labels: Otsu's letters, or the thinner ones when Otsu
loses the labels of a blurred page. Real Tesseract on the generator's own pages."""

from __future__ import annotations

import cv2
import pytest

from pipeline.ocr.page_words import label_coverage, read_page_words
from pipeline.ocr.preprocess import preprocess_page, remove_lines, remove_specks
from pipeline.samplegen import BookSpec, generate_book
from pipeline.templates import load_template


def _prepared(tmp_path, **spec):
    truth = generate_book(BookSpec(pages=1, **spec), tmp_path)
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "pages" / "page-001.png")), cv2.COLOR_BGR2RGB)
    page = preprocess_page(image)
    clean = remove_lines(page.binary)
    return truth, clean, page.text_image(clean)


def test_a_crisp_page_is_read_once_from_otsu(tmp_path, tesseract):
    template = load_template("birth_form")
    _, clean, text = _prepared(tmp_path, seed=21, template="birth_form", degradation="clean")
    assert text is clean  # crisp letters: no thinner binarization is made at all
    words, source, coverage = read_page_words(tesseract, clean, text, template)
    assert source == "otsu"
    assert label_coverage(words, template) >= 0.9
    assert coverage == label_coverage(words, template)  # said, not to be measured again


def test_a_blurred_photo_whose_labels_otsu_loses_is_read_from_thinner_letters(tmp_path,
                                                                              tesseract):
    """A phone photograph of an aged form (a tune printing): Otsu fills the small label
    font's counters and misses labels that the thinner letters show."""
    template = load_template("birth_form")
    _, clean, text = _prepared(tmp_path, seed=1007, template="birth_form", degradation="heavy",
                               face="hand", printing="random:126", capture="phone")
    assert text is not clean
    otsu = label_coverage(tesseract.recognize(clean, psm=6), template)
    words, source, _ = read_page_words(tesseract, clean, text, template)
    assert source == "thin"
    assert label_coverage(words, template) >= otsu + 0.2


@pytest.mark.parametrize("layout", ["birth_ledger", "birth_form"])
def test_words_without_the_templates_labels_cover_nothing(layout):
    from pipeline.types import OcrWord

    words = [OcrWord(t, 0.9, (100 + 200 * i, 100, 180 + 200 * i, 130), (1, 1, 1))
             for i, t in enumerate(["Trang", "1", "Năm", "1977"])]
    assert label_coverage(words, load_template(layout)) == 0.0


def test_a_form_whose_labels_one_block_read_misses_is_read_as_sparse_text(tmp_path, tesseract):
    """A phone photograph of an aged form (a tune printing) whose small labels psm 6 mixes
    with the lines of writing around them, from either binarization: read as sparse text
    (psm 11), nearly every label is a word group of its own."""
    template = load_template("birth_form")
    _, clean, text = _prepared(tmp_path, seed=2004, template="birth_form", degradation="heavy",
                               face="typewriter", printing="random:148", capture="phone")
    clean, text = remove_specks(clean), remove_specks(text)  # as read_page has them
    otsu = label_coverage(tesseract.recognize(clean, psm=6), template)
    words, source, _ = read_page_words(tesseract, clean, text, template)
    assert source.endswith("-sparse")
    assert label_coverage(words, template) >= max(0.9, otsu + 0.1)
