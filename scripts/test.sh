#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs the system packages the tests need
# (.ci/apt-packages.txt: PostgreSQL, promtool/amtool, Chromium, a C++ toolchain), builds the
# llama.cpp engine for the real_engine tests once (cached in ~/.cache/etalon-monitor/llama),
# creates .venv with the project and its test extra, starts PostgreSQL at ETALON_TEST_DATABASE_URL
# when it is down, then runs ruff, mypy and pytest. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
bash scripts/system-packages.sh --all
bash scripts/install-llama.sh >/dev/null
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[test]'
export ETALON_TEST_DATABASE_URL="${ETALON_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
bash scripts/ensure-postgres.sh
.venv/bin/ruff check monitor migrations tests benchmarks grafana
.venv/bin/ruff format --check monitor migrations tests benchmarks grafana
.venv/bin/mypy
.venv/bin/mypy --strict grafana/generate.py grafana/etalon_dashboards
.venv/bin/lint-imports --no-cache  # the package graph of docs/architecture.md (pyproject.toml)
exec .venv/bin/pytest "$@"
