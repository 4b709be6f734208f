"""Shared checks for the resilience suite: what the database holds after a daemon ran."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import text

from monitor.sim import RunningSimulator, start_simulator
from monitor.store import Store
from monitor.trace import Trace
from tests.fixtures.database import scratch_database


@dataclass(frozen=True, slots=True)
class RoundRow:
    cycle_id: int
    round_index: int
    target: str
    status: str
    started_at: datetime
    probes: int


async def round_rows(url: str) -> list[RoundRow]:
    """Every round row (all-target and per-target), by cycle, index and target."""
    store = await Store.open(url, pool_size=1)
    try:
        async with store.engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT cycle_id, round_index, target, status, started_at, probes FROM rounds "
                    "ORDER BY cycle_id, round_index, target"
                )
            )
            return [RoundRow(*r) for r in result]
    finally:
        await store.close()


async def stored_traces(url: str) -> list[Trace]:
    store = await Store.open(url, pool_size=1)
    try:
        return await store.traces()
    finally:
        await store.close()


def request_id(trace: Trace) -> str:
    """The simulator's id for the request a trace measured (its `x-request-id` header)."""
    assert trace.meta is not None, trace
    value = trace.meta["headers"]["x-request-id"]
    assert isinstance(value, str)
    return value


@pytest.fixture
async def sims() -> AsyncIterator[dict[str, RunningSimulator]]:
    """Two simulated vendors (`test` profile), `alpha` and `beta`."""
    started = {
        "alpha": await start_simulator(profile="test", seed=1),
        "beta": await start_simulator(profile="test", seed=2),
    }
    try:
        yield started
    finally:
        for sim in started.values():
            await sim.stop()


@pytest.fixture
def fresh_database_url() -> Iterator[str]:
    """A fresh, empty database on the test server: the daemon migrates it itself."""
    with scratch_database("etalon_res") as url:
        yield url
