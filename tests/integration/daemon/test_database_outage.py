"""A database outage while a probe is in flight: the trace is spooled, then stored; none lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.sim import start_simulator
from monitor.sim.profiles import PRESETS
from monitor.store import Store
from monitor.store.embedded import EmbeddedPostgres
from tests.integration.daemon.conftest import daemon_settings, running_daemon, wait_until


async def test_trace_finished_during_an_outage_is_spooled_then_stored(
    tmp_path: Path, embedded_postgres: EmbeddedPostgres
) -> None:
    url = await asyncio.to_thread(embedded_postgres.start)
    # 8 tokens at 4 tokens/s: the probe runs ~2 s, long enough to stop the database under it
    sim = await start_simulator(profile=PRESETS["test"].with_(decode_tps=4.0))
    try:
        settings = daemon_settings(url, tmp_path, {"alpha": sim}, prompts=(16,), rounds_per_cycle=1)
        async with running_daemon(settings) as d:
            await sim.sim.wait_for_requests(1, timeout=10)
            await asyncio.to_thread(embedded_postgres.stop, "immediate")
            await wait_until(lambda: d.sample("etalon_spool_depth") == 1)
            # the failed write, plus any replay attempt made while the server was still down
            errors = d.sample("etalon_db_write_errors_total")
            assert errors is not None and errors >= 1
            await asyncio.to_thread(embedded_postgres.start)
            await wait_until(lambda: d.sample("etalon_spool_depth") == 0)
            await d.stop()
        store = await Store.open(url, pool_size=1)
        try:
            traces = await store.traces()
        finally:
            await store.close()
        assert [t.target for t in traces] == ["alpha"]
        assert traces[0].outcome.value == "ok"
    finally:
        await sim.stop()
