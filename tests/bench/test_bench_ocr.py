"""bench/ocr.py on a tiny set: the table has its groups, and our pipeline beats raw Tesseract."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_bench():
    name = "hotich_bench_ocr"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "ocr.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the forked pool pickles its task functions by module name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    from pipeline.ocr.tesseract import check_tesseract

    check_tesseract("vie")  # installed by scripts/install.sh: missing means fail, not skip
    return _load_bench()


def test_split_form_cuts_at_labels(bench):
    from pipeline.templates import load_template

    text = ("Xã An Hòa   Quyển số: 1\nSố: 12\nHọ và tên: NGUYỄN VĂN AN....... Nam hay nữ: Nam\n"
            "Họ và tên cha: NGUYỄN VĂN BA.... Tuổi: 40\nHọ và tên mẹ: LÊ THỊ CA Tuổi: 38\n"
            "Số: 13\nHọ và tên: TRẦN THỊ DUNG\n")
    rows = bench.split_form(text, load_template("birth_form"))
    assert rows[1]["registration_no"] == "12"
    assert rows[1]["full_name"] == "NGUYỄN VĂN AN"
    assert rows[1]["father_age"] == "40" and rows[1]["mother_age"] == "38"
    assert rows[2] == {"registration_no": "13", "full_name": "TRẦN THỊ DUNG"}


def test_tiny_benchmark(bench, capsys):
    argv = ["--pages-per-case", "1", "--captures", "clean", "--faces", "typewriter"]
    args = bench.parse_args(argv)
    result = bench.run_benchmark(args)
    print(bench.render(result, args))
    table = capsys.readouterr().out

    assert "birth_form / clean / typewriter" in table
    assert "birth_ledger / clean / typewriter" in table
    assert "split both" in table and "random printings" in table
    assert "acc≠∅ clean typewriter" in table  # the issue 13 target lines
    assert "pages done with entries missing" in table and "hotich ×" in table

    for half in ("tune", "holdout"):
        form = result["groups"][("birth_form", "clean", "typewriter", half)]
        ours, raw = form["hotich"], form["raw tesseract"]
        assert ours.pages == raw.pages == 1
        assert ours.accuracy >= 0.8
        assert ours.accuracy > raw.accuracy
        assert not ours.errors and not raw.errors
        assert ours.silent_loss == 0 and ours.phantom == 0


def test_the_halves_share_no_page_and_no_printing(bench):
    cases = range(len(bench.CASES))
    seeds = {h: {bench.case_seed(1, c, h, p) for c in cases for p in range(10)}
             for h in bench.HALVES}
    printings = {h: {bench.printing_number(1, c, h, p) for c in cases for p in range(10)}
                 for h in bench.HALVES}
    assert not seeds["tune"] & seeds["holdout"]
    assert not printings["tune"] & printings["holdout"]
    assert max(printings["tune"]) < bench.PRINTINGS_PER_HALF <= min(printings["holdout"])


def test_readers_table_with_the_second_reader(bench, capsys, monkeypatch):
    args = bench.parse_args(["--pages-per-case", "1", "--captures", "moderate", "--faces", "hand",
                             "--layouts", "birth_form", "--split", "holdout",
                             "--second-reader", "on"])
    monkeypatch.setattr(bench, "SECOND_READER", True)  # what main() sets from the flag
    result = bench.run_benchmark(args)
    print(bench.render(result, args))
    table = capsys.readouterr().out
    assert "readers (issue 16)" in table
    for method in ("hotich", "tesseract alone", "asterocr alone", "raw tesseract"):
        assert any(line.startswith(method) for line in table.splitlines()), method
    total = result["total"]
    assert total["hotich"].pages == total["tesseract alone"].pages == 1
    # the neural reader was asked: its own variant read something
    assert total["asterocr alone"].fields.nonempty_right > 0
