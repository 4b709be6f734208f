"""Change detection over one series: the per-probe step the daemon runs, and the scan over history.

A series is the values of one watched metric for one (target, workload), oldest first. The
detector keeps no state of its own: the "segment" is every value after the probe that revealed
the last change (at most `window` of the newest), so the daemon can rebuild it from the database
after a restart and `changes --recompute` finds exactly what the daemon found live (`scan` is
`step` applied probe by probe, restarting the segment after each change found).

Why restart after the detecting probe and not at the change itself: the values just after a
declared change were picked *because* they ranked apart from the rest; a segment starting with
them is not a fresh, exchangeable sample, and after a false alarm it would invite a second one in
the other direction (measured: false alarms came in pairs on stall-heavy series). Only probes
that arrive after the decision keep the permutation test's guarantee. The price: after a change,
the next one can be found only `min_before + min_after` probes later.

A change is declared when the rank test (`rank_cpm`) is significant at the per-probe false-alarm
budget AND the shift is large enough to matter to an SLA review (`min_relative_change` for times,
`min_share_change` for fluidity and failure rate): with dozens of low-noise probes a 3 % shift can
be "significant" without being news.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from monitor.detect.estimate import Estimate, effect, estimate, locate
from monitor.detect.rank_cpm import CpmParams, change_test
from monitor.detect.series import Scale, WatchedMetric

METHOD = "mann-whitney-cpm/permutation"


class Direction(StrEnum):
    WORSE = "worse"
    BETTER = "better"


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """The detector's knobs (config `changes:` holds the same names)."""

    false_alarms_per_1000: float = 0.5
    """Expected false alarms per 1,000 steady probes, per metric (the per-probe alpha x 1000)."""
    window: int = 48
    """Newest values of the current segment the test looks at."""
    min_before: int = 8
    min_after: int = 4
    min_relative_change: float = 0.10
    min_share_change: float = 0.05

    @property
    def params(self) -> CpmParams:
        return CpmParams(self.false_alarms_per_1000 / 1000.0, self.min_before, self.min_after)


@dataclass(frozen=True, slots=True)
class Finding:
    """A change found in a window; indices are relative to the window given to `step`."""

    metric: str
    direction: Direction
    split: int
    """Index of the first value after the change."""
    before: Estimate
    after: Estimate
    effect: float
    z: float
    p_value: float
    alpha: float
    shuffles: int

    def evidence(self) -> dict[str, object]:
        """What the decision rested on (stored as JSON with the change point)."""
        return {
            "method": METHOD,
            "z": round(self.z, 4),
            "p_value": self.p_value,
            "alpha": self.alpha,
            "shuffles": self.shuffles,
            "effect": round(self.effect, 6),
            "n_before": self.before.n,
            "n_after": self.after.n,
        }


def step(
    values: Sequence[float], metric: WatchedMetric, settings: DetectorSettings
) -> Finding | None:
    """Test the segment's newest values (oldest first) for a change; None when there is none."""
    window = np.asarray(values[-settings.window :], dtype=np.float64)
    params = settings.params
    result = change_test(window, params)
    if result is None or result.p_value > params.alpha:
        return None
    split = locate(window.tolist(), params.min_before, params.min_after, metric.scale)
    before = estimate(window[:split].tolist(), metric.scale)
    after = estimate(window[split:].tolist(), metric.scale)
    size = effect(before, after, metric.scale)
    floor = (
        settings.min_relative_change if metric.scale is Scale.RATIO else settings.min_share_change
    )
    if abs(size) < floor or (size > 0) != (result.z > 0):
        return None
    worse = (size > 0) == metric.higher_is_worse
    return Finding(
        metric=metric.name,
        direction=Direction.WORSE if worse else Direction.BETTER,
        split=split + len(values) - len(window),
        before=before,
        after=after,
        effect=size,
        z=result.z,
        p_value=result.p_value,
        alpha=params.alpha,
        shuffles=result.shuffles,
    )


@dataclass(frozen=True, slots=True)
class Located:
    """A finding placed in the whole series: `at` is the first value after the change,
    `detected` the value whose arrival revealed it."""

    finding: Finding
    at: int
    detected: int


def scan(
    values: Sequence[float], metric: WatchedMetric, settings: DetectorSettings
) -> list[Located]:
    """Every change in a whole series, as the daemon would have found them probe by probe."""
    out: list[Located] = []
    start = 0
    for t in range(len(values)):
        lo = max(start, t + 1 - settings.window)
        found = step(values[lo : t + 1], metric, settings)
        if found is not None:
            out.append(Located(found, lo + found.split, t))
            start = t + 1
    return out
