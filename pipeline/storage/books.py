"""Finding a book by the archive's code: one place says what "no such book" looks like."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.errors import NotFound
from pipeline.storage.models import Book


def find_book(session: Session, book_code: str) -> Book:
    """The book with this code, or ``NotFound`` naming it (every command's one line)."""
    book = session.scalar(select(Book).where(Book.book_code == book_code))
    if book is None:
        raise NotFound(f"Không có sổ '{book_code}'")
    return book
