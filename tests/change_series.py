"""Labelled probe histories for the change-detection tests: a vendor whose decode slows at a known
probe, and a steady one beside it (same noise, no step)."""

from __future__ import annotations

import random
from datetime import timedelta

from monitor.trace import Chunk, Trace
from tests.factories import MS, T0, make_trace

STEP_AT = 30
"""Index of the first slowed probe of the `drifting` target."""
PROBES = 50
SLOWDOWN = 1 / 0.7
"""Every gap 1/0.7 times longer: the fluent rate (1/D*) drops by 30 %."""


def _chunks(rng: random.Random, gap_ms: float, ttft_ms: float) -> tuple[Chunk, ...]:
    t = ttft_ms * MS
    out = []
    for _ in range(32):
        out.append(Chunk(t_ns=round(t), tokens=1))
        t += gap_ms * MS * rng.uniform(0.8, 1.2)
    return tuple(out)


def history(target: str, *, step: bool, seed: int) -> list[Trace]:
    """One probe an hour; the `step` history's gaps grow by `SLOWDOWN` from probe `STEP_AT`."""
    rng = random.Random(seed)
    out = []
    for i in range(PROBES):
        gap = 20.0 * (SLOWDOWN if step and i >= STEP_AT else 1.0)
        out.append(
            make_trace(
                f"{target}-{i:03d}",
                started_at=T0 + timedelta(hours=i),
                target=target,
                chunks=_chunks(rng, gap, rng.uniform(150, 250)),
            )
        )
    return out


def both() -> list[Trace]:
    traces = history("drifting", step=True, seed=1) + history("steady", step=False, seed=2)
    return sorted(traces, key=lambda t: (t.started_at, t.target))
