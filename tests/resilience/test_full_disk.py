"""A full disk under the spool: nothing corrupted, nothing lost beyond the counted drops, and
recovery without a restart once space returns.

The spool lives on a 1 MiB tmpfs the test mounts and fills (`tests.fixtures.disk`); the database
is a private embedded server (on the ordinary disk) that the test stops and starts. A spooled
trace is one JSON line of about 2.7 KB, so with one free 4 KiB page the first append fits and the
second runs out of space half-way: the torn write the old spool glued the next line onto.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.store import Store
from monitor.store.embedded import EmbeddedPostgres
from monitor.store.schema import probes
from monitor.store.spool import SPOOL_FILE, Spool, SpoolingWriter
from tests.factories import trace_stream
from tests.fixtures.disk import TinyDisk


def _lines(path: Path) -> list[dict[str, object]]:
    """Every line of a JSONL file, parsed: fails on a torn or glued line."""
    raw = path.read_bytes()
    assert not raw or raw.endswith(b"\n"), "a torn line was left behind"
    return [json.loads(line) for line in raw.splitlines()]


async def _stored(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(probes.c.probe_id).order_by(probes.c.probe_id))
        return list(rows.scalars())


async def test_traces_survive_a_full_disk_and_reach_the_database_when_space_returns(
    tiny_disk: TinyDisk, embedded_postgres: EmbeddedPostgres
) -> None:
    store = await Store.open(embedded_postgres.start(), pool_size=1, connect_timeout_s=2)
    try:
        spool_dir = tiny_disk.root / "spool"
        writer = SpoolingWriter(store, Spool(spool_dir))
        traces = list(trace_stream(12, prefix="d"))
        embedded_postgres.stop("immediate")
        for t in traces[:3]:
            await writer.write(t)  # database down, disk fine: spooled
        assert writer.depth == 3

        tiny_disk.fill(free_pages=1)
        for t in traces[3:8]:
            await writer.write(t)  # neither database nor disk: held in memory, never raised
        assert writer.depth == 8
        assert writer.dropped == 0
        spooled = _lines(spool_dir / SPOOL_FILE)  # whole lines only: nothing torn, nothing glued
        assert 3 <= len(spooled) < 8

        tiny_disk.free()
        embedded_postgres.start()
        for t in traces[8:]:
            await writer.write(t)
        await writer.drain()
        assert writer.depth == 0
        assert await _stored(store) == sorted(t.probe_id for t in traces)
        assert Spool(spool_dir).depth == 0  # a restart finds nothing left to replay
    finally:
        await store.close()


async def test_beyond_the_memory_bound_traces_are_dropped_loudly_and_counted(
    tiny_disk: TinyDisk, embedded_postgres: EmbeddedPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(embedded_postgres.start(), pool_size=1, connect_timeout_s=2)
    try:
        drops: list[int] = []
        writer = SpoolingWriter(
            store, Spool(tiny_disk.root / "spool"), held_limit=4, on_drop=drops.append
        )
        traces = list(trace_stream(10, prefix="x"))
        embedded_postgres.stop("immediate")
        tiny_disk.fill(free_pages=0)
        with caplog.at_level(logging.ERROR, logger="monitor.store.spool"):
            for t in traces:
                await writer.write(t)
        # nothing fits on the disk: the first 4 are held, the other 6 dropped
        assert (writer.depth, writer.dropped, sum(drops)) == (4, 6, 6)
        assert sum("dropped" in r.getMessage() for r in caplog.records) == 6
        assert writer.disk_error is not None and "No space left" in writer.disk_error

        tiny_disk.free()
        embedded_postgres.start()
        await writer.drain()
        assert writer.depth == 0 and writer.disk_error is None
        assert await _stored(store) == [t.probe_id for t in traces[:4]]
        async with store.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(probes))).scalar() == 4
    finally:
        await store.close()
