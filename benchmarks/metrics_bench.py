"""Metric-engine throughput: full `analyze` metrics for many requests.

    .venv/bin/python benchmarks/metrics_bench.py [--requests 100000] [--tokens 256]

Synthetic streams (seeded): TTFT 0.2-1.0 s, TBT ~20 ms with jitter, a quarter of the requests in
multi-token chunks, 2 % with a mid-stream stall. Work measured: build the chunk matrix from flat
arrays, the one scoring pass (`score.score_matrix`: with-TTFT and decode-only scores at the judged
tier and the fixed 25/50/100 ms tiers, `D*`, one `ScoreRecord` per request), and
`analysis.summarize` (rates, SLO view, TTFT/TBT percentiles) over those records as `analyze` runs
it.
Prints one line per phase and the total.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from monitor.metrics.analysis import summarize, table_from_matrix
from monitor.metrics.batch import ChunkMatrix
from monitor.metrics.prefill import PrefillModel
from monitor.metrics.score import score_matrix

MS = 1_000_000
TIERS_MS = (25, 50, 100)


def synthetic(requests: int, tokens: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    per_chunk = np.where(rng.random(requests) < 0.25, 4, 1)
    chunks = tokens // per_chunk
    offsets = np.concatenate([[0], np.cumsum(chunks)]).astype(np.int64)
    total = int(offsets[-1])
    owner = np.repeat(np.arange(requests), chunks)
    gaps = rng.normal(20 * MS, 3 * MS, total).clip(1 * MS) * per_chunk[owner]
    stall = rng.random(total) < (0.02 / tokens)
    gaps = gaps + stall * rng.uniform(0.2e9, 2e9, total)
    starts = offsets[:-1]
    gaps[starts] = rng.uniform(0.2e9, 1.0e9, requests)
    times = np.cumsum(gaps.astype(np.int64))
    times -= np.repeat(times[starts] - gaps[starts].astype(np.int64), chunks)
    return times.astype(np.int64), per_chunk[owner].astype(np.int64), offsets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    times, tokens, offsets = synthetic(args.requests, args.tokens, args.seed)
    phases: list[tuple[str, float]] = []
    start = time.perf_counter()

    def lap(name: str) -> None:
        phases.append((name, time.perf_counter() - start - sum(p for _, p in phases)))

    m = ChunkMatrix.from_flat(times, tokens, offsets)
    lap("build matrix")
    prefill = np.full(m.requests, PrefillModel().deadline_ns(1024), dtype=np.int64)
    decode = np.full(m.requests, TIERS_MS[0] * MS, dtype=np.int64)
    table = table_from_matrix(
        m,
        probe_ids=[f"p{r}" for r in range(m.requests)],
        outcomes=["ok"] * m.requests,
        prompt_tokens=np.full(m.requests, 1024, dtype=np.int64),
    )
    records = score_matrix(table, decode, prefill)
    lap("score once (4 tiers x 2, D*)")
    summary = summarize(table, records)
    lap("summary")
    total = time.perf_counter() - start

    print(f"requests={m.requests} tokens/request={args.tokens} chunks={times.size}")
    for name, seconds in phases:
        print(f"  {name:<28} {seconds:7.3f} s")
    print(f"  {'total':<28} {total:7.3f} s  ({m.requests / total:,.0f} requests/s)")
    print(
        f"fluent {summary.fluent_token_rate:.1f} tok/s, TPOT-based {summary.tpot_rate:.1f}"
        f" tok/s, tail-TBT {summary.tail_tbt_rate:.1f} tok/s, share fluid {summary.share_fluid:.3f}"
    )


if __name__ == "__main__":
    main()
