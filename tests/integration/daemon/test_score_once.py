"""In the daemon each probe is scored exactly once: one pass feeds /metrics and the stored row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from monitor.metrics.score import SCORED, ScoreRecord, score_traces
from monitor.sim import RunningSimulator
from monitor.store import Store
from tests.integration.daemon.conftest import daemon_settings, running_daemon

PROBES = 3 * 2 * 2  # three rounds x two targets x two prompt lengths


async def test_n_probes_are_scored_n_times(
    store: Store, database_url: str, tmp_path: Path, sims: dict[str, RunningSimulator]
) -> None:
    before = SCORED.probes
    async with running_daemon(daemon_settings(database_url, tmp_path, sims)) as d:
        await d.daemon.cycles_complete.wait()
        scored_by_daemon = SCORED.probes - before
        async with store.engine.connect() as conn:
            stored = (await conn.execute(text("SELECT count(*) FROM probes"))).scalar_one()
        counted = sum(
            d.sample(
                "etalon_probes_total",
                {
                    "target": name,
                    "provider": "simulator",
                    "model": f"model-{name}",
                    "region": "lab",
                    "workload": f"p{p}",
                    "outcome": "ok",
                },
            )
            or 0
            for name in sims
            for p in (16, 32)
        )
    assert stored == counted == PROBES
    # once per probe: the exporter and the store got the same record, nobody scored again
    assert scored_by_daemon == PROBES
    # and the stored record is what the one pass gives for the stored trace
    rows = await store.scored()
    assert rows.rescored == 0
    assert all(isinstance(s, ScoreRecord) for s in rows.scores)
    assert rows.scores == score_traces(rows.traces)
