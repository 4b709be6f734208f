"""Turn the raw `(t_ns, bytes)` reads of one stream into chunks, token counts and protocol facts.

Runs after the stream ended (or failed), so nothing here sits between one network read and the next.
It yields to the event loop every few dozen events so a long stream's parsing can't stall the reads
of other streams still in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.probe.sse import SseParser
from monitor.probe.tokens import Tokenizer
from monitor.probe.wire import Wire, WireEvent
from monitor.trace import Chunk, ChunkKind, TokenCountSource

YIELD_EVERY = 48


@dataclass(slots=True)
class _Pending:
    t_ns: int
    kind: ChunkKind
    text: str
    token_ids: int | None
    cumulative: int | None
    previous_cumulative: int | None


@dataclass(slots=True)
class StreamFacts:
    chunks: list[Chunk] = field(default_factory=list)
    source: TokenCountSource = TokenCountSource.CHUNK
    usage: dict[str, int | None] | None = None
    finish_reason: str | None = None
    error: str | None = None
    malformed: int = 0
    malformed_reason: str | None = None
    terminal: bool = False
    events: int = 0
    first_event_ns: int | None = None
    model: str | None = None
    request_id: str | None = None
    server_timings: dict[str, Any] | None = None
    keepalives: int = 0
    trailing_bytes: bool = False
    """The stream stopped inside an event."""
    reads: int = 0
    bytes: int = 0


def _merge_usage(facts: StreamFacts, usage: dict[str, int | None]) -> None:
    merged = dict(facts.usage or {})
    for key, value in usage.items():
        if value is not None or key not in merged:
            merged[key] = value
    facts.usage = merged


def _absorb(
    facts: StreamFacts, ev: WireEvent, t_ns: int, pending: list[_Pending], cum: list[int | None]
) -> None:
    if ev.malformed is not None:
        facts.malformed += 1
        facts.malformed_reason = facts.malformed_reason or ev.malformed
        return
    previous = cum[0]
    if ev.completion_tokens_so_far is not None:
        cum[0] = ev.completion_tokens_so_far
    for kind, text in ((ChunkKind.REASONING, ev.reasoning), (ChunkKind.CONTENT, ev.text)):
        if text:
            pending.append(
                _Pending(t_ns, kind, text, ev.token_ids, ev.completion_tokens_so_far, previous)
            )
    if ev.usage is not None:
        _merge_usage(facts, ev.usage)
    if ev.finish_reason is not None:
        facts.finish_reason = ev.finish_reason
    if ev.error is not None and facts.error is None:
        facts.error = ev.error
    if ev.terminal:
        facts.terminal = True
    facts.model = ev.model or facts.model
    facts.request_id = ev.request_id or facts.request_id
    if ev.server_timings:
        facts.server_timings = ev.server_timings


def reconcile(counts: Sequence[int], total: int) -> list[int]:
    """Scale per-chunk counts so they sum to `total`, each at least 1, by largest remainder.

    Example: counts [1, 1, 2], total 8: base 1 each, 5 extra split 5·[1,1,2]/4 = [1.25, 1.25, 2.5]
    → floors [1, 1, 2] (4), the one left goes to the largest remainder (2.5) → [2, 2, 4].
    """
    n = len(counts)
    weight = sum(counts)
    if n == 0 or total < n or weight <= 0:
        return list(counts)
    extra = total - n
    shares = [extra * c / weight for c in counts]
    floors = [int(s) for s in shares]
    left = extra - sum(floors)
    order = sorted(range(n), key=lambda i: shares[i] - floors[i], reverse=True)
    for i in order[:left]:
        floors[i] += 1
    return [1 + f for f in floors]


def _count_tokens(
    facts: StreamFacts, pending: list[_Pending], tokenizer: Tokenizer | None
) -> list[int]:
    if pending and all(p.cumulative is not None for p in pending):
        facts.source = TokenCountSource.USAGE_CONTINUOUS
        return [max((p.cumulative or 0) - (p.previous_cumulative or 0), 1) for p in pending]
    if pending and all(p.token_ids is not None for p in pending):
        facts.source = TokenCountSource.TOKEN_ID
        return [max(p.token_ids or 0, 1) for p in pending]
    if tokenizer is None or not pending:
        facts.source = TokenCountSource.CHUNK
        return [1] * len(pending)
    facts.source = TokenCountSource.TOKENIZER
    counts = [max(tokenizer.count(p.text), 1) for p in pending]
    usage = facts.usage or {}
    total = usage.get("completion_tokens")
    if total:
        hidden = usage.get("reasoning_tokens") or 0
        if not any(p.kind is ChunkKind.REASONING for p in pending):
            total -= hidden
        if total >= len(counts) and total != sum(counts):
            counts = reconcile(counts, total)
    return counts


async def assemble(
    reads: Sequence[tuple[int, bytes]],
    start_ns: int,
    wire: Wire,
    tokenizer: Tokenizer | None,
    *,
    keep_text: bool = True,
) -> StreamFacts:
    facts = StreamFacts()
    parser = SseParser()
    pending: list[_Pending] = []
    cum: list[int | None] = [None]
    since_yield = 0
    classify = wire.classify
    for index, (t_abs, data) in enumerate(reads):
        t_ns = t_abs - start_ns
        facts.reads += 1
        facts.bytes += len(data)
        for event in parser.feed(data, index):
            facts.events += 1
            if facts.first_event_ns is None:
                facts.first_event_ns = t_ns
            try:
                ev = classify(event)
            except Exception as e:  # a wire bug must not lose the trace; it is a protocol error
                ev = WireEvent(malformed=f"classifier failed: {type(e).__name__}")
            _absorb(facts, ev, t_ns, pending, cum)
            since_yield += 1
        if since_yield >= YIELD_EVERY:
            since_yield = 0
            await asyncio.sleep(0)
    facts.trailing_bytes = parser.pending
    facts.keepalives = parser.comments
    counts = _count_tokens(facts, pending, tokenizer)
    facts.chunks = [
        Chunk(p.t_ns, n, p.kind, p.text if keep_text else None)
        for p, n in zip(pending, counts, strict=True)
    ]
    return facts
