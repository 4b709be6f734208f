"""Before/after estimates with 95 % intervals, in the form a reviewer reads them.

`ratio` metrics (times) are summarised by the median with its distribution-free interval from
order statistics (the median of n values lies between the j-th and k-th smallest with
j, k = n/2 ∓ 0.98·√n, the normal approximation of the binomial(n, ½) bounds); `share` metrics by
the mean, with the Wilson interval for 0/1 values (failure rate) and the normal interval clipped to
[0, 1] otherwise. Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monitor.detect.series import Scale

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int


def median_interval(values: Sequence[float]) -> Estimate:
    """Median of `values` and its ~95 % order-statistic interval.

    Example, n = 9: j = 4.5 - 0.98·3 = 1.56 → floor 1; k = 4.5 + 2.94 = 7.44 → ceil 8; the
    interval runs from the 1st to the 8th smallest value.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    half = Z95 / 2.0 * math.sqrt(n)
    j = max(math.floor(n / 2.0 - half), 1)
    k = min(math.ceil(n / 2.0 + half), n)
    return Estimate(float(np.median(x)), float(x[j - 1]), float(x[k - 1]), n)


def wilson(successes: int, n: int) -> Estimate:
    """Share and Wilson 95 % interval: 1 of 10 → 0.1 in [0.018, 0.404]."""
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Estimate(p, max(centre - half, 0.0), min(centre + half, 1.0), n)


def mean_interval(values: Sequence[float]) -> Estimate:
    """Mean of values in [0, 1] with a normal 95 % interval clipped to [0, 1]."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    mean = float(np.mean(x))
    if np.all((x == 0.0) | (x == 1.0)):
        return wilson(int(np.sum(x)), n)
    sd = float(np.std(x, ddof=1)) if n > 1 else 0.0
    half = Z95 * sd / math.sqrt(n)
    return Estimate(mean, max(mean - half, 0.0), min(mean + half, 1.0), n)


def estimate(values: Sequence[float], scale: Scale) -> Estimate:
    return median_interval(values) if scale is Scale.RATIO else mean_interval(values)


def effect(before: Estimate, after: Estimate, scale: Scale) -> float:
    """Size of the change: relative for ratios (0.3 = 30 % higher), absolute for shares."""
    if scale is Scale.RATIO:
        if before.value <= 0.0:
            return math.inf if after.value > 0.0 else 0.0
        return after.value / before.value - 1.0
    return after.value - before.value


def locate(values: Sequence[float], min_before: int, min_after: int, scale: Scale) -> int:
    """Where the change most likely is: the split minimising the absolute deviations from each
    side's median (the Laplace likelihood; robust to heavy tails), on logarithms for times.

    The rank statistic that decides *whether* there was a change favours balanced splits: when
    the last few values before a step happen to be high, it places the step early. Deviations
    from medians keep the size of values, so they place it where the level moved.
    Example: [1, 1, 1, 5, 5] with sides ≥ 1 → split 3 (cost 0), not 2 (cost |1-5|·1 = 4).
    """
    x = np.asarray(values, dtype=np.float64)
    if scale is Scale.RATIO and np.all(x > 0):
        x = np.log(x)
    n = len(x)
    best, best_cost = min_before, math.inf
    for k in range(min_before, n - min_after + 1):
        a, b = x[:k], x[k:]
        cost = float(np.sum(np.abs(a - np.median(a))) + np.sum(np.abs(b - np.median(b))))
        if cost < best_cost - 1e-12:
            best, best_cost = k, cost
    return best
