"""The round runner with an in-process probe function: concurrency, skips after a 429, errors."""

from __future__ import annotations

import asyncio
import random

import pytest

from monitor.config import Settings
from monitor.ledger import RoundKey
from monitor.schedule.backoff import Backoff
from monitor.schedule.plan import ProbeJob, plan_round
from monitor.schedule.rounds import RoundRunner
from monitor.trace import Outcome, Trace


def settings(concurrency: int = 1, prompts: list[int] | None = None) -> Settings:
    return Settings(
        schedule={"jitter_s": 0},
        targets={
            "a": {
                "provider": "simulator",
                "base_url": "http://127.0.0.1:1/v1",
                "model": "m",
                "concurrency": concurrency,
                "workloads": {"prompt_tokens": prompts or [16, 32, 64, 128]},
            }
        },
    )


def result_trace(job: ProbeJob, outcome: Outcome = Outcome.OK, retry: float | None = None) -> Trace:
    return Trace(
        probe_id=f"{job.target_name}-{job.prompt_tokens}",
        chunks=(),
        prompt_tokens=job.prompt_tokens,
        target=job.target_name,
        outcome=outcome,
        meta=None if retry is None else {"retry_after_s": retry},
    )


class Sinks:
    def __init__(self) -> None:
        self.traces: list[Trace] = []
        self.skipped: list[ProbeJob] = []

    async def on_trace(self, job: ProbeJob, trace: Trace) -> None:
        self.traces.append(trace)

    async def on_skip(self, job: ProbeJob) -> None:
        self.skipped.append(job)


async def test_at_most_concurrency_probes_in_flight() -> None:
    in_flight = 0
    peak = 0
    two_running = asyncio.Event()
    release = asyncio.Event()

    async def probe(job: ProbeJob) -> Trace:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 2:
            two_running.set()
        await release.wait()
        in_flight -= 1
        return result_trace(job)

    sinks = Sinks()
    runner = RoundRunner(probe, sinks.on_trace, sinks.on_skip, Backoff(lambda: 0.0, 60))
    s = settings(concurrency=2)
    task = asyncio.create_task(runner.run(plan_round(s, RoundKey(1, 0), 0, random.Random(0))))
    await asyncio.wait_for(two_running.wait(), 5)
    release.set()
    result = await asyncio.wait_for(task, 5)
    assert peak == 2
    assert result.sent == 4
    assert sorted(t.prompt_tokens or 0 for t in sinks.traces) == [16, 32, 64, 128]


async def test_probes_after_a_429_are_skipped_and_reported() -> None:
    async def probe(job: ProbeJob) -> Trace:
        if job.prompt_tokens == 32:
            return result_trace(job, Outcome.RATE_LIMITED, retry=30)
        return result_trace(job)

    sinks = Sinks()
    runner = RoundRunner(probe, sinks.on_trace, sinks.on_skip, Backoff(lambda: 0.0, 60))
    result = await runner.run(plan_round(settings(), RoundKey(1, 0), 0, random.Random(0)))
    # concurrency 1: 16 ok, 32 -> 429 (back off 30 s), 64 and 128 skipped
    assert [t.prompt_tokens for t in sinks.traces] == [16, 32]
    assert [j.prompt_tokens for j in sinks.skipped] == [64, 128]
    assert (result.sent, result.skipped) == (2, 2)


async def test_an_exception_in_the_probe_function_is_counted_not_fatal() -> None:
    async def probe(job: ProbeJob) -> Trace:
        if job.prompt_tokens == 16:
            raise RuntimeError("bug")
        return result_trace(job)

    sinks = Sinks()
    runner = RoundRunner(probe, sinks.on_trace, sinks.on_skip, Backoff(lambda: 0.0, 60))
    result = await runner.run(plan_round(settings(), RoundKey(1, 0), 0, random.Random(0)))
    assert result.errors == 1
    assert len(sinks.traces) == 3


async def test_target_waits_its_offset_then_spaces_its_probes() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def probe(job: ProbeJob) -> Trace:
        return result_trace(job)

    s = Settings(
        schedule={"jitter_s": 0},
        targets={
            "groq": {
                "provider": "simulator",
                "base_url": "http://127.0.0.1:1/v1",
                "model": "m",
                "spacing_s": 0.5,
                "workloads": {"prompt_tokens": [16, 32, 64]},
            }
        },
    )
    sinks = Sinks()
    runner = RoundRunner(probe, sinks.on_trace, sinks.on_skip, Backoff(lambda: 0.0, 60), sleep)
    # spread 10 s: crc32("groq") % 1000 = 562 -> offset 5.62 s; then 0.5 s between probe starts
    await runner.run(plan_round(s, RoundKey(1, 0), 10, random.Random(0)))
    assert slept == [pytest.approx(5.62), 0.5, 0.5]
    assert len(sinks.traces) == 3
