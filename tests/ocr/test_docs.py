"""The examples in the OCR modules' docstrings run (none needs Tesseract)."""

from __future__ import annotations

import doctest

import pytest

from pipeline.ocr import capture, engine, preprocess, regions, tesseract


@pytest.mark.parametrize("module", [capture, engine, preprocess, regions, tesseract], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
