"""Running one round: every target's probes, staggered, bounded per target, backed off on 429.

Each target runs as its own task: it waits for its start offset, then starts its probes
`spacing_s` apart with at most `concurrency` in flight. A finished trace goes to `on_trace` (store
and exporter, wired by the daemon); a probe not sent because its target is backed off goes to
`on_skip`. An exception from the probe function or a sink is a bug: it is logged with its
traceback and counted, and the round goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from monitor.schedule.backoff import Backoff
from monitor.schedule.plan import ProbeJob, TargetPlan
from monitor.trace import Trace

log = logging.getLogger(__name__)

ProbeFn = Callable[[ProbeJob], Awaitable[Trace]]
TraceSink = Callable[[ProbeJob, Trace], Awaitable[None]]
SkipSink = Callable[[ProbeJob], Awaitable[None]]


@dataclass(slots=True)
class TargetResult:
    sent: int = 0
    skipped: int = 0
    errors: int = 0


@dataclass(slots=True)
class RoundResult:
    targets: dict[str, TargetResult] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return sum(t.sent for t in self.targets.values())

    @property
    def skipped(self) -> int:
        return sum(t.skipped for t in self.targets.values())

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.targets.values())


class RoundRunner:
    def __init__(
        self,
        probe: ProbeFn,
        on_trace: TraceSink,
        on_skip: SkipSink,
        backoff: Backoff,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._probe = probe
        self._on_trace = on_trace
        self._on_skip = on_skip
        self._backoff = backoff
        self._sleep = sleep

    async def run(
        self,
        plans: list[TargetPlan],
        on_target_done: Callable[[TargetPlan, TargetResult], Awaitable[None]] | None = None,
    ) -> RoundResult:
        result = RoundResult({p.name: TargetResult() for p in plans})

        async def one_target(plan: TargetPlan) -> None:
            await self._run_target(plan, result.targets[plan.name])
            if on_target_done is not None:
                await on_target_done(plan, result.targets[plan.name])

        async with asyncio.TaskGroup() as group:
            for plan in plans:
                group.create_task(one_target(plan), name=f"round:{plan.name}")
        return result

    async def _run_target(self, plan: TargetPlan, out: TargetResult) -> None:
        if plan.start_s > 0:
            await self._sleep(plan.start_s)
        limit = asyncio.Semaphore(plan.target.concurrency)
        spacing = plan.target.spacing_s
        async with asyncio.TaskGroup() as group:
            for k, job in enumerate(plan.jobs):
                if k and spacing:
                    await self._sleep(spacing)
                await limit.acquire()  # first: a 429 from a probe still in flight counts
                if self._backoff.active(plan.name):
                    limit.release()
                    out.skipped += 1
                    await self._guard(self._on_skip(job), out, "recording a skipped probe")
                    continue
                out.sent += 1
                group.create_task(self._one(job, limit, out), name=f"probe:{plan.name}")

    async def _one(self, job: ProbeJob, limit: asyncio.Semaphore, out: TargetResult) -> None:
        try:
            try:
                trace = await self._probe(job)
            except Exception:
                out.errors += 1
                log.exception("probe of %s failed unexpectedly (a bug)", job.target_name)
                return
            self._backoff.record(job.target_name, trace)
            await self._guard(self._on_trace(job, trace), out, "handling a finished probe")
        finally:
            limit.release()

    @staticmethod
    async def _guard(work: Awaitable[None], out: TargetResult, what: str) -> None:
        try:
            await work
        except Exception:
            out.errors += 1
            log.exception("%s failed (a bug)", what)
