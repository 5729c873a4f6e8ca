import pytest
from typer.testing import CliRunner


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh HOTICH_HOME with SQLite, as a new user has it."""
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
