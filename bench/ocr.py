"""Reproducible OCR benchmark: our pipeline vs. raw whole-page Tesseract on a seeded generated set.

    .venv/bin/python bench/ocr.py [--pages-per-case 5] [--seed 1] [--split all|tune|holdout]
                                  [--workers 2] [--layouts birth_form,birth_ledger]
                                  [--degradations clean,moderate,heavy] [--faces typewriter,hand]

The set: every (template × degradation × face) case is a generated book. Its seed depends on
the split: ``seed*1000 + case`` for "tune", ``seed*1000 + 500 + case`` for "holdout" (case =
position in the full 12-case list, so filters do not change seeds). "all" takes
ceil(N/2) pages from the tune book and N//2 from the holdout book, so N pages per case in
every split; tune on "tune", report "holdout" or "all".

Both methods run in a fresh pool of ``--workers`` single-threaded processes
(OMP_THREAD_LIMIT=1), one page per task, and end in the same clean stage:

* hotich: the chain of ``pipeline/worker.py`` (read_page → normalize_page: dittos for ledgers,
  each record, the page's registration-number sequence).
* raw tesseract: ``tesseract page.png - -l vie --psm 6`` on the whole page; forms are cut at the
  template's printed labels (found in order of position, value = text up to the next label
  found, leader dots stripped), ledger lines that start with a number are split into columns
  on runs of 2+ spaces or '|'; then normalize_page as above.

Scores, truth paired by (page, row), values NFC with collapsed spaces: field accuracy on
non-empty truth fields and on all fields (empty truth right when nothing was read), character
error rate on non-empty fields (Levenshtein distance summed / truth characters summed;
nothing read = full length; not capped, so junk read into a field can push it over 100 %),
share of records with every field right. Pages/min: total = measured wall clock of the pool;
per group = workers × 60 / mean seconds per page (an estimate from task times). Peak MB: the
largest worker's max RSS plus its largest Tesseract child's (getrusage), so per group it is
the process peak up to then. Accuracy figures are deterministic for a given seed; times and
memory are not.
"""

from __future__ import annotations

import argparse
from collections import Counter
import math
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"  # inherited by the pool's processes and their Tesseracts

from pipeline.evaluate import Accuracy, score_rows  # noqa: E402

TEMPLATES = ("birth_form", "birth_ledger")
DEGRADATIONS = ("clean", "moderate", "heavy")
FACES = ("typewriter", "hand")
CASES = [(t, d, f) for t in TEMPLATES for d in DEGRADATIONS for f in FACES]
METHODS = ("hotich", "raw tesseract")

#: Issue 3 targets: (degradation, face or None for both) → minimum non-empty field accuracy.
TARGETS = {
    ("clean", "typewriter"): 0.97,
    ("moderate", "typewriter"): 0.93,
    ("clean", "hand"): 0.90,
    ("moderate", "hand"): 0.85,
    ("heavy", None): 0.75,
}
TARGET_PAGES_PER_MIN = 30.0
RAW_ACCEPT = 0.80  # the "before cleaning" rule: trust the OCR's own word confidence

def case_seed(seed: int, case: int, half: str) -> int:
    return seed * 1000 + (500 if half == "holdout" else 0) + case

# --------------------------------------------------------------------------- pool tasks

@dataclass(frozen=True)
class PageJob:
    group: tuple[str, str, str]  # template, degradation, face
    key: str  # "<half>/<page>" unique within the group: truth is paired by (key, row)
    png: str
    template: str
    book_year: int | None

@dataclass
class PageOut:
    group: tuple[str, str, str]
    key: str
    rows: dict[int, dict[str, str | None]]  # row → field → normalized value
    seconds: float
    rss_kb: int
    error: str | None = None
    statuses: dict[int, dict[str, str]] = field(default_factory=dict)  # row → field → status
    # row → field → (raw text, OCR confidence, extract status): the fields before cleaning
    raw: dict[int, dict[str, tuple[str, float, str]]] = field(default_factory=dict)

def _rss_kb() -> int:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # tesseract runs
    return self_kb + children_kb

def _generate(args: tuple[str, str, str, int, int, str]) -> tuple[str, dict]:
    from pipeline.samplegen import BookSpec, generate_book

    template, degradation, face, seed, pages, out = args
    truth = generate_book(BookSpec(seed=seed, template=template, pages=pages,
                                   degradation=degradation, face=face), Path(out))
    return out, truth

