"""Reproducible OCR benchmark: our pipeline vs. raw whole-page Tesseract on a seeded generated set.

    .venv/bin/python bench/ocr.py [--pages-per-case 3] [--seed 1] [--split both|tune|holdout]
                                  [--workers 2] [--layouts birth_form,birth_ledger|all]
                                  [--captures clean,moderate,heavy,phone] [--faces typewriter,hand]
                                  [--printing random|classic]

The set: every (template × capture × face) case holds ``--pages-per-case`` pages per half,
each page a one-page book of its own, so every page has its own printing (the layout fuzzer
of pipeline/samplegen/printing.py: labels per line, order, wording, label above or beside its
value, columns' order, headers and rules …) and its own capture. Captures: flatbed pages aged
``clean`` / ``moderate`` (drawn at 200–400 dpi) / ``heavy`` (200 dpi), and ``phone``: a heavy
page photographed on a table (rotation, perspective, shadow, gutter curl, blur, JPEG).

Leave-arrangement-out: the "tune" half uses printings ``random:0``–``random:499`` and book
seeds ``seed*1000 + …``; the "holdout" half printings ``random:500``–``random:999`` and seeds
``seed*1000 + 500 + …``, so no held-out printing, page or photograph was ever looked at while
thresholds, lexicons and calibration were tuned (on "tune" only). The table shows both halves
side by side; the held-out figure is the one that counts. ``--printing classic`` runs the set
on the classic printing the generator always had, for comparison with earlier figures.

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
largest worker's own max RSS (getrusage; per group, the peak up to then); the target line adds
the peak of one Tesseract reading the set's largest page whole, measured from a tiny process
(getrusage's children figure of a worker counts each child from its fork, a copy of the
worker, and is no measure of Tesseract). Accuracy figures are deterministic for a given seed; times and
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

TEMPLATES = ("birth_form", "birth_ledger", "marriage_form", "marriage_ledger", "death_form",
             "death_ledger")
#: what runs without --layouts: the births, as the README's figures (marriage and death books,
#: issue 18: --layouts all)
DEFAULT_LAYOUTS = ("birth_form", "birth_ledger")
CAPTURES = ("clean", "moderate", "heavy", "phone")
FACES = ("typewriter", "hand")
HALVES = ("tune", "holdout")
# New templates go last: a case's number seeds its pages, so the births' pages stay the same.
CASES = [(t, c, f) for t in TEMPLATES for c in CAPTURES for f in FACES]
#: Issue 18: fields right on held-out marriage and death pages within this of births.
TYPE_GAP = 0.02
METHODS = ("hotich", "tesseract alone", "asterocr alone", "raw tesseract")
SECOND_READER = False  # bench/ocr.py --second-reader; the forked pool's workers inherit it
#: The variants one hotich read yields: both readers combined (hotich), and each reader's own
#: texts put through the same clean stage (see ``reader_variant``).
READER_VARIANTS = ("hotich", "tesseract alone", "asterocr alone")
#: capture → (ageing level, BookSpec.capture, flatbed dpis drawn from)
CAPTURE_SPECS = {
    "clean": ("clean", "flatbed", (200, 300, 400)),
    "moderate": ("moderate", "flatbed", (200, 300, 400)),
    "heavy": ("heavy", "flatbed", (200,)),
    "phone": ("heavy", "phone", ()),
}
PRINTINGS_PER_HALF = 500

#: Issue 13 targets on the held-out half: (capture or None for all, face or None) → minimum
#: non-empty field accuracy.
TARGETS = {
    (None, None): 0.92,
    ("clean", "typewriter"): 0.98,
    ("phone", None): 0.85,
}
TARGET_PAGES_PER_MIN = 30.0
TARGET_ACCEPTED_RIGHT = 0.995
TARGET_ACCEPTED_SHARE = 0.50
RAW_ACCEPT = 0.80  # the "before cleaning" rule: trust the OCR's own word confidence

def case_seed(seed: int, case: int, half: str, page: int = 0) -> int:
    return seed * 1000 + (500 if half == "holdout" else 0) + case + 20 * page

def printing_number(seed: int, case: int, half: str, page: int) -> int:
    """A printing per page, from the half's own range, spread over the range by the seed."""
    n = (seed * 7919 + case * 101 + page * 37) % PRINTINGS_PER_HALF
    return n + (PRINTINGS_PER_HALF if half == "holdout" else 0)

