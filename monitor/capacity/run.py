"""Capacity search against a live endpoint: steps chosen by `search`, each run by `step`.

Prompts for a step are built (off the event loop) before its first arrival, each with its own
nonce so an engine's prefix cache cannot serve one request from another's work. The same seed
gives the same arrival times and lengths per QPS. If a step's client fell behind (its sends were
late or its loop lagged past `max_client_lag_s`) the search stops there and states no capacity:
a pass would only show the server coped with less load than intended, and late stamps inflate
every latency.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.capacity.search import SearchConfig, capacity, next_qps
from monitor.capacity.slo import SLO_NAMES, SloThresholds
from monitor.capacity.step import ProbeFn, StepPlan, StepProgress, StepResult, run_step
from monitor.capacity.workload import Lengths, RequestShape, arrival_offsets
from monitor.config import Target
from monitor.metrics.prefill import PrefillModel
from monitor.probe.client import Prober
from monitor.probe.looplag import LoopLagMonitor
from monitor.probe.prompts import Prompt, make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import Tokenizer
from monitor.trace import Trace


@dataclass(frozen=True, slots=True)
class CapacityOptions:
    lengths: Lengths
    slos: tuple[str, ...] = SLO_NAMES
    """The SLOs the search brackets; every step still reports all of them."""
    thresholds: SloThresholds = field(default_factory=SloThresholds)
    search: SearchConfig = field(default_factory=SearchConfig)
    requests_per_step: int = 100
    step_seconds: float | None = None
    arrivals: str = "poisson"
    seed: int = 0
    drain_s: float = 60.0
    saturation_share: float = 0.1
    max_client_lag_s: float = 0.025
    max_concurrency: int = 512
    """Connection pool size; a step needing more open streams than this is client-limited."""


@dataclass(slots=True)
class CapacityResult:
    target: str
    model: str
    started_at: datetime
    options: CapacityOptions
    prefill: PrefillModel
    steps: list[StepResult] = field(default_factory=list)
    client_limited_at_qps: float | None = None

    def per_slo(self) -> dict[str, dict[float, bool]]:
        return {s: {st.qps: st.passed(s) for st in self.steps} for s in SLO_NAMES}

    def capacities(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for slo, results in self.per_slo().items():
            if self.client_limited_at_qps is not None:
                out[slo] = {
                    "capacity_qps": None,
                    "lowest_failing_qps": None,
                    "status": "client_limited",
                }
            else:
                out[slo] = capacity(results, self.options.search)
        return out

    def to_json(self) -> dict[str, Any]:
        o = self.options
        caps = self.capacities()
        return {
            "target": self.target,
            "model": self.model,
            "started_at": self.started_at.isoformat(),
            "capacity_qps": {s: c["capacity_qps"] for s, c in caps.items()},
            "capacity": caps,
            "client_limited_at_qps": self.client_limited_at_qps,
            "searched_slos": list(o.slos),
            "thresholds": o.thresholds.to_json(),
            "prefill_model": {
                "coefficients": self.prefill.coefficients,
                "slack_s": self.prefill.slack_s,
                "fixed_s": self.prefill.fixed_s,
            },
            "workload": {
                "lengths": o.lengths.describe(),
                "arrivals": o.arrivals,
                "requests_per_step": o.requests_per_step,
                "step_seconds": o.step_seconds,
                "seed": o.seed,
            },
            "search": {
                "start_qps": o.search.start_qps,
                "max_qps": o.search.max_qps,
                "granularity": o.search.granularity,
                "max_steps": o.search.max_steps,
            },
            "steps": [s.to_json() for s in self.steps],
        }


def step_plan(qps: float, options: CapacityOptions) -> StepPlan:
    """The step's schedule and shapes: a function of (seed, qps) alone, so reruns match."""
    rng = random.Random(f"{options.seed}|{qps:.6f}")
    count = options.requests_per_step
    if options.step_seconds is not None:
        # enough arrivals to cover the duration even at a Poisson rate well above the mean
        count = max(count, int(qps * options.step_seconds * 1.5) + 10)
    offsets = arrival_offsets(qps, count, rng, options.arrivals)
    shapes = options.lengths.draw(count, rng)
    return StepPlan(
        qps=qps,
        offsets=tuple(offsets),
        shapes=tuple(shapes),
        duration_s=options.step_seconds,
        drain_s=options.drain_s,
        saturation_share=options.saturation_share,
        max_client_lag_s=options.max_client_lag_s,
    )


def build_prompts(
    shapes: Sequence[RequestShape], tokenizer: Tokenizer, seed: int, qps: float
) -> list[Prompt]:
    """One prompt per request: shared prose per length, a fresh nonce each."""
    return [
        make_prompt(s.prompt_tokens, tokenizer, seed=seed + s.prompt_tokens, nonce=f"c{qps:g}-{i}")
        for i, s in enumerate(shapes)
    ]


def _sender(prober: Prober, target: Target, name: str, prompts: Sequence[Prompt]) -> ProbeFn:
    async def probe(i: int, shape: RequestShape) -> Trace:
        return await prober.probe(target, prompts[i], target_name=name, max_tokens=shape.max_tokens)

    return probe


async def search_capacity(
    target: Target,
    options: CapacityOptions,
    prefill: PrefillModel,
    tokenizer: Tokenizer,
    *,
    name: str = "cli",
    environ: Mapping[str, str] | None = None,
    on_step_start: Callable[[float, int], None] | None = None,
    on_progress: Callable[[StepProgress], None] | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> CapacityResult:
    result = CapacityResult(
        target=name,
        model=target.model,
        started_at=datetime.now(UTC),
        options=options,
        prefill=prefill,
    )
    lag = LoopLagMonitor(interval_s=0.01)
    lag.start()
    try:
        async with make_session(options.max_concurrency) as session:
            prober = Prober(session, tokenizer, lag_monitor=lag, environ=environ, keep_text=False)
            while len(result.steps) < options.search.max_steps:
                per_slo = {s: r for s, r in result.per_slo().items() if s in options.slos}
                qps = next_qps(per_slo, options.search)
                if qps is None:
                    break
                plan = step_plan(qps, options)
                if on_step_start is not None:
                    on_step_start(qps, len(plan.offsets))
                prompts = await asyncio.to_thread(
                    build_prompts, plan.shapes, tokenizer, options.seed, qps
                )

                step = await run_step(
                    plan,
                    _sender(prober, target, name, prompts),
                    prefill,
                    options.thresholds,
                    on_progress=on_progress,
                    lag=lag,
                )
                result.steps.append(step)
                if on_step is not None:
                    on_step(step)
                if not step.client_ok:
                    result.client_limited_at_qps = qps
                    break
    finally:
        await lag.stop()
    return result
