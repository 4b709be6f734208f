"""Service-level views of per-request deadline counts.

The paper's deadline SLO holds when 99 % of requests reach fluidity >= 0.9, i.e.
`Q_0.99(per-request miss rate) <= 0.1`. Example: counts (met, missed) = (2, 26), (2, 29), (2, 32):
service miss rate = 87 / 93 = 0.935; no request is fluid, so the SLO fails.
"""

from dataclasses import dataclass

import numpy as np

from monitor.metrics.batch import DeadlineCounts
from monitor.metrics.quantiles import quantile

FLUID_MISS_RATE = 0.1


@dataclass(frozen=True, slots=True)
class SloView:
    service_miss_rate: float | None
    p99_request_miss_rate: float | None
    deadline_slo_met: bool | None
    share_fluid: float | None


def slo_view(counts: DeadlineCounts) -> SloView:
    if counts.met.size == 0:
        return SloView(None, None, None, None)
    total = int(counts.total.sum())
    p99 = quantile(counts.miss_rate, 0.99)
    assert p99 is not None
    return SloView(
        service_miss_rate=int(counts.missed.sum()) / total if total else 0.0,
        p99_request_miss_rate=p99,
        deadline_slo_met=p99 <= FLUID_MISS_RATE,
        share_fluid=float(np.mean(counts.fluid)),
    )
