"""Scoring what the pipeline stored against a generated book's ground truth.

Used by `hotich demo`, the end-to-end tests and the benchmarks, so that all three report the
same figures the same way: a field is right when its normalized value equals the truth's.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Citizen, FieldValue, Link, Page, Record


def _norm(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(unicodedata.normalize("NFC", str(value)).split())
    return value or None


@dataclass
class Accuracy:
    fields: int = 0
    fields_right: int = 0
    nonempty: int = 0
    nonempty_right: int = 0
    records: int = 0
    records_found: int = 0
    records_all_right: int = 0
    wrong_by_field: Counter = field(default_factory=Counter)

    @property
    def field_accuracy(self) -> float:
        return self.fields_right / self.fields if self.fields else 0.0

    @property
    def nonempty_accuracy(self) -> float:
        return self.nonempty_right / self.nonempty if self.nonempty else 0.0

    def add(self, other: "Accuracy") -> None:
        for name in ("fields", "fields_right", "nonempty", "nonempty_right", "records",
                     "records_found", "records_all_right"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.wrong_by_field.update(other.wrong_by_field)


def stored_values(db: Engine, book_code: str) -> dict[tuple[int, int], dict[str, str | None]]:
    """(page_no, row) → field → current normalized value."""
    out: dict[tuple[int, int], dict[str, str | None]] = {}
    with session_scope(db) as session:
        rows = session.execute(
            select(Page.page_no, Record.row, FieldValue.field, FieldValue.value)
            .join(Record, Record.page_id == Page.id).join(Book, Book.id == Record.book_id)
            .join(FieldValue, FieldValue.record_id == Record.id)
            .where(Book.book_code == book_code, FieldValue.is_current.is_(True))
        )
        for page_no, row, name, value in rows:
            out.setdefault((page_no, row), {})[name] = value
    return out


def score_book(db: Engine, book_code: str, truth) -> Accuracy:
    """Compare a book's stored values with a ``samplegen.BookTruth`` (pages in the same order)."""
    stored = stored_values(db, book_code)
    acc = Accuracy()
    for record in truth.records:
        acc.records += 1
        got = stored.get((record.page, record.row))
        if got is not None:
            acc.records_found += 1
        all_right = True
        for name, expected in record.fields.items():
            want = _norm(expected.value)
            have = _norm((got or {}).get(name))
            right = want == have
            acc.fields += 1
            acc.fields_right += right
            if want is not None:
                acc.nonempty += 1
                acc.nonempty_right += right
            if not right:
                all_right = False
                acc.wrong_by_field[name] += 1
        acc.records_all_right += all_right and got is not None
    return acc


@dataclass
class LinkQuality:
    true_links: int = 0
    auto_links: int = 0
    auto_right: int = 0
    review_links: int = 0
    review_right: int = 0

    @property
    def precision(self) -> float:
        return self.auto_right / self.auto_links if self.auto_links else 0.0

    @property
    def recall(self) -> float:
        return self.auto_right / self.true_links if self.true_links else 0.0


def score_links(db: Engine, book_code: str, truth_csv, *, book: int = 0) -> LinkQuality:
    """Auto-links against population_truth.csv (record_key, citizen_id, book: the position of
    the book in the list the population was generated from)."""
    truth = pd.read_csv(truth_csv, dtype=str)
    if "book" in truth.columns:
        truth = truth[truth["book"] == str(book)]
    expected = dict(zip(truth["record_key"], truth["citizen_id"]))
    quality = LinkQuality(true_links=len(expected))
    with session_scope(db) as session:
        rows = session.execute(
            select(Page.page_no, Record.row, Link.status, Citizen.citizen_id)
            .join(Record, Record.id == Link.record_id).join(Page, Page.id == Record.page_id)
            .join(Book, Book.id == Record.book_id).join(Citizen, Citizen.id == Link.citizen_pk)
            .where(Book.book_code == book_code, Link.rank == 1)
        )
        for page_no, row, status, citizen_id in rows:
            right = expected.get(f"p{page_no:03d}-r{row:02d}") == citizen_id
            if status in ("auto", "confirmed"):
                quality.auto_links += 1
                quality.auto_right += right
            elif status == "needs_review":
                quality.review_links += 1
                quality.review_right += right
    return quality