def _clean(template, record_fields: list[tuple[int, dict]], book_year):
    """Normalized values and statuses per row, as the worker stores them."""
    from pipeline.clean import normalize_page

    rows = normalize_page([fields for _, fields in record_fields], template, book_year)
    values, statuses = {}, {}
    for (row, _), normalized in zip(record_fields, rows):
        values[row] = {name: fv.value for name, fv in normalized.items()}
        statuses[row] = {name: fv.status for name, fv in normalized.items()}
    return values, statuses

def _load_rgb(path: str):
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        return np.array(img.convert("RGB"))

def run_hotich(job: PageJob) -> PageOut:
    """The chain of pipeline/worker.py on one PNG page."""
    from pipeline.ocr import read_page
    from pipeline.templates import load_template

    started = time.perf_counter()
    template = load_template(job.template)
    try:
        page = read_page(_load_rgb(job.png), template, None, dpi=None)
        rows, statuses = _clean(template, [(r.row, r.fields) for r in page.records],
                                job.book_year)
        raw = {r.row: {n: (fv.raw, fv.confidence, fv.status) for n, fv in r.fields.items()}
               for r in page.records}
        error = None
    except Exception as exc:  # noqa: BLE001 - a failed page scores as nothing read
        rows, statuses, raw, error = {}, {}, {}, f"{type(exc).__name__}: {exc}"
    return PageOut(job.group, job.key, rows, time.perf_counter() - started, _rss_kb(), error,
                   statuses, raw)

def _label_pattern(label: str) -> str:
    words = label.rstrip(":").split()
    return r"(?<!\w)" + r"\s*".join(re.escape(w) for w in words) + r"\s*[:.,;]?"

def split_form(text: str, template) -> dict[int, dict[str, str]]:
    """Naive form split: every printed label found in the text starts a field that runs to
    the next label found; a label earlier in template order than the last one starts a new
    entry. "Tuổi:" belongs to the name just before it."""
    from pipeline.clean.names import strip_leaders

    labels: dict[str, list[str]] = defaultdict(list)  # label text → fields, in order
    for line in template.lines:
        for item in line:
            labels[item.label].append(item.field)
    order = {name: i for i, name in enumerate(template.fields)}
    # Longest first so that "Họ và tên cha" wins over "Họ và tên" at the same place.
    ordered = sorted(labels, key=len, reverse=True)
    regex = re.compile("|".join(f"({_label_pattern(lbl)})" for lbl in ordered))
    hits = [(m.start(), m.end(), ordered[m.lastindex - 1]) for m in regex.finditer(text)]
    entries: list[dict[str, str]] = []
    last_index = math.inf
    for i, (_, end, label) in enumerate(hits):
        stop = hits[i + 1][0] if i + 1 < len(hits) else text.find("\n", end)
        value = text[end:stop if stop >= 0 else len(text)]
        candidates = labels[label]
        name = candidates[0]
        if len(candidates) > 1 and entries:  # e.g. "Tuổi:" → the age after the last name read
            later = [c for c in candidates if order[c] > last_index and c not in entries[-1]]
            name = later[0] if later else candidates[0]
        if not entries or name in entries[-1] or order[name] < last_index:
            entries.append({})
        entries[-1][name] = strip_leaders(" ".join(value.split()))
        last_index = order[name]
    return {row: fields for row, fields in enumerate(entries, start=1)}

def split_ledger(text: str, template) -> dict[int, dict[str, str]]:
    """Naive ledger split: lines starting with a number are rows, cut on 2+ spaces or '|'."""
    from pipeline.clean.names import strip_leaders

    out = {}
    rows = [line for line in text.splitlines() if re.match(r"\s*\d", line)]
    for row, line in enumerate(rows[:template.entries_per_page], start=1):
        cells = [c for c in re.split(r"\s{2,}|\|", line.strip())]
        out[row] = {name: strip_leaders(cells[i]) if i < len(cells) else ""
                    for i, name in enumerate(template.fields)}
    return out

def run_raw(job: PageJob) -> PageOut:
    """Whole-page Tesseract (--psm 6, vie) with the naive label/column split."""
    import pytesseract
    from PIL import Image

    from pipeline.templates import load_template
    from pipeline.types import FieldValue

    started = time.perf_counter()
    template = load_template(job.template)
    try:
        with Image.open(job.png) as img:
            text = pytesseract.image_to_string(img.convert("RGB"), lang="vie", config="--psm 6")
        text = unicodedata.normalize("NFC", text)
        split = split_ledger if template.layout == "ledger" else split_form
        records = [
            (row, {name: FieldValue(name, raw, None, "read", 0.9)
                   for name, raw in cells.items()})
            for row, cells in split(text, template).items()
        ]
        rows, _ = _clean(template, records, job.book_year)
        error = None
    except Exception as exc:  # noqa: BLE001
        rows, error = {}, f"{type(exc).__name__}: {exc}"
    return PageOut(job.group, job.key, rows, time.perf_counter() - started, _rss_kb(), error)

