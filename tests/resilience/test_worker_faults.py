"""The daemon's probe workers (`monitor.plane`) killed, and the daemon stopped, with streams open.

Real `etalon-monitor run` processes, real worker processes, a real simulator on loopback, and
PostgreSQL: what must hold is in the database and on /metrics, not in the daemon's memory.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.sim import RunningSimulator, start_simulator
from monitor.sim.profiles import PRESETS
from monitor.trace import Outcome
from tests.e2e.conftest import DaemonProcess, daemon_process, eventually, write_config
from tests.resilience.conftest import round_rows, stored_traces

PLANE = {"workers": 1, "heartbeat_s": 0.2, "stuck_after_s": 3, "core_nice": 0}


def plane_config(path: Path, url: str, sims: dict[str, RunningSimulator], **schedule: Any) -> Path:
    write_config(path, url, sims, **schedule)
    config = yaml.safe_load(path.read_text())
    config["probe"] = PLANE
    for target in config["targets"].values():
        target["workloads"]["max_tokens"] = 16
        target["concurrency"] = 2  # both prompt lengths stream at once
    path.write_text(yaml.safe_dump(config))
    return path


async def worker_pid(daemon: DaemonProcess) -> int:
    """The pid of worker 0 as /metrics exports it, once it has started."""

    async def started() -> bool:
        return bool(await daemon.sample("etalon_probe_worker_pid", {"worker": "0"}))

    await eventually(started)
    pid = await daemon.sample("etalon_probe_worker_pid", {"worker": "0"})
    assert pid is not None
    return int(pid)


@pytest.fixture
async def slow_sim() -> Any:
    # 16 tokens at 16 tokens/s: each probe streams for about a second
    sim = await start_simulator(profile=PRESETS["test"].with_(decode_tps=16.0))
    try:
        yield sim
    finally:
        await sim.stop()


async def test_a_worker_killed_mid_round_fails_its_probes_and_the_next_round_runs(
    tmp_path: Path, fresh_database_url: str, slow_sim: RunningSimulator
) -> None:
    config = plane_config(
        tmp_path / "etalon.yaml", fresh_database_url, {"alpha": slow_sim},
        rounds_per_cycle=3, every="3s",
    )  # fmt: skip
    per_round = 2  # one target x two prompt lengths
    async with daemon_process("--config", str(config)) as daemon:
        victim = await worker_pid(daemon)
        await slow_sim.sim.wait_for_requests(per_round, timeout=30)  # round 0 is streaming
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            pid = await daemon.sample("etalon_probe_worker_pid", {"worker": "0"})
            return pid is not None and int(pid) != victim

        await eventually(replaced)
        restarts = await daemon.sample(
            "etalon_probe_worker_restarts_total", {"worker": "0", "reason": "died"}
        )

        async def cycle_done() -> bool:
            rows = [r for r in await round_rows(fresh_database_url) if r.target == ""]
            return len(rows) == 3 and all(r.status != "running" for r in rows)

        await eventually(cycle_done, timeout=40)
        daemon.signal(signal.SIGTERM)
        assert await daemon.wait_exit(20) == 0, daemon.output
    assert restarts == 1
    assert daemon.proc.returncode == 0  # the daemon stayed up through the kill
    traces = await stored_traces(fresh_database_url)
    lost = [t for t in traces if t.outcome is Outcome.WORKER_LOST]
    # nothing silently lost: every request the vendor saw has its stored trace
    assert len(traces) == len(slow_sim.requests) == 3 * per_round
    assert len(lost) == per_round
    assert {t.error for t in lost} == {f"probe worker 0 (pid {victim}) killed by SIGKILL"}
    assert all(t.requested_prompt_tokens in (16, 32) and t.chunks == () for t in lost)
    ok = [t for t in traces if t.outcome is Outcome.OK]
    assert len(ok) == 2 * per_round  # rounds 1 and 2 ran on the new worker
    assert f"probe worker 0 (pid {victim}) killed by SIGKILL" in daemon.output


async def test_sigterm_with_streams_open_drains_them_and_stops_the_workers(
    tmp_path: Path, fresh_database_url: str, slow_sim: RunningSimulator
) -> None:
    config = plane_config(
        tmp_path / "etalon.yaml", fresh_database_url, {"alpha": slow_sim},
        rounds_per_cycle=3, every="6s",
    )  # fmt: skip
    async with daemon_process("--config", str(config)) as daemon:
        worker = await worker_pid(daemon)
        await slow_sim.sim.wait_for_requests(2, timeout=30)  # both probes of round 0 streaming
        assert not any(r.done.is_set() for r in slow_sim.requests)
        daemon.signal(signal.SIGTERM)
        assert await daemon.wait_exit(20) == 0, daemon.output
    traces = await stored_traces(fresh_database_url)
    assert len(traces) == 2
    assert [t.outcome for t in traces] == [Outcome.OK, Outcome.OK]  # finished, not cut
    assert all(t.output_tokens == 16 for t in traces)
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
