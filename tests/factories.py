"""Builders of realistic `Trace` objects for store, export and report tests.

`make_trace()` gives a full-form, `ok` probe that streams `tokens` tokens in chunks of
`tokens_per_chunk` every `gap_ms` after a TTFT of `ttft_ms`; every field can be overridden.
`trace_stream()` gives many probes over time for several targets (deterministic per seed).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.trace import Chunk, ChunkKind, Deadlines, Outcome, TokenCountSource, Trace

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MS = 1_000_000
WORDS = ("The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", " é")


def make_chunks(
    tokens: int = 32,
    *,
    ttft_ms: float = 200.0,
    gap_ms: float = 20.0,
    tokens_per_chunk: int = 1,
    text: bool = True,
) -> tuple[Chunk, ...]:
    out: list[Chunk] = []
    t = round(ttft_ms * MS)
    left = tokens
    i = 0
    while left > 0:
        k = min(tokens_per_chunk, left)
        out.append(Chunk(t_ns=t, tokens=k, text=WORDS[i % len(WORDS)] if text else None))
        left -= k
        t += round(gap_ms * MS)
        i += 1
    return tuple(out)


def make_trace(
    probe_id: str = "probe-0001",
    *,
    started_at: datetime = T0,
    target: str = "sim-fast",
    tokens: int = 32,
    ttft_ms: float = 200.0,
    gap_ms: float = 20.0,
    tokens_per_chunk: int = 1,
    workload: int = 256,
    outcome: Outcome = Outcome.OK,
    chunks: Sequence[Chunk] | None = None,
    **overrides: Any,
) -> Trace:
    """A full-form trace as the prober writes it (deadlines, usage, phases, client health)."""
    body = (
        tuple(chunks)
        if chunks is not None
        else make_chunks(tokens, ttft_ms=ttft_ms, gap_ms=gap_ms, tokens_per_chunk=tokens_per_chunk)
    )
    end = (body[-1].t_ns if body else round(ttft_ms * MS)) + MS
    trace = Trace(
        probe_id=probe_id,
        chunks=body,
        prompt_tokens=workload + 3,
        target=target,
        provider="openai-compatible",
        model="sim-1",
        api="openai-chat",
        region="eu-west",
        started_at=started_at,
        requested_prompt_tokens=workload,
        max_tokens=256,
        outcome=outcome,
        http_status=200 if outcome is Outcome.OK else 500,
        error=None if outcome is Outcome.OK else "server said 500",
        finish_reason="length" if outcome is Outcome.OK else None,
        phases_ns={"dns": 0, "connect": 120_000, "sent": 41_000, "headers": 150 * MS, "end": end},
        token_count_source=TokenCountSource.USAGE_CONTINUOUS,
        usage={"prompt_tokens": workload + 3, "completion_tokens": tokens, "cached_tokens": 0},
        client={"loop_lag_max_ns": 310_000},
        deadlines=Deadlines(prefill_s=0.452, decode_s=(0.025, 0.05, 0.1)),
        meta={"x-ratelimit-remaining": "99", "server_timing": {"queue_ms": 1.5}},
    )
    return replace(trace, **overrides) if overrides else trace


def reasoning_trace(probe_id: str = "probe-reason", **overrides: Any) -> Trace:
    """A trace with reasoning chunks first, a chunk without text, and no deadlines."""
    chunks = (
        Chunk(t_ns=100 * MS, tokens=4, kind=ChunkKind.REASONING, text="think"),
        Chunk(t_ns=180 * MS, tokens=2, kind=ChunkKind.REASONING, text=None),
        Chunk(t_ns=300 * MS, tokens=1, text="Hi"),
        Chunk(t_ns=330 * MS, tokens=3, text=None),
    )
    return make_trace(probe_id, chunks=chunks, deadlines=None, usage=None, meta=None, **overrides)


REASONING_USED_DEADLINES = Deadlines(prefill_s=0.333084162, decode_s=(0.025,))
"""What `reasoning_trace()` (no deadlines of its own, prompt 259 tokens) is judged against:
the default prefill model 0.02 + 5e-5·259 + 2e-9·259² + 0.3 = 0.02 + 0.01295 + 0.000134162 + 0.3
= 0.333084162 s, and the default 25 ms decode deadline."""


def trace_stream(
    count: int,
    *,
    start: datetime = T0,
    every: timedelta = timedelta(minutes=5),
    targets: Sequence[str] = ("sim-fast", "sim-slow"),
    workloads: Sequence[int] = (256, 1024),
    tokens: int = 32,
    seed: int = 7,
    prefix: str = "p",
) -> Iterator[Trace]:
    """`count` probes, one every `every`, cycling targets and workloads, with jittered timings."""
    rng = random.Random(seed)
    for i in range(count):
        target = targets[i % len(targets)]
        workload = workloads[(i // len(targets)) % len(workloads)]
        failed = rng.random() < 0.1
        yield make_trace(
            f"{prefix}{i:07d}",
            started_at=start + i * every,
            target=target,
            workload=workload,
            tokens=tokens,
            ttft_ms=rng.uniform(150, 600),
            gap_ms=rng.uniform(5, 45),
            tokens_per_chunk=rng.choice((1, 1, 2, 3)),
            outcome=Outcome.HTTP_ERROR if failed else Outcome.OK,
        )
