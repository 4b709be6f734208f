"""No probe lost or duplicated when the database goes away mid-stream and comes back.

Uses a private embedded server that the test stops (`immediate`, like a crash) and restarts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.ledger import RoundKey
from monitor.store import Store
from monitor.store.embedded import EmbeddedPostgres
from monitor.store.schema import probes, rounds
from monitor.store.spool import Spool, SpoolingWriter, WriteResult
from tests.factories import T0, trace_stream


@pytest.fixture
async def private_store(embedded_postgres: EmbeddedPostgres) -> AsyncIterator[Store]:
    url = embedded_postgres.start()
    store = await Store.open(url, pool_size=1)
    yield store
    await store.close()


async def _stored_ids(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(probes.c.probe_id).order_by(probes.c.probe_id))
        return list(rows.scalars())


async def test_outage_mid_stream_loses_and_duplicates_nothing(
    private_store: Store, embedded_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    errors: list[BaseException] = []
    writer = SpoolingWriter(private_store, Spool(tmp_path / "spool"), on_write_error=errors.append)
    cycle = await private_store.start_cycle("eu-west", 24, T0)
    ref = RoundKey(cycle.id, 0)
    assert await private_store.claim_round(ref, T0)
    traces = list(trace_stream(60, prefix="o"))
    results = [await writer.write(t, ref) for t in traces[:20]]
    assert results == [WriteResult.STORED] * 20

    embedded_postgres.stop("immediate")
    results = [await writer.write(t, ref) for t in traces[20:40]]
    assert results == [WriteResult.SPOOLED] * 20
    assert writer.depth == 20
    assert errors, "a failed write must be reported"

    embedded_postgres.start()
    results = [await writer.write(t, ref) for t in traces[40:60]]
    # the first write after the outage joins the queue, then the whole spool drains in order
    assert results == [WriteResult.SPOOLED] + [WriteResult.STORED] * 19
    assert writer.depth == 0
    assert await _stored_ids(private_store) == sorted(t.probe_id for t in traces)
    async with private_store.engine.connect() as conn:
        counted = (await conn.execute(select(rounds.c.probes))).scalar_one()
        total = (await conn.execute(select(func.count()).select_from(probes))).scalar_one()
    assert (counted, total) == (60, 60)


async def test_spool_left_by_a_stopped_daemon_is_replayed_once(
    private_store: Store, embedded_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    traces = list(trace_stream(12, prefix="r"))
    embedded_postgres.stop("immediate")
    first = SpoolingWriter(private_store, Spool(tmp_path / "spool"))
    for t in traces[:8]:
        assert await first.write(t) is WriteResult.SPOOLED
    # "restart": a new writer over the same spool directory, after the database is back; two of
    # the spooled probes reached the database before the crash (stored, not marked in the spool)
    embedded_postgres.start()
    await private_store.ingest(traces[0])
    await private_store.ingest(traces[1])
    second = SpoolingWriter(private_store, Spool(tmp_path / "spool"))
    assert second.depth == 8
    assert await second.drain() == 8
    for t in traces[8:]:
        assert await second.write(t) is WriteResult.STORED
    assert await _stored_ids(private_store) == sorted(t.probe_id for t in traces)
    assert second.depth == 0
