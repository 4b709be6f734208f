"""Store benchmark: bulk import via COPY, per-probe insert latency, the exporter's window query.

Creates a scratch database on the server at --url (default: $ETALON_TEST_DATABASE_URL, else
postgresql+psycopg://postgres@127.0.0.1:5432/test), migrates it, runs, and drops it.

    .venv/bin/python benchmarks/store_bench.py                      # 100 000 probes x 256 tokens
    .venv/bin/python benchmarks/store_bench.py --probes 10000       # scaled down

Measured:
1. bulk import of N probes x T tokens (one token per chunk, with text) spread over --days days and
   --targets targets x 3 workloads, through `Store.ingest_many` (summary columns + COPY): probes/s,
   tokens/s, and the table size on disk. Trace objects are built before timing.
2. per-probe `Store.ingest` latency (one transaction each): p50 / p99 over --singles probes.
3. `Store.window_summaries` over the stored data (the exporter's refresh query) for the 24 h
   and 7 d windows alone and for 1h+24h+7d together: median of 5 runs, in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.metrics.score import score_traces
from monitor.store import Store, migrate
from monitor.trace import Chunk, Deadlines, Outcome, TokenCountSource, Trace

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WORKLOADS = (256, 1024, 4096)
NOW = datetime(2026, 11, 23, tzinfo=UTC)
MS = 1_000_000


def make_traces(
    count: int, tokens: int, targets: int, days: int, seed: int, prefix: str = "b"
) -> Iterator[Trace]:
    rng = random.Random(seed)
    span_s = days * 86400
    words = [f" w{i}" for i in range(64)]
    for i in range(count):
        target = f"target-{i % targets:03d}"
        workload = WORKLOADS[(i // targets) % len(WORKLOADS)]
        started = NOW - timedelta(seconds=span_s * (1 - (i + 0.5) / count))
        gap = rng.uniform(5, 40) * MS
        t = rng.uniform(150, 700) * MS
        chunks = []
        for k in range(tokens):
            chunks.append(Chunk(t_ns=int(t), tokens=1, text=words[k % 64]))
            t += gap * rng.uniform(0.5, 1.5)
        ok = rng.random() > 0.05
        yield Trace(
            probe_id=f"{prefix}{i:08d}",
            chunks=tuple(chunks) if ok else tuple(chunks[:10]),
            prompt_tokens=workload + 3,
            target=target,
            provider="openai-compatible",
            model="bench-1",
            api="openai-chat",
            region="eu-west",
            started_at=started,
            requested_prompt_tokens=workload,
            max_tokens=tokens,
            outcome=Outcome.OK if ok else Outcome.STREAM_ERROR,
            http_status=200,
            error=None if ok else "stream broke",
            finish_reason="length" if ok else None,
            phases_ns={"dns": 0, "connect": 90_000, "sent": 40_000, "headers": 120 * MS},
            token_count_source=TokenCountSource.USAGE_CONTINUOUS,
            usage={"prompt_tokens": workload + 3, "completion_tokens": tokens},
            client={"loop_lag_max_ns": 250_000},
            deadlines=Deadlines(prefill_s=0.6, decode_s=(0.025, 0.05, 0.1)),
        )


def admin(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def bench_import(store: Store, args: argparse.Namespace) -> dict[str, float]:
    batch = 1000
    generator = make_traces(args.probes, args.tokens, args.targets, args.days, seed=1)
    elapsed = summarize_s = 0.0
    done = 0
    while done < args.probes:
        traces = [next(generator) for _ in range(min(batch, args.probes - done))]
        t0 = time.perf_counter()
        score_traces(traces)
        summarize_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        inserted = await store.ingest_many(traces, batch=batch)
        elapsed += time.perf_counter() - t0
        assert inserted == len(traces)
        done += len(traces)
        print(f"\r  imported {done}/{args.probes}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    async with store.engine.connect() as conn:
        size = (
            await conn.execute(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) "
                    "FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
                    "WHERE p.relname = 'probes'"
                )
            )
        ).scalar_one()
    return {
        "probes": args.probes,
        "tokens_per_probe": args.tokens,
        "seconds": elapsed,
        "summary_seconds_of_which": summarize_s,
        "probes_per_s": args.probes / elapsed,
        "tokens_per_s": args.probes * args.tokens / elapsed,
        "table_mb": int(size) / 1e6,
        "bytes_per_probe": int(size) / args.probes,
    }


async def bench_singles(store: Store, args: argparse.Namespace) -> dict[str, float]:
    traces = list(make_traces(args.singles, args.tokens, args.targets, 1, seed=2, prefix="s"))
    latencies = []
    summary_ms = []
    for trace in traces:
        t0 = time.perf_counter()
        score_traces([trace])
        summary_ms.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        await store.ingest(trace)
        latencies.append((time.perf_counter() - t0) * 1e3)
    q = np.quantile(latencies, [0.5, 0.99])
    return {
        "probes": args.singles,
        "p50_ms": float(q[0]),
        "p99_ms": float(q[1]),
        "summary_p50_ms_of_which": float(np.median(summary_ms)),
    }


async def bench_windows(store: Store) -> dict[str, float]:
    out: dict[str, float] = {}
    cases = {
        "24h": {"24h": timedelta(hours=24)},
        "7d": {"7d": timedelta(days=7)},
        "1h+24h+7d": {
            "1h": timedelta(hours=1),
            "24h": timedelta(hours=24),
            "7d": timedelta(days=7),
        },
    }
    for name, windows in cases.items():
        runs = []
        rows = 0
        for _ in range(5):
            t0 = time.perf_counter()
            rows = len(await store.window_summaries(NOW, windows))
            runs.append((time.perf_counter() - t0) * 1e3)
        out[f"{name}_ms"] = statistics.median(runs)
        out[f"{name}_rows"] = rows
    return out


async def run(url: str, args: argparse.Namespace) -> dict[str, object]:
    store = await Store.open(url)
    try:
        await migrate.upgrade(store.engine)
        result: dict[str, object] = {"import": await bench_import(store, args)}
        async with store.engine.connect() as conn:
            await conn.execute(text("ANALYZE probes"))
            await conn.commit()
        result["windows"] = await bench_windows(store)
        result["single_insert"] = await bench_singles(store, args)
        return result
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("ETALON_TEST_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--probes", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--singles", type=int, default=500)
    args = parser.parse_args()
    name = f"etalon_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin(args.url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        result = asyncio.run(run(url, args))
    finally:
        with psycopg.connect(admin(args.url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    imp, win, one = result["import"], result["windows"], result["single_insert"]
    assert isinstance(imp, dict) and isinstance(win, dict) and isinstance(one, dict)
    print(
        f"bulk import: {imp['probes']} probes x {imp['tokens_per_probe']} tokens in "
        f"{imp['seconds']:.1f} s (summaries {imp['summary_seconds_of_which']:.1f} s): "
        f"{imp['probes_per_s']:.0f} probes/s, {imp['tokens_per_s'] / 1e6:.2f} M tokens/s, "
        f"table {imp['table_mb']:.0f} MB ({imp['bytes_per_probe']:.0f} B/probe)"
    )
    print(
        f"per-probe insert: p50 {one['p50_ms']:.2f} ms, p99 {one['p99_ms']:.2f} ms "
        f"(summary columns p50 {one['summary_p50_ms_of_which']:.2f} ms of it)"
    )
    print(
        f"window query ({args.targets} targets, {args.days} days stored): "
        f"24h {win['24h_ms']:.1f} ms, 7d {win['7d_ms']:.1f} ms, "
        f"1h+24h+7d {win['1h+24h+7d_ms']:.1f} ms"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
