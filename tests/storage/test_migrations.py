"""Schema creation and upgrade: idempotent, upgrades older databases, agrees with the models."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from pipeline.errors import StorageError
from pipeline.storage import db
from pipeline.storage.db import (
    current_revision,
    head_revision,
    init_db,
    make_engine,
    require_current_schema,
    schema_is_current,
    session_scope,
)
from pipeline.storage.models import Base, Book



def _schema(engine) -> dict:
    insp = inspect(engine)
    out = {}
    for t in sorted(insp.get_table_names()):
        out[t] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t)),
            sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(t)),
            sorted((f["name"], tuple(f["constrained_columns"])) for f in insp.get_foreign_keys(t)),
        )
    return out


def _diff(engine) -> list:
    with engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(mc, Base.metadata)


def test_empty_database_is_created_at_head(db_url):
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    assert not schema_is_current(engine)
    init_db(engine)
    assert current_revision(engine) == head_revision()
    assert schema_is_current(engine)
    require_current_schema(engine)
    engine.dispose()


def test_init_twice_changes_nothing(engine, make_book):
    with session_scope(engine) as s:
        make_book(s)
    before = _schema(engine)
    init_db(engine)
    assert _schema(engine) == before
    assert current_revision(engine) == head_revision()
    with session_scope(engine) as s:
        assert s.scalars(select(Book.book_code)).all() == ["NT-1978-KS-01"]


def test_models_agree_with_head_migration(engine):
    assert _diff(engine) == []


def _revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(db.alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


@pytest.mark.parametrize("start", _revisions_oldest_first())
def test_database_at_older_revision_is_upgraded(db_url, start):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(db.alembic_config(conn), start)
    assert current_revision(engine) == start
    init_db(engine)
    assert schema_is_current(engine)
    assert _diff(engine) == []
    engine.dispose()


def test_downgrade_to_base_and_back(engine):
    with engine.begin() as conn:
        command.downgrade(db.alembic_config(conn), "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    init_db(engine)
    assert _diff(engine) == []


def test_interim_create_all_database_is_adopted(db_url, make_book):
    """Databases made before migrations existed (create_all, no alembic_version)."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    with session_scope(engine) as s:
        make_book(s)
    init_db(engine)
    assert schema_is_current(engine)
    with session_scope(engine) as s:
        assert s.scalar(select(Book.book_code)) == "NT-1978-KS-01"
    engine.dispose()


def test_database_newer_than_code_is_refused(engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(StorageError, match="mới hơn"):
        init_db(engine)
    with pytest.raises(StorageError, match="mới hơn"):
        require_current_schema(engine)
    assert not schema_is_current(engine)


def test_uninitialised_database_is_reported(db_url):
    engine = make_engine(db_url)
    with pytest.raises(StorageError, match="chưa được khởi tạo") as info:
        require_current_schema(engine)
    assert "hotich init" in str(info.value)
    engine.dispose()


@pytest.mark.backends("sqlite")
def test_sqlite_pragmas_and_folder(db_url):
    engine = make_engine(db_url)  # db_url points into a folder that does not exist yet
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


def test_savepoint_rolls_back_only_inner_work(engine, make_book):
    """begin_nested must really be a SAVEPOINT on SQLite too (pysqlite needs help for that)."""
    with session_scope(engine) as s:
        make_book(s, "KEEP")
        try:
            with s.begin_nested():
                make_book(s, "DROP")
                raise RuntimeError
        except RuntimeError:
            pass
    with session_scope(engine) as s:
        assert s.scalars(select(Book.book_code)).all() == ["KEEP"]


def test_unreachable_postgresql_is_one_line_without_password():
    engine = make_engine("postgresql+psycopg://hotich:s3cret@127.0.0.1:1/hotich?connect_timeout=3")
    for call in (init_db, current_revision, schema_is_current):
        with pytest.raises(StorageError) as info:
            call(engine)
        msg = str(info.value)
        assert msg.startswith(
            "Không kết nối được cơ sở dữ liệu postgresql+psycopg://hotich@127.0.0.1:1/hotich"
        )
        assert "\n" not in msg and "s3cret" not in msg
        assert info.value.exit_code == 5


def test_sqlite_folder_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError) as info:
        make_engine(f"sqlite:///{blocker / 'sub' / 'hotich.db'}")
    assert "\n" not in str(info.value)


def test_schema_check_notices_a_drift(engine):
    """The models-vs-migration check is only worth something if it can fail."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_records_status"))
    diff = _diff(engine)
    assert any(d[0] == "add_index" and d[1].name == "ix_records_status" for d in diff), diff


def test_write_lock_sessions_wait_their_turn(engine, make_book):
    """Two read-then-write transactions at once both succeed (SQLite: BEGIN IMMEDIATE)."""
    import threading
    import time

    started = threading.Event()
    errors: list[Exception] = []

    def slow_writer() -> None:
        try:
            with session_scope(engine, write_lock=True) as s:
                s.scalars(select(Book)).all()
                started.set()
                time.sleep(0.5)
                make_book(s, "SLOW")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
            started.set()

    t = threading.Thread(target=slow_writer)
    t.start()
    started.wait(10)
    with session_scope(engine, write_lock=True) as s:
        s.scalars(select(Book)).all()
        make_book(s, "FAST")
    t.join(30)
    assert errors == []
    with session_scope(engine) as s:
        assert sorted(s.scalars(select(Book.book_code))) == ["FAST", "SLOW"]


def test_concurrent_init_runs_are_serialised(db_url):
    import threading

    errors: list[Exception] = []

    def run() -> None:
        eng = make_engine(db_url)
        try:
            init_db(eng)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            eng.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    engine = make_engine(db_url)
    assert schema_is_current(engine) and _diff(engine) == []
    engine.dispose()
