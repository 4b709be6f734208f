"""Alembic migration scripts for the etalon-monitor schema (see monitor/store/migrate.py)."""
