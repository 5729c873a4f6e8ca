"""The runnable examples in the docstrings of modules whose examples need no database or
engine (the OCR and place modules have their own): an example that no longer holds is a
lie to the next reader."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["pipeline.cells", "pipeline.paths", "pipeline.clean.book_names",
           "pipeline.clean.normalize", "pipeline.clean.correct", "pipeline.match.model",
           "pipeline.storage.faults", "pipeline.cli_text", "pipeline.clean.numbering",
           "pipeline.clean.header", "pipeline.ocr.aster", "pipeline.ocr.regions",
           "pipeline.encodings", "pipeline.templates", "pipeline.clean.lexicon"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
