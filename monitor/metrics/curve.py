"""The fluidity curve: P99 fluidity-index of a set of requests against the decode deadline.

For `D_d` = 1 … 100 ms, take each request's decode-only miss rate and the 99th percentile across
requests; the P99 fluidity-index is one minus that. Where the curve crosses 0.9 is the deadline the
service can promise to 99 % of its users.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.metrics.batch import ChunkMatrix, score
from monitor.metrics.quantiles import quantile
from monitor.metrics.units import NS_PER_MS

DEFAULT_DEADLINES_MS = tuple(range(1, 101))


@dataclass(frozen=True, slots=True)
class CurvePoint:
    decode_deadline_ms: int
    p99_miss_rate: float
    p99_fluidity_index: float


def fluidity_curve(
    m: ChunkMatrix, deadlines_ms: Sequence[int] = DEFAULT_DEADLINES_MS
) -> list[CurvePoint]:
    points: list[CurvePoint] = []
    if m.requests == 0:
        return points
    for ms in deadlines_ms:
        p99 = quantile(score(m, ms * NS_PER_MS).miss_rate, 0.99)
        assert p99 is not None
        points.append(CurvePoint(ms, p99, 1.0 - p99))
    return points
