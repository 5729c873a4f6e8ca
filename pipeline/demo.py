"""`hotich demo`: a sample book and population, run through every stage, scored against truth.

It is the first thing a new user runs, so it shows the real chain (the same functions the
commands call), with the real Tesseract, and ends with an honest accuracy figure.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy.engine import Engine

from pipeline.evaluate import Accuracy, LinkQuality, score_book, score_links
from pipeline.export.records import export_records
from pipeline.ingest import BookInfo, ingest_files
from pipeline.match.population import import_population
from pipeline.match.run import match_books
from pipeline.process import ProcessSummary, process_books
from pipeline.settings import Settings
from pipeline.storage.db import init_db

DEMO_SEED = 2026


@dataclass
class DemoBook:
    book_code: str
    layout: str
    degradation: str
    pages: int
    accuracy: Accuracy
    links: LinkQuality | None = None


@dataclass
class DemoOutcome:
    books: list[DemoBook] = field(default_factory=list)
    process: ProcessSummary | None = None
    citizens: int = 0
    export_path: Path | None = None
    exported: int = 0

    @property
    def accuracy(self) -> Accuracy:
        total = Accuracy()
        for book in self.books:
            total.add(book.accuracy)
        return total

    def worst_fields(self, n: int = 5) -> list[str]:
        """The fields read wrong most often, each by its label on the form ("Họ và tên cha
        (3)"): archive staff know the fields by what the book prints, not by column names."""
        from pipeline.review.screen import field_label
        from pipeline.templates import load_template

        form = load_template("birth_form")
        return [f"{field_label(form, name)} ({count})"
                for name, count in self.accuracy.wrong_by_field.most_common(n)]


def run_demo(db: Engine, settings: Settings, *, workers: int = 2, seed: int = DEMO_SEED,
             say: Callable[[str], None] = print,
             on_process_start=None, on_page=None) -> DemoOutcome:
    from pipeline.samplegen import generate_demo_set

    demo_dir = settings.home / "demo"
    if demo_dir.exists():
        shutil.rmtree(demo_dir)  # generated, never user data: always rebuilt from the seed
    say(f"Tạo sổ mẫu và dữ liệu dân cư mẫu (hạt giống {seed}) trong {demo_dir}")
    truths = generate_demo_set(demo_dir, seed)
    init_db(db)
    outcome = DemoOutcome()
    book_dirs = [demo_dir / "form", demo_dir / "ledger"]  # the order generate_demo_set returns
    pairs = []
    for truth, book_dir in zip(truths, book_dirs):
        meta = truth.book
        code = f"demo-{meta['layout']}-{seed}"
        info = BookInfo(template=meta["template"], commune=meta["commune"], district=meta["district"],
                        province=meta["province"], year=str(meta["year"]), volume=str(meta["volume"]),
                        book_code=code)
        # One book from its PDF, the other from its page images: both ingest paths run.
        sources = [book_dir / "book.pdf"] if meta["layout"] == "form" else sorted((book_dir / "pages").glob("*.png"))
        ingested = ingest_files(db, settings, info, sources)
        say(f"Nhập sổ {code}: {ingested.added_pages} trang mới, {ingested.already_present} tệp đã có")
        pairs.append((code, truth))
    outcome.process = process_books(db, settings, workers=workers,
                                    on_start=on_process_start, on_page=on_page)
    population = next(demo_dir.rglob("population.csv"))
    imported = import_population(db, population)
    outcome.citizens = imported.inserted + imported.updated + imported.unchanged
    say(f"Nhập dữ liệu dân cư: {outcome.citizens} công dân")
    match_books(db, home=settings.home)
    for position, (code, truth) in enumerate(pairs):
        links = None
        truth_csv = population.parent / "population_truth.csv"
        if truth_csv.exists():
            links = score_links(db, code, truth_csv, book=position)
        outcome.books.append(DemoBook(code, truth.book["layout"], truth.book.get("degradation", ""),
                                      len(truth.pages), score_book(db, code, truth), links))
    outcome.export_path = settings.home / "exports" / "demo-records.csv"
    outcome.exported = export_records(db, outcome.export_path)
    return outcome
