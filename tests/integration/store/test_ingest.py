"""Ingest: one probe per transaction, idempotent on probe_id, summary columns equal to `analyze`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from monitor.ledger import RoundKey
from monitor.metrics.analysis import analyze
from monitor.store import Store, UnstorableTraceError
from monitor.store.rows import INPUT_COLUMNS, trace_from_row
from monitor.store.schema import probes, rounds
from monitor.trace import FluidityScope, Trace
from tests.factories import REASONING_USED_DEADLINES, T0, make_trace, reasoning_trace


async def test_ingest_twice_stores_one_row(store: Store) -> None:
    trace = make_trace("dup-1")
    assert await store.ingest(trace) is True
    assert await store.ingest(trace) is False
    assert await store.count() == 1


async def test_ingested_trace_reads_back_equal(store: Store) -> None:
    traces = [make_trace("rt-1"), reasoning_trace(started_at=T0 + timedelta(seconds=1))]
    for t in traces:
        await store.ingest(t)
    # a trace without deadlines reads back with those it was judged against (export writes them)
    assert await store.traces() == [
        traces[0],
        replace(traces[1], deadlines=REASONING_USED_DEADLINES),
    ]
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(*(probes.c[c] for c in INPUT_COLUMNS)).order_by(probes.c.started_at)
        )
        assert [trace_from_row(r._mapping) for r in rows] == traces  # exactly what was ingested


async def test_summary_columns_match_the_metric_engine(store: Store) -> None:
    # 32 tokens, one per chunk: TTFT 200 ms, gaps 20 ms → TPOT = 31·20 ms / 31 = 20 ms,
    # E2E = 200 + 31·20 = 820 ms; D_p 452 ms and 25 ms decode tier: never late → index 1.
    trace = make_trace("sum-1", tokens=32, ttft_ms=200, gap_ms=20)
    await store.ingest(trace)
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(probes))).mappings().one()
    assert row["ttft_ns"] == 200_000_000
    assert row["tpot_ns"] == pytest.approx(20_000_000)
    assert row["e2e_ns"] == 820_000_000
    assert row["output_tokens"] == 32
    assert row["tokens_per_chunk"] == 1.0
    assert row["prefill_deadline_ns"] == 452_000_000
    assert row["decode_deadline_ns"] == 25_000_000
    assert row["fluidity_index"] == 1.0
    assert row["workload"] == 256
    assert row["loop_lag_max_ns"] == 310_000
    expected = analyze([trace]).requests[0]
    assert row["min_decode_deadline_ns"] == round(expected.min_decode_deadline_s * 1e9)  # type: ignore[operator]
    assert row["total_deadlines"] == expected.total_deadlines


async def test_slow_stream_scores_below_one(store: Store) -> None:
    # arrivals 450, 510, 570, 630, 690 ms; D_p 452, D_d 25:
    # b_j = a_j - 25·j = 450, 485, 520, 555, 590; token 0: 450 ≤ 452 met;
    # each next b exceeds the running max by 33 or 35 → 1 + 33//25 = 1 + 35//25 = 2 misses:
    # missed 8, late tokens 4, met 5 - 4 = 1, total 9
    trace = make_trace("slow-1", tokens=5, ttft_ms=450, gap_ms=60)
    await store.ingest(trace)
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(probes))).mappings().one()
    assert (row["missed_deadlines"], row["total_deadlines"]) == (8, 9)
    assert row["fluidity_index"] == pytest.approx(1 / 9)
    assert row["fluid"] is False


async def test_ingest_counts_the_probe_in_its_round(store: Store) -> None:
    cycle = await store.start_cycle("eu-west", 24, T0)
    ref = RoundKey(cycle.id, 0)
    assert await store.claim_round(ref, T0)
    await store.ingest(make_trace("r-1"), round=ref)
    await store.ingest(make_trace("r-2", started_at=T0 + timedelta(seconds=5)), round=ref)
    await store.ingest(make_trace("r-1"), round=ref)  # a replay: not counted again
    async with store.engine.connect() as conn:
        count = (await conn.execute(select(rounds.c.probes))).scalar_one()
        cycle_ids = (await conn.execute(select(probes.c.cycle_id))).scalars().all()
    assert count == 2
    assert cycle_ids == [cycle.id, cycle.id]


async def test_minimal_trace_is_refused(store: Store) -> None:
    minimal = Trace(probe_id="m", chunks=(), prompt_tokens=10, minimal=True)
    with pytest.raises(UnstorableTraceError, match="started_at"):
        await store.ingest(minimal)


async def test_text_is_dropped_when_configured_off(database_url: str, store: Store) -> None:
    quiet = Store(store.engine, store_text=False)
    await quiet.ingest(make_trace("nt-1"))
    (back,) = await store.traces()
    assert all(c.text is None for c in back.chunks)
    assert [c.t_ns for c in back.chunks] == [c.t_ns for c in make_trace("nt-1").chunks]


async def test_visible_scope_is_kept_and_scored_on_every_chunk(store: Store) -> None:
    # reasoning at 100 and 180 ms, the answer at 300 and 330 ms: a `visible` probe's TTFT is the
    # first reasoning chunk and its tokens are 4 + 2 + 1 + 3 = 10
    trace = reasoning_trace("scope-1", fluidity_scope=FluidityScope.VISIBLE)
    await store.ingest(trace)
    assert [t.fluidity_scope for t in await store.traces()] == [FluidityScope.VISIBLE]
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(probes))).mappings().one()
    assert (row["ttft_ns"], row["output_tokens"]) == (100_000_000, 10)
