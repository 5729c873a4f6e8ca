"""bench/review_load.py, tiny: the real server on PostgreSQL answers every reviewer, table printed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("hotich_bench_review_load", ROOT / "bench" / "review_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_load_script_runs_reviewers_against_the_real_server(pg_server):
    bench = _load()
    url = pg_server.url.render_as_string(hide_password=False)
    result = bench.run(url, reviewers=2, records=30, seconds=2)
    stats = result["stats"]
    assert stats.errors == 0 and len(stats.next_ms) >= 2
    assert "next record" in bench.table(result)
