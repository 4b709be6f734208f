"""Conventional per-request latency metrics (metrics.md, "Conventional metrics").

All inputs are token arrival times in integer ns (see `arrivals.token_arrivals`); results are
ns, `None` when the metric is undefined for so few tokens.
Worked example, arrivals `[100, 130, 130, 190]`:
TTFT = 100, TBT = [30, 0, 60], TPOT = (190 - 100) / 3 = 30, E2E = 190, normalized E2E = 190 / 4.
"""

from collections.abc import Sequence

import numpy as np

from monitor.metrics.arrays import Int64Array


def ttft_ns(arrivals: Int64Array) -> int | None:
    return int(arrivals[0]) if arrivals.size else None


def tbt_ns(arrivals: Int64Array) -> Int64Array:
    """Token-weighted gaps `g_1 … g_{n-1}`, zeros inside multi-token chunks included."""
    return np.diff(arrivals)


def inter_chunk_ns(times_ns: Sequence[int]) -> Int64Array:
    """`t_i - t_{i-1}` over content chunks: how often the user's screen refreshes."""
    times: Int64Array = np.asarray(times_ns, dtype=np.int64)
    return np.diff(times)


def tpot_ns(arrivals: Int64Array) -> float | None:
    n = arrivals.size
    if n < 2:
        return None
    return float(arrivals[-1] - arrivals[0]) / (n - 1)


def e2e_ns(arrivals: Int64Array) -> int | None:
    """Last content token; the end of the stream is recorded separately in the trace's phases."""
    return int(arrivals[-1]) if arrivals.size else None


def normalized_e2e_ns(arrivals: Int64Array) -> float | None:
    return float(arrivals[-1]) / arrivals.size if arrivals.size else None


def output_rate(arrivals: Int64Array) -> float | None:
    """Tokens per second over the whole request, TTFT included."""
    if not arrivals.size or arrivals[-1] == 0:
        return None
    return arrivals.size * 1e9 / float(arrivals[-1])


def tokens_per_chunk(tokens: Sequence[int]) -> float | None:
    return sum(tokens) / len(tokens) if len(tokens) else None
