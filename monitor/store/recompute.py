"""`db recompute`: re-derive the summary columns from stored chunks after a definitions change.

Works in batches of the oldest stale rows (`metrics_version` below the current one), each batch one
transaction, so it can be interrupted and re-run: finished batches are no longer stale.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store import bulk
from monitor.store.rows import INPUT_COLUMNS, trace_from_row
from monitor.store.schema import METRIC_DEFINITIONS_VERSION, probes
from monitor.store.summary import SUMMARY_COLUMNS, score_traces

KEY = ("probe_id", "started_at")


async def stale_count(engine: AsyncEngine) -> int:
    query = select(func.count()).where(probes.c.metrics_version < METRIC_DEFINITIONS_VERSION)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def recompute(
    engine: AsyncEngine,
    *,
    force: bool = False,
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> int:
    if force:
        async with engine.begin() as conn:
            await conn.execute(update(probes).values(metrics_version=0))
    # INPUT_COLUMNS: a trace without its own deadlines must get today's defaults, not the old ones
    columns = [probes.c[c] for c in INPUT_COLUMNS]
    stale = (
        select(*columns)
        .where(probes.c.metrics_version < METRIC_DEFINITIONS_VERSION)
        .order_by(probes.c.started_at, probes.c.probe_id)
        .limit(batch)
    )
    done = 0
    while True:
        async with engine.begin() as conn:
            rows = (await conn.execute(stale)).mappings().all()
            if not rows:
                return done
            traces = [trace_from_row(r) for r in rows]
            staged = [
                {"probe_id": t.probe_id, "started_at": t.started_at, **s.columns()}
                for t, s in zip(traces, score_traces(traces), strict=True)
            ]
            await bulk.copy_into_stage(conn, (*KEY, *SUMMARY_COLUMNS), staged)
            await bulk.update_from_stage(conn, SUMMARY_COLUMNS)
        done += len(rows)
        if progress:
            progress(len(rows))
