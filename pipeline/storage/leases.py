"""Page leases: how `process` runs, on this machine or others sharing one database, split a book.

A run claims a page before it reads it by writing its name (``Page.claimed_by``) and an
expiry (``Page.lease_until``). The claim is one atomic statement: on PostgreSQL the candidate
rows are picked ``FOR UPDATE SKIP LOCKED``, so two runs claiming at the same instant get
different pages instead of waiting on each other; on SQLite the same conditional UPDATE runs
under the database's single write lock. A live run renews its leases (``LeaseKeeper``); a
killed run cannot, so once its leases run out its pages are claimable again.

Lease times come from the database's clock on PostgreSQL (runs on machines whose clocks
differ still agree on when a lease ends); SQLite is one machine, whose clock is used.
Claiming and renewing never touch ``Page.updated_at``: that stays the time the page's
content was last written, which the report and the exports rely on.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from pipeline.storage.db import session_scope
from pipeline.storage.models import Page


def lease_owner(run_id: int) -> str:
    """The name a run claims pages under: its stage run id, then where it runs (for people),
    e.g. ``12@scan-pc-3:40411`` (host and process id)."""
    return f"{run_id}@{socket.gethostname()[:80]}:{os.getpid()}"


def owned_by_run(run_id: int) -> ColumnElement[bool]:
    """SQL condition on ``Page``: claimed by stage run ``run_id``, from whatever host."""
    return Page.claimed_by.startswith(f"{run_id}@", autoescape=True)


def db_now(session: Session) -> datetime:
    """Now, by the clock every run sharing the database agrees on (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(select(func.now())).astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def lease_is_free(now: datetime) -> ColumnElement[bool]:
    return or_(Page.lease_until.is_(None), Page.lease_until < now)


def claim_pages(db: Engine, owner: str, candidates: ColumnElement[bool], *, seconds: float,
                limit: int = 1) -> list[int]:
    """Claim up to ``limit`` pages matching ``candidates`` whose lease is free or expired, in
    book and page order; returns their ids (none: nothing left that no live run holds).

        >>> claim_pages(engine, lease_owner(run.id), Page.status == "pending", seconds=60)
        [4012]
    """
    with session_scope(db, write_lock=True) as session:
        now = db_now(session)
        pick = (select(Page.id).where(candidates, lease_is_free(now))
                .order_by(Page.book_id, Page.page_no).limit(limit)
                .with_for_update(skip_locked=True))  # PostgreSQL only; SQLite holds its write lock
        claimed = session.scalars(
            update(Page).where(Page.id.in_(pick))
            .values(claimed_by=owner, lease_until=now + timedelta(seconds=seconds),
                    updated_at=Page.updated_at)  # a claim is not a change of the page
            .returning(Page.id)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted(claimed)


def renew_leases(session: Session, owner: str, seconds: float) -> int:
    """Push the expiry of every lease ``owner`` holds ``seconds`` from now; returns how many."""
    now = db_now(session)
    result = session.execute(
        update(Page).where(Page.claimed_by == owner)
        .values(lease_until=now + timedelta(seconds=seconds), updated_at=Page.updated_at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def release_pages(session: Session, owner: ColumnElement[bool] | str) -> int:
    """Clear the claims of ``owner`` (a run's name, or a condition such as ``owned_by_run``)."""
    condition = Page.claimed_by == owner if isinstance(owner, str) else owner
    result = session.execute(
        update(Page).where(condition)
        .values(claimed_by=None, lease_until=None, updated_at=Page.updated_at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def held_elsewhere(db: Engine, owner: str, candidates: ColumnElement[bool]
                   ) -> tuple[int, datetime | None]:
    """Pages matching ``candidates`` that another run holds a live lease on, and when the
    last of those leases runs out if not renewed."""
    with session_scope(db) as session:
        now = db_now(session)
        count, until = session.execute(
            select(func.count(), func.max(Page.lease_until)).where(
                candidates, Page.lease_until >= now, Page.claimed_by != owner)
        ).one()
    return count or 0, until


def run_holds_live_lease(session: Session, run_id: int, now: datetime) -> bool:
    """True while stage run ``run_id`` has a lease that has not run out: it is alive."""
    return session.scalar(select(
        select(Page.id).where(and_(owned_by_run(run_id), Page.lease_until >= now)).exists()
    ))


class LeaseKeeper:
    """Renews a run's leases every third of their length from a thread, so a page that takes
    longer than a lease to read stays claimed; stops with the run (or dies with it).

    ``also(session)`` runs in the same transaction on every beat (the driver uses it to keep
    its stage run marked as running). A beat that fails (the database away for a moment) is
    retried on the next one; if the leases run out meanwhile, another run may read the same
    pages again, which costs time but not data (``pipeline.process`` stores a page once).

        >>> with LeaseKeeper(engine, owner, 60):
        ...     ...                         # claim and work; leases stay fresh
    """

    def __init__(self, db: Engine, owner: str, seconds: float,
                 also: Callable[[Session], None] | None = None):
        self.db, self.owner, self.seconds, self.also = db, owner, seconds, also
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {owner}", daemon=True)

    def beat(self) -> None:
        with session_scope(self.db, write_lock=True) as session:
            renew_leases(session, self.owner, self.seconds)
            if self.also is not None:
                self.also(session)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - see the class docstring; the next beat retries
                pass

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
