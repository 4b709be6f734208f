"""Token expansion: the `k_i` tokens of chunk `i` all arrive at `t_i`.

Everything token-weighted (TBT, TPOT, deadlines) starts from this list of token arrival times
`a_0 <= a_1 <= ... <= a_{n-1}`; chunks that carried no token add no arrival.
"""

from collections.abc import Sequence

import numpy as np

from monitor.metrics.arrays import Int64Array


def token_arrivals(times_ns: Sequence[int], tokens: Sequence[int]) -> Int64Array:
    """`[(100, 1), (130, 3)]` → `[100, 130, 130, 130]`."""
    if len(times_ns) != len(tokens):
        raise ValueError("times_ns and tokens differ in length")
    t = np.asarray(times_ns, dtype=np.int64)
    k = np.asarray(tokens, dtype=np.int64)
    if np.any(k < 0):
        raise ValueError("token counts must not be negative")
    if t.size > 1 and np.any(np.diff(t) < 0):
        raise ValueError("chunk times must not decrease")
    return np.repeat(t, k)


def gaps(arrivals: Int64Array) -> Int64Array:
    """`g_0 = a_0`, `g_j = a_j - a_{j-1}`: the quantity every deadline is checked against."""
    return np.diff(arrivals, prepend=np.int64(0)) if arrivals.size else arrivals
