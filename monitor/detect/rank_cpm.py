"""The change test: a rank change-point statistic over a sliding window, judged by permutation.

Given the values of one series since its last change (at most `window` of the newest), every split
of the window into "before" (the first k values) and "after" (the rest) is scored with the
standardised Mann-Whitney statistic on mid-ranks (ties averaged, the variance corrected for ties):

    z_k = (R_k - m(n+1)/2) / sqrt(k·m/12 · ((n+1) - T/(n(n-1))))      m = n - k

where R_k is the rank sum of the after part and T = Σ(t³ - t) over groups of tied values. The
statistic is max_k |z_k| over splits leaving at least `min_before` and `min_after` values on each
side (Ross, Tasoulis & Adams' Mann-Whitney change-point model, 2011).

Its null distribution is not looked up in a table but computed for this very window: under "no
change" the values are exchangeable, so every ordering of the observed values is equally likely.
Shuffling the window's ranks `B` times gives the permutation p-value (1 + #{shuffles ≥ observed}) /
(B + 1), valid whatever the distribution, heavy tails and ties included (a binary failure series is
just a heavily tied one). A change is declared when p ≤ alpha, with alpha = false-alarm budget per
probe. By linearity of expectation, the expected number of false alarms over N steady probes is at
most N·alpha, which is how the configured budget ("false alarms per 1,000 probes") is met.

Shuffles are drawn in batches and stop as soon as the p-value can no longer reach alpha, so a quiet
window (the usual case) costs one batch of 64 shuffles of a few dozen ranks. The random
generator is seeded from the values themselves: the same window always gets the same answer, so a
recompute over history reproduces what the daemon found live.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from monitor.metrics.arrays import FloatArray

FIRST_BATCH: Final = 64
"""Shuffles in the first batch (each later batch doubles); most windows are settled by it."""


@dataclass(frozen=True, slots=True)
class CpmParams:
    """How the test is run; `alpha` is the per-probe false-alarm probability."""

    alpha: float
    min_before: int = 8
    min_after: int = 4

    @property
    def shuffles(self) -> int:
        """Enough shuffles that p ≤ alpha is reachable with room to spare: ≥ 10/alpha - 1."""
        return max(math.ceil(10.0 / self.alpha) - 1, 199)


@dataclass(frozen=True, slots=True)
class CpmResult:
    split: int
    """Values before the most likely change (index of the first value after it)."""
    z: float
    """Signed z of the best split: > 0 when the after part ranks higher."""
    p_value: float
    shuffles: int
    """Shuffles drawn (fewer than configured when the outcome was settled early)."""


def midranks(values: FloatArray) -> FloatArray:
    """Ranks 1..n with ties given the mean of the ranks they span: [5, 1, 5] → [2.5, 1, 2.5]."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    # boundaries of groups of equal values in sorted order
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # ranks start..end-1 (0-based) → mean of 1-based ranks
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _tie_term(values: FloatArray) -> float:
    _, counts = np.unique(values, return_counts=True)
    c = counts.astype(np.float64)
    return float(np.sum(c**3 - c))


def split_scores(
    ranks: npt.NDArray[np.float64], ties: float, min_before: int, min_after: int
) -> FloatArray:
    """z_k for each split k in [min_before, n - min_after], for each row of `ranks` (2-D)."""
    n = ranks.shape[-1]
    k = np.arange(min_before, n - min_after + 1, dtype=np.float64)
    m = n - k
    before_sums = np.cumsum(ranks, axis=-1)[..., min_before - 1 : n - min_after]
    after_sums = n * (n + 1) / 2.0 - before_sums
    spread = (n + 1) - ties / (n * (n - 1))
    sd = np.sqrt(k * m / 12.0 * spread)
    return (after_sums - m * (n + 1) / 2.0) / sd  # type: ignore[no-any-return]


def _seed(values: FloatArray) -> int:
    return int.from_bytes(hashlib.sha256(values.tobytes()).digest()[:8], "big")


def change_test(values: FloatArray, params: CpmParams) -> CpmResult | None:
    """Test a window (oldest first) for one change; None when too short or all values equal.

    The returned result says where the change most likely is and how significant it is; the
    caller compares `p_value` with `params.alpha`.
    """
    n = len(values)
    if n < params.min_before + params.min_after:
        return None
    ties = _tie_term(values)
    if n * (n - 1) * (n + 1) - ties <= 0:  # every value equal: nothing to rank
        return None
    ranks = midranks(values)
    observed = split_scores(ranks[None, :], ties, params.min_before, params.min_after)[0]
    best = int(np.argmax(np.abs(observed)))
    stat = float(abs(observed[best]))
    rng = np.random.default_rng(_seed(values))
    total = params.shuffles
    # p ≤ alpha needs (1 + exceed) ≤ alpha·(total + 1)
    allowed = params.alpha * (total + 1) - 1.0
    exceed = 0
    drawn = 0
    tolerance = 1e-9 * max(stat, 1.0)
    batch = FIRST_BATCH
    while drawn < total:
        size = min(batch, total - drawn)
        batch *= 2
        shuffled = rng.permuted(np.broadcast_to(ranks, (size, n)), axis=1)
        scores = split_scores(shuffled, ties, params.min_before, params.min_after)
        exceed += int(np.count_nonzero(np.max(np.abs(scores), axis=1) >= stat - tolerance))
        drawn += size
        if exceed > allowed:  # can no longer reach alpha: stop early, report what was seen
            break
    return CpmResult(
        split=params.min_before + best,
        z=float(observed[best]),
        p_value=(1 + exceed) / (drawn + 1),
        shuffles=drawn,
    )
