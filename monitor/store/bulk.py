"""Bulk writes through `COPY`: import, spool replay and recompute move thousands of rows at a time.

SQLAlchemy's executemany tops out near 50 k rows/s; psycopg's `COPY` into a temporary table
followed by one `INSERT ... SELECT ... ON CONFLICT DO NOTHING` is an order of magnitude faster and
stays idempotent on `(probe_id, started_at)`: importing a file twice inserts nothing the second
time.

The COPY runs on the driver connection inside an SQLAlchemy transaction that has already issued a
statement (the temp table), so the SQLAlchemy commit really commits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    SmallInteger,
    Text,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from monitor.store.schema import probes

JSON_COLUMNS = frozenset(c.name for c in probes.c if isinstance(c.type, JSON))
STAGE = "probes_stage"

_PG_TYPES: dict[type[TypeEngine[Any]], str] = {
    Text: "text",
    BigInteger: "int8",
    Integer: "int4",
    SmallInteger: "int2",
    Float: "float8",
    Boolean: "bool",
    DateTime: "timestamptz",
    JSON: "json",
}


def _pg_type(column: str) -> str:
    """The PostgreSQL type name of a `probes` column, for binary COPY."""
    kind = probes.c[column].type
    if isinstance(kind, ARRAY):
        return _PG_TYPES[type(kind.item_type)] + "[]"
    return _PG_TYPES[type(kind)]


def _adapt(column: str, value: Any) -> Any:
    if value is not None and column in JSON_COLUMNS:
        return Json(value)
    return value


async def copy_into_stage(
    conn: AsyncConnection, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Create the session's stage table (dropped at commit) and COPY `rows` into it."""
    names = ", ".join(columns)
    await conn.execute(
        text(f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {names} FROM probes WITH NO DATA")
    )
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    types = [_pg_type(c) for c in columns]
    query = f"COPY {STAGE} ({names}) FROM STDIN (FORMAT BINARY)"
    async with driver.cursor() as cur, cur.copy(query) as copy:
        copy.set_types(types)
        for row in rows:
            await copy.write_row([_adapt(c, row[c]) for c in columns])


async def insert_from_stage(conn: AsyncConnection, columns: Sequence[str]) -> int:
    """Move the stage into `probes`, skipping probes already stored; returns rows inserted."""
    names = ", ".join(columns)
    result = await conn.execute(
        text(
            f"INSERT INTO probes ({names}, target_config_id) "
            f"SELECT {', '.join('s.' + c for c in columns)}, "
            "(SELECT t.id FROM targets t WHERE t.name = s.target ORDER BY t.id DESC LIMIT 1) "
            f"FROM {STAGE} s ORDER BY s.started_at, s.probe_id "
            "ON CONFLICT (probe_id, started_at) DO NOTHING"
        )
    )
    return int(result.rowcount)


async def update_from_stage(conn: AsyncConnection, columns: Sequence[str]) -> int:
    """Overwrite `columns` of existing probes with the stage's values (recompute)."""
    assignments = ", ".join(f"{c} = s.{c}" for c in columns)
    result = await conn.execute(
        text(
            f"UPDATE probes p SET {assignments} FROM {STAGE} s "
            "WHERE p.probe_id = s.probe_id AND p.started_at = s.started_at"
        )
    )
    return int(result.rowcount)