# --------------------------------------------------------------------------- pool tasks

@dataclass(frozen=True)
class PageJob:
    group: tuple[str, str, str, str]  # template, capture, face, half
    key: str  # "<page>" unique within the group: truth is paired by (key, row)
    png: str
    template: str
    book_year: int | None

@dataclass
class PageOut:
    group: tuple[str, str, str, str]
    key: str
    rows: dict[int, dict[str, str | None]]  # row → field → normalized value
    seconds: float
    rss_kb: int
    error: str | None = None
    statuses: dict[int, dict[str, str]] = field(default_factory=dict)  # row → field → status
    # row → field → (raw text, OCR confidence, extract status): the fields before cleaning
    raw: dict[int, dict[str, tuple[str, float, str]]] = field(default_factory=dict)
    attention: str | None = None  # why the page would not be `done` (None: it would be)

def _rss_kb() -> int:
    """The worker's own peak RSS. Its Tesseract children are measured apart
    (``tesseract_peak_kb``): getrusage's children figure counts each child from its fork, when
    it still holds a copy of the worker, and so only ever repeats the worker's own peak."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

TESSERACT_PROBE = """
import resource, subprocess, sys
subprocess.run(["tesseract", sys.argv[1], "-", "-l", "vie", "--psm", "6"],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

def tesseract_peak_kb(png: str) -> int:
    """Peak RSS of one Tesseract reading a whole page (the largest call hotich makes), from a
    tiny Python process whose own size does not leak into the child's figure."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", TESSERACT_PROBE, png], capture_output=True,
                          text=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"}, check=True)
    return int(done.stdout.strip() or 0)

def _generate(args: tuple[str, str, str, int, str, str]) -> tuple[str, dict]:
    """One one-page book: its own printing and capture."""
    import numpy as np

    from pipeline.samplegen import BookSpec, generate_book

    template, capture, face, seed, printing, out = args
    level, kind, dpis = CAPTURE_SPECS[capture]
    if dpis:
        kind += f":{int(np.random.default_rng(seed).choice(dpis))}"
    truth = generate_book(BookSpec(seed=seed, template=template, pages=1, degradation=level,
                                   face=face, printing=printing, capture=kind), Path(out))
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

def reader_variant(fv, variant: str):
    """A field as one reader alone would have given it to the clean stage.

    ``tesseract alone``: Tesseract's text (a region only the neural reader found text in was
    illegible to it); ``asterocr alone``: the neural reader's text where it read the region,
    illegible where it read nothing but Tesseract did. Fields without a second reading are as
    read. Each variant then goes through the same clean stage, so the figures compare the
    readers, not the cleaning.
    """
    from dataclasses import replace

    if variant == "hotich" or fv.status not in ("read",):
        return fv
    readings = fv.readings or {}
    if variant == "tesseract alone":
        if not readings:
            return fv
        text, _ = readings["tesseract"]
        if not text:
            return replace(fv, raw="", status="illegible", confidence=0.0, readings=None,
                           note="Có nét chữ nhưng không đọc được")
        return replace(fv, raw=text, readings=None,
                       note=fv.note if text == fv.raw else "Hai lần đọc khác nhau")
    text, confidence = readings.get("asterocr", ("", 0.0))
    if not text:
        return replace(fv, raw="", status="illegible", confidence=0.0, readings=None,
                       note="Có nét chữ nhưng không đọc được")
    return replace(fv, raw=text, confidence=confidence, readings=None, note=None)


def run_hotich(job: PageJob) -> dict[str, PageOut]:
    """The chain of pipeline/worker.py on one PNG page: read, clean, account for the entries
    (a page that would be ``needs_attention``, or fits poorly, has no field accepted unseen).
    One read, cleaned once per ``READER_VARIANTS`` entry; ``tesseract alone`` is timed
    without the neural reader's own seconds."""
    from pipeline.clean import normalize_page
    from pipeline.ocr import read_page
    from pipeline.ocr.aster import shared_reader
    from pipeline.templates import load_template
    from pipeline.types import ExtractedRecord
    from pipeline.worker import account_result

    started = time.perf_counter()
    template = load_template(job.template)
    reader = shared_reader() if SECOND_READER else None
    neural_before = reader.seconds if reader else 0.0
    outs = {}
    try:
        page = read_page(_load_rgb(job.png), template, None, dpi=None, reader=reader)
    except Exception as exc:  # noqa: BLE001 - a failed page scores as nothing read
        error = f"{type(exc).__name__}: {exc}"
        return {v: PageOut(job.group, job.key, {}, time.perf_counter() - started, _rss_kb(),
                           error, {}, {}, error) for v in READER_VARIANTS}
    read_seconds = time.perf_counter() - started
    neural = (reader.seconds - neural_before) if reader else 0.0
    # without a second reader every variant is the same read: clean it once
    for variant in READER_VARIANTS if reader is not None else READER_VARIANTS[:1]:
        clean_start = time.perf_counter()
        fields = [{n: reader_variant(fv, variant) for n, fv in r.fields.items()}
                  for r in page.records]
        try:
            cleaned = normalize_page(fields, template, job.book_year, fit=page.fit.score)
            records, attention = account_result(
                [ExtractedRecord(r.row, f, r.box) for r, f in zip(page.records, cleaned)],
                template, page.fit)
        except Exception as exc:  # noqa: BLE001 - this variant scores as nothing read
            error = f"{type(exc).__name__}: {exc}"
            outs[variant] = PageOut(job.group, job.key, {}, read_seconds, _rss_kb(), error,
                                    {}, {}, error)
            continue
        rows = {r.row: {n: fv.value for n, fv in r.fields.items()} for r in records}
        statuses = {r.row: {n: fv.status for n, fv in r.fields.items()} for r in records}
        raw = {r.row: {n: (fv.raw, fv.confidence, fv.status) for n, fv in f.items()}
               for r, f in zip(page.records, fields)}
        seconds = read_seconds + time.perf_counter() - clean_start
        if variant == "tesseract alone":
            seconds -= neural
        outs[variant] = PageOut(job.group, job.key, rows, seconds, _rss_kb(), None,
                                statuses, raw, attention)
    return outs

