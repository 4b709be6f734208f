"""Change points in PostgreSQL: the per-series probe values the detector reads, and the table of
changes it found (`change_points`; written by the daemon and by `changes --recompute`).

Module-level functions on an engine, like `windows.py`: the detector (`monitor.detect.watch`)
and the `changes` command call them; rows come back as `ChangePoint` dataclasses. Series rows
are plain mappings of the probe columns the detector names (`monitor.detect.series.ROW_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store.schema import change_points, probes


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """One `change_points` row (without its id); names match the columns."""

    target: str
    region: str
    workload: int
    metric: str
    direction: str
    at: datetime
    detected_at: datetime
    before: float
    before_low: float
    before_high: float
    after: float
    after_low: float
    after_high: float
    n_before: int
    n_after: int
    evidence: Mapping[str, Any]
    recorded_at: datetime

    def values(self) -> dict[str, Any]:
        out = asdict(self)
        out["evidence"] = dict(self.evidence)
        return out


@dataclass(frozen=True, slots=True)
class SeriesKey:
    target: str
    workload: int
    """The requested prompt length; 0 when probes did not say."""


def _workload_filter(workload: int) -> Any:
    if workload == 0:
        return probes.c.workload.is_(None) | (probes.c.workload == 0)
    return probes.c.workload == workload


async def series_rows(
    engine: AsyncEngine,
    key: SeriesKey,
    columns: Sequence[str],
    *,
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The newest `limit` probes of a series started at or after `since`, oldest first."""
    cols = [probes.c.started_at, probes.c.region, *(probes.c[c] for c in columns)]
    query = select(*cols).where(probes.c.target == key.target, _workload_filter(key.workload))
    if since is not None:
        query = query.where(probes.c.started_at >= since)
    query = query.order_by(probes.c.started_at.desc(), probes.c.probe_id.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(query)).mappings()]
    rows.reverse()
    return rows


async def iter_series(
    engine: AsyncEngine, columns: Sequence[str], targets: Sequence[str] | None = None
) -> AsyncIterator[tuple[SeriesKey, list[dict[str, Any]]]]:
    """Every series' probes in time order, one series at a time (for `changes --recompute`)."""
    keys_query = select(probes.c.target, func.coalesce(probes.c.workload, 0)).distinct()
    if targets:
        keys_query = keys_query.where(probes.c.target.in_(list(targets)))
    async with engine.connect() as conn:
        keys = sorted((str(t), int(w)) for t, w in (await conn.execute(keys_query)).all())
    cols = [probes.c.started_at, probes.c.region, *(probes.c[c] for c in columns)]
    for target, workload in keys:
        key = SeriesKey(target, workload)
        query = (
            select(*cols)
            .where(probes.c.target == target, _workload_filter(workload))
            .order_by(probes.c.started_at, probes.c.probe_id)
        )
        async with engine.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(query)).mappings()]
        yield key, rows


async def last_change_times(engine: AsyncEngine, key: SeriesKey) -> dict[str, datetime]:
    """metric → `detected_at` of the series' newest change point (its current segment holds the
    probes started after it)."""
    query = (
        select(change_points.c.metric, func.max(change_points.c.detected_at))
        .where(change_points.c.target == key.target, change_points.c.workload == key.workload)
        .group_by(change_points.c.metric)
    )
    async with engine.connect() as conn:
        return {str(m): at for m, at in (await conn.execute(query)).all()}


async def insert_changes(engine: AsyncEngine, points: Sequence[ChangePoint]) -> int:
    """Store change points; one already stored (same series, metric and time) is kept."""
    if not points:
        return 0
    query = (
        pg_insert(change_points)
        .values([p.values() for p in points])
        .on_conflict_do_nothing(index_elements=["target", "workload", "metric", "at"])
        .returning(change_points.c.id)
    )
    async with engine.begin() as conn:
        return len((await conn.execute(query)).all())


async def delete_changes(engine: AsyncEngine, targets: Sequence[str] | None = None) -> int:
    query = delete(change_points)
    if targets:
        query = query.where(change_points.c.target.in_(list(targets)))
    async with engine.begin() as conn:
        return (await conn.execute(query)).rowcount or 0


async def list_changes(
    engine: AsyncEngine,
    since: datetime | None = None,
    until: datetime | None = None,
    targets: Sequence[str] | None = None,
) -> list[ChangePoint]:
    """Change points whose change time is in `[since, until)`, oldest first."""
    cols = [change_points.c[name] for name in ChangePoint.__dataclass_fields__]
    query = select(*cols)
    if since is not None:
        query = query.where(change_points.c.at >= since)
    if until is not None:
        query = query.where(change_points.c.at < until)
    if targets:
        query = query.where(change_points.c.target.in_(list(targets)))
    query = query.order_by(
        change_points.c.at, change_points.c.target, change_points.c.workload, change_points.c.metric
    )
    async with engine.connect() as conn:
        return [ChangePoint(**dict(r)) for r in (await conn.execute(query)).mappings()]


@dataclass(frozen=True, slots=True)
class ChangeTally:
    """Per (target, workload, metric, direction): how many changes, and the newest one's times."""

    target: str
    workload: int
    metric: str
    direction: str
    count: int
    last_at: datetime
    last_detected_at: datetime


async def change_tallies(engine: AsyncEngine) -> list[ChangeTally]:
    c = change_points.c
    query = (
        select(
            c.target,
            c.workload,
            c.metric,
            c.direction,
            func.count(),
            func.max(c.at),
            func.max(c.detected_at),
        )
        .group_by(c.target, c.workload, c.metric, c.direction)
        .order_by(c.target, c.workload, c.metric, c.direction)
    )
    async with engine.connect() as conn:
        return [ChangeTally(*row) for row in (await conn.execute(query)).all()]
