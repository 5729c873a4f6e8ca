"""Per-field OCR diagnostic: every field read on generated pages, with its truth, font and score.

    .venv/bin/python bench/ocr_fields.py [--split tune|holdout] [--seed 1] [--pages 4]
        [--faces hand] [--degradations clean,moderate] [--layouts birth_form,birth_ledger]
        [--errors] [--workers 2] [--out DIR]

Books are the ones bench/ocr.py makes for the same split and seed (same case seeds), so a
field seen wrong here is the same field there. For each non-empty truth field it prints raw
exactness (NFC, single spaces) and whether the clean stage's normalized value is right, then
a table per value font and per field; ``--errors`` also lists every wrong field (truth → raw,
confidence). Tune on "tune" only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ocr import CASES, _clean, _load_rgb, case_seed  # noqa: E402


def norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _generate(args):
    from pipeline.samplegen import BookSpec, generate_book

    template, degradation, face, seed, pages, out = args
    if not (Path(out) / "truth.json").exists():
        generate_book(BookSpec(seed=seed, template=template, pages=pages,
                               degradation=degradation, face=face), Path(out))
    return out


def _cpu() -> float:
    """CPU seconds of this process and its finished children (Tesseract runs): unlike wall
    time, barely moved by other work on the machine."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _read(job):
    from pipeline.ocr import read_page
    from pipeline.templates import load_template

    folder, page_no, template_name, year = job
    template = load_template(template_name)
    image = _load_rgb(f"{folder}/pages/page-{page_no:03d}.png")
    t0 = _cpu()
    page = read_page(image, template)
    seconds = _cpu() - t0
    values, _ = _clean(template, [(r.row, r.fields) for r in page.records], year)
    raws = {r.row: {n: (fv.raw, fv.confidence, fv.status) for n, fv in r.fields.items()}
            for r in page.records}
    return folder, page_no, raws, values, seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("tune", "holdout"), default="tune")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pages", type=int, default=4)
    ap.add_argument("--faces", default="hand")
    ap.add_argument("--degradations", default="clean,moderate")
    ap.add_argument("--layouts", default="birth_form,birth_ledger")
    ap.add_argument("--errors", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", help="keep (and reuse) the generated books here")
    args = ap.parse_args(argv)
    out_dir = Path(args.out or tempfile.mkdtemp(prefix="hotich-fields-"))
    gens = []
    for case, (t, d, f) in enumerate(CASES):
        if t in args.layouts.split(",") and d in args.degradations.split(",") \
                and f in args.faces.split(","):
            seed = case_seed(args.seed, case, args.split)
            gens.append((t, d, f, seed, args.pages, str(out_dir / f"{t}-{d}-{f}-{seed}-{args.pages}")))
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(_generate, gens))
        truths = {g[5]: json.loads((Path(g[5]) / "truth.json").read_text()) for g in gens}
        jobs = [(g[5], p, g[0], truths[g[5]]["book"].get("year"))
                for g in gens for p in range(1, args.pages + 1)]
        started = time.perf_counter()
        results = list(pool.map(_read, jobs))
        wall = time.perf_counter() - started
    by_font = defaultdict(lambda: [0, 0, 0])  # n, raw exact, value right
    by_field = defaultdict(lambda: [0, 0, 0])
    by_case = defaultdict(lambda: [0, 0, 0])
    errors = []
    for folder, page_no, raws, values, _ in results:
        truth = truths[folder]
        font = truth["generator"]["fonts"]["values"]
        case = Path(folder).name.rsplit("-", 2)[0]
        for rec in truth["records"]:
            if rec["page"] != page_no:
                continue
            for name, tf in rec["fields"].items():
                if not norm(tf["text"]):
                    continue
                raw, conf, status = raws.get(rec["row"], {}).get(name, ("", 0.0, "-"))
                value = values.get(rec["row"], {}).get(name)
                exact = norm(raw) == norm(tf["text"])
                right = norm(value) == norm(tf["value"])
                for table, key in ((by_font, font), (by_field, name), (by_case, case)):
                    table[key][0] += 1
                    table[key][1] += exact
                    table[key][2] += right
                if not right:
                    errors.append((case, font, name, tf["text"], raw, value, conf, status))
    for title, table in (("case", by_case), ("font", by_font), ("field", by_field)):
        print(f"\n{title:24} {'n':>5} {'raw ok':>7} {'value ok':>8}")
        for key, (n, ok, right) in sorted(table.items()):
            print(f"{key:24} {n:5} {ok / n:7.1%} {right / n:8.1%}")
    n = sum(v[0] for v in by_case.values())
    print(f"{'all':24} {n:5} {sum(v[1] for v in by_case.values()) / n:7.1%} "
          f"{sum(v[2] for v in by_case.values()) / n:8.1%}")
    print(f"\n{len(jobs)} pages, {sum(r[4] for r in results) / len(jobs):.2f} CPU s/page in read_page, "
          f"{60 * len(jobs) / wall:.1f} pages/min wall ({args.workers} processes)")
    if args.errors:
        print("\nwrong values: case | font | field | truth → raw → value (conf, status)")
        for case, font, name, text, raw, value, conf, status in errors:
            print(f"{case} | {font} | {name} | {text!r} → {raw!r} → {value!r} ({conf:.2f}, {status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
