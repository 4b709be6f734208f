#!/usr/bin/env bash
# One command from a fresh clone: install PostgreSQL's server binaries if they are missing (as root
# or with passwordless sudo; otherwise it prints the command to run), create .venv, install, and run
# the monitor's demo until Ctrl-C: three simulated vendors on loopback, a probe round every 10 s,
# the embedded PostgreSQL in the data directory (~/.local/state/etalon-monitor; as root
# /var/lib/etalon-monitor; ETALON_DATA_DIR moves it), and Prometheus metrics at http://127.0.0.1:9464/metrics (ETALON_EXPORTER__LISTEN
# moves it). Extra arguments go to `etalon-monitor run` (e.g. --config my.yaml for real vendors).
# Afterwards the command is .venv/bin/etalon-monitor (or `source .venv/bin/activate`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null; then
  bash scripts/system-packages.sh postgresql
fi
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# setuptools warns about editable installs in general (not about this project): keep start quiet.
PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[fast]'
echo "etalon-monitor is installed at $PWD/.venv/bin/etalon-monitor (or: source .venv/bin/activate)"
exec .venv/bin/etalon-monitor run "$@"
