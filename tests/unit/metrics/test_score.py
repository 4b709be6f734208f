"""The one scoring pass: the same numbers `analyze` prints, the fixed tiers, TTFAT, and the
failed-probe rule (a probe that is not ok has no scores: never fluid)."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

import pytest

from monitor.metrics.analysis import analyze
from monitor.metrics.catalogue import COLUMNS, METRIC_DEFINITIONS_VERSION
from monitor.metrics.score import SCORED, ScoreRecord, score_traces
from monitor.store.summary import SUMMARY_COLUMNS
from monitor.trace import Chunk, Outcome
from tests.factories import MS, make_trace, reasoning_trace, trace_stream

DEADLINE_SCORES = (
    "fluidity_index",
    "fluidity_index_decode",
    "missed_deadlines",
    "total_deadlines",
    "fluid",
    "fluidity_25ms",
    "fluidity_50ms",
    "fluidity_100ms",
    "fluidity_decode_25ms",
    "fluidity_decode_50ms",
    "fluidity_decode_100ms",
    "min_decode_deadline_ns",
)


def test_record_fields_are_the_catalogue_and_the_summary_columns() -> None:
    assert tuple(f.name for f in fields(ScoreRecord)) == COLUMNS == SUMMARY_COLUMNS


def test_records_agree_with_analyze() -> None:
    traces = list(trace_stream(50, every=timedelta(seconds=1)))
    rows = score_traces(traces)
    assert any(r.scored for r in rows) and any(not r.scored for r in rows)
    for record, request in zip(rows, analyze(traces).requests, strict=True):
        assert record.fluidity_index == request.fluidity_index
        assert record.fluidity_index_decode == request.fluidity_index_decode
        assert record.missed_deadlines == request.missed_deadlines
        assert record.total_deadlines == request.total_deadlines
        assert record.output_tokens == request.output_tokens
        if record.ttft_ns is None:
            assert request.ttft_s is None
        else:
            assert record.ttft_ns == pytest.approx(request.ttft_s * 1e9)  # type: ignore[operator]
        assert record.prefill_deadline_ns == round(request.prefill_deadline_s * 1e9)
        assert record.metrics_version == METRIC_DEFINITIONS_VERSION


def test_every_trace_is_counted_once_per_pass() -> None:
    before = SCORED.probes
    score_traces(list(trace_stream(7, every=timedelta(seconds=1))))
    assert SCORED.probes - before == 7


def test_fixed_tiers_score_one_late_chunk() -> None:
    # chunks at 400 ms (1 token) and 460 ms (1 token); D_p = 452 ms.
    # token 0: 400 ≤ 452, met (anchor 452). token 1: b = 460 - D.
    #   D = 25 ms: b = 435 ≤ 452 met → index 1;  D = 50: 410, met;  D = 100: 360, met.
    # decode-only (anchor a_0 = 400): token 1 due at 400 + D:
    #   D = 25: 460 > 425, late: 1 + (460 - 425) // 25 = 2 misses → met 0 of 2 → 0.0
    #   D = 50: 460 > 450, late: 1 + 10 // 50 = 1 miss → 0 of 1 → 0.0;  D = 100: met → 1.0
    chunks = (Chunk(t_ns=400 * MS, tokens=1), Chunk(t_ns=460 * MS, tokens=1))
    (s,) = score_traces([make_trace("tiers", chunks=chunks)])
    assert (s.fluidity_25ms, s.fluidity_50ms, s.fluidity_100ms) == (1.0, 1.0, 1.0)
    assert (s.fluidity_decode_25ms, s.fluidity_decode_50ms, s.fluidity_decode_100ms) == (
        0.0,
        0.0,
        1.0,
    )
    assert s.tpot_ns == 60 * MS
    assert s.e2e_ns == 460 * MS
    assert s.tokens_per_chunk == 1.0


def test_reasoning_is_timed_by_ttft_but_not_scored() -> None:
    # reasoning chunks at 100 ms (4 tokens) and 180 ms (2); answer chunks: 1 token at 300 ms,
    # 3 tokens at 330 ms → TTFT 100 ms (first token of any kind), TTFAT 300 ms (first answer
    # token), 4 answer tokens, TPOT = (330 - 300) / (4 - 1) = 10 ms; tokens per chunk 4 / 2 = 2
    (s,) = score_traces([reasoning_trace()])
    assert (s.output_tokens, s.content_chunks) == (4, 2)
    assert (s.ttft_ns, s.ttfat_ns) == (100 * MS, 300 * MS)
    assert s.tpot_ns == pytest.approx(10 * MS)
    assert s.tokens_per_chunk == 2.0


def test_without_reasoning_ttfat_equals_ttft() -> None:
    (s,) = score_traces([make_trace("plain")])
    assert s.ttft_ns is not None and s.ttfat_ns == s.ttft_ns


def test_an_ok_probe_without_tokens_has_no_scores() -> None:
    (s,) = score_traces([make_trace("empty", chunks=())])
    assert (s.output_tokens, s.ttft_ns, s.ttfat_ns, s.tpot_ns, s.e2e_ns) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert s.tokens_per_chunk is None and not s.scored
    assert all(getattr(s, name) is None for name in DEADLINE_SCORES)


@pytest.mark.parametrize("outcome", [o for o in Outcome if o is not Outcome.OK])
def test_a_failed_probe_is_never_fluid(outcome: Outcome) -> None:
    # a 429 with no tokens, and a stream that failed after delivering tokens on time
    (empty, partial) = score_traces(
        [
            make_trace("failed-empty", chunks=(), outcome=outcome),
            make_trace("failed-partial", outcome=outcome),
        ]
    )
    for s in (empty, partial):
        assert s.fluid is None and not s.scored
        assert all(getattr(s, name) is None for name in DEADLINE_SCORES)
        assert (s.ttft_ns, s.ttfat_ns, s.tpot_ns, s.e2e_ns) == (None, None, None, None)
    # what arrived is still counted, and the deadlines it would have met are kept
    assert partial.output_tokens > 0 and partial.prefill_deadline_ns > 0
