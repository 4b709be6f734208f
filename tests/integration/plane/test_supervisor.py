"""The supervisor with real worker processes and a real simulator on loopback.

Each test starts real `python -m monitor.plane.worker` processes; a probe's trace comes back
through the `etalon-plane/1` frames; a worker is killed, frozen or outgrows its memory for real.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from monitor.config import ProbePlane
from monitor.export.plane_metrics import PlaneMetrics
from monitor.plane import Job, Supervisor
from monitor.plane.supervisor import rss_bytes
from monitor.probe.prompts import make_prompt
from monitor.probe.tokens import get_tokenizer
from monitor.sim import RunningSimulator, start_simulator
from monitor.sim.profiles import PRESETS
from monitor.trace import Outcome
from tests.fixtures.simulator import simulator_target

FAST = ProbePlane(workers=2, heartbeat_s=0.2, stuck_after_s=1.5, core_nice=0)


def job(sim: RunningSimulator, max_tokens: int = 8, **target: object) -> Job:
    return Job(
        probe_id=uuid.uuid4().hex,
        target_name="alpha",
        target=simulator_target(sim, **target),
        region="lab",
        prompt=make_prompt(16, get_tokenizer()),
        max_tokens=max_tokens,
    )


@pytest.fixture
async def slow_sim() -> AsyncIterator[RunningSimulator]:
    # 16 tokens/s: a probe of 16 tokens streams for about a second
    sim = await start_simulator(profile=PRESETS["test"].with_(decode_tps=16.0))
    try:
        yield sim
    finally:
        await sim.stop()


async def started(config: ProbePlane = FAST) -> tuple[Supervisor, CollectorRegistry]:
    registry = CollectorRegistry()
    supervisor = Supervisor(config, connections=8, metrics=PlaneMetrics(registry))
    await supervisor.start()
    return supervisor, registry


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_jobs_come_back_as_traces_stamped_by_a_worker(simulator: RunningSimulator) -> None:
    supervisor, registry = await started()
    try:
        jobs = [job(simulator) for _ in range(6)]
        traces = await asyncio.gather(*(supervisor.run(j) for j in jobs))
        pids = supervisor.pids()
    finally:
        await supervisor.stop()
    assert [t.probe_id for t in traces] == [j.probe_id for j in jobs]
    assert all(t.outcome is Outcome.OK for t in traces), [t.error for t in traces]
    assert all(t.output_tokens == 8 and t.target == "alpha" for t in traces)
    assert all("loop_lag_max_ns" in t.client for t in traces)
    # stamped in other processes, spread over both
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert sum(sample(registry, "etalon_probe_worker_in_flight", worker=w) for w in "01") == 0
    assert sample(registry, "etalon_probe_worker_pid", worker="0") == pids[0]


async def test_a_killed_worker_fails_its_probes_as_worker_lost_and_is_replaced(
    slow_sim: RunningSimulator,
) -> None:
    supervisor, registry = await started(FAST.model_copy(update={"workers": 1}))
    try:
        (victim,) = supervisor.pids()
        assert victim is not None
        running = [asyncio.create_task(supervisor.run(job(slow_sim, 16))) for _ in range(3)]
        await slow_sim.sim.wait_for_requests(3, timeout=20)
        os.kill(victim, signal.SIGKILL)
        lost = await asyncio.wait_for(asyncio.gather(*running), 10)
        after = await asyncio.wait_for(supervisor.run(job(slow_sim, 2)), 30)
        (replacement,) = supervisor.pids()
    finally:
        await supervisor.stop()
    assert [t.outcome for t in lost] == [Outcome.WORKER_LOST] * 3
    assert all(t.error == f"probe worker 0 (pid {victim}) killed by SIGKILL" for t in lost)
    assert all(t.chunks == () and t.requested_prompt_tokens == 16 for t in lost)
    assert after.outcome is Outcome.OK
    assert replacement is not None and replacement != victim
    assert sample(registry, "etalon_probe_worker_restarts_total", worker="0", reason="died") == 1


async def test_a_frozen_worker_is_replaced_after_its_heartbeats_stop(
    slow_sim: RunningSimulator,
) -> None:
    supervisor, registry = await started(FAST.model_copy(update={"workers": 1}))
    try:
        (victim,) = supervisor.pids()
        assert victim is not None
        running = asyncio.create_task(supervisor.run(job(slow_sim, 16)))
        await slow_sim.sim.wait_for_requests(1, timeout=20)
        os.kill(victim, signal.SIGSTOP)  # alive, but its loop never runs again
        lost = await asyncio.wait_for(running, 10)
        after = await asyncio.wait_for(supervisor.run(job(slow_sim, 2)), 30)
    finally:
        await supervisor.stop()
    assert lost.outcome is Outcome.WORKER_LOST
    assert lost.error is not None and lost.error.startswith(
        f"probe worker 0 (pid {victim}) stuck: no heartbeat for "
    )
    assert after.outcome is Outcome.OK
    assert sample(registry, "etalon_probe_worker_restarts_total", worker="0", reason="stuck") == 1


async def test_a_worker_over_its_rss_limit_finishes_its_probes_then_is_replaced(
    slow_sim: RunningSimulator,
) -> None:
    supervisor, registry = await started(FAST.model_copy(update={"workers": 1}))
    try:
        (first,) = supervisor.pids()
        assert first is not None
        rss = rss_bytes(first)
        assert rss is not None
        running = asyncio.create_task(supervisor.run(job(slow_sim, 16)))
        await slow_sim.sim.wait_for_requests(1, timeout=20)
        # a limit just under what the worker holds now (above half of it: retired, not killed)
        supervisor.config = FAST.model_copy(update={"rss_limit_mb": max(16, rss // 2**20 - 1)})
        trace = await asyncio.wait_for(running, 20)
        (second,) = supervisor.pids()
    finally:
        await supervisor.stop()
    assert trace.outcome is Outcome.OK  # drained, not cut
    assert second != first
    assert sample(registry, "etalon_probe_worker_restarts_total", worker="0", reason="rss") >= 1
    assert sample(registry, "etalon_probe_worker_rss_bytes", worker="0") > 0


async def test_stop_drains_open_streams(slow_sim: RunningSimulator) -> None:
    supervisor, _ = await started()
    running = [asyncio.create_task(supervisor.run(job(slow_sim, 16))) for _ in range(4)]
    await slow_sim.sim.wait_for_requests(4, timeout=20)
    pids = [p for p in supervisor.pids() if p is not None]
    await supervisor.stop(timeout_s=20)
    traces = await asyncio.gather(*running)
    assert [t.outcome for t in traces] == [Outcome.OK] * 4
    assert all(t.output_tokens == 16 for t in traces)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_a_cancelled_probe_is_cut_in_the_worker_too(slow_sim: RunningSimulator) -> None:
    supervisor, registry = await started(FAST.model_copy(update={"workers": 1}))
    try:
        running = asyncio.create_task(supervisor.run(job(slow_sim, 64)))  # ~4 s of stream
        (request,) = await slow_sim.sim.wait_for_requests(1, timeout=20)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await asyncio.wait_for(request.done.wait(), 10)
        in_flight = sample(registry, "etalon_probe_worker_in_flight", worker="0")
        after = await asyncio.wait_for(supervisor.run(job(slow_sim, 2)), 30)
    finally:
        await supervisor.stop()
    assert len(request.content_sends) < 64  # the worker closed the stream, not the vendor
    assert in_flight == 0
    assert after.outcome is Outcome.OK
