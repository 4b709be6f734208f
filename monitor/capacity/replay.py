"""Capacity search in engine time: the simulated engine replayed without sockets or clocks.

The same seeded steps (`run.step_plan`), SLO verdicts and search as `etalon-monitor capacity`,
with the engine's token times from `monitor.sim.batching.replay` instead of a live client. Exact
and machine-independent, so a scheduler comparison (the paper's Fig. 6a) can be checked in a
test; live searches add only transport and client timing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from monitor.capacity.profile import fit_profile
from monitor.capacity.run import CapacityOptions, step_plan
from monitor.capacity.search import capacity, next_qps
from monitor.capacity.slo import SLO_NAMES, Verdict, judge, request_facts
from monitor.metrics.prefill import PrefillModel
from monitor.sim.batching import EngineModel, replay
from monitor.trace import Chunk, Trace


def replay_profile(model: EngineModel, lengths: Sequence[int]) -> tuple[float, float, float]:
    """The prefill fit an isolated profile of this engine gives (one request per length)."""
    ttfts = [replay(model, [0.0], [(p, 4)])[0][0] for p in lengths]
    return fit_profile(list(lengths), ttfts)[2]


def replay_step(
    model: EngineModel, qps: float, options: CapacityOptions, prefill: PrefillModel
) -> dict[str, Verdict]:
    plan = step_plan(qps, options)
    shapes = [(s.prompt_tokens, s.max_tokens) for s in plan.shapes]
    token_times = replay(model, plan.offsets, shapes)
    facts = [
        request_facts(
            Trace(
                probe_id=str(i),
                chunks=tuple(Chunk(round(t * 1e9), 1) for t in times),
                prompt_tokens=p,
                max_tokens=o,
            ),
            prefill,
            options.thresholds.decode_s,
        )
        for i, (times, (p, o)) in enumerate(zip(token_times, shapes, strict=True))
    ]
    return judge(facts, options.thresholds)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    capacity_qps: dict[str, float]
    status: dict[str, str]
    steps: list[tuple[float, dict[str, Verdict]]]


def replay_search(
    model: EngineModel,
    options: CapacityOptions,
    prefill: PrefillModel,
    on_step: Callable[[float, dict[str, Verdict]], None] | None = None,
) -> ReplayResult:
    results: dict[str, dict[float, bool]] = {s: {} for s in SLO_NAMES}
    steps: list[tuple[float, dict[str, Verdict]]] = []
    while len(steps) < options.search.max_steps:
        searched = {s: r for s, r in results.items() if s in options.slos}
        qps = next_qps(searched, options.search)
        if qps is None:
            break
        verdicts = replay_step(model, qps, options, prefill)
        for name, v in verdicts.items():
            results[name][qps] = v.passed
        steps.append((qps, verdicts))
        if on_step is not None:
            on_step(qps, verdicts)
    caps = {n: capacity(r, options.search) for n, r in results.items()}
    return ReplayResult(
        capacity_qps={n: c["capacity_qps"] for n, c in caps.items()},
        status={n: c["status"] for n, c in caps.items()},
        steps=steps,
    )
