"""`db recompute` re-derives summary columns from the stored chunks, resumably."""

from __future__ import annotations

from sqlalchemy import select, update

from monitor.store import METRIC_DEFINITIONS_VERSION, Store
from monitor.store.recompute import stale_count
from monitor.store.schema import probes
from monitor.store.summary import SUMMARY_COLUMNS
from tests.factories import trace_stream

SUMMARY = [probes.c[c] for c in SUMMARY_COLUMNS]


async def _summaries(store: Store) -> list[tuple[object, ...]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(probes.c.probe_id, *SUMMARY).order_by(probes.c.probe_id))
        return [tuple(r) for r in rows]


async def test_recompute_restores_stale_rows_and_skips_current_ones(store: Store) -> None:
    await store.ingest_many(trace_stream(25))
    good = await _summaries(store)
    # simulate rows written under older definitions with different values
    async with store.engine.begin() as conn:
        await conn.execute(
            update(probes)
            .where(probes.c.probe_id < "p0000010")
            .values(metrics_version=0, fluidity_index=-1.0, ttft_ns=None, fluid=False)
        )
    assert await stale_count(store.engine) == 10
    seen: list[int] = []
    assert await store.recompute(batch=4, progress=seen.append) == 10
    assert seen == [4, 4, 2]
    assert await _summaries(store) == good
    assert await stale_count(store.engine) == 0
    assert await store.recompute() == 0  # nothing stale: a re-run does nothing


async def test_recompute_all_rewrites_every_row(store: Store) -> None:
    await store.ingest_many(trace_stream(12))
    good = await _summaries(store)
    assert await store.recompute(force=True) == 12
    assert await _summaries(store) == good
    async with store.engine.connect() as conn:
        versions = set((await conn.execute(select(probes.c.metrics_version))).scalars())
    assert versions == {METRIC_DEFINITIONS_VERSION}
