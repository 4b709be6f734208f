"""The round journal on a real server that goes away: offline claims, then an idempotent replay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.ledger import RoundKey, RoundStatus, StoreUnavailable
from monitor.schedule import JournaledLedger
from monitor.store import Store
from monitor.store.embedded import EmbeddedPostgres

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def test_offline_rounds_are_journaled_and_replayed_once(
    tmp_path: Path, embedded_postgres: EmbeddedPostgres
) -> None:
    url = await asyncio.to_thread(embedded_postgres.start)
    store = await Store.open(url, pool_size=1, connect_timeout_s=2)
    try:
        ledger = JournaledLedger(store, tmp_path / "ledger")
        cycle = await store.start_cycle("lab", 4, T0)
        assert await ledger.current_cycle("lab") == cycle
        assert await ledger.rounds(cycle.id) == []
        assert await ledger.claim_round(RoundKey(cycle.id, 0), T0)
        assert not ledger.pending

        await asyncio.to_thread(embedded_postgres.stop, "immediate")
        later = T0 + timedelta(seconds=1)
        cached = await ledger.current_cycle("lab")  # from the cache
        assert cached is not None and cached.id == cycle.id
        await ledger.finish_round(RoundKey(cycle.id, 0), later, RoundStatus.COMPLETED)
        assert await ledger.claim_round(RoundKey(cycle.id, 1), later)
        assert not await ledger.claim_round(
            RoundKey(cycle.id, 1), later
        )  # claimed once, offline too
        assert await ledger.claim_round(RoundKey(cycle.id, 1, "alpha"), later)
        await ledger.finish_round(RoundKey(cycle.id, 1, "alpha"), later, RoundStatus.SKIPPED)
        await ledger.finish_round(RoundKey(cycle.id, 1), later, RoundStatus.COMPLETED)
        listed = [(r.round_index, r.target, r.status) for r in await ledger.rounds(cycle.id)]
        assert listed == [(0, "", "completed"), (1, "", "completed"), (1, "alpha", "skipped")]
        with pytest.raises(StoreUnavailable):
            await ledger.start_cycle("lab", 4, later)  # a cycle id needs the database
        assert ledger.pending and ledger.offline_ops == 5
        assert not await ledger.reconcile()
        with ledger.path.open("ab") as f:
            f.write(b'{"op":"claim","cyc')  # a crash mid-append: never acknowledged

        await asyncio.to_thread(embedded_postgres.start)
        assert await ledger.reconcile()
        assert not ledger.pending

        def rows() -> list[tuple[int, str, str]]:
            return [(r.round_index, r.target, r.status.value) for r in db_rows]

        db_rows = await store.rounds(cycle.id)
        assert rows() == [(0, "", "completed"), (1, "", "completed"), (1, "alpha", "skipped")]
        # another daemon ran round 2 while this one was cut off: its record is kept
        await asyncio.to_thread(embedded_postgres.stop, "immediate")
        mine, theirs = T0 + timedelta(seconds=2), T0 + timedelta(seconds=3)
        assert await ledger.claim_round(RoundKey(cycle.id, 2), mine)
        await ledger.finish_round(RoundKey(cycle.id, 2), mine, RoundStatus.COMPLETED)
        await asyncio.to_thread(embedded_postgres.start)
        assert await store.claim_round(RoundKey(cycle.id, 2), theirs)
        assert await ledger.reconcile()
        (row,) = [r for r in await store.rounds(cycle.id) if r.round_index == 2]
        assert (row.status.value, row.started_at, row.finished_at) == ("running", theirs, None)
        assert not ledger.path.with_name("journal.jsonl.offset").exists()
        # and the next online claim continues after the offline ones
        assert await ledger.claim_round(RoundKey(cycle.id, 3), later)
    finally:
        await store.close()
