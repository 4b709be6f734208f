#!/usr/bin/env bash
# One command from a fresh clone: create .venv, install, and run the monitor's demo until Ctrl-C:
# three simulated vendors on loopback, a probe round every 10 s, the embedded PostgreSQL in
# ./.etalon, and Prometheus metrics at http://127.0.0.1:9464/metrics (ETALON_EXPORTER__LISTEN
# moves it). Extra arguments go to `etalon-monitor run` (e.g. --config my.yaml for real vendors).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[fast]'
exec .venv/bin/etalon-monitor run "$@"
