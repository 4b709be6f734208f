"""The daemon finds a vendor that got worse mid-run, and nothing for a steady one beside it.

Compressed schedule: a round a second, one prompt length, so each round adds one probe per target.
`degrading` serves `STEADY_PROBES` probes like `steady`, then decodes twice as slowly (a new
build); the detector runs with its defaults (no tuning for this test). Expected: a `worse` change
of `degrading` whose change time is not before the first slowed probe and which was found within
12 probes of it; no change of `steady`; none found before the slowdown; the counter on /metrics.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from monitor.sim import Profile, RunningSimulator, Switch, start_simulator
from monitor.store import Store
from monitor.store.changes import list_changes
from tests.e2e.conftest import daemon_process, eventually, write_config

STEADY_PROBES = 16
AFTER_PROBES = 12
ROUNDS = STEADY_PROBES + AFTER_PROBES
# 100 ms TTFT and 25 ms per token: slow enough that a loaded test machine's scheduling noise
# (a millisecond or two) is small beside them, fast enough that a probe (12 tokens) ends well
# within the 1 s round. The slowdown doubles the time per token (fluent rate -50 %).
VENDOR = Profile("e2e-vendor", ttft_s=(0.1, 0.0, 0.0), decode_tps=40.0, jitter=0.2)
SLOWED = VENDOR.with_(name="e2e-slowed", decode_tps=20.0)
TOKENS = 12


@pytest.fixture
async def vendors() -> AsyncIterator[dict[str, RunningSimulator]]:
    started = {
        "degrading": await start_simulator(
            profile=VENDOR, seed=1, switch=Switch(STEADY_PROBES, SLOWED)
        ),
        "steady": await start_simulator(profile=VENDOR, seed=2),
    }
    try:
        yield started
    finally:
        for sim in started.values():
            await sim.stop()


async def _probe_times(url: str, target: str) -> list[datetime]:
    store = await Store.open(url, pool_size=1)
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT started_at FROM probes WHERE target = :t ORDER BY started_at"),
                {"t": target},
            )
            return [r[0] for r in rows]
    finally:
        await store.close()


async def test_worse_change_found_after_the_slowdown_and_none_for_the_steady_vendor(
    tmp_path: Path, fresh_database_url: str, vendors: dict[str, RunningSimulator]
) -> None:
    config = write_config(
        tmp_path / "etalon.yaml", fresh_database_url, vendors, rounds_per_cycle=ROUNDS
    )
    settings = yaml.safe_load(config.read_text())
    for target in settings["targets"].values():  # one prompt length: one probe per round
        target["workloads"] = {"prompt_tokens": [16], "max_tokens": TOKENS}
    config.write_text(yaml.safe_dump(settings))
    completed = {"region": "lab", "status": "completed"}
    async with daemon_process("--config", str(config)) as daemon:

        async def all_rounds() -> bool:
            return await daemon.sample("etalon_rounds_total", completed) == ROUNDS

        await eventually(all_rounds, timeout=90)
        degraded_times = await _probe_times(fresh_database_url, "degrading")
        assert len(degraded_times) == ROUNDS
        assert len(await _probe_times(fresh_database_url, "steady")) == ROUNDS
        first_slow = degraded_times[STEADY_PROBES]
        last_allowed = degraded_times[STEADY_PROBES + AFTER_PROBES - 1]

        async def change_exported() -> bool:
            labels = {
                "target": "degrading",
                "workload": "p16",
                "metric": "tpot",
                "direction": "worse",
            }
            return (await daemon.sample("etalon_change_points_total", labels) or 0) >= 1

        await eventually(change_exported, timeout=15)
        lint = subprocess.run(
            [shutil.which("promtool") or "promtool", "check", "metrics"],
            input=await daemon.scrape(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
        store = await Store.open(fresh_database_url, pool_size=1)
        try:
            found = await list_changes(store.engine)
        finally:
            await store.close()
        daemon.signal(signal.SIGTERM)
        assert await daemon.wait_exit(20) == 0, daemon.output

    summary = [(c.target, c.metric, c.direction, c.at, c.detected_at) for c in found]
    assert [c for c in found if c.target == "steady"] == [], summary
    mine = [c for c in found if c.target == "degrading"]
    assert mine, summary
    for c in mine:
        assert c.direction == "worse", summary
        assert c.at >= first_slow, summary  # none before the slowdown
        assert c.detected_at >= first_slow, summary
        assert c.detected_at <= last_allowed, summary  # within 12 probes of it
    assert {"tpot", "d_star"} <= {c.metric for c in mine}, summary
    tpot = next(c for c in mine if c.metric == "tpot")
    assert tpot.after / tpot.before > 1.5  # 25 ms → 50 ms per token, ±20 % jitter
