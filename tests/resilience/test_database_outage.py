"""The private PostgreSQL stopped for several rounds mid-cycle, then restarted.

The leader keeps leading in degraded mode: rounds run on schedule, probes go to the spool, round
bookkeeping to the local journal. When the server is back, the journal and the spool are replayed:
every probe the simulators served is stored exactly once, in the round it ran in, and the outage
shows in `etalon_spool_depth` and `etalon_db_write_errors_total`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from itertools import pairwise
from pathlib import Path

from monitor.sim import RunningSimulator
from monitor.store.embedded import EmbeddedPostgres
from tests.integration.daemon.conftest import daemon_settings, running_daemon, wait_until
from tests.resilience.conftest import request_id, round_rows, stored_traces

ROUNDS = 8
PROBES_PER_ROUND = 2 * 2  # two targets (sims fixture) x two prompt lengths


async def test_rounds_go_on_through_an_outage_and_every_probe_is_stored_once(
    tmp_path: Path, embedded_postgres: EmbeddedPostgres, sims: dict[str, RunningSimulator]
) -> None:
    url = await asyncio.to_thread(embedded_postgres.start)
    settings = daemon_settings(url, tmp_path, sims, rounds_per_cycle=ROUNDS)
    completed = {"region": "lab", "status": "completed"}
    async with running_daemon(settings) as d:

        def rounds_done() -> float:
            return d.sample("etalon_rounds_total", completed) or 0

        await wait_until(lambda: rounds_done() >= 2)
        await asyncio.to_thread(embedded_postgres.stop, "immediate")
        down_from = rounds_done()
        # three whole rounds with the database down
        await wait_until(lambda: rounds_done() >= down_from + 3, timeout=15)
        depth = d.sample("etalon_spool_depth")
        errors = d.sample("etalon_db_write_errors_total")
        assert depth is not None and depth >= 3 * PROBES_PER_ROUND
        assert errors is not None and errors >= 1
        assert d.sample("etalon_leader", {"region": "lab"}) == 1  # still leading, degraded
        assert d.daemon.readiness().checks["scheduler"] == "leader (degraded)"
        assert not d.daemon.readiness().ready  # the database check fails
        await asyncio.to_thread(embedded_postgres.start)
        await asyncio.wait_for(d.daemon.cycles_complete.wait(), 30)
        await wait_until(lambda: d.sample("etalon_spool_depth") == 0)
        assert d.sample("etalon_rounds_total", {"region": "lab", "status": "skipped"}) == 0
        assert rounds_done() == ROUNDS
        assert await d.stop() == 0
    assert not (tmp_path / "ledger" / "journal.jsonl").read_bytes()

    # every request the simulators served is stored once, and nothing else
    served = [r.id for sim in sims.values() for r in sim.requests]
    assert len(served) == ROUNDS * PROBES_PER_ROUND
    traces = await stored_traces(url)
    assert len(traces) == len(served)
    assert len({t.probe_id for t in traces}) == len(traces)
    by_target = Counter((t.target, request_id(t)) for t in traces)
    served_by_target = Counter((name, r.id) for name, sim in sims.items() for r in sim.requests)
    assert by_target == served_by_target
    assert all(t.outcome.value == "ok" for t in traces)

    # each round once, completed, with its probes counted in the per-target rows
    rows = await round_rows(url)
    whole = [r for r in rows if r.target == ""]
    assert [(r.round_index, r.status) for r in whole] == [(i, "completed") for i in range(ROUNDS)]
    per_target = [(r.round_index, r.target, r.status, r.probes) for r in rows if r.target]
    assert per_target == [
        (i, name, "completed", 2) for i in range(ROUNDS) for name in ("alpha", "beta")
    ]
    # the schedule held: rounds started about a second apart, outage or not (1 s interval)
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(whole)]
    assert all(0.3 < g < 2.0 for g in gaps), gaps
