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
    edits: int = 0  # Levenshtein distance summed over non-empty truth fields
    truth_chars: int = 0
    wrong_by_field: Counter = field(default_factory=Counter)

    @property
    def field_accuracy(self) -> float:
        return self.fields_right / self.fields if self.fields else 0.0

    @property
    def nonempty_accuracy(self) -> float:
        return self.nonempty_right / self.nonempty if self.nonempty else 0.0

    @property
    def cer(self) -> float:
        """Character error rate on non-empty fields; junk read into a field can push it over 1."""
        return self.edits / self.truth_chars if self.truth_chars else 0.0

    @property
    def record_share(self) -> float:
        return self.records_all_right / self.records if self.records else 0.0

    def add(self, other: "Accuracy") -> None:
        for name in ("fields", "fields_right", "nonempty", "nonempty_right", "records",
                     "records_found", "records_all_right", "edits", "truth_chars"):
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


def score_rows(got: dict, want: dict) -> Accuracy:
    """Score read records against truth, both keyed alike (e.g. by (page, row)).

    ``want[key][field]`` is the truth's normalized value, ``got[key][field]`` what was read;
    a key missing from ``got`` is a record not found. The demo, the tests and bench/ocr.py all
    score through here.
    """
    from rapidfuzz.distance import Levenshtein

    acc = Accuracy()
    for key, truth in want.items():
        acc.records += 1
        found = got.get(key)
        acc.records_found += found is not None
        all_right = found is not None
        for name, expected in truth.items():
            want_value, have = _norm(expected), _norm((found or {}).get(name))
            right = want_value == have
            acc.fields += 1
            acc.fields_right += right
            if want_value is not None:
                acc.nonempty += 1
                acc.nonempty_right += right
                acc.edits += Levenshtein.distance(have or "", want_value)
                acc.truth_chars += len(want_value)
            if not right:
                all_right = False
                acc.wrong_by_field[name] += 1
        acc.records_all_right += all_right
    return acc


def truth_values(truth) -> dict[tuple[int, int], dict[str, str | None]]:
    """(page, row) → field → normalized value, from a ``samplegen.BookTruth``."""
    return {(r.page, r.row): {name: f.value for name, f in r.fields.items()} for r in truth.records}


def score_book(db: Engine, book_code: str, truth) -> Accuracy:
    """Compare a book's stored values with a ``samplegen.BookTruth`` (pages in the same order)."""
    return score_rows(stored_values(db, book_code), truth_values(truth))


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
