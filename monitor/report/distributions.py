"""Distributions for the plots: TTFT boxes per prompt length, TBT and inter-chunk CDFs, the curve.

All over `ok` probes, like the engine's summary. Percentiles are the engine's exact linear
quantiles; a CDF is stored as its quantiles on a fixed probability grid, so a 100 000-value sample
becomes 101 numbers with no binning choice to argue about.
"""

from __future__ import annotations

import numpy as np

from monitor.metrics.arrays import Int64Array
from monitor.metrics.curve import fluidity_curve
from monitor.metrics.latency import inter_chunk_ns
from monitor.metrics.quantiles import quantiles
from monitor.metrics.score import int_column
from monitor.metrics.units import NS_PER_S
from monitor.report.model import BoxStats, Cdf, CurvePoint
from monitor.report.scoring import ScoredTarget

CDF_PROBABILITIES = tuple(i / 100 for i in range(101))
BOX_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


def prompt_length(s: ScoredTarget, r: int) -> int:
    """The workload's prompt length (what was asked for), else the counted one."""
    t = s.traces[r]
    if t.requested_prompt_tokens is not None:
        return t.requested_prompt_tokens
    return int(s.table.prompt_tokens[r])


def _s(value: float | None) -> float | None:
    return None if value is None else value / NS_PER_S


def ttft_boxes(s: ScoredTarget) -> tuple[BoxStats, ...]:
    """TTFT per prompt length over the probes that have one (ok, a token came)."""
    groups: dict[int, list[int]] = {}
    ttft = int_column(s.scores, "ttft_ns")
    for r in np.nonzero(ttft >= 0)[0]:
        groups.setdefault(prompt_length(s, int(r)), []).append(int(ttft[r]))
    boxes = []
    for length in sorted(groups):
        q = quantiles(groups[length], BOX_QUANTILES)
        boxes.append(
            BoxStats(
                prompt_tokens=length,
                probes=len(groups[length]),
                p5=_s(q[0.05]),
                p25=_s(q[0.25]),
                p50=_s(q[0.5]),
                p75=_s(q[0.75]),
                p90=_s(q[0.9]),
                p95=_s(q[0.95]),
                p99=_s(q[0.99]),
            )
        )
    return tuple(boxes)


def cdf(values_ns: Int64Array) -> Cdf:
    if values_ns.size == 0:
        return Cdf(samples=0, probabilities=(), values_s=())
    q = quantiles(values_ns, CDF_PROBABILITIES)
    return Cdf(
        samples=int(values_ns.size),
        probabilities=CDF_PROBABILITIES,
        values_s=tuple(float(v or 0.0) / NS_PER_S for v in q.values()),
    )


def tbt_cdf(s: ScoredTarget) -> Cdf:
    return cdf(s.table.tbt_values_ns(s.ok))


def inter_chunk_cdf(s: ScoredTarget) -> Cdf:
    parts = [
        inter_chunk_ns([c.t_ns for c in s.content[r] if c.tokens > 0]) for r in np.nonzero(s.ok)[0]
    ]
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return cdf(values)


def curve(s: ScoredTarget) -> tuple[CurvePoint, ...]:
    """P99 fluidity-index (decode-only) at D_d = 1..100 ms over scored probes (ok, an answer)."""
    columns = np.nonzero(s.scored)[0].astype(np.int64)
    if columns.size == 0:
        return ()
    points = fluidity_curve(s.table.matrix.select(columns))
    return tuple(CurvePoint(p.decode_deadline_ms, p.p99_fluidity_index) for p in points)
