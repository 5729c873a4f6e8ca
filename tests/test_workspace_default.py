"""The workspace is not the shipped data folder (issue 17 §3): a new one is made in
./hotich-data, while one made under the old default (./data) keeps being used, with a note."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.settings import Settings

HOTICH = str(Path(sys.executable).parent / "hotich")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HOTICH_HOME", "HOTICH_DB_URL")}
    return env


def test_a_new_workspace_is_not_the_shipped_data_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOTICH_HOME", raising=False)
    settings = Settings()
    assert settings.home == Path("hotich-data") and not settings.old_workspace
    result = subprocess.run([HOTICH, "init"], cwd=tmp_path, env=_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hotich-data" / "hotich.db").is_file()
    assert not (tmp_path / "data").exists()
    assert "Ghi chú" not in result.stderr


def test_an_old_workspace_keeps_being_used_and_says_so(tmp_path, monkeypatch):
    old = subprocess.run([HOTICH, "init"], cwd=tmp_path, env={**_env(), "HOTICH_HOME": "data"},
                         capture_output=True, text=True, timeout=120)
    assert old.returncode == 0, old.stderr
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOTICH_HOME", raising=False)
    assert Settings().home == Path("data") and Settings().old_workspace
    result = subprocess.run([HOTICH, "status"], cwd=tmp_path, env=_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "đang dùng không gian làm việc cũ ./data" in " ".join(result.stderr.split())
    assert not (tmp_path / "hotich-data").exists()
    # said where the data is, the note is gone
    quiet = subprocess.run([HOTICH, "status"], cwd=tmp_path, env={**_env(), "HOTICH_HOME": "data"},
                           capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "Ghi chú" not in quiet.stderr
