"""Every setting is in the README's table, so an administrator finds each knob in one place
(issue 17 §3); a setting added without a row fails here."""

from __future__ import annotations

from pathlib import Path

from pipeline.review.config import ReviewSettings
from pipeline.settings import Settings
from pipeline.worker import PageTask

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _rows() -> dict[str, str]:
    rows = {}
    for line in README.splitlines():
        if line.startswith("| `HOTICH_"):
            name = line.split("`")[1]
            rows[name] = line
    return rows


def test_every_setting_has_a_row_in_the_readme():
    rows = _rows()
    names = [f"HOTICH_{n.upper()}" for n in Settings.model_fields]
    names += [f"HOTICH_REVIEW_{n.upper()}" for n in ReviewSettings.model_fields]
    assert [n for n in names if n not in rows] == []


def test_the_settings_a_page_task_carries_are_the_ones_marked_as_travelling():
    rows = _rows()
    marked = {name for name, line in rows.items() if "✦" in line}
    carried = {"render_dpi" if f == "dpi" else f for f in PageTask.__dataclass_fields__}
    assert {f"HOTICH_{f.upper()}" for f in carried} & set(rows) == marked
