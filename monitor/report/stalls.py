"""Stall positions: where in a response the late tokens fall.

A *stall* is a chunk whose first token is late in the decode-only deadline walk at the probe's
judged decode deadline (metrics.md); it misses `1 + (b - M) // D_d` deadlines. The engine's
`batch.score` counts the misses with a closed form; this module applies the same form per chunk to
say *where* they happen, and the tests check that, per probe, the misses here add up to the
engine's decode-only count. A stall's position is its token index over the response length, so
"stalls cluster at 90-100 %" (long-output throttling) reads differently from "at 0-10 %" (a slow
start after the first token).

Closed form (batch.py): chunk `i` with first token `j_i` has `b_i = t_i - j_i·D`; it is late iff
`b_i > M_i = max(t_0, b_1 … b_{i-1})`. Example, chunks (100, 1), (130, 1), (200, 1), D = 25:
b = [100, 105, 150]; chunk 1: 105 > 100, late, 1 + 5 // 25 = 1 miss; chunk 2: 150 > 105, late,
1 + 45 // 25 = 2 misses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.report.model import StallPositions
from monitor.report.scoring import ScoredTarget

BINS = 10


@dataclass(frozen=True, slots=True)
class Stall:
    token_index: int
    missed: int


def chunk_stalls(times_ns: list[int], tokens: list[int], decode_ns: int) -> list[Stall]:
    """Late chunks of one response, decode-only; chunks without tokens are not arrivals."""
    kept = [(t, k) for t, k in zip(times_ns, tokens, strict=True) if k > 0]
    out: list[Stall] = []
    if len(kept) < 2:
        return out
    anchor = kept[0][0]
    first = kept[0][1]
    for t, k in kept[1:]:
        b = t - first * decode_ns
        if b > anchor:
            out.append(Stall(token_index=first, missed=1 + (b - anchor) // decode_ns))
            anchor = b
        first += k
    return out


def stall_positions(s: ScoredTarget) -> StallPositions:
    bins = [0] * BINS
    missed = [0] * BINS
    stalled = stalls = late_first = 0
    ok_rows = [int(r) for r in np.nonzero(s.ok)[0]]
    for r in ok_rows:
        chunks = s.content[r]
        n = int(s.table.output_tokens[r])
        if n and int(s.table.ttft_ns[r]) > int(s.prefill_ns[r]):
            late_first += 1
        found = chunk_stalls(
            [c.t_ns for c in chunks], [c.tokens for c in chunks], int(s.decode_ns[r])
        )
        if found:
            stalled += 1
        for stall in found:
            i = min(stall.token_index * BINS // n, BINS - 1)
            bins[i] += 1
            missed[i] += stall.missed
            stalls += 1
    return StallPositions(
        requests=len(ok_rows),
        stalled_requests=stalled,
        stalls=stalls,
        late_first_token=late_first,
        bins=tuple(bins),
        missed=tuple(missed),
    )
