"""Helpers of the national export tests: a sample book with scans, two of its three records approved.

A module of its own (not conftest) so test files can import it by a name no other test folder uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from pipeline.review.auth import add_user
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import Record
from pipeline.storage.versions import add_field_version

ILLEGIBLE_NOTE = "mực nhòe"


@dataclass
class ExportBook:
    engine: object
    settings: Settings
    book_code: str
    record_ids: list[int]  # by row; rows 1 and 2 approved, row 3 only reviewed


def seed_export_book(engine, home: Path) -> ExportBook:
    """The review sample book (one generated page, three entries), row 2's ethnicity made
    illegible, rows 1-2 approved, row 3 reviewed; users an (admin) and minh (supervisor)."""
    from pipeline.review.sample import seed_sample_book

    settings = Settings(home=home)
    sample = seed_sample_book(engine, settings, with_population=False)
    with session_scope(engine) as s:
        add_user(s, "an", "admin", "matkhau-an-004", actor="test")
        add_user(s, "minh", "supervisor", "matkhau-minh-03", actor="test")
        add_field_version(s, sample.record_ids[1], "ethnicity", raw="", value=None, status="illegible",
                          confidence=0.0, source="review", note=ILLEGIBLE_NOTE, changed_by="lan",
                          reason="không đọc được")
        for record in s.scalars(select(Record).where(Record.id.in_(sample.record_ids))):
            record.status = "approved" if record.row in (1, 2) else "reviewed"
            record.approved_by = "minh" if record.row in (1, 2) else None
    return ExportBook(engine, settings, sample.book_code, sample.record_ids)
