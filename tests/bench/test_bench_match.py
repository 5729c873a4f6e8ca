"""bench/match.py --quick on our matcher alone: the table prints and meets the precision bar."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_prints_the_table():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "match.py"), "--quick", "--only", "hotich"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    row = next(line for line in run.stdout.splitlines() if "hotich" in line and "vn" in line)
    precision, recall = (float(x) for x in re.findall(r"(\d+\.\d+) %", row)[:2])
    assert precision >= 99.5 and recall >= 90.0, row
