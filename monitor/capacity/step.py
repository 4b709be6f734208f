"""One capacity step: open-loop arrivals at one QPS, then every SLO's verdict on those requests.

The sender sleeps until each request's scheduled time and starts it without waiting for earlier
ones. How late each start was (against the schedule) and the loop's own lag are recorded: if the
client, not the server, fell behind, the step says so (`client_ok` False) and no capacity is stated
from it.

A step ends when all its requests are sent and finished, after `duration_s` of arrivals, at the
drain limit, or early once it is *clearly saturated*: more than `saturation_share` of the planned
requests (and more than three) are certain deadline violators (finished over the miss-rate limit,
failed, or still running past their last deadline by more than the misses allowed). Requests still
running then are cut off and count as failed in every SLO (`monitor.capacity.slo`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final

from monitor.capacity.slo import RequestFacts, SloThresholds, Verdict, judge, request_facts
from monitor.capacity.workload import RequestShape, scheduled_rate
from monitor.metrics.prefill import PrefillModel
from monitor.metrics.quantiles import quantile
from monitor.probe.looplag import LoopLagMonitor
from monitor.trace import Trace

MIN_SATURATION_EVIDENCE: Final = 3
"""However small the step, a single slow request (a cold cache, a noisy neighbour) is no proof of
saturation: more than this many certain violators are needed to stop early."""

ProbeFn = Callable[[int, RequestShape], Coroutine[Any, Any, Trace]]
"""Sends request `i` of the step with its shape; returns its trace (never raises for the server)."""


@dataclass(frozen=True, slots=True)
class StepPlan:
    qps: float
    offsets: tuple[float, ...]
    shapes: tuple[RequestShape, ...]
    duration_s: float | None = None
    """Stop sending after this many seconds of arrivals (None: send all planned requests)."""
    drain_s: float = 60.0
    """After the last arrival, the longest to wait for requests still running."""
    saturation_share: float = 0.1
    max_client_lag_s: float = 0.025


@dataclass(slots=True)
class StepProgress:
    planned: int
    sent: int = 0
    finished: int = 0
    violators: int = 0


@dataclass(frozen=True, slots=True)
class StepResult:
    qps: float
    planned: int
    sent: int
    finished: int
    cut_off: int
    intended_qps: float | None
    achieved_qps: float | None
    send_lateness_p99_s: float | None
    send_lateness_max_s: float | None
    loop_lag_max_s: float
    client_ok: bool
    early_stop: bool
    duration_s: float
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    def passed(self, slo: str) -> bool:
        return self.verdicts[slo].passed

    def to_json(self) -> dict[str, Any]:
        return {
            "qps": self.qps,
            "intended_qps": self.intended_qps,
            "achieved_qps": self.achieved_qps,
            "planned": self.planned,
            "sent": self.sent,
            "finished": self.finished,
            "cut_off": self.cut_off,
            "early_stop": self.early_stop,
            "duration_s": self.duration_s,
            "client": {
                "ok": self.client_ok,
                "send_lateness_p99_s": self.send_lateness_p99_s,
                "send_lateness_max_s": self.send_lateness_max_s,
                "loop_lag_max_s": self.loop_lag_max_s,
            },
            "slos": {name: v.to_json() for name, v in self.verdicts.items()},
        }


def last_hope_s(shape: RequestShape, prefill: PrefillModel, t: SloThresholds) -> float:
    """How long a request may run before it certainly misses more than the allowed share.

    Its last deadline falls at `D_p + (O - 1)·D_d`; finishing later than that by more than
    `miss_rate·O + 1` decode periods means more misses than the SLO allows it.
    """
    o = shape.max_tokens
    return prefill.seconds(shape.prompt_tokens) + (o - 1 + t.miss_rate * o + 1) * t.decode_s


async def run_step(
    plan: StepPlan,
    probe: ProbeFn,
    prefill: PrefillModel,
    thresholds: SloThresholds,
    *,
    on_progress: Callable[[StepProgress], None] | None = None,
    lag: LoopLagMonitor | None = None,
) -> StepResult:
    loop = asyncio.get_running_loop()
    planned = len(plan.offsets)
    progress = StepProgress(planned)
    facts: dict[int, RequestFacts] = {}
    started: dict[int, float] = {}
    tasks: dict[int, asyncio.Task[Trace]] = {}
    lateness: list[float] = []
    send_times: list[float] = []
    saturated = asyncio.Event()
    allowed = max(plan.saturation_share * planned, MIN_SATURATION_EVIDENCE)
    hope = [last_hope_s(s, prefill, thresholds) for s in plan.shapes]
    t0_ns = time.perf_counter_ns()

    def finished_violators() -> int:
        return sum(not f.ok or f.miss_rate > thresholds.miss_rate for f in facts.values())

    def on_done(i: int, task: asyncio.Task[Trace]) -> None:
        if task.cancelled():
            return
        facts[i] = request_facts(task.result(), prefill, thresholds.decode_s)
        progress.finished = len(facts)
        check()

    def check() -> None:
        now = loop.time()
        hopeless = sum(1 for i, s in started.items() if i not in facts and now - s > hope[i])
        progress.violators = finished_violators() + hopeless
        if progress.violators > allowed:
            saturated.set()
        if on_progress is not None:
            on_progress(progress)

    async def watch() -> None:
        while True:
            await asyncio.sleep(0.05)
            check()

    watcher = loop.create_task(watch(), name="saturation-watch")
    start = loop.time()
    try:
        for i, offset in enumerate(plan.offsets):
            if plan.duration_s is not None and offset > plan.duration_s:
                break
            delay = start + offset - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(saturated.wait(), delay)
            if saturated.is_set():
                break
            now = loop.time()
            lateness.append(max(now - start - offset, 0.0))
            send_times.append(now)
            started[i] = now
            task = loop.create_task(probe(i, plan.shapes[i]), name=f"capacity-{i}")
            task.add_done_callback(functools.partial(on_done, i))
            tasks[i] = task
            progress.sent = len(tasks)
        drain_until = loop.time() + plan.drain_s
        while not saturated.is_set() and any(not t.done() for t in tasks.values()):
            remaining = drain_until - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(saturated.wait(), min(remaining, 0.05))
    finally:
        watcher.cancel()
        cut = [t for t in tasks.values() if not t.done()]
        for t in cut:
            t.cancel()
        await asyncio.gather(*cut, return_exceptions=True)
    end = loop.time()
    for i in tasks:
        if i not in facts:
            facts[i] = RequestFacts(False, 1.0, math.inf, math.inf, (math.inf,))
    ordered = [facts[i] for i in sorted(facts)]
    sent = len(tasks)
    achieved = (
        (sent - 1) / (send_times[-1] - send_times[0])
        if sent > 1 and send_times[-1] > send_times[0]
        else None
    )
    lag_s = lag.max_lag_ns(t0_ns, time.perf_counter_ns()) / 1e9 if lag is not None else 0.0
    late_p99 = quantile(lateness, 0.99)
    late_max = max(lateness) if lateness else None
    client_ok = lag_s <= plan.max_client_lag_s and (
        late_p99 is None or late_p99 <= plan.max_client_lag_s
    )
    return StepResult(
        qps=plan.qps,
        planned=planned,
        sent=sent,
        finished=sum(f.ok for f in ordered),
        cut_off=len(cut),
        intended_qps=scheduled_rate(plan.offsets[:sent]),
        achieved_qps=achieved,
        send_lateness_p99_s=late_p99,
        send_lateness_max_s=late_max,
        loop_lag_max_s=lag_s,
        client_ok=client_ok,
        early_stop=saturated.is_set(),
        duration_s=end - start,
        verdicts=judge(ordered, thresholds),
    )
