"""Deadline scoring of many requests at once, vectorised across requests.

The token-by-token walk in `fluidity.py` has a closed form that needs no sequential slack
variable. While the schedule is anchored at token `r`, token `j` is on time iff
`a_j <= a_r + (j - r)·D`, i.e. `b_j <= b_r` with `b_j = a_j - j·D`. A late token re-anchors
at itself, and it is late exactly because its `b_j` exceeds the anchor's, so the anchor value
is a running maximum:

    late_j   <=>  b_j > M_j,  M_j = max(T0, b_0 … b_{j-1})
    misses_j  =   1 + (b_j - M_j) // D_d          (for a late token)

with `T0 = D_p` for the with-TTFT variant (token 0 included, `b_0 = a_0`) and `T0 = b_0 = a_0` for
the decode-only variant (token 0 skipped). Tokens after the first inside a chunk have a smaller `b`
than the first, so only a chunk's first token can be late: the work is per chunk, not per token.

Example (the docstring of `fluidity.py`): arrivals `[90, 110, 160, 170]`, D_p 100, D_d 25:
b = [90, 85, 110, 95], T0 = 100 → M = [100, 100, 100, 110]; only b_2 = 110 > 100 is late, with
1 + 10 // 25 = 1 miss; met = 4 - 1 = 3.

Arrays are position-major `(chunks, requests)` so the running maximum runs down axis 0 with a
vectorised inner loop over requests. Padding uses a very negative time, which is never late and
never raises the running maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.metrics.arrays import Int64Array

PAD = np.int64(-(2**62))
FEW_REQUESTS = 32
BUILD_BLOCK = 512
"""Below this many requests per call, scoring uses numpy's accumulate rather than a row loop."""


@dataclass(frozen=True, slots=True)
class ChunkMatrix:
    """Many requests' content chunks, padded to a rectangle.

    `times[i, r]` is chunk `i` of request `r` (ns); `first_token[i, r]` is the index of its
    first token.
    Chunks without tokens are dropped: they are not token arrivals.
    """

    times: Int64Array
    first_token: Int64Array
    n_chunks: Int64Array
    n_tokens: Int64Array

    @property
    def requests(self) -> int:
        return int(self.n_tokens.size)

    @classmethod
    def from_chunks(cls, requests: Sequence[tuple[Sequence[int], Sequence[int]]]) -> ChunkMatrix:
        """Build from `(times_ns, tokens)` per request."""
        kept: list[tuple[Int64Array, Int64Array]] = []
        for times, tokens in requests:
            t = np.asarray(times, dtype=np.int64)
            k = np.asarray(tokens, dtype=np.int64)
            mask = k > 0
            kept.append((t[mask], k[mask]))
        n_chunks = np.array([t.size for t, _ in kept], dtype=np.int64)
        width = int(n_chunks.max()) if n_chunks.size else 0
        times_m = np.full((width, len(kept)), PAD, dtype=np.int64)
        first_m = np.zeros((width, len(kept)), dtype=np.int64)
        n_tokens = np.zeros(len(kept), dtype=np.int64)
        for r, (t, k) in enumerate(kept):
            times_m[: t.size, r] = t
            starts = np.cumsum(k) - k
            first_m[: t.size, r] = starts
            n_tokens[r] = int(k.sum())
        return cls(times_m, first_m, n_chunks, n_tokens)

    @classmethod
    def from_flat(cls, times: Int64Array, tokens: Int64Array, offsets: Int64Array) -> ChunkMatrix:
        """Build from concatenated chunks: request `r` owns `[offsets[r], offsets[r + 1])`.

        The bulk path (store rows, benchmarks): no Python loop over requests or chunks.
        """
        keep = tokens > 0
        if not keep.all():
            owner = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
            sizes = np.bincount(owner[keep], minlength=offsets.size - 1)
            times, tokens = times[keep], tokens[keep]
            offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        n_chunks = np.diff(offsets).astype(np.int64)
        requests = n_chunks.size
        width = int(n_chunks.max()) if requests else 0
        running = np.cumsum(tokens) - tokens
        nonempty = n_chunks > 0
        starts = running - np.repeat(running[offsets[:-1][nonempty]], n_chunks[nonempty])
        times_m = np.empty((width, requests), dtype=np.int64)
        first_m = np.empty((width, requests), dtype=np.int64)
        # Block by block: scatter request-major into a cache-sized buffer (contiguous writes),
        # then copy it transposed into place. Writing position-major directly strides through
        # memory, and full-size request-major temporaries cost as much again in page faults.
        for r0 in range(0, requests, BUILD_BLOCK):
            r1 = min(r0 + BUILD_BLOCK, requests)
            lo, hi = int(offsets[r0]), int(offsets[r1])
            sizes = n_chunks[r0:r1]
            target = np.arange(hi - lo, dtype=np.int64)
            target += np.repeat(
                np.arange(r1 - r0, dtype=np.int64) * width - (offsets[r0:r1] - lo), sizes
            )
            buffer = np.full((r1 - r0, width), PAD, dtype=np.int64)
            buffer.ravel()[target] = times[lo:hi]
            times_m[:, r0:r1] = buffer.T
            buffer.fill(0)
            buffer.ravel()[target] = starts[lo:hi]
            first_m[:, r0:r1] = buffer.T
        n_tokens = np.zeros(requests, dtype=np.int64)
        if tokens.size:
            n_tokens[nonempty] = np.add.reduceat(tokens, offsets[:-1][nonempty])
        return cls(times_m, first_m, n_chunks, n_tokens)

    def select(self, columns: slice | Int64Array) -> ChunkMatrix:
        """A sub-batch, trimmed to its own longest request so padding costs nothing."""
        n_chunks = self.n_chunks[columns]
        width = int(n_chunks.max()) if n_chunks.size else 0
        return ChunkMatrix(
            np.ascontiguousarray(self.times[:width, columns]),
            np.ascontiguousarray(self.first_token[:width, columns]),
            n_chunks,
            self.n_tokens[columns],
        )

    def max_decode_gap_ns(self) -> Int64Array:
        """Largest gap between consecutive chunks (0 for fewer than two chunks)."""
        if self.times.shape[0] < 2:
            return np.zeros(self.requests, dtype=np.int64)
        diffs = np.diff(self.times, axis=0)
        valid = self.times[1:] != PAD
        widest: Int64Array = np.where(valid, diffs, 0).max(axis=0)
        return widest


