"""A trace factory for exporter tests: chunk times in milliseconds, one probe's labels preset."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.export.probes import ProbeMetrics
from monitor.metrics.score import score_traces
from monitor.trace import Chunk, Deadlines, Outcome, Trace

MS = 1_000_000


def probe_trace(
    chunks_ms: list[tuple[int, int]],
    *,
    probe_id: str = "probe-1",
    outcome: Outcome = Outcome.OK,
    prefill_s: float = 0.1,
    decode_s: float = 0.025,
    usage_completion: int | None = None,
    prompt: int = 256,
) -> Trace:
    return Trace(
        probe_id=probe_id,
        chunks=tuple(Chunk(t_ns=t * MS, tokens=k) for t, k in chunks_ms),
        prompt_tokens=prompt,
        target="sim-a",
        provider="simulator",
        model="sim-fast",
        api="openai-chat",
        region="lab",
        started_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        requested_prompt_tokens=prompt,
        max_tokens=16,
        outcome=outcome,
        usage=None if usage_completion is None else {"completion_tokens": usage_completion},
        deadlines=Deadlines(prefill_s=prefill_s, decode_s=(decode_s, 0.05)),
    )


def observe(metrics: ProbeMetrics, trace: Trace) -> None:
    """What the daemon does per probe: score once, observe that record."""
    (record,) = score_traces([trace])
    metrics.observe(trace, record)
