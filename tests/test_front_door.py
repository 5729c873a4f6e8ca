"""``pipeline/__init__.py`` lists what a script may import (issue 17 §5): every name resolves
to the stage it names, and importing the package loads none of the heavy corners."""

from __future__ import annotations

import subprocess
import sys

import pipeline


def test_every_public_name_resolves():
    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None, name
    from pipeline.ingest import ingest_files
    from pipeline.process import process_books

    assert pipeline.ingest_files is ingest_files and pipeline.process_books is process_books


def test_importing_the_package_is_cheap():
    code = ("import sys, pipeline; heavy = [m for m in ('cv2', 'pandas', 'sqlalchemy', "
            "'pytesseract') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error():
    try:
        pipeline.no_such_stage  # noqa: B018
    except AttributeError as exc:
        assert "no_such_stage" in str(exc)
    else:
        raise AssertionError("no AttributeError")