# --------------------------------------------------------------------------- scoring

@dataclass
class Score:
    """Field scores (pipeline.evaluate, the same as the demo's) plus speed and memory."""

    pages: int = 0
    seconds: float = 0.0
    rss_kb: int = 0
    errors: list[str] = field(default_factory=list)
    fields: Accuracy = field(default_factory=Accuracy)
    routed: int = 0  # fields given a status by the clean stage
    accepted: int = 0  # of those, left without review (status read or blank)
    accepted_right: int = 0
    raw_accepted: int = 0  # before cleaning: OCR read or blank with OCR confidence ≥ 0.80
    raw_accepted_right: int = 0  # ... and the raw text is the written text
    accepted_wrong: list = field(default_factory=list)  # (field, status, stored, truth)

    def add(self, other: "Score") -> None:
        self.accepted_wrong += other.accepted_wrong
        self.routed += other.routed
        self.accepted += other.accepted
        self.accepted_right += other.accepted_right
        self.raw_accepted += other.raw_accepted
        self.raw_accepted_right += other.raw_accepted_right
        self.pages += other.pages
        self.seconds += other.seconds
        self.rss_kb = max(self.rss_kb, other.rss_kb)
        self.errors += other.errors
        self.fields.add(other.fields)

    @property
    def accuracy(self) -> float:
        return self.fields.nonempty_accuracy

    @property
    def accuracy_all(self) -> float:
        return self.fields.field_accuracy

    @property
    def cer(self) -> float:
        return self.fields.cer

    @property
    def record_share(self) -> float:
        return self.fields.record_share

    def pages_per_min(self, workers: int) -> float:
        return workers * 60 * self.pages / self.seconds if self.seconds else float("nan")

def score_page(out: PageOut, truth_rows: dict[int, dict[str, str | None]],
               truth_texts: dict[int, dict[str, str]] | None = None) -> Score:
    score = Score(pages=1, seconds=out.seconds, rss_kb=out.rss_kb,
                  errors=[f"{out.key}: {out.error}"] if out.error else [],
                  fields=score_rows(out.rows, truth_rows))
    for row, statuses in out.statuses.items():
        for name, status in statuses.items():
            if name not in truth_rows.get(row, {}):
                continue
            score.routed += 1
            if status in ("read", "blank"):
                score.accepted += 1
                right = _same(out.rows[row].get(name), truth_rows[row][name])
                score.accepted_right += right
                if not right:
                    score.accepted_wrong.append((name, status, out.rows[row].get(name),
                                                 truth_rows[row][name]))
            raw, confidence, extracted = out.raw.get(row, {}).get(name, ("", 0.0, "illegible"))
            if truth_texts is not None and extracted in ("read", "blank") \
                    and confidence >= RAW_ACCEPT:
                score.raw_accepted += 1
                score.raw_accepted_right += _same(raw or None,
                                                  truth_texts[row].get(name) or None)
    return score

def _same(a: str | None, b: str | None) -> bool:
    norm = lambda v: " ".join(unicodedata.normalize("NFC", v).split()) if v else None  # noqa: E731
    return norm(a) == norm(b)

# --------------------------------------------------------------------------- driver

