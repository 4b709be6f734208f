"""The minimum decode deadline `D*`: the tightest `D_d` a request still streams fluently at.

`D*` is the smallest whole number of microseconds at which the request's decode-only miss rate is
at most 10 %. The miss rate never increases with `D_d`, so bisection is exact. The search starts
from a bracket that always holds: 0 µs fails by convention and the largest gap between chunks
(rounded up to a microsecond) passes, because at that deadline no token can be late.
Requests with fewer than two tokens have no `D*`.

Example: chunks `[(1.0 s, 3), (1.25 s, 1)]`. Tokens 1 and 2 arrive with token 0 and bank `2·D` of
slack, so token 3 (0.25 s later) is on time iff `0.25 s <= 3·D`, i.e. `D >= 83 333.33 µs`: with 3
deadlines a single miss is already 33 %, so `D* = 83 334 µs`.
"""

from collections.abc import Sequence

import numpy as np

from monitor.metrics.arrays import Int64Array
from monitor.metrics.arrivals import token_arrivals
from monitor.metrics.batch import ChunkMatrix, score
from monitor.metrics.fluidity import fluidity_decode_only
from monitor.metrics.units import NS_PER_US

BLOCK = 2048
"""Requests searched together: small enough that a block's arrays stay in the CPU cache."""

NO_DEADLINE = np.int64(-1)


def _ceil_us(ns: Int64Array) -> Int64Array:
    return -(-ns // NS_PER_US)


def min_decode_deadline_ns(times_ns: Sequence[int], tokens: Sequence[int]) -> int | None:
    """One request, by the token walk; the oracle for the vectorised search."""
    arrivals = token_arrivals(times_ns, tokens)
    if arrivals.size < 2:
        return None
    lo, hi = 0, max(1, int(_ceil_us(np.diff(arrivals).max(keepdims=True))[0]))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fluidity_decode_only(arrivals, mid * NS_PER_US).fluid:
            hi = mid
        else:
            lo = mid
    return hi * NS_PER_US


def _search_block(m: ChunkMatrix, lo: Int64Array, hi: Int64Array) -> Int64Array:
    """Bisect `(lo, hi]` in µs per request; `lo` fails and `hi` passes throughout."""
    hi = hi.copy()
    while True:
        open_ = np.flatnonzero(hi - lo > 1)
        if not open_.size:
            return hi
        if 2 * open_.size < m.requests:
            # Most requests have converged (a few long stalls need more rounds): search the rest
            # on their own, smaller matrix.
            hi[open_] = _search_block(m.select(open_), lo[open_], hi[open_])
            return hi
        mid = (lo + hi) // 2
        fluid = score(m, np.maximum(mid, 1) * NS_PER_US).fluid
        moved = hi - lo > 1
        hi = np.where(moved & fluid, mid, hi)
        lo = np.where(moved & ~fluid, mid, lo)


def min_decode_deadlines_ns(m: ChunkMatrix) -> Int64Array:
    """`D*` per request in ns (whole µs); -1 where undefined (fewer than two tokens)."""
    out = np.full(m.requests, NO_DEADLINE, dtype=np.int64)
    hi = np.maximum(_ceil_us(m.max_decode_gap_ns()), 1)
    # Requests of similar length and bracket share a block: less padding, fewer wasted rounds.
    order = np.lexsort((hi, m.n_chunks))
    for start in range(0, m.requests, BLOCK):
        columns = order[start : start + BLOCK]
        lo = np.zeros(columns.size, dtype=np.int64)
        out[columns] = _search_block(m.select(columns), lo, hi[columns]) * NS_PER_US
    out[m.n_tokens < 2] = NO_DEADLINE
    return out