def _label_pattern(label: str) -> str:
    words = label.rstrip(":").split()
    return r"(?<!\w)" + r"\s*".join(re.escape(w) for w in words) + r"\s*[:.,;]?"

def split_form(text: str, template) -> dict[int, dict[str, str]]:
    """Naive form split: every printed label found in the text starts a field that runs to
    the next label found; a label earlier in template order than the last one starts a new
    entry. "Tuổi:" belongs to the name just before it."""
    from pipeline.clean.names import strip_leaders

    labels: dict[str, list[str]] = defaultdict(list)  # label text → fields, in order
    for spec in template.specs:
        for label in spec.labels:
            labels[label].append(spec.field)
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
    return {"raw tesseract": PageOut(job.group, job.key, rows, time.perf_counter() - started,
                                     _rss_kb(), error)}

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
    silent_loss: int = 0  # pages that would be `done` with fewer entries than the truth
    flagged: int = 0  # pages that would be `needs_attention`
    short: int = 0  # pages read with fewer entries than the truth (flagged or not)
    phantom: int = 0  # records read beyond the truth's rows

    def add(self, other: "Score") -> None:
        self.accepted_wrong += other.accepted_wrong
        self.silent_loss += other.silent_loss
        self.flagged += other.flagged
        self.short += other.short
        self.phantom += other.phantom
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
    found = sum(row in out.rows for row in truth_rows)
    score.short = found < len(truth_rows)
    score.flagged = out.attention is not None
    score.silent_loss = score.short and out.attention is None
    score.phantom = sum(row not in truth_rows for row in out.rows)
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
    """Generate the pages; return the page jobs and truth[(group, key)][row][field] (the
    normalized values); ``texts``, when given, is filled alike with the written texts."""
    halves = HALVES if args.split == "both" else (args.split,)
    gens = []
    for case, (template, capture, face) in enumerate(CASES):
        if template not in args.layouts or capture not in args.captures \
                or face not in args.faces:
            continue
        for half in halves:
            for page in range(args.pages_per_case):
                seed = case_seed(args.seed, case, half, page)
                printing = ("classic" if args.printing == "classic"
                            else f"random:{printing_number(args.seed, case, half, page)}")
                folder = out_dir / f"{template}-{capture}-{face}-{half}-{seed}"
                gens.append(((template, capture, face, half), str(page + 1),
                             (template, capture, face, seed, printing, str(folder))))
    jobs, truth = [], {}
    results = pool.map(_generate, [g[2] for g in gens])
    for (group, key, _), (folder, book) in zip(gens, results):
        page = book.pages[0]
        jobs.append(PageJob(group, key, str(Path(folder) / page["image"]), group[0],
                            book.book.get("year")))
        truth[(group, key)] = {r.row: {name: tf.value for name, tf in r.fields.items()}
                               for r in book.records}
        if texts is not None:
            texts[(group, key)] = {r.row: {name: tf.text for name, tf in r.fields.items()}
                                   for r in book.records}
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
            for variants in outs:
                for name, out in variants.items():
                    groups[out.group][name].add(score_page(out, truth[(out.group, out.key)],
                                                           texts[(out.group, out.key)]))
        # one read gives the reader variants: their wall clock is hotich's, less the neural
        # reader's share of the task time for Tesseract alone
        spent = {m: sum(g[m].seconds for g in groups.values()) for m in READER_VARIANTS}
        for m in READER_VARIANTS[1:]:
            wall[m] = wall["hotich"] * spent[m] / spent["hotich"] if spent["hotich"] else 0.0
        # the largest page by pixels is what makes Tesseract's whole-page read biggest
        from PIL import Image

        def pixels(job: PageJob) -> int:
            with Image.open(job.png) as img:
                return img.width * img.height
        tesseract_kb = tesseract_peak_kb(max(jobs, key=pixels).png) if jobs else 0
    finally:
        if tmp is not None:
            tmp.cleanup()
    total = {m: Score() for m in METHODS}
    for by_method in groups.values():
        for m in METHODS:
            total[m].add(by_method[m])
    order = {(*c, h): (i, j) for i, c in enumerate(CASES) for j, h in enumerate(HALVES)}
    return {"groups": dict(sorted(groups.items(), key=lambda kv: order[kv[0]])),
            "total": total, "wall": wall, "pages": len(jobs), "tesseract": tesseract_version,
            "tesseract_kb": tesseract_kb}

