"""Quick OCR accuracy/speed table on generated pages (form/ledger × clean/moderate × typed/hand).

    .venv/bin/python bench/ocr_quick.py [--pages 1] [--seed 7] [--degradations clean,moderate]

Scores raw text (NFC, single spaces) against the generator's truth ``text``: exact match and
mean rapidfuzz ratio over fields written on the page; blanks are scored apart ("blank ok":
empty cells reported blank). "conf ok/bad": mean confidence of exactly right / wrong reads.
Extracted records are paired with truth by row. Normalized values need the clean stage, not
scored here. Seconds are wall time of read_page per page (one process, OMP_THREAD_LIMIT=1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from rapidfuzz import fuzz  # noqa: E402

from pipeline.ocr import read_page  # noqa: E402
from pipeline.ocr.tesseract import TesseractEngine  # noqa: E402
from pipeline.samplegen import BookSpec, generate_book  # noqa: E402
from pipeline.templates import load_template  # noqa: E402


def norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def run_case(template: str, degradation: str, face: str, pages: int, seed: int, engine, out: Path):
    truth = generate_book(BookSpec(seed=seed, template=template, pages=pages,
                                   degradation=degradation, face=face), out)
    tpl = load_template(template)
    stats = defaultdict(list)
    by_field = defaultdict(list)
    seconds = []
    found = expected = 0
    for page_no in range(1, pages + 1):
        image = np.array(Image.open(out / "pages" / f"page-{page_no:03d}.png").convert("RGB"))
        t0 = time.perf_counter()
        read = read_page(image, tpl, engine)
        seconds.append(time.perf_counter() - t0)
        got = {r.row: r for r in read.records}
        truths = [r for r in truth.records if r.page == page_no]
        expected += len(truths)
        found += len(read.records)
        for rec in truths:
            ext = got.get(rec.row)
            for name, tf in rec.fields.items():
                fv = ext.fields.get(name) if ext else None
                want = norm(tf.text)
                have = norm(fv.raw) if fv else ""
                if not want:
                    stats["blank_ok"].append(fv is not None and fv.status == "blank")
                    continue
                exact = have == want
                ratio = fuzz.ratio(have, want) / 100
                stats["exact"].append(exact)
                stats["ratio"].append(ratio)
                by_field[name].append(exact)
                if fv is not None and fv.status == "read":
                    stats["conf_ok" if exact else "conf_bad"].append(fv.confidence)
    return stats, by_field, seconds, found, expected


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--templates", default="birth_form,birth_ledger")
    ap.add_argument("--degradations", default="clean,moderate")
    ap.add_argument("--faces", default="typewriter,hand")
    ap.add_argument("--per-field", action="store_true", help="also print exact share per field")
    args = ap.parse_args(argv)
    engine = TesseractEngine()
    print(f"engine {engine.version}, seed {args.seed}, {args.pages} page(s) per case\n")
    header = (f"{'template':13} {'degr.':9} {'face':10} {'records':>8} {'exact':>6} {'ratio':>6} "
              f"{'blank ok':>8} {'conf ok/bad':>12} {'s/page':>7}")
    print(header)
    print("-" * len(header))
    totals = defaultdict(list)
    for template in args.templates.split(","):
        for degradation in args.degradations.split(","):
            for face in args.faces.split(","):
                with tempfile.TemporaryDirectory() as tmp:
                    stats, by_field, seconds, found, expected = run_case(
                        template, degradation, face, args.pages, args.seed, engine, Path(tmp))
                mean = lambda xs: statistics.fmean(xs) if xs else float("nan")  # noqa: E731
                blank = f"{mean(stats['blank_ok']):8.1%}" if stats["blank_ok"] else f"{'-':>8}"
                print(f"{template:13} {degradation:9} {face:10} {found:>3}/{expected:<4} "
                      f"{mean(stats['exact']):6.1%} {mean(stats['ratio']):6.3f} {blank} "
                      f"{mean(stats['conf_ok']):5.2f}/{mean(stats['conf_bad']):<5.2f} "
                      f"{mean(seconds):7.1f}")
                if args.per_field:
                    print("    " + ", ".join(f"{k} {mean(v):.0%}" for k, v in by_field.items()))
                for k in ("exact", "ratio"):
                    totals[k] += stats[k]
                totals["seconds"] += seconds
    print("-" * len(header))
    print(f"{'all':34} {statistics.fmean(totals['exact']):15.1%} "
          f"{statistics.fmean(totals['ratio']):6.3f} {'':22}{statistics.fmean(totals['seconds']):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
