#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory: creates the
# read-only role Grafana connects with (grafana/sql/readonly-role.sql, mounted at /etalon-sql).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="${ETALON_GRAFANA_DB_USER:?set ETALON_GRAFANA_DB_USER in .env}" \
  -v password="${ETALON_GRAFANA_DB_PASSWORD:?set ETALON_GRAFANA_DB_PASSWORD in .env}" \
  -v database="$POSTGRES_DB" \
  -v owner="$POSTGRES_USER" \
  -f /etalon-sql/readonly-role.sql
