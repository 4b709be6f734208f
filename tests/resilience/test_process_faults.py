"""`kill -9` of the daemon process: mid-round, and while it leads through a database outage.

(Takeover by a standby after `kill -9` and a graceful restart are in `tests/e2e`.)
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from monitor.sim import RunningSimulator, start_simulator
from monitor.sim.profiles import PRESETS
from monitor.store.embedded import EmbeddedPostgres
from tests.e2e.conftest import daemon_process, eventually, write_config
from tests.resilience.conftest import RoundRow, request_id, round_rows, stored_traces

COMPLETED = {"region": "lab", "status": "completed"}


def whole_rounds(rows: list[RoundRow]) -> list[tuple[int, str]]:
    return [(r.round_index, r.status) for r in rows if r.target == ""]


async def cycle_closed(url: str, rounds: int) -> bool:
    whole = whole_rounds(await round_rows(url))
    return len(whole) == rounds and all(s != "running" for _, s in whole)


async def test_kill_9_mid_round_then_restart_fails_that_round_and_runs_the_rest(
    tmp_path: Path, fresh_database_url: str
) -> None:
    # 8 tokens at 16 tokens/s: each probe streams for ~0.5 s, so a kill lands inside a round
    sim = await start_simulator(profile=PRESETS["test"].with_(decode_tps=16.0))
    try:
        sims = {"alpha": sim}
        config = write_config(
            tmp_path / "etalon.yaml", fresh_database_url, sims, rounds_per_cycle=4, every="2s"
        )
        per_round = 2  # one target x two prompt lengths
        async with daemon_process("--config", str(config)) as first:
            # the first probe of round 1 is streaming
            await sim.sim.wait_for_requests(per_round + 1, timeout=20)
            first.signal(signal.SIGKILL)
            assert await first.wait_exit(10) == -signal.SIGKILL
        killed = whole_rounds(await round_rows(fresh_database_url))
        assert killed == [(0, "completed"), (1, "running")]
        async with daemon_process("--config", str(config)) as second:
            await eventually(lambda: cycle_closed(fresh_database_url, 4), timeout=30)
            second.signal(signal.SIGTERM)
            assert await second.wait_exit(20) == 0, second.output
        assert "round 1 (all) was interrupted; marking it failed" in second.output
    finally:
        await sim.stop()
    rows = await round_rows(fresh_database_url)
    # each index once: the interrupted round closed as failed, not re-run; the cycle went on
    assert whole_rounds(rows) == [
        (0, "completed"),
        (1, "failed"),
        (2, "completed"),
        (3, "completed"),
    ]
    traces = await stored_traces(fresh_database_url)
    assert len({t.probe_id for t in traces}) == len(traces)
    per_index = {r.round_index: r.probes for r in rows if r.target == "alpha"}
    assert per_index[0] == per_index[2] == per_index[3] == per_round
    # the probe cut by the kill is not a measurement; whatever round 1 finished is kept, once
    assert sum(per_index.values()) == len(traces)
    assert len(traces) <= len(sim.requests) <= len(traces) + per_round


async def test_kill_9_while_leading_through_an_outage_loses_no_round(
    tmp_path: Path, embedded_postgres: EmbeddedPostgres, sims: dict[str, RunningSimulator]
) -> None:
    url = await asyncio.to_thread(embedded_postgres.start)
    rounds = 6
    config = write_config(tmp_path / "etalon.yaml", url, sims, rounds_per_cycle=rounds)
    async with daemon_process("--config", str(config)) as first:

        async def ran(n: int) -> bool:
            return (await first.sample("etalon_rounds_total", COMPLETED) or 0) >= n

        await eventually(lambda: ran(1))
        await asyncio.to_thread(embedded_postgres.stop, "immediate")
        await eventually(lambda: ran(3))  # two rounds with the database down
        assert (await first.sample("etalon_spool_depth", {}) or 0) > 0
        first.signal(signal.SIGKILL)
        await first.wait_exit(10)
    journal = tmp_path / "data" / "ledger" / "journal.jsonl"
    assert journal.read_bytes(), "rounds run offline are in the journal"
    await asyncio.to_thread(embedded_postgres.start)
    async with daemon_process("--config", str(config)) as second:
        await eventually(lambda: cycle_closed(url, rounds), timeout=30)

        async def drained() -> bool:
            return await second.sample("etalon_spool_depth", {}) == 0

        await eventually(drained)
        second.signal(signal.SIGTERM)
        assert await second.wait_exit(20) == 0, second.output
    assert not journal.read_bytes()
    rows = await round_rows(url)
    whole = whole_rounds(rows)
    assert [i for i, _ in whole] == list(range(rounds))  # each index once, none lost
    assert sum(1 for _, s in whole if s == "completed") >= rounds - 1
    traces = await stored_traces(url)
    served = {(name, r.id) for name, sim in sims.items() for r in sim.requests}
    stored = [(t.target, request_id(t)) for t in traces]
    assert len(set(stored)) == len(stored)  # nothing stored twice
    assert set(stored) <= served
    # at most the probes in flight at the kill are missing (a cut probe is not a measurement)
    assert len(served) - len(stored) <= 4
    assert sum(r.probes for r in rows if r.target) == len(traces)
