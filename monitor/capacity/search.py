"""Which QPS to try next, and what the capacity is, from the verdicts seen so far (pure).

Per SLO, the *bracket* is (left, right): `right` the lowest QPS that failed, `left` the highest QPS
below it that passed (0 if none). Capacity is `left` once `right - left` is within `granularity`
of `right` (or `resolution`, the QPS rounding). Until an SLO has failed somewhere, the search
*expands*: it doubles the highest QPS tried, up to `max_qps`. Once bracketed, it *bisects*.
Each step serves every SLO (all are judged on the same requests); the next QPS goes to the SLO
whose bracket is widest, so the searches for all SLOs finish together.

Example, one SLO, start 1, truth 3.3, granularity 5 %: 1 ✓, 2 ✓, 4 ✗, 3 ✓, 3.5 ✗, 3.25 ✓,
3.38 ✗ (3.375 rounded to 0.01), then (3.38 - 3.25) / 3.38 = 3.8 % ≤ 5 %: capacity 3.25.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SearchConfig:
    start_qps: float = 1.0
    max_qps: float = 64.0
    granularity: float = 0.05
    """Stop when the bracket is narrower than this share of its upper end."""
    resolution: float = 0.01
    """QPS values are rounded to this."""
    max_steps: int = 12

    def __post_init__(self) -> None:
        if not 0 < self.start_qps <= self.max_qps:
            raise ValueError("want 0 < start_qps <= max_qps")
        if not 0 < self.granularity < 1 or self.resolution <= 0 or self.max_steps < 1:
            raise ValueError("want 0 < granularity < 1, resolution > 0, max_steps >= 1")

    def rounded(self, qps: float) -> float:
        return round(round(qps / self.resolution) * self.resolution, 6)


Results = Mapping[float, bool]
"""QPS → passed, for one SLO."""


def bracket(results: Results) -> tuple[float, float | None]:
    """(highest pass below the lowest failure, lowest failure or None)."""
    fails = [q for q, ok in results.items() if not ok]
    right = min(fails) if fails else None
    passes = [q for q, ok in results.items() if ok and (right is None or q < right)]
    return (max(passes) if passes else 0.0), right


def resolved(results: Results, cfg: SearchConfig) -> bool:
    left, right = bracket(results)
    if right is None:
        return left >= cfg.max_qps
    return right - left <= max(cfg.granularity * right, cfg.resolution) + 1e-9


def _proposal(results: Results, cfg: SearchConfig) -> tuple[float, float] | None:
    """(priority, qps) this SLO asks for next, or None when it is settled."""
    if resolved(results, cfg):
        return None
    left, right = bracket(results)
    if right is None:
        q = cfg.start_qps if not results else min(2 * max(results), cfg.max_qps)
        priority = float("inf")
    else:
        q = (left + right) / 2
        priority = (right - left) / right
    q = cfg.rounded(q)
    if q in results or q <= 0:
        return None  # the bracket is narrower than the resolution
    return priority, q


def next_qps(per_slo: Mapping[str, Results], cfg: SearchConfig) -> float | None:
    """The QPS to run next, or None when every SLO is settled."""
    asks = [p for r in per_slo.values() if (p := _proposal(r, cfg)) is not None]
    if not asks:
        return None
    return max(asks)[1]


def capacity(results: Results, cfg: SearchConfig) -> dict[str, Any]:
    """Capacity of one SLO with how sure it is: `exact` (bracket within granularity), `at_least`
    (passed at max_qps), or `unresolved` (ran out of steps; `capacity_qps` is a lower bound)."""
    left, right = bracket(results)
    if right is None and left >= cfg.max_qps:
        status = "at_least"
    elif resolved(results, cfg) or _proposal(results, cfg) is None:
        status = "exact"
    else:
        status = "unresolved"
    return {"capacity_qps": left, "lowest_failing_qps": right, "status": status}