def build_set(args, out_dir: Path, pool: ProcessPoolExecutor, texts: dict | None = None):
    """Generate the books; return the page jobs and truth[(group, key)][row][field] (the
    normalized values); ``texts``, when given, is filled alike with the written texts."""
    halves = {"tune": [("tune", args.pages_per_case)],
              "holdout": [("holdout", args.pages_per_case)],
              "all": [("tune", math.ceil(args.pages_per_case / 2)),
                      ("holdout", args.pages_per_case // 2)]}[args.split]
    gens = []
    for case, (template, degradation, face) in enumerate(CASES):
        if template not in args.layouts or degradation not in args.degradations \
                or face not in args.faces:
            continue
        for half, pages in halves:
            if pages:
                seed = case_seed(args.seed, case, half)
                folder = out_dir / f"{template}-{degradation}-{face}-{half}-{seed}"
                gens.append(((template, degradation, face), half,
                             (template, degradation, face, seed, pages, str(folder))))
    jobs, truth = [], {}
    results = pool.map(_generate, [g[2] for g in gens])
    for (group, half, _), (folder, book) in zip(gens, results):
        for page in book.pages:
            key = f"{half}/{page['page']}"
            jobs.append(PageJob(group, key, str(Path(folder) / page["image"]), group[0],
                                book.book.get("year")))
            truth[(group, key)] = {
                r.row: {name: tf.value for name, tf in r.fields.items()}
                for r in book.records if r.page == page["page"]
            }
            if texts is not None:
                texts[(group, key)] = {
                    r.row: {name: tf.text for name, tf in r.fields.items()}
                    for r in book.records if r.page == page["page"]
                }
    return jobs, truth

def run_benchmark(args) -> dict:
    """Generate, run both methods, score. Returns {"groups": {group: {method: Score}},
    "total": {method: Score}, "wall": {method: seconds}, ...}."""
    from pipeline.ocr.tesseract import check_tesseract

    tesseract_version = check_tesseract("vie")
    ctx = multiprocessing.get_context("fork")
    tmp = None
    if args.out:
        out_dir = Path(args.out)  # each book's folder is rewritten by generate_book
        out_dir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="hotich-bench-ocr-")
        out_dir = Path(tmp.name)
    try:
        with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
            texts: dict = {}
            jobs, truth = build_set(args, out_dir, pool, texts)
        groups: dict = defaultdict(lambda: {m: Score() for m in METHODS})
        wall = {}
        for method, fn in (("hotich", run_hotich), ("raw tesseract", run_raw)):
            # A fresh pool per method: memory and speed are measured apart.
            started = time.perf_counter()
            with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
                outs = list(pool.map(fn, jobs))
            wall[method] = time.perf_counter() - started
            for out in outs:
                groups[out.group][method].add(score_page(out, truth[(out.group, out.key)],
                                                                texts[(out.group, out.key)]))
    finally:
        if tmp is not None:
            tmp.cleanup()
    total = {m: Score() for m in METHODS}
    for by_method in groups.values():
        for m in METHODS:
            total[m].add(by_method[m])
    order = {c: i for i, c in enumerate(CASES)}
    return {"groups": dict(sorted(groups.items(), key=lambda kv: order[kv[0]])),
            "total": total, "wall": wall, "pages": len(jobs), "tesseract": tesseract_version}

def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"

def render(result: dict, args) -> str:
    lines = []
    w = args.workers
    lines.append(f"hotich OCR benchmark — split {args.split}, seed {args.seed}, "
                 f"{args.pages_per_case} page(s) per case, {result['pages']} pages, "
                 f"{w} single-threaded processes, Tesseract {result['tesseract']}, "
                 f"hotich model {os.environ.get('HOTICH_OCR_MODEL', 'fast')}")
    header = (f"{'group':37} {'method':14} {'pages':>5} {'acc≠∅':>7} {'acc all':>7} "
              f"{'CER':>6} {'rec ok':>7} {'p/min':>6} {'peak MB':>7}")
    lines += ["", header, "-" * len(header)]

    def row(label, method, s: Score, ppm: float):
        return (f"{label:37} {method:14} {s.pages:>5} {_pct(s.accuracy):>7} "
                f"{_pct(s.accuracy_all):>7} {_pct(s.cer):>6} {_pct(s.record_share):>7} "
                f"{ppm:6.1f} {s.rss_kb / 1024:7.0f}")

    for (template, degradation, face), by_method in result["groups"].items():
        label = f"{template} / {degradation} / {face}"
        for m in METHODS:
            lines.append(row(label if m == METHODS[0] else "", m, by_method[m],
                             by_method[m].pages_per_min(w)))
    lines.append("-" * len(header))
    for m in METHODS:
        s = result["total"][m]
        ppm = 60 * s.pages / result["wall"][m] if result["wall"][m] else float("nan")
        lines.append(row("total (p/min = wall clock)" if m == METHODS[0] else "", m, s, ppm))
    lines.append("")
    lines.append("acc≠∅: normalized values right on non-empty truth fields; acc all: on every "
                 "field; CER on non-empty fields; rec ok: records with every field right.")

    # Targets of issue 3, both layouts pooled.
    lines += ["", f"{'target (issue 3)':37} {'goal':>6} {'hotich':>9} {'raw tess.':>9}"]
    for (degradation, face), goal in TARGETS.items():
        pooled = {m: Score() for m in METHODS}
        for (_, d, f), by_method in result["groups"].items():
            if d == degradation and (face is None or f == face):
                for m in METHODS:
                    pooled[m].add(by_method[m])
        if not pooled["hotich"].pages:
            continue
        name = f"acc≠∅ {degradation} {face or 'all faces'}"
        marks = [f"{_pct(pooled[m].accuracy)} {'✓' if pooled[m].accuracy >= goal else '✗'}"
                 for m in METHODS]
        lines.append(f"{name:37} {'≥' + format(goal, '.0%'):>6} {marks[0]:>9} {marks[1]:>9}")
    speeds = [60 * result["total"][m].pages / result["wall"][m] for m in METHODS]
    lines.append(f"{'pages/min (wall, ' + str(w) + ' processes)':37} "
                 f"{'≥' + format(TARGET_PAGES_PER_MIN, '.0f'):>6} "
                 + " ".join(f"{s:7.1f} {'✓' if s >= TARGET_PAGES_PER_MIN else '✗'}"
                            for s in speeds))
    lines += ["", "routing (hotich): fields accepted without a reviewer, and how many of those "
              "are right, before cleaning (raw OCR text, OCR confidence ≥ 0.80) and after "
              "(normalized value, calibrated rule)",
              f"{'':37} {'before cleaning':>19} {'after cleaning':>19}",
              f"{'group':37} {'accepted':>9} {'right':>9} {'accepted':>9} {'right':>9}"]

    def routing(label: str, s: Score) -> str:
        def share(n: int, d: int) -> str:
            return _pct(n / d if d else math.nan)
        return (f"{label:37} {share(s.raw_accepted, s.routed):>9} "
                f"{share(s.raw_accepted_right, s.raw_accepted):>9} "
                f"{share(s.accepted, s.routed):>9} {share(s.accepted_right, s.accepted):>9}")

    pooled: dict = defaultdict(Score)  # by layout and degradation, both faces
    for (template, degradation, face), by_method in result["groups"].items():
        if by_method["hotich"].routed:
            lines.append(routing(f"{template} / {degradation} / {face}", by_method["hotich"]))
            pooled[(template, degradation)].add(by_method["hotich"])
    for (template, degradation), s in pooled.items():
        lines.append(routing(f"{template} / {degradation}", s))
    if result["total"]["hotich"].routed:
        lines.append(routing("total", result["total"]["hotich"]))
    errors = [e for m in METHODS for e in result["total"][m].errors]
    if errors:
        lines += ["", f"{len(errors)} page(s) failed:"] + [f"  {e}" for e in errors[:10]]
    return "\n".join(lines)

def parse_args(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages-per-case", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", choices=("tune", "holdout", "all"), default="all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--layouts", default=",".join(TEMPLATES))
    ap.add_argument("--degradations", default=",".join(DEGRADATIONS))
    ap.add_argument("--faces", default=",".join(FACES))
    ap.add_argument("--model", choices=("fast", "best"), default=None,
                    help="Tesseract vie model for hotich (default: HOTICH_OCR_MODEL or fast); "
                         "raw tesseract always uses Debian's fast model, as in the issue")
    ap.add_argument("--out", help="keep the generated set here (default: a temporary folder; "
                                  "bench/out/ is gitignored)")
    ap.add_argument("--accepted-errors", action="store_true",
                    help="also list the fields accepted without review that are wrong")
    args = ap.parse_args(argv)
    for name, known in (("layouts", TEMPLATES), ("degradations", DEGRADATIONS), ("faces", FACES)):
        chosen = tuple(x for x in getattr(args, name).split(",") if x)
        bad = set(chosen) - set(known)
        if bad:
            ap.error(f"--{name}: unknown {', '.join(sorted(bad))} (known: {', '.join(known)})")
        setattr(args, name, chosen)
    if args.pages_per_case < 1 or args.workers < 1:
        ap.error("--pages-per-case and --workers must be ≥ 1")
    return args

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.model:
        os.environ["HOTICH_OCR_MODEL"] = args.model  # read by TesseractEngine in each worker
    result = run_benchmark(args)
    print(render(result, args))
    if args.accepted_errors:
        wrong = result["total"]["hotich"].accepted_wrong
        print(f"\naccepted but wrong: {len(wrong)} fields")
        by_field = Counter((name, status) for name, status, _, _ in wrong)
        for (name, status), n in by_field.most_common():
            print(f"  {name:20} {status:6} {n:4}")
        for name, status, got, want in wrong:
            print(f"  {name:20} {status:6} stored {got!r:40} written {want!r}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
