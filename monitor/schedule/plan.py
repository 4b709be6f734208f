"""What one round sends: the probes per target, and when each target starts inside the round.

Pure: no clock, no I/O. A target's offset is stable (a hash of its name), so vendors are hit at the
same minute every hour and not all at once; jitter on top is drawn by the caller's `random`.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.config import Settings, Target
from monitor.ledger import RoundKey

MAX_DEFAULT_SPREAD_S = 1800.0


@dataclass(frozen=True, slots=True)
class ProbeJob:
    """One probe to send: which target, which workload, in which round."""

    target_name: str
    target: Target
    region: str
    prompt_tokens: int
    repetition: int
    round: RoundKey
    """The target's round row (the key its trace is stored with)."""


@dataclass(frozen=True, slots=True)
class TargetPlan:
    name: str
    target: Target
    region: str
    start_s: float
    """Delay from the round's start (offset plus jitter)."""
    jobs: tuple[ProbeJob, ...]


def default_spread_s(interval_s: float) -> float:
    return min(interval_s / 2, MAX_DEFAULT_SPREAD_S)


def target_offset_s(name: str, spread_s: float) -> float:
    """Stable offset in `[0, spread)`: whole minutes when the spread is two minutes or more.

    Example: crc32("groq") % 1000 = 562 → 0.562 of the spread; with a 30 min spread that is
    1011.6 s, floored to 16 whole minutes = 960 s.
    """
    if spread_s <= 0:
        return 0.0
    share = (zlib.crc32(name.encode()) % 1000) / 1000
    offset = share * spread_s
    return float(int(offset // 60) * 60) if spread_s >= 120 else offset


def enabled_targets(settings: Settings) -> Mapping[str, Target]:
    return {n: t for n, t in sorted(settings.targets.items()) if t.enabled}


def plan_round(
    settings: Settings, key: RoundKey, spread_s: float, rng: random.Random
) -> list[TargetPlan]:
    out: list[TargetPlan] = []
    for name, target in enabled_targets(settings).items():
        w = target.workloads
        region = settings.target_region(name)
        jobs = tuple(
            ProbeJob(name, target, region, p, rep, key.of(name))
            for rep in range(w.repetitions)
            for p in w.prompt_tokens
        )
        jitter = rng.uniform(0, settings.schedule.jitter_s) if settings.schedule.jitter_s else 0.0
        out.append(TargetPlan(name, target, region, target_offset_s(name, spread_s) + jitter, jobs))
    return out


def probes_per_round(settings: Settings) -> int:
    return sum(
        len(t.workloads.prompt_tokens) * t.workloads.repetitions
        for t in enabled_targets(settings).values()
    )
