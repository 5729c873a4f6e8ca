"""Engines, sessions and schema upgrades (Alembic, run in code) for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.errors import StorageError
from pipeline.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The revision whose schema the pre-Alembic ``create_all`` produced; such databases are
#: stamped with it instead of being created again.
BASELINE_REVISION = "0001"
#: Arbitrary key of the PostgreSQL advisory lock that serialises concurrent ``init_db`` runs.
_PG_LOCK_KEY = 0x686F7469  # "hoti"
#: Execution option asking for BEGIN IMMEDIATE on SQLite (ignored elsewhere).
_WRITE_LOCK = "hotich_sqlite_write_lock"


class _HideRows(logging.Filter):
    """SQLAlchemy logs every fetched row at DEBUG (names, dates of birth): keep the line, drop
    the values, as ``hide_parameters`` does for statements. Someone debugging SQL on a server
    holding a register must not copy it into a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Row %r":
            record.args = ("[hidden]",)
        return True


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_HideRows())


def display_url(url: str | URL) -> str:
    """The URL as a user may see it: the password left out entirely (not even ``***``)."""
    url = make_url(url)
    return url._replace(password=None).render_as_string(hide_password=False)


def _set_wal(cur) -> None:
    """Switch to WAL, retrying: the switch needs an exclusive lock and SQLite does not wait
    on the busy handler for it, so two processes opening a new database at once collide."""
    import sqlite3
    import time

    for attempt in range(100):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: settings), with the SQLite file's folder created.

    SQLite gets foreign keys, WAL (readers never block the writer), a generous busy
    timeout (a review server and a batch share one file), and real transactions:
    pysqlite by default only BEGINs before a write, which breaks SAVEPOINT and lets
    reads of one transaction see other writers' commits, so BEGIN is issued ourselves.
    """
    settings = get_settings()
    url_obj = make_url(url or settings.database_url)
    if url_obj.get_backend_name() == "sqlite":
        _ensure_sqlite_folder(url_obj)
    busy_ms = int(settings.db_busy_timeout * 1000)  # HOTICH_DB_BUSY_TIMEOUT
    # hide_parameters: statement parameters are citizens' names and dates; they must not reach
    # SQLAlchemy's log (on whenever a root logger is at INFO/DEBUG) nor error messages.
    engine = create_engine(url_obj, pool_pre_ping=url_obj.get_backend_name() != "sqlite",
                           hide_parameters=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we BEGIN ourselves, see _sqlite_begin
            cur = dbapi_conn.cursor()
            # busy_timeout first: switching to WAL needs a lock that a concurrent first
            # connection (two `hotich init` at once) may hold for a moment.
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA foreign_keys=ON")
            _set_wal(cur)
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # BEGIN IMMEDIATE takes the write lock up front (waiting up to busy_timeout);
            # a plain BEGIN that reads first cannot write once another writer committed.
            immediate = conn.get_execution_options().get(_WRITE_LOCK, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _ensure_sqlite_folder(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from pipeline.storage.faults import os_fault

        raise os_fault(exc) or StorageError(
            f"Không tạo được thư mục chứa cơ sở dữ liệu {folder} ({exc.strerror})"
        ) from exc


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config built in code, so no alembic.ini has to ship or be found at runtime.

    Also what a developer uses to write the next migration, e.g.
    ``command.revision(alembic_config(conn), "add x", rev_id="0002", autogenerate=True)``
    inside ``with make_engine(url).begin() as conn`` (then check the script by hand).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration this version of hotich knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _unreachable(engine: Engine, exc: Exception) -> StorageError:
    # The driver's own text is multi-line and may echo the password; keep the first line,
    # in the exception chain, for `-v` only.
    if engine.dialect.name == "sqlite":
        # SQLite has no server to reach: a failure to open is the file or its folder
        # (read-only, no permission, a file where the folder should be), named as such.
        from pipeline.storage.faults import explain_fault

        fault = explain_fault(exc, database_url=engine.url.render_as_string(hide_password=False))
        if isinstance(fault, StorageError):
            return fault
    return StorageError(
        f"Không kết nối được cơ sở dữ liệu {display_url(engine.url)}",
        hint="kiểm tra HOTICH_DB_URL và máy chủ cơ sở dữ liệu",
    )


@contextmanager
def _connect(engine: Engine, *, begin: bool) -> Iterator[Connection]:
    """A connection whose connect failure becomes a one-line StorageError."""
    try:
        conn = engine.connect()
    except (OperationalError, DBAPIError) as exc:
        raise _unreachable(engine, exc) from exc
    if begin:
        conn = conn.execution_options(**{_WRITE_LOCK: True})
    with conn:
        if begin:
            with conn.begin():
                yield conn
        else:
            yield conn


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for an empty (never initialised) database."""
    with _connect(engine, begin=False) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration (what `hotich status` shows)."""
    return current_revision(engine) == head_revision()


def require_current_schema(engine: Engine) -> None:
    """Raise StorageError unless the schema is current; commands call this before work.

    Running on an old schema would fail later with an obscure SQL error in mid-batch.
    """
    rev = current_revision(engine)
    head = head_revision()
    if rev == head:
        return
    if rev is None:
        raise StorageError(
            f"Cơ sở dữ liệu {display_url(engine.url)} chưa được khởi tạo",
            hint="chạy `hotich init`",
        )
    if not _is_known(rev):
        raise _too_new(engine, rev)
    raise StorageError(
        f"Cơ sở dữ liệu {display_url(engine.url)} cần nâng cấp (phiên bản {rev}, mới nhất {head})",
        hint="chạy `hotich init`",
    )


def _is_known(rev: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(rev) is not None
    except CommandError:
        return False


def _too_new(engine: Engine, rev: str) -> StorageError:
    return StorageError(
        f"Cơ sở dữ liệu {display_url(engine.url)} ở phiên bản {rev}, mới hơn bản hotich này",
        hint="cập nhật hotich",
    )


def init_db(engine: Engine) -> None:
    """Create the schema or upgrade it to the newest migration; a no-op when current.

    Concurrent runs are serialised: on PostgreSQL by an advisory lock held for the
    transaction, on SQLite by taking the write lock at BEGIN. DDL is
    transactional on both back-ends here, so a failed upgrade leaves the old schema.
    A database made by the interim ``create_all`` (tables, no alembic_version) is
    stamped with the baseline revision rather than created a second time.

        >>> engine = make_engine()          # $HOTICH_DB_URL or $HOTICH_HOME/hotich.db
        >>> init_db(engine); init_db(engine)  # the second call does nothing
        >>> schema_is_current(engine)
        True
    """
    with _connect(engine, begin=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        rev = MigrationContext.configure(conn).get_current_revision()
        if rev == head_revision():
            return
        if rev is not None and not _is_known(rev):
            raise _too_new(engine, rev)
        config = alembic_config(conn)
        if rev is None and inspect(conn).has_table("books"):
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, "head")


@contextmanager
def session_scope(engine: Engine, *, write_lock: bool = False) -> Iterator[Session]:
    """A transaction: committed when the block ends, rolled back on error.

    ``write_lock=True`` is for short transactions that read and then write while other
    processes write too (a reviewer saving while a batch runs, two `process` runs): on
    SQLite it takes the write lock before the block runs, so the transaction waits its turn
    instead of failing with "database is locked". Other back-ends ignore it.

    Why before the block: SQLite cannot turn a transaction that has read into one that
    writes once another process has written meanwhile, and fails at once rather than
    waiting; only running the whole block again could save it. Asking for the lock first
    fails, if at all, before the block did anything, so asking again is safe: the request is
    repeated until the busy timeout (``db_busy_timeout``) has passed, which also covers the
    few refusals SQLite gives without waiting (recovering the WAL after a crash, another
    connection switching the journal mode).

        >>> with session_scope(engine) as session:
        ...     session.add(book)             # committed when the block ends
    """
    bind = engine.execution_options(**{_WRITE_LOCK: True}) if write_lock else engine
    factory = sessionmaker(bind, expire_on_commit=False)
    with factory() as session:
        if write_lock and engine.dialect.name == "sqlite":
            transaction = _begin_with_write_lock(session)
        else:
            transaction = session.begin()
        with transaction:
            yield session


def _begin_with_write_lock(session: Session):
    """``session.begin()`` with SQLite's write lock taken, asking again while it is refused."""
    import time

    deadline = time.monotonic() + get_settings().db_busy_timeout
    pause = 0.05
    while True:
        transaction = session.begin()
        try:
            session.connection()  # BEGIN IMMEDIATE: SQLite's busy handler waits here
            return transaction
        except OperationalError as exc:
            transaction.rollback()
            if "locked" not in str(exc.orig) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
