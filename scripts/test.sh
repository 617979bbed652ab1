#!/usr/bin/env bash
# Install netlm with its test tools into .venv and run every check CI runs:
# ruff (lint + format) and mypy --strict on src/, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests use: dciodvfy (Debian's dicom3tools) validates RT Dose files.
if ! command -v dciodvfy >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dicom3tools >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

echo "== ruff"
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src
echo "== mypy (strict, src/)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
