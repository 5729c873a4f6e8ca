"""Finding a user row by name: the exports and the review app ask the same way."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.errors import NotFound
from pipeline.storage.models import User


def get_user(session: Session, name: str) -> User:
    """The user, or ``NotFound`` naming it."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"Không có người dùng '{name}'")
    return user
