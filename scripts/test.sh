#!/usr/bin/env bash
# Runs the whole test suite, installing first whatever is missing (so it works on a clean checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export OMP_THREAD_LIMIT=1
# Two worker processes (pytest-xdist): each test's Tesseract runs single-threaded, so the
# suite uses both cores of the 2-core machines it runs on. HOTICH_TEST_WORKERS=0 runs it in
# one process.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${HOTICH_TEST_WORKERS:-2}" "$@"
