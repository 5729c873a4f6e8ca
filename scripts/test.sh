#!/usr/bin/env bash
# Runs the whole test suite, installing first whatever is missing (so it works on a clean checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export OMP_THREAD_LIMIT=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
