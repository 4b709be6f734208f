"""Exact order statistics (numpy's linear quantile), `None` for an empty sample.

SLA numbers come from the samples, never from histogram buckets.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def quantile(values: npt.ArrayLike, q: float) -> float | None:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.quantile(arr, q)) if arr.size else None


def quantiles(values: npt.ArrayLike, qs: Sequence[float]) -> dict[float, float | None]:
    arr = np.asarray(values, dtype=np.float64)
    if not arr.size:
        return dict.fromkeys(qs)
    return dict(zip(qs, (float(v) for v in np.quantile(arr, list(qs))), strict=True))


def quantiles_with_zeros(
    values: npt.ArrayLike, zeros: int, qs: Sequence[float]
) -> dict[float, float | None]:
    """Linear quantiles of `values` (all >= 0) plus `zeros` extra zeros, without building them.

    TBT samples are mostly the zeros inside multi-token chunks; materialising them costs memory
    for nothing. Sorted, the sample is `zeros` zeros then the sorted values, so the order
    statistic of rank k is 0 below `zeros` and `sorted(values)[k - zeros]` above: numpy's linear
    rule (h = (N - 1)·q, interpolate between ranks floor(h) and ceil(h)) needs only those ranks.
    """
    arr = np.asarray(values, dtype=np.float64)
    n = arr.size + zeros
    if n == 0:
        return dict.fromkeys(qs)
    ranks = sorted({r for q in qs for r in (int(np.floor((n - 1) * q)), int(np.ceil((n - 1) * q)))})
    wanted = [r - zeros for r in ranks if r >= zeros]
    part = np.partition(arr, wanted) if wanted else arr

    def at(rank: int) -> float:
        return 0.0 if rank < zeros else float(part[rank - zeros])

    out: dict[float, float | None] = {}
    for q in qs:
        h = (n - 1) * q
        lo, hi = int(np.floor(h)), int(np.ceil(h))
        out[q] = at(lo) + (h - lo) * (at(hi) - at(lo))
    return out
