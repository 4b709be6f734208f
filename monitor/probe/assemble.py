"""Turn the raw `(t_ns, bytes)` reads of one stream into chunks, token counts and protocol facts.

The read loop only stamps and appends, then hands the stream's `StreamAssembler` to the prober's
`ParseQueue`. The queue's worker frames and classifies pending reads in slices of at most ~50 µs
and yields to the event loop between slices, so parsing never sits between a network read and its
stamp for more than one slice: not in the read path, and not in one burst at stream end (a burst
when hundreds of streams finish together would delay the last reads of all the others). Per-chunk
token counts are settled in `finish()`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.probe.numbers import checked_timings, checked_usage, plausible_count, raw_text
from monitor.probe.sse import SseParser
from monitor.probe.tokens import Tokenizer
from monitor.probe.wire import Wire, WireEvent
from monitor.trace import Chunk, ChunkKind, TokenCountSource


class _Pending:
    """Content events so far, column-wise. The columns hold only ints, strs, bools and None, which
    the garbage collector does not track; one object per chunk would be (tens of thousands are
    alive at high concurrency, and every tracked object lengthens collections)."""

    __slots__ = ("counted", "cumulative", "previous", "reasoning", "t_ns", "text", "token_ids")

    def __init__(self) -> None:
        self.t_ns: list[int] = []
        self.reasoning: list[bool] = []
        self.text: list[str] = []
        self.token_ids: list[int | None] = []
        self.cumulative: list[int | None] = []
        self.previous: list[int | None] = []
        self.counted: list[int] = []
        """Tokens by the tokenizer (0 when there is none)."""

    def __len__(self) -> int:
        return len(self.t_ns)


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
    too_large: str | None = None
    """Why parsing stopped early (an event too long, too many events); the read loop stops too."""
    implausible: dict[str, str] = field(default_factory=dict)
    """Vendor numbers refused (see `numbers`): field path → raw value, cut short."""
    reads: int = 0
    bytes: int = 0
    text_chars: int = 0
    """Characters of chunk text kept (0 when text is not kept)."""


def _merge_usage(facts: StreamFacts, usage: dict[str, int | None]) -> None:
    merged = dict(facts.usage or {})
    for key, value in usage.items():
        if value is not None or key not in merged:
            merged[key] = value
    facts.usage = merged


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


def _rescale(counts: list[int], index: Sequence[int], total: int) -> bool:
    """Scale `counts` at `index` to sum to `total` (in place); False when they can't (fewer tokens
    than chunks, or no chunks for a nonzero total)."""
    if not index:
        return total == 0
    if total < len(index):
        return False
    part = [counts[i] for i in index]
    if sum(part) != total:
        for i, n in zip(index, reconcile(part, total), strict=True):
            counts[i] = n
    return True


def _count_tokens(
    facts: StreamFacts, p: _Pending, tokenizer: Tokenizer | None, *, summaries: bool
) -> list[int]:
    """Per-chunk token counts, from the best source the stream offers (docs/trace-format.md).

    Token ids and continuous usage are what streamed and are kept as they are, whatever the final
    usage says. Otherwise the tokenizer splits the stream's own totals: answer chunks share
    `completion_tokens - reasoning_tokens`, reasoning chunks share `reasoning_tokens` unless the API
    streams reasoning summaries (then they keep the tokenizer's counts); without a reasoning count
    all chunks share `completion_tokens`. Totals that can't be split (fewer tokens than chunks, a
    summary next to an unknown answer total) leave the tokenizer's counts: source `tokenizer`.
    Example (DeepSeek): completion 219 with reasoning 205 over 205 reasoning and 13 answer chunks →
    1 token per reasoning chunk, the answer chunks split 14.
    """
    n = len(p)
    if n and all(c is not None for c in p.cumulative):
        facts.source = TokenCountSource.USAGE_CONTINUOUS
        return [max((c or 0) - (q or 0), 1) for c, q in zip(p.cumulative, p.previous, strict=True)]
    if n and all(k is not None for k in p.token_ids):
        facts.source = TokenCountSource.TOKEN_ID
        return [max(k or 0, 1) for k in p.token_ids]
    if tokenizer is None or not n:
        facts.source = TokenCountSource.CHUNK
        return [1] * n
    facts.source = TokenCountSource.TOKENIZER
    guessed = [max(c, 1) for c in p.counted]
    usage = facts.usage or {}
    total = usage.get("completion_tokens")
    if not total:
        return guessed
    hidden = usage.get("reasoning_tokens")
    answer = [i for i in range(n) if not p.reasoning[i]]
    thought = [i for i in range(n) if p.reasoning[i]]
    counts = list(guessed)
    if hidden is not None:
        ok = _rescale(counts, answer, total - hidden)
        if thought and not summaries:
            ok = ok and _rescale(counts, thought, hidden)
    elif thought and summaries:
        ok = False  # the answer's share of the total is unknown
    else:
        ok = _rescale(counts, range(n), total)
    if not ok:
        return guessed
    facts.source = TokenCountSource.USAGE_TOTAL
    return counts


class StreamAssembler:
    """Consumes the reads the read loop appends, incrementally; `finish()` once at the end."""

    def __init__(
        self,
        start_ns: int,
        wire: Wire,
        tokenizer: Tokenizer | None,
        *,
        keep_text: bool = True,
        max_events: int | None = None,
        max_event_chars: int | None = None,
    ) -> None:
        self.times: list[int] = []
        self.datas: list[bytes] = []
        """The read loop appends each read's stamp and bytes (parallel lists: no GC-tracked
        object per read)."""
        self.scheduled = False
        """A `catch_up` callback is queued; the read loop queues at most one."""
        self._start = start_ns
        self._classify = wire.classify
        self._summaries = wire.reasoning_summaries
        self._count = tokenizer.count if tokenizer is not None else None
        self._tokenizer = tokenizer
        self._keep_text = keep_text
        self._parser = SseParser(max_event_chars)
        self._max_events = max_events
        self._max_event_chars = max_event_chars
        self.stop = False
        """Parsing gave up (`facts.too_large` says why): the read loop should stop reading."""
        self._done = 0
        self._pending = _Pending()
        self._cumulative: int | None = None
        self.facts = StreamFacts()

    def catch_up(self) -> None:
        """Frame and classify every read not yet seen."""
        self.scheduled = False
        times = self.times
        datas = self.datas
        facts = self.facts
        while self._done < len(times):
            index = self._done
            t_abs = times[index]
            data = datas[index]
            datas[index] = b""  # parsed: the raw bytes are not needed any more
            self._done += 1
            t_ns = t_abs - self._start
            facts.reads += 1
            facts.bytes += len(data)
            if self.stop:
                continue
            events = self._parser.feed(data)
            if self._parser.overflow:
                self._give_up(f"an event longer than {self._max_event_chars} characters")
            for event in events:
                if self._max_events is not None and facts.events >= self._max_events:
                    self._give_up(f"more than {self._max_events} events")
                    break
                facts.events += 1
                if facts.first_event_ns is None:
                    facts.first_event_ns = t_ns
                try:
                    ev = self._classify(event)
                except Exception as e:  # a wire bug must not lose the trace: a protocol error
                    ev = WireEvent(malformed=f"classifier failed: {type(e).__name__}")
                self._absorb(ev, t_ns)

    def _give_up(self, reason: str) -> None:
        if not self.stop:
            self.stop = True
            self.facts.too_large = reason

    def _absorb(self, ev: WireEvent, t_ns: int) -> None:
        facts = self.facts
        if ev.malformed is not None:
            facts.malformed += 1
            facts.malformed_reason = facts.malformed_reason or ev.malformed
            return
        previous = self._cumulative
        if not plausible_count(ev.completion_tokens_so_far):
            facts.implausible.setdefault(
                "usage.completion_tokens", raw_text(ev.completion_tokens_so_far)
            )
            ev.completion_tokens_so_far = None
        if ev.completion_tokens_so_far is not None:
            self._cumulative = ev.completion_tokens_so_far
        pieces = [(r, x) for r, x in ((True, ev.reasoning), (False, ev.text)) if x]
        so_far = ev.completion_tokens_so_far
        grew = so_far is not None and previous is not None and so_far > previous
        if not pieces and (ev.token_ids or grew):
            # tokens without text (half a character, the end-of-sequence token), by token ids or
            # by the growth of continuous usage: still generated tokens, so a chunk of the kind the
            # stream was in
            p = self._pending
            pieces = [(bool(p.reasoning) and p.reasoning[-1], "")]
        for reasoning, text in pieces:
            p = self._pending
            p.t_ns.append(t_ns)
            p.reasoning.append(reasoning)
            p.text.append(text)
            p.token_ids.append(ev.token_ids)
            p.cumulative.append(ev.completion_tokens_so_far)
            p.previous.append(previous)
            p.counted.append(self._count(text) if self._count is not None and text else 0)
        if ev.usage is not None:
            _merge_usage(facts, checked_usage(ev.usage, facts.implausible))
        if ev.finish_reason is not None:
            facts.finish_reason = ev.finish_reason
        if ev.error is not None and facts.error is None:
            facts.error = ev.error
        if ev.terminal:
            facts.terminal = True
        facts.model = ev.model or facts.model
        facts.request_id = ev.request_id or facts.request_id
        if ev.server_timings:
            facts.server_timings = checked_timings(ev.server_timings, facts.implausible)

    def finish(self) -> StreamFacts:
        self.catch_up()
        facts = self.facts
        facts.trailing_bytes = self._parser.pending and not self.stop
        facts.keepalives = self._parser.comments
        pending = self._pending
        counts = _count_tokens(facts, pending, self._tokenizer, summaries=self._summaries)
        keep = self._keep_text
        facts.text_chars = sum(map(len, pending.text)) if keep else 0
        facts.chunks = [
            Chunk(t, n, ChunkKind.REASONING if r else ChunkKind.CONTENT, x if keep else None)
            for t, n, r, x in zip(
                pending.t_ns, counts, pending.reasoning, pending.text, strict=True
            )
        ]
        return facts


async def assemble(
    reads: Sequence[tuple[int, bytes]],
    start_ns: int,
    wire: Wire,
    tokenizer: Tokenizer | None,
    *,
    keep_text: bool = True,
) -> StreamFacts:
    """All of a finished stream's reads at once (tests, offline re-parsing)."""
    assembler = StreamAssembler(start_ns, wire, tokenizer, keep_text=keep_text)
    for t, data in reads:
        assembler.times.append(t)
        assembler.datas.append(data)
    return assembler.finish()


