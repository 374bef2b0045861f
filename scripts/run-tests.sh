#!/usr/bin/env bash
# Runs the whole test suite headless. pytest's exit 5 ("no tests collected") counts as failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check app model tests scripts || exit 1
.venv/bin/lint-imports || exit 1
.venv/bin/python -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "run-tests: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
