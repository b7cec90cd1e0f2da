#!/usr/bin/env bash
# One entry point that sets everything up on a fresh machine, then runs the job:
#   bash run.sh repro   -> create/refresh the environment, then `dvc repro` (the embedded default)
#   bash run.sh test    -> create/refresh the environment, then the test suite (extra args go to pytest)
# Idempotent: the environment is rebuilt only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${DIFFUBIAS_VENV:-.venv}"
PY="$(command -v python3.11 || command -v python3)"
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setting up $VENV (first run or pyproject.toml changed) ..."
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  # torch first and pinned: a bare `torch` would pull a multi-GB download.
  "$VENV/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -m pip install -q -e ".[test]" 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -c "import diffubias, torch, dvc, mlflow" || { echo "environment setup failed" >&2; exit 1; }
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"
cmd="${1:-repro}"
shift || true
case "$cmd" in
  repro) exec dvc repro "$@" ;;
  test)  exec python -m pytest "$@" ;;
  *) echo "usage: bash run.sh [repro|test] [args...]" >&2; exit 2 ;;
esac