class ParseQueue:
    """One low-priority worker per prober that parses streams with unread bytes and finishes
    streams that ended.

    `submit()` is all the read loop calls (cheap, no await); `finish()` returns a future of the
    stream's facts. The worker runs slices of at most `budget_ns` (at least one job each) and then
    `asyncio.sleep(0)`, so tasks woken by new socket data run in between; in particular, when
    hundreds of synchronised streams end together, their finishing work is spread out instead of
    running back to back. The worker exits when the queue is empty; the next job restarts it.
    """

    def __init__(
        self, budget_ns: int = 50_000, clock: Callable[[], int] = time.perf_counter_ns
    ) -> None:
        self._budget = budget_ns
        self._clock = clock
        self._queue: deque[tuple[StreamAssembler, asyncio.Future[StreamFacts] | None]] = deque()
        self._worker: asyncio.Task[None] | None = None

    def submit(self, assembler: StreamAssembler) -> None:
        if assembler.scheduled:
            return
        assembler.scheduled = True
        self._queue.append((assembler, None))
        self._start()

    def finish(self, assembler: StreamAssembler) -> asyncio.Future[StreamFacts]:
        future: asyncio.Future[StreamFacts] = asyncio.get_running_loop().create_future()
        self._queue.append((assembler, future))
        self._start()
        return future

    def _start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        queue = self._queue
        clock = self._clock
        try:
            while queue:
                until = clock() + self._budget
                while True:
                    assembler, future = queue.popleft()
                    if future is None:
                        assembler.catch_up()
                    elif not future.done():
                        try:
                            future.set_result(assembler.finish())
                        except Exception as e:  # handed to the probe, which records it
                            future.set_exception(e)
                    if not queue or clock() >= until:
                        break
                await asyncio.sleep(0)
        finally:
            self._worker = None
