#!/usr/bin/env bash
# Runs the whole test suite: creates .venv if needed, installs the project with its test extra,
# makes sure a PostgreSQL answers at ETALON_TEST_DATABASE_URL, then runs ruff, mypy and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
export ETALON_TEST_DATABASE_URL="${ETALON_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
bash scripts/ensure-postgres.sh
.venv/bin/ruff check monitor migrations tests benchmarks grafana
.venv/bin/ruff format --check monitor migrations tests benchmarks grafana
.venv/bin/mypy
.venv/bin/mypy --strict grafana/generate.py grafana/etalon_dashboards
exec .venv/bin/pytest "$@"
