"""Review test fixtures: users of each role, a CLI workspace (helpers in review_helpers.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from review_helpers import ROLES, make_users


@pytest.fixture
def users(session):
    make_users(session)
    session.commit()
    return ROLES


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    home = tmp_path / "ws"
    monkeypatch.setenv("HOTICH_HOME", str(home))
    monkeypatch.delenv("HOTICH_DB_URL", raising=False)
    return home


@pytest.fixture
def run(workspace):
    from cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke
