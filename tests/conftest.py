"""Shared fixtures: one test body runs on every database back-end (SQLite and PostgreSQL).

Database fixtures (function-scoped, each test gets its own empty database):

    backend   ``"sqlite"`` / ``"postgresql"``: the parameter (test ids ``[sqlite]``, ``[postgresql]``)
    db_url    URL of a fresh, empty database
    engine    an Engine on a fresh database at the newest migration (``init_db``; on
              PostgreSQL a copy of a template migrated once per test session)
    session   a Session on ``engine``; call ``session.commit()`` yourself, closed at the end

PostgreSQL comes from ``HOTICH_TEST_PG_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``): a database ``hotich_test_<random>_<n>``
is created per test through it and dropped afterwards. Unset → the ``[postgresql]`` cases are
skipped; set but the server does not answer → they error (a broken CI must not look green).

Limit a test to some back-ends with ``@pytest.mark.backends("sqlite")``.
"""

from __future__ import annotations

import itertools
import os
import uuid
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from pipeline.storage.db import init_db, make_engine

PG_ENV = "HOTICH_TEST_PG_URL"
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "backends(*names): run a database test only on these back-ends (sqlite, postgresql)"
    )


class _PgServer:
    """Creates and drops throw-away databases on the test PostgreSQL server."""

    def __init__(self, url: str):
        self.url = make_url(url)
        self.prefix = f"hotich_test_{uuid.uuid4().hex[:8]}"
        self._counter = itertools.count(1)
        self._template_name: str | None = None
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)

    def check(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text("SELECT 1"))

    def create(self, *, initialized: bool = False) -> str:
        """A new database: empty, or a copy of one already at the newest migration."""
        name = f"{self.prefix}_{next(self._counter)}"
        template = f' TEMPLATE "{self._template()}"' if initialized else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
        return self.url.set(database=name).render_as_string(hide_password=False)

    def _template(self) -> str:
        # Migrating once and copying is about twice as fast per test as migrating each time.
        if self._template_name is None:
            url = self.create()
            eng = make_engine(url)
            init_db(eng)
            eng.dispose()  # CREATE DATABASE ... TEMPLATE needs it free of connections
            self._template_name = make_url(url).database
        return self._template_name

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        # Leftovers of tests that were interrupted between create and drop.
        with self.admin.connect() as conn:
            names = conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": self.prefix + "\\_%"},
            ).all()
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[_PgServer]:
    """The test PostgreSQL server (skip when not configured, fail when configured but down)."""
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI") == "true":  # .ci/run always sets it: unset there is a bug
            pytest.fail(f"{PG_ENV} is not set in CI; the PostgreSQL cases must run there")
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL cases skipped")
    server = _PgServer(url)
    try:
        server.check()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is a test failure
        server.admin.dispose()
        pytest.fail(f"{PG_ENV} is set but the server does not answer: {exc}", pytrace=False)
    yield server
    server.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """``sqlite`` or ``postgresql``: the parameter every database fixture runs over."""
    marker = request.node.get_closest_marker("backends")
    if marker and request.param not in marker.args:
        pytest.skip(f"not run on {request.param}")
    return request.param


def _fresh_url(request, backend: str, tmp_path, *, initialized: bool) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'hotich.db'}"
        if initialized:
            eng = make_engine(url)
            init_db(eng)
            eng.dispose()
        yield url
        return
    server: _PgServer = request.getfixturevalue("pg_server")
    url = server.create(initialized=initialized)
    yield url
    server.drop(url)


@pytest.fixture
def db_url(request, backend, tmp_path) -> Iterator[str]:
    """URL of a fresh, empty database (SQLite: its folder does not exist yet)."""
    yield from _fresh_url(request, backend, tmp_path, initialized=False)


@pytest.fixture
def engine(request, backend, tmp_path) -> Iterator[Engine]:
    """An engine on a fresh database whose schema is at the newest migration.

    In a test that also asks for ``db_url`` it is that database, migrated by ``init_db``.
    """
    if "db_url" in request.fixturenames:
        url = request.getfixturevalue("db_url")
        eng = make_engine(url)
        init_db(eng)
    else:
        gen = _fresh_url(request, backend, tmp_path, initialized=True)
        url = next(gen)
        request.addfinalizer(lambda: next(gen, None))
        eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session on ``engine``; nothing is committed unless the test commits."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh HOTICH_HOME with SQLite, as a new user has it."""
    home = tmp_path / "ws"
    monkeypatch.setenv("HOTICH_HOME", str(home))
    monkeypatch.delenv("HOTICH_DB_URL", raising=False)
    return home


@pytest.fixture
def run(workspace):
    """``run("init")``: the CLI invoked in ``workspace``, exceptions raised, not swallowed."""
    from typer.testing import CliRunner

    from cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke
