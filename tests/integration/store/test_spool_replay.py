"""Spool replay against a live database: order, idempotence, and a refused trace set aside."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.store import Store, UnstorableTraceError
from monitor.store.spool import Spool, SpoolingWriter
from monitor.trace import Trace
from tests.factories import T0, make_trace


async def test_a_trace_the_database_refuses_does_not_block_the_rest(
    store: Store, tmp_path: Path
) -> None:
    spool = Spool(tmp_path)
    spool.append(make_trace("before"))
    spool.append(make_trace("bad\x00", started_at=T0 + timedelta(seconds=1)))
    spool.append(make_trace("after", started_at=T0 + timedelta(seconds=2)))
    # PostgreSQL text cannot hold NUL, so it refuses that row (an out-of-range number no longer
    # does: the writer keeps it in meta.out_of_range)
    assert await spool.replay(store) == 2
    assert (spool.depth, spool.rejected) == (0, 1)
    assert [t.probe_id for t in await store.traces()] == ["before", "after"]
    (line,) = spool.rejected_path.read_text().splitlines()
    record = json.loads(line)
    assert record["trace"]["probe_id"] == "bad\x00"
    assert record["reason"] == "DataError"


async def test_writer_refuses_minimal_traces_before_spooling(store: Store, tmp_path: Path) -> None:
    writer = SpoolingWriter(store, Spool(tmp_path))
    with pytest.raises(UnstorableTraceError):
        await writer.write(Trace(probe_id="m", chunks=(), prompt_tokens=5, minimal=True))
    assert writer.depth == 0
