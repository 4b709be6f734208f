"""Shared checks for the resilience suite: what the database holds after a daemon ran."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from monitor.store import Store
from monitor.trace import Trace


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
