"""A full disk under the spool and the round journal: nothing corrupted, nothing lost beyond the
counted drops, no claim of its own taken for another daemon's, and recovery without a restart once
space returns.

The spool lives on a 1 MiB tmpfs the test mounts and fills (`tests.fixtures.disk`); the database
is a private embedded server (on the ordinary disk) that the test stops and starts. A spooled
trace is one JSON line of about 2.7 KB, so with one free 4 KiB page the first append fits and the
second runs out of space half-way: the torn write the old spool glued the next line onto.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.durable import LogWriteError, encode
from monitor.ledger import RoundKey, RoundStatus
from monitor.schedule import JournaledLedger
from monitor.sim import RunningSimulator
from monitor.store import Store
from monitor.store.embedded import EmbeddedPostgres
from monitor.store.schema import probes
from monitor.store.spool import SPOOL_FILE, Spool, SpoolingWriter
from tests.factories import trace_stream
from tests.fixtures.disk import PAGE, TinyDisk
from tests.integration.daemon.conftest import daemon_settings, running_daemon, wait_until
from tests.resilience.conftest import request_id, round_rows, stored_traces

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _claim(key: RoundKey, seconds: int) -> bytes:
    """The journal line of a claim made `seconds` after T0."""
    at = (T0 + timedelta(seconds=seconds)).isoformat()
    op = {"op": "claim", "cycle": key.cycle_id, "index": key.round_index, "target": key.target}
    return encode({**op, "at": at})


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


async def test_the_journal_on_a_full_disk_finishes_its_rounds_once_the_database_is_back(
    tiny_disk: TinyDisk, embedded_postgres: EmbeddedPostgres
) -> None:
    store = await Store.open(embedded_postgres.start(), pool_size=1, connect_timeout_s=2)
    try:
        ledger = JournaledLedger(store, tiny_disk.root / "ledger")
        cycle = await ledger.start_cycle("lab", 8, T0)
        first, second, third = (RoundKey(cycle.id, i) for i in range(3))
        assert await ledger.claim_round(first, T0)
        embedded_postgres.stop("immediate")
        assert await ledger.claim_round(second, T0 + timedelta(seconds=1))  # journaled
        # a target whose claim fills the journal's first page to the byte, so the next op needs
        # a page the full disk does not have
        used = ledger.path.stat().st_size
        padded = second.of("t" * (PAGE - used - len(_claim(second.of(""), 1))))
        assert await ledger.claim_round(padded, T0 + timedelta(seconds=1))
        assert ledger.path.stat().st_size == PAGE

        tiny_disk.fill(free_pages=0)
        # a finish the disk refuses is kept in memory (the round must still finish) ...
        await ledger.finish_round(second, T0 + timedelta(seconds=2), RoundStatus.COMPLETED)
        assert ledger.disk_error is not None and ledger.disk_error.startswith("disk full")
        # ... a claim is not (an unrecorded claim is no claim): that round does not run
        with pytest.raises(LogWriteError):
            await ledger.claim_round(third, T0 + timedelta(seconds=3))
        assert ledger.path.read_bytes() == _claim(second, 1) + _claim(padded, 1)  # whole lines

        embedded_postgres.start()  # the disk is still full
        assert await ledger.reconcile()
        assert not ledger.pending and ledger.disk_error is None
        assert ledger.path.stat().st_size == 0
        rows = {r.key: r.status for r in await store.rounds(cycle.id)}
        assert rows == {
            first: RoundStatus.RUNNING,
            second: RoundStatus.COMPLETED,
            padded: RoundStatus.RUNNING,
        }
    finally:
        await store.close()


async def test_a_claim_replayed_twice_is_recognised_as_this_daemons_own(
    tmp_path: Path, embedded_postgres: EmbeddedPostgres
) -> None:
    """The old journal took its own claim, replayed again after a crash (its replay offset not
    saved: a full disk), for another daemon's and dropped its finish: the round stayed running."""
    store = await Store.open(embedded_postgres.start(), pool_size=1, connect_timeout_s=2)
    try:
        ledger = JournaledLedger(store, tmp_path / "ledger")
        cycle = await ledger.start_cycle("lab", 8, T0)
        key = RoundKey(cycle.id, 0)
        embedded_postgres.stop("immediate")
        assert await ledger.claim_round(key, T0)
        await ledger.finish_round(key, T0 + timedelta(seconds=5), RoundStatus.COMPLETED)
        embedded_postgres.start()
        # the state a crash leaves after the claim was replayed but before its offset was saved
        assert await store.claim_round(key, T0)
        restarted = JournaledLedger(store, tmp_path / "ledger")
        assert restarted.pending
        assert await restarted.reconcile()
        (row,) = await store.rounds(cycle.id)
        assert (row.status, row.finished_at) == (RoundStatus.COMPLETED, T0 + timedelta(seconds=5))
    finally:
        await store.close()