def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"

def _pooled(result: dict, *, half: str | None = None, capture: str | None = None,
            face: str | None = None, template: str | None = None) -> dict[str, Score]:
    pooled = {m: Score() for m in METHODS}
    for (t, c, f, h), by_method in result["groups"].items():
        if (half in (None, h) and capture in (None, c) and face in (None, f)
                and template in (None, t)):
            for m in METHODS:
                pooled[m].add(by_method[m])
    return pooled


def render(result: dict, args) -> str:
    w = args.workers
    lines = [f"hotich OCR benchmark — {args.printing} printings, split {args.split}, seed "
             f"{args.seed}, {args.pages_per_case} page(s) per case and half, {result['pages']} "
             f"pages, {w} single-threaded processes, Tesseract {result['tesseract']}, hotich "
             f"model {os.environ.get('HOTICH_OCR_MODEL', 'fast')}", ""]
    header = (f"{'group':36} {'half':8} {'pages':>5} {'acc≠∅':>7} {'CER':>6} {'rec ok':>7} "
              f"{'raw tess.':>9} {'accepted':>8} {'right':>7} {'flagged':>7} {'lost':>4} "
              f"{'phantom':>7} {'p/min':>6} {'peak MB':>7}")
    lines += [header, "-" * len(header)]

    def row(label: str, half: str, by_method: dict[str, Score], ppm: float) -> str:
        s, raw = by_method["hotich"], by_method["raw tesseract"]
        share = s.accepted / s.routed if s.routed else math.nan
        right = s.accepted_right / s.accepted if s.accepted else math.nan
        return (f"{label:36} {half:8} {s.pages:>5} {_pct(s.accuracy):>7} {_pct(s.cer):>6} "
                f"{_pct(s.record_share):>7} {_pct(raw.accuracy):>9} {_pct(share):>8} "
                f"{_pct(right):>7} {s.flagged:>7} {s.silent_loss:>4} {s.phantom:>7} "
                f"{ppm:6.1f} {s.rss_kb / 1024:7.0f}")

    for (template, capture, face, half), by_method in result["groups"].items():
        label = f"{template} / {capture} / {face}"
        lines.append(row(label, half, by_method, by_method["hotich"].pages_per_min(w)))
    lines.append("-" * len(header))
    for half in HALVES:
        pooled = _pooled(result, half=half)
        if pooled["hotich"].pages:
            lines.append(row("total", half, pooled, pooled["hotich"].pages_per_min(w)))
    lines += ["", "acc≠∅: normalized values right on non-empty truth fields; CER on non-empty "
              "fields; rec ok: records with every field right; raw tess.: acc≠∅ of raw "
              "whole-page Tesseract; accepted: fields left without review, right: of those; "
              "flagged: pages needs_attention; lost: pages that would be done with fewer "
              "entries than the truth; phantom: records that are no entry."]

    lines += ["", f"{'target (issue 13, held-out half)':40} {'goal':>7} {'holdout':>9} "
              f"{'tune':>9} {'raw tess.':>9}"]

    def target(name: str, goal: str, ok, get) -> None:
        cells = []
        for half in ("holdout", "tune"):
            pooled = _pooled(result, half=half)
            value = get(pooled) if pooled["hotich"].pages else math.nan
            cells.append(f"{_pct(value)} {'✓' if ok(value) else '✗'}" if not math.isnan(value)
                         else "-")
        lines.append(f"{name:40} {goal:>7} {cells[0]:>9} {cells[1]:>9}")

    for (capture, face), goal in TARGETS.items():
        name = f"acc≠∅ {capture or 'all captures'} {face or 'all faces'}"
        held = _pooled(result, half="holdout", capture=capture, face=face)
        tuned = _pooled(result, half="tune", capture=capture, face=face)
        if not held["hotich"].pages and not tuned["hotich"].pages:
            continue
        cells = [f"{_pct(p['hotich'].accuracy)} {'✓' if p['hotich'].accuracy >= goal else '✗'}"
                 if p["hotich"].pages else "-" for p in (held, tuned)]
        raw = _pct(held["raw tesseract"].accuracy) if held["raw tesseract"].pages else "-"
        lines.append(f"{name:40} {'≥' + format(goal, '.0%'):>7} {cells[0]:>9} {cells[1]:>9} "
                     f"{raw:>9}")
    target("auto-accepted fields right", f"≥{TARGET_ACCEPTED_RIGHT:.1%}",
           lambda v: v >= TARGET_ACCEPTED_RIGHT,
           lambda p: p["hotich"].accepted_right / p["hotich"].accepted
           if p["hotich"].accepted else math.nan)
    target("fields auto-accepted", f"≥{TARGET_ACCEPTED_SHARE:.0%}",
           lambda v: v >= TARGET_ACCEPTED_SHARE,
           lambda p: p["hotich"].accepted / p["hotich"].routed if p["hotich"].routed else math.nan)
    lost = {h: _pooled(result, half=h)["hotich"].silent_loss for h in HALVES}
    lines.append(f"{'pages done with entries missing':40} {'0':>7} {lost['holdout']:>7} "
                 f"{'✓' if not lost['holdout'] else '✗'} {lost['tune']:>7} "
                 f"{'✓' if not lost['tune'] else '✗'}")
    speeds = {m: 60 * result["total"][m].pages / result["wall"][m]
              for m in ("hotich", "raw tesseract")}
    ratio = speeds["hotich"] / speeds["raw tesseract"] if speeds["raw tesseract"] else math.nan
    lines.append(f"{'pages/min (wall, ' + str(w) + ' processes)':40} "
                 f"{'≥' + format(TARGET_PAGES_PER_MIN, '.0f'):>7} {speeds['hotich']:7.1f} "
                 f"{'✓' if speeds['hotich'] >= TARGET_PAGES_PER_MIN else '✗'}"
                 f"   raw whole-page Tesseract {speeds['raw tesseract']:.1f} (hotich ×{ratio:.2f})")
    worker = result["total"]["hotich"].rss_kb / 1024
    peak = worker + result["tesseract_kb"] / 1024
    lines.append(f"{'peak memory per worker (MB)':40} {'≤700':>7} {peak:7.0f} "
                 f"{'✓' if peak <= 700 else '✗'}   (Python {worker:.0f} + its Tesseract "
                 f"{result['tesseract_kb'] / 1024:.0f} on the largest page)")
    if len({t.split("_")[0] for t in args.layouts}) > 1:
        lines += ["", render_book_types(result)]
    if SECOND_READER:
        lines += ["", "readers (issue 16): each reader alone and the combination, same pages, "
                  "same clean stage; 'asterocr alone' is the neural reading where it was asked "
                  "(all crops with --second-below 1.01)", render_readers(result, w)]
    errors = [f"{m}: {e}" for m in METHODS for e in result["total"][m].errors]
    if errors:
        lines += ["", f"{len(errors)} page(s) failed:"] + [f"  {e}" for e in errors[:10]]
    return "\n".join(lines)

