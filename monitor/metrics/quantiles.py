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