async def test_a_daemon_whose_data_dir_fills_up_recovers_without_a_restart(
    tiny_disk: TinyDisk, embedded_postgres: EmbeddedPostgres, sims: dict[str, RunningSimulator]
) -> None:
    """Database down and then the data directory full: readiness names both causes apart; once
    space and the database return, every round finishes and every served probe is stored once."""
    rounds = 6
    url = await asyncio.to_thread(embedded_postgres.start)
    settings = daemon_settings(url, tiny_disk.root, sims, rounds_per_cycle=rounds)
    completed = {"region": "lab", "status": "completed"}
    async with running_daemon(settings) as d:

        def rounds_done() -> float:
            return d.sample("etalon_rounds_total", completed) or 0

        await wait_until(lambda: rounds_done() >= 1)
        await asyncio.to_thread(embedded_postgres.stop, "immediate")
        await wait_until(lambda: rounds_done() >= 2)  # a round with the database down
        await asyncio.to_thread(tiny_disk.fill, 0)
        await wait_until(lambda: d.daemon.readiness().checks["disk"] != "ok", timeout=10)
        state = d.daemon.readiness()
        assert not state.ready
        assert state.checks["disk"].startswith("disk full"), state.checks
        assert state.checks["database"].startswith("down: "), state.checks
        assert "disk" not in state.checks["database"], state.checks

        await asyncio.to_thread(tiny_disk.free)
        await asyncio.to_thread(embedded_postgres.start)
        await asyncio.wait_for(d.daemon.cycles_complete.wait(), 40)
        await wait_until(lambda: d.sample("etalon_spool_depth") == 0)
        await wait_until(lambda: d.daemon.readiness().ready)
        assert d.sample("etalon_spool_dropped_total") == 0
        assert await d.stop() == 0
    assert not (tiny_disk.root / "ledger" / "journal.jsonl").read_bytes()

    served = Counter((name, r.id) for name, sim in sims.items() for r in sim.requests)
    traces = await stored_traces(url)
    assert Counter((t.target, request_id(t)) for t in traces) == served
    assert len({t.probe_id for t in traces}) == len(traces) == sum(served.values())
    rows = await round_rows(url)
    whole = [(r.round_index, r.status) for r in rows if r.target == ""]
    assert whole == [(i, "completed") for i in range(rounds)]
    assert all(r.status == "completed" for r in rows), rows
    per_target = sum(r.probes for r in rows if r.target)
    assert per_target == len(traces)


async def test_traces_still_held_at_shutdown_are_counted_as_dropped(tiny_disk: TinyDisk) -> None:
    # nothing listens on port 1: a real refused connection, the database is unavailable
    store = await Store.open("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_timeout_s=1)
    try:
        drops: list[int] = []
        writer = SpoolingWriter(store, Spool(tiny_disk.root / "spool"), on_drop=drops.append)
        tiny_disk.fill(free_pages=0)
        for t in trace_stream(3, prefix="s"):
            await writer.write(t)
        assert (writer.held, writer.dropped) == (3, 0)
        await writer.close()
        assert (writer.held, writer.dropped, sum(drops)) == (0, 3, 3)
    finally:
        await store.close()