def render_book_types(result: dict) -> str:
    """acc≠∅ per book type and layout, per half, and issue 18's target: marriage and death
    pages read within TYPE_GAP of births on the held-out half."""
    types = sorted({t.split("_")[0] for t, *_ in result["groups"]},
                   key=lambda t: ("birth", "marriage", "death").index(t))
    lines = [f"{'book type (issue 18)':22} {'half':8} {'pages':>5} {'form':>7} {'ledger':>7} "
             f"{'all':>7} {'accepted':>8} {'right':>7}"]
    share = {}
    for half in HALVES:
        for kind in types:
            cells = {}
            for layout in ("form", "ledger"):
                p = _pooled(result, half=half, template=f"{kind}_{layout}")["hotich"]
                cells[layout] = p.accuracy if p.pages else math.nan
            total = Score()
            for layout in ("form", "ledger"):
                total.add(_pooled(result, half=half, template=f"{kind}_{layout}")["hotich"])
            if not total.pages:
                continue
            share[(kind, half)] = total.accuracy
            accepted = total.accepted / total.routed if total.routed else math.nan
            right = total.accepted_right / total.accepted if total.accepted else math.nan
            lines.append(f"{kind:22} {half:8} {total.pages:>5} {_pct(cells['form']):>7} "
                         f"{_pct(cells['ledger']):>7} {_pct(total.accuracy):>7} "
                         f"{_pct(accepted):>8} {_pct(right):>7}")
    births = share.get(("birth", "holdout"))
    for kind in types:
        held = share.get((kind, "holdout"))
        if kind == "birth" or births is None or held is None:
            continue
        ok = held >= births - TYPE_GAP
        lines.append(f"target: {kind} held-out within {TYPE_GAP:.0%} of births: "
                     f"{_pct(held)} against {_pct(births)} {'✓' if ok else '✗'}")
    return "\n".join(lines)


