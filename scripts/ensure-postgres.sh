#!/usr/bin/env bash
# Makes sure the PostgreSQL named by ETALON_TEST_DATABASE_URL answers. On this machine kind a
# Debian cluster is installed; start it when it is down. Elsewhere, point the URL at your server.
set -euo pipefail
url="${ETALON_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
hostport="${url#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[[ "$port" == "$host" ]] && port=5432
if command -v pg_isready >/dev/null && pg_isready -q -h "$host" -p "$port"; then exit 0; fi
if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -q -h "$host" -p "$port" && exit 0; sleep 1; done
fi
echo "PostgreSQL at $host:$port does not answer; set ETALON_TEST_DATABASE_URL" >&2
exit 1
