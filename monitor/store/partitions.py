"""Daily range partitions of `probes`: create ahead, drop expired (retention by `DROP`, not
`DELETE`).

Partition `probes_pYYYYMMDD` holds `[day 00:00 UTC, next day 00:00 UTC)`. Dropping a whole day is
instant and leaves no dead tuples; the price is that retention is day-granular: a partition goes
once its *upper* bound is older than `retention_days`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.schema import PARTITIONED_TABLE

PARTITION_NAME: Final = re.compile(rf"^{PARTITIONED_TABLE}_p(\d{{8}})$")
DAYS_AHEAD: Final = 3
_ALREADY_EXISTS: Final = {"42P07", "23505"}
"""duplicate_table; unique_violation on the catalog when two sessions race."""
PARTITION_LOCK: Final = int.from_bytes(
    hashlib.blake2b(b"etalon-monitor/partitions", digest_size=8).digest(), "big", signed=True
)
"""Transaction advisory lock taken before creating partitions (one creator at a time)."""


def partition_name(day: date) -> str:
    return f"{PARTITIONED_TABLE}_p{day:%Y%m%d}"


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _bound(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


async def ensure_partitions(conn: AsyncConnection, days: Iterable[date]) -> list[str]:
    """Create the missing partitions for `days`; returns the names created.

    Concurrent first writes of a new day all find the partition missing. Without coordination
    their `CREATE TABLE ... PARTITION OF` statements race in the catalog (duplicate_table, a unique
    violation on `pg_type`, or lock waits on the parent); so creators queue on a transaction-scoped
    advisory lock (held until the caller's transaction ends) and look again once they hold it.
    The already-exists errors are still tolerated for servers shared with older versions.
    """
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK})
    existing = set(await list_partitions(conn))
    created: list[str] = []
    for day in sorted(set(days)):
        name = partition_name(day)
        if name in existing:
            continue
        statement = text(
            f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF {PARTITIONED_TABLE} '
            f"FOR VALUES FROM ('{_bound(day)}') TO ('{_bound(day + timedelta(days=1))}')"
        )
        try:
            async with conn.begin_nested():
                await conn.execute(statement)
        except DBAPIError as e:
            # another writer created it between our look and our CREATE: that is fine
            if getattr(e.orig, "sqlstate", None) not in _ALREADY_EXISTS:
                raise
            continue
        created.append(name)
    return created


async def list_partitions(conn: AsyncConnection) -> list[str]:
    """Names of the partitions attached to `probes` in the current schema, oldest first."""
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :parent AND p.relnamespace = to_regnamespace(current_schema())::oid "
            "ORDER BY c.relname"
        ),
        {"parent": PARTITIONED_TABLE},
    )
    return [r[0] for r in rows]


def partition_day(name: str) -> date | None:
    match = PARTITION_NAME.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date()


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    created: list[str]
    dropped: list[str]

    def __str__(self) -> str:
        """The log line's words: what changed, or that nothing did."""
        parts = [
            f"{verb} {len(names)} ({', '.join(names)})"
            for verb, names in (("created", self.created), ("dropped", self.dropped))
            if names
        ]
        return "; ".join(parts) or "nothing to create or drop"


async def maintain(
    conn: AsyncConnection, now: datetime, retention_days: int, days_ahead: int = DAYS_AHEAD
) -> MaintenanceResult:
    """Create today's and the next `days_ahead` partitions; drop those wholly past retention.

    A partition is dropped when its end (next midnight) is at or before `now - retention_days`,
    so no probe younger than the retention is ever lost.
    """
    today = day_of(now)
    created = await ensure_partitions(
        conn, (today + timedelta(days=i) for i in range(days_ahead + 1))
    )
    cutoff = now.astimezone(UTC) - timedelta(days=retention_days)
    dropped: list[str] = []
    for name in await list_partitions(conn):
        day = partition_day(name)
        if day is None:
            continue
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        if end <= cutoff:
            await conn.execute(text(f'ALTER TABLE {PARTITIONED_TABLE} DETACH PARTITION "{name}"'))
            await conn.execute(text(f'DROP TABLE "{name}"'))
            dropped.append(name)
    return MaintenanceResult(created, dropped)