def render_readers(result: dict, workers: int) -> str:
    """acc≠∅ per capture and face, acceptance and speed for each reader variant, per half."""
    head = (f"{'reader':16} {'half':8} {'all':>6} "
            + " ".join(f"{c:>8}" for c in CAPTURES) + " "
            + " ".join(f"{f:>10}" for f in FACES)
            + f" {'accepted':>8} {'right':>7} {'p/min':>6}")
    lines = [head, "-" * len(head)]
    for half in HALVES:
        for m in METHODS:
            pooled = _pooled(result, half=half)[m]
            if not pooled.pages:
                continue
            caps = [_pooled(result, half=half, capture=c)[m] for c in CAPTURES]
            faces = [_pooled(result, half=half, face=f)[m] for f in FACES]
            share = pooled.accepted / pooled.routed if pooled.routed else math.nan
            right = pooled.accepted_right / pooled.accepted if pooled.accepted else math.nan
            speed = 60 * result["total"][m].pages / result["wall"][m] if result["wall"].get(m) \
                else math.nan
            lines.append(
                f"{m:16} {half:8} {_pct(pooled.accuracy):>6} "
                + " ".join(f"{_pct(c.accuracy) if c.pages else '-':>8}" for c in caps) + " "
                + " ".join(f"{_pct(f.accuracy) if f.pages else '-':>10}" for f in faces)
                + f" {_pct(share) if m != 'raw tesseract' else '-':>8} "
                f"{_pct(right) if m != 'raw tesseract' else '-':>7} {speed:6.1f}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages-per-case", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", choices=("both", "tune", "holdout"), default="both")
    ap.add_argument("--printing", choices=("random", "classic"), default="random")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--layouts", default=",".join(DEFAULT_LAYOUTS),
                    help="templates to read, comma-separated, or 'all' (births, marriages, "
                         "deaths; a table by book type is added)")
    ap.add_argument("--captures", default=",".join(CAPTURES))
    ap.add_argument("--faces", default=",".join(FACES))
    ap.add_argument("--model", choices=("fast", "best"), default=None,
                    help="Tesseract vie model for hotich (default: HOTICH_OCR_MODEL or fast); "
                         "raw tesseract always uses Debian's fast model, as in the issue")
    ap.add_argument("--second-reader", choices=("on", "off"), default="off",
                    help="read unsure value crops with the neural reader too (asterocr) and "
                         "report each reader alone beside the combination; off (the "
                         "pipeline's default, HOTICH_SECOND_READER): Tesseract alone")
    ap.add_argument("--second-below", type=float, default=None,
                    help="ask the neural reader only for crops whose Tesseract confidence is "
                         "under this (default: pipeline.ocr.regions.SECOND_READ_BELOW; 1.01 "
                         "reads every crop twice)")
    ap.add_argument("--out", help="keep the generated set here (default: a temporary folder; "
                                  "bench/out/ is gitignored)")
    ap.add_argument("--accepted-errors", action="store_true",
                    help="also list the fields accepted without review that are wrong")
    args = ap.parse_args(argv)
    if args.layouts == "all":
        args.layouts = ",".join(TEMPLATES)
    for name, known in (("layouts", TEMPLATES), ("captures", CAPTURES), ("faces", FACES)):
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
    global SECOND_READER
    SECOND_READER = args.second_reader == "on"  # forked workers inherit it
    if args.second_below is not None:
        import pipeline.ocr.regions as regions

        regions.SECOND_READ_BELOW = args.second_below
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
