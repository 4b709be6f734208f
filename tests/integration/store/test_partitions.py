"""Daily partitions: created ahead and on demand; dropped once wholly past the retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from monitor.store import Store
from monitor.store.partitions import list_partitions
from tests.factories import make_trace

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


async def _partitions(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        return await list_partitions(conn)


async def test_maintain_creates_today_and_three_days_ahead(store: Store) -> None:
    result = await store.maintain(NOW)
    expected = ["probes_p20261123", "probes_p20261124", "probes_p20261125", "probes_p20261126"]
    assert result.created == expected
    assert await _partitions(store) == expected
    assert (await store.maintain(NOW)).created == []  # idempotent


async def test_ingest_creates_the_partition_of_its_day(store: Store) -> None:
    await store.ingest(make_trace("old", started_at=datetime(2025, 1, 2, 23, 59, tzinfo=UTC)))
    assert await _partitions(store) == ["probes_p20250102"]


async def test_retention_drops_only_days_wholly_expired(store: Store) -> None:
    retention = Store(store.engine, retention_days=10)
    # cutoff = NOW - 10 d = 2026-11-13 10:30. The 12th ends at 13th 00:00 ≤ cutoff: dropped.
    # The 13th ends at 14th 00:00 > cutoff: kept (it still holds probes younger than 10 days).
    for pid, day in (("d12", 12), ("d13", 13), ("d20", 20)):
        await retention.ingest(make_trace(pid, started_at=datetime(2026, 11, day, 12, tzinfo=UTC)))
    result = await retention.maintain(NOW)
    assert result.dropped == ["probes_p20261112"]
    assert [t.probe_id for t in await retention.traces()] == ["d13", "d20"]
    assert "probes_p20261112" not in await _partitions(store)
    # a later probe of a dropped day recreates its partition (the store forgot the dropped days)
    assert await retention.ingest(make_trace("late", started_at=datetime(2026, 11, 12, tzinfo=UTC)))


async def test_ingest_recreates_a_partition_dropped_by_another_process(store: Store) -> None:
    day = datetime(2026, 11, 1, 12, tzinfo=UTC)
    await store.ingest(make_trace("a", started_at=day))
    other = Store(store.engine, retention_days=10)  # e.g. `etalon-monitor db maintain`
    assert (await other.maintain(NOW)).dropped == ["probes_p20261101"]
    assert await store.ingest(make_trace("b", started_at=day))  # `store` still caches the day
    assert [t.probe_id for t in await store.traces()] == ["b"]
    assert (await other.maintain(NOW)).dropped == ["probes_p20261101"]
    assert await store.ingest_many([make_trace("c", started_at=day)]) == 1
    assert [t.probe_id for t in await store.traces()] == ["c"]


async def test_concurrent_first_writes_of_a_day_all_succeed(
    database_url: str, store: Store
) -> None:
    """Many writers see no partition for a new day at once; each creates it or finds it made."""
    day = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    stores = [await Store.open(database_url, pool_size=1) for _ in range(16)]
    try:
        results = await asyncio.gather(
            *(s.ingest(make_trace(f"race-{i}", started_at=day)) for i, s in enumerate(stores))
        )
    finally:
        for s in stores:
            await s.close()
    assert results == [True] * 16
    assert await _partitions(store) == ["probes_p20240305"]
    assert await store.count() == 16
