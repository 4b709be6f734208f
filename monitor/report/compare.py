"""Pairwise target comparisons with bootstrap 95 % confidence intervals.

For each pair (a, b) and each headline metric, the probes of each target are resampled with
replacement (percentile bootstrap, independent per target), the metric recomputed on every
resample, and the interval is the 2.5-97.5 % quantiles of `metric(a*) - metric(b*)`. A difference
is *significant* when its interval excludes zero. The point estimate is the metric on the full
samples, so it equals the summary's number. The RNG is numpy's PCG64 seeded by the caller: the
same traces and seed give the same report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt

from monitor.metrics.arrays import FloatArray
from monitor.metrics.score import int_column
from monitor.metrics.units import NS_PER_S
from monitor.report.model import Comparison
from monitor.report.scoring import ScoredTarget

RESAMPLES = 2000
MAX_CELLS = 4_000_000
"""Resampled values held at once; larger samples are bootstrapped in slices of resamples."""

Stat = Callable[[FloatArray], FloatArray]
"""A metric over the last axis of a (resamples, n) matrix."""


def _mean(x: FloatArray) -> FloatArray:
    out: FloatArray = np.mean(x, axis=-1)
    return out


def _rate_from_p99(x: FloatArray) -> FloatArray:
    out: FloatArray = NS_PER_S / np.quantile(x, 0.99, axis=-1)
    return out


def _rate_from_mean(x: FloatArray) -> FloatArray:
    out: FloatArray = NS_PER_S / np.mean(x, axis=-1)
    return out


def _median_s(x: FloatArray) -> FloatArray:
    out: FloatArray = np.quantile(x, 0.5, axis=-1) / NS_PER_S
    return out


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    unit: str
    higher_is_better: bool
    sample: Callable[[ScoredTarget], FloatArray]
    stat: Stat


def _fluid(s: ScoredTarget) -> FloatArray:
    return s.fluid[s.scored].astype(np.float64)


def _d_star(s: ScoredTarget) -> FloatArray:
    d = s.min_deadline_ns[s.scored]
    return d[d > 0].astype(np.float64)


def _tpot(s: ScoredTarget) -> FloatArray:
    t = s.table.tpot_ns[s.ok]
    return t[~np.isnan(t)]


def _ttft(s: ScoredTarget) -> FloatArray:
    v = int_column(s.scores, "ttft_ns")
    return v[v >= 0].astype(np.float64)


METRICS = (
    Metric("share_fluid", "share of fluid probes", "", True, _fluid, _mean),
    Metric("fluent_token_rate", "fluent token rate", " tok/s", True, _d_star, _rate_from_p99),
    Metric("tpot_rate", "TPOT-based rate", " tok/s", True, _tpot, _rate_from_mean),
    Metric("ttft_p50_s", "TTFT p50", " s", False, _ttft, _median_s),
)


def bootstrap(
    sample: FloatArray, stat: Stat, rng: np.random.Generator, resamples: int
) -> FloatArray:
    """`stat` on `resamples` resamples of `sample` (drawn in slices to bound memory)."""
    n = sample.size
    step = max(1, MAX_CELLS // max(n, 1))
    parts = []
    for start in range(0, resamples, step):
        count = min(step, resamples - start)
        idx = rng.integers(0, n, size=(count, n))
        parts.append(stat(sample[idx]))
    out: FloatArray = np.concatenate(parts)
    return out


def _fmt(value: float, unit: str, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{value:{sign}.3f}{unit}" if unit != " tok/s" else f"{value:{sign}.1f}{unit}"


def _undecided(a: ScoredTarget, b: ScoredTarget, metric: Metric, why: str) -> Comparison:
    return Comparison(
        metric=metric.name,
        a=a.name,
        b=b.name,
        value_a=None,
        value_b=None,
        difference=None,
        ci_low=None,
        ci_high=None,
        significant=None,
        better=None,
        statement=f"{metric.label}: {why} {a.name} and {b.name}",
    )


def compare_pair(
    a: ScoredTarget, b: ScoredTarget, metric: Metric, rng: np.random.Generator, resamples: int
) -> Comparison:
    xa, xb = metric.sample(a), metric.sample(b)
    if xa.size < 2 or xb.size < 2:
        return _undecided(a, b, metric, "too few probes to compare")
    with np.errstate(divide="ignore", invalid="ignore"):  # zero times: judged undefined below
        va = float(metric.stat(xa[np.newaxis, :])[0])
        vb = float(metric.stat(xb[np.newaxis, :])[0])
        diffs: npt.NDArray[np.float64] = bootstrap(xa, metric.stat, rng, resamples) - bootstrap(
            xb, metric.stat, rng, resamples
        )
    if not (np.isfinite(va) and np.isfinite(vb) and np.isfinite(diffs).all()):
        return _undecided(a, b, metric, "undefined (a zero time) for")
    low, high = (float(v) for v in np.quantile(diffs, [0.025, 0.975]))
    significant = low > 0 or high < 0
    better = None
    if significant:
        a_larger = low > 0
        better = a.name if a_larger == metric.higher_is_better else b.name
    diff = va - vb
    verdict = f"significant, favours {better}" if better else "not significant"
    statement = (
        f"{metric.label}: {a.name} {_fmt(va, metric.unit)} vs {b.name} {_fmt(vb, metric.unit)}; "
        f"difference {_fmt(diff, metric.unit, True)} (95% CI {_fmt(low, metric.unit, True)} to "
        f"{_fmt(high, metric.unit, True)}), {verdict}"
    )
    return Comparison(
        metric.name, a.name, b.name, va, vb, diff, low, high, significant, better, statement
    )


def compare_targets(
    scored: list[ScoredTarget], seed: int, resamples: int = RESAMPLES
) -> tuple[Comparison, ...]:
    rng = np.random.default_rng(seed)
    out = []
    for a, b in combinations(scored, 2):
        for metric in METRICS:
            out.append(compare_pair(a, b, metric, rng, resamples))
    return tuple(out)
