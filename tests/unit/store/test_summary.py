"""Summary columns: the same numbers `analyze` prints, plus the fixed 25/50/100 ms tiers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.metrics.analysis import analyze
from monitor.store.schema import METRIC_DEFINITIONS_VERSION
from monitor.store.summary import summarize
from monitor.trace import Chunk
from tests.factories import MS, make_trace, reasoning_trace, trace_stream


def test_summaries_agree_with_analyze() -> None:
    traces = list(trace_stream(50, every=timedelta(seconds=1)))
    rows = summarize(traces)
    for summary, request in zip(rows, analyze(traces).requests, strict=True):
        assert summary.fluidity_index == request.fluidity_index
        assert summary.fluidity_index_decode == request.fluidity_index_decode
        assert summary.missed_deadlines == request.missed_deadlines
        assert summary.total_deadlines == request.total_deadlines
        assert summary.output_tokens == request.output_tokens
        assert summary.ttft_ns == pytest.approx(request.ttft_s * 1e9)  # type: ignore[operator]
        assert summary.prefill_deadline_ns == round(request.prefill_deadline_s * 1e9)
        assert summary.metrics_version == METRIC_DEFINITIONS_VERSION


def test_fixed_tiers_score_one_late_chunk() -> None:
    # chunks at 400 ms (1 token) and 460 ms (1 token); D_p = 452 ms.
    # token 0: 400 ≤ 452, met (anchor 452). token 1: b = 460 - D.
    #   D = 25 ms: b = 435 ≤ 452 met → index 1;  D = 50: 410, met;  D = 100: 360, met.
    # decode-only (anchor a_0 = 400): token 1 due at 400 + D:
    #   D = 25: 460 > 425, late: 1 + (460 - 425) // 25 = 2 misses → met 0 of 2 → 0.0
    #   D = 50: 460 > 450, late: 1 + 10 // 50 = 1 miss → 0 of 1 → 0.0;  D = 100: met → 1.0
    chunks = (Chunk(t_ns=400 * MS, tokens=1), Chunk(t_ns=460 * MS, tokens=1))
    (s,) = summarize([make_trace("tiers", chunks=chunks)])
    assert (s.fluidity_25ms, s.fluidity_50ms, s.fluidity_100ms) == (1.0, 1.0, 1.0)
    assert (s.fluidity_decode_25ms, s.fluidity_decode_50ms, s.fluidity_decode_100ms) == (
        0.0,
        0.0,
        1.0,
    )
    assert s.tpot_ns == 60 * MS
    assert s.e2e_ns == 460 * MS
    assert s.tokens_per_chunk == 1.0


def test_reasoning_chunks_are_not_scored() -> None:
    # content chunks: 1 token at 300 ms, 3 tokens at 330 ms → 4 tokens, TTFT 300 ms,
    # TPOT = (330 - 300) / (4 - 1) = 10 ms; tokens per chunk 4 / 2 = 2
    (s,) = summarize([reasoning_trace()])
    assert (s.output_tokens, s.content_chunks, s.ttft_ns) == (4, 2, 300 * MS)
    assert s.tpot_ns == pytest.approx(10 * MS)
    assert s.tokens_per_chunk == 2.0


def test_a_probe_without_tokens_has_no_latencies() -> None:
    (s,) = summarize([make_trace("empty", chunks=())])
    assert (s.output_tokens, s.ttft_ns, s.tpot_ns, s.e2e_ns) == (0, None, None, None)
    assert s.min_decode_deadline_ns is None and s.tokens_per_chunk is None
