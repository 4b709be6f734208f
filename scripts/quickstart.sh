#!/usr/bin/env bash
# One command from a fresh clone: create .venv, install, and run the most complete job available.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[fast]'
exec .venv/bin/etalon-monitor analyze examples/reference-traces.jsonl "$@"
