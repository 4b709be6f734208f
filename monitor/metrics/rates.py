"""Token rates of a set of requests, in tokens per second.

The paper's point: the *fluent* rate (what a deadline-judged user experiences) can be far below the
TPOT-based rate a vendor advertises, because averages hide stalls. Example: `D*` = [83.334, 187.5,
312.5] ms → Q_0.99 = 187.5 + 0.98·125 = 310 ms (numpy's linear quantile) → 3.226 tokens/s.
"""

import numpy as np
import numpy.typing as npt

from monitor.metrics.quantiles import quantile, quantiles_with_zeros
from monitor.metrics.units import NS_PER_S


def _inverse(ns: float | None) -> float | None:
    return NS_PER_S / ns if ns else None


def fluent_token_rate(min_deadlines_ns: npt.ArrayLike) -> float | None:
    """`1 / Q_0.99(D*)` over requests that have a `D*`."""
    d = np.asarray(min_deadlines_ns, dtype=np.int64)
    return _inverse(quantile(d[d > 0], 0.99))


def tpot_rate(tpots_ns: npt.ArrayLike) -> float | None:
    """`1 / mean(TPOT)` over requests with at least two tokens."""
    t = np.asarray(tpots_ns, dtype=np.float64)
    t = t[~np.isnan(t)]
    return _inverse(float(t.mean())) if t.size else None


def tail_tbt_rate(tbts_ns: npt.ArrayLike, zeros: int = 0) -> float | None:
    """`1 / Q_0.99` of every TBT value of every request; `zeros` more TBT values of 0 (the tokens
    inside multi-token chunks) may be given as a count instead of in the array."""
    return _inverse(quantiles_with_zeros(tbts_ns, zeros, (0.99,))[0.99])