@dataclass(frozen=True, slots=True)
class DeadlineCounts:
    """Per-request deadline counts; `fluid` is miss rate <= 0.1 decided in integers."""

    met: Int64Array
    missed: Int64Array

    @property
    def total(self) -> Int64Array:
        return self.met + self.missed

    @property
    def index(self) -> npt.NDArray[np.float64]:
        total = self.total
        return np.divide(
            self.met, total, out=np.ones(total.size, dtype=np.float64), where=total > 0
        )

    @property
    def miss_rate(self) -> npt.NDArray[np.float64]:
        return 1.0 - self.index

    @property
    def fluid(self) -> npt.NDArray[np.bool_]:
        return 9 * self.missed <= self.met


def _as_column(value: int | Int64Array, size: int) -> Int64Array:
    arr = np.asarray(value, dtype=np.int64)
    return np.broadcast_to(arr, (size,)) if arr.ndim == 0 else arr


def score(
    m: ChunkMatrix, decode_ns: int | Int64Array, prefill_ns: int | Int64Array | None = None
) -> DeadlineCounts:
    """Met and missed deadlines per request; `prefill_ns=None` gives the decode-only variant.

    `decode_ns` and `prefill_ns` may be one value or one per request.
    """
    size = m.requests
    d = _as_column(decode_ns, size)
    if np.any(d <= 0):
        raise ValueError("decode deadlines must be positive")
    if m.times.shape[0] == 0:
        zeros = np.zeros(size, dtype=np.int64)
        return DeadlineCounts(met=zeros, missed=zeros.copy())
    if prefill_ns is None:
        times, first = m.times[1:], m.first_token[1:]
        anchor0 = m.times[0]
        judged = np.maximum(m.n_tokens - 1, 0)
    else:
        p = _as_column(prefill_ns, size)
        if np.any(p <= 0):
            raise ValueError("prefill deadlines must be positive")
        times, first = m.times, m.first_token
        anchor0 = p
        judged = m.n_tokens
    if times.shape[0] == 0:
        return DeadlineCounts(met=judged.copy(), missed=np.zeros(size, dtype=np.int64))
    b = np.multiply(first, d)
    np.subtract(times, b, out=b)
    anchor = np.empty_like(b)
    anchor[0] = anchor0
    if size >= FEW_REQUESTS:
        # Row by row: numpy's `maximum.accumulate(axis=0)` is several times slower than one
        # vectorised call per chunk position across many requests.
        for i in range(1, b.shape[0]):
            np.maximum(anchor[i - 1], b[i - 1], out=anchor[i])
    else:
        # A handful of requests (one probe at ingest): per-call overhead dominates instead.
        np.maximum.accumulate(b[:-1], axis=0, out=anchor[1:])
        np.maximum(anchor[1:], anchor0, out=anchor[1:])
    late = b > anchor
    flat = np.flatnonzero(late)
    cols = flat % size
    excess = b.ravel()[flat] - anchor.ravel()[flat]
    misses = 1 + excess // d[cols]
    missed = np.bincount(cols, weights=misses, minlength=size).astype(np.int64)
    late_count = np.count_nonzero(late, axis=0)
    return DeadlineCounts(met=judged - late_count, missed=missed)
