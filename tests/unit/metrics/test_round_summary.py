"""The per-round log line: numbers worked out by hand from three score records."""

from dataclasses import replace

from monitor.metrics.round_summary import RoundResults, summarize_round
from monitor.metrics.score import ScoreRecord

BASE = ScoreRecord(
    metrics_version=2,
    output_tokens=10,
    content_chunks=10,
    tokens_per_chunk=1.0,
    ttft_ns=None,
    ttfat_ns=None,
    tpot_ns=None,
    e2e_ns=None,
    prefill_deadline_ns=500_000_000,
    decode_deadline_ns=25_000_000,
    fluidity_index=None,
    fluidity_index_decode=None,
    missed_deadlines=None,
    total_deadlines=None,
    fluid=None,
    fluidity_25ms=None,
    fluidity_50ms=None,
    fluidity_100ms=None,
    fluidity_decode_25ms=None,
    fluidity_decode_50ms=None,
    fluidity_decode_100ms=None,
    min_decode_deadline_ns=None,
)


def scored(ttft_ms: int, fluid: bool, d_star_ms: int) -> ScoreRecord:
    return replace(
        BASE, ttft_ns=ttft_ms * 1_000_000, fluid=fluid, min_decode_deadline_ns=d_star_ms * 1_000_000
    )


def test_a_round_of_two_ok_probes_and_a_failure() -> None:
    probes = [(True, scored(200, True, 10)), (True, scored(300, False, 20)), (False, BASE)]
    s = summarize_round("vendor", probes)
    assert (s.ok, s.failed) == (2, 1)
    assert s.ttft_p50_s == 0.25  # median of 0.2 s and 0.3 s
    assert s.share_fluid == 0.5  # one of the two scored probes; the failure is not judged
    # Q0.99 of D* {10, 20} ms, linear: 10 + 0.99 * 10 = 19.9 ms; 1 / 19.9 ms = 50.25 tokens/s
    assert s.fluent_rate is not None and abs(s.fluent_rate - 1 / 0.0199) < 1e-9
    assert s.line() == "vendor: 2 ok, 1 failed, TTFT p50 0.250 s, 50% fluid, fluent 50 tok/s"


def test_a_round_with_only_failures_says_so_without_numbers() -> None:
    s = summarize_round("down", [(False, BASE), (False, BASE)])
    assert s.line() == "down: 0 ok, 2 failed"


def test_results_are_kept_per_round_and_late_ones_dropped() -> None:
    results = RoundResults()
    results.add(3, "b", True, scored(100, True, 10))
    results.add(3, "a", False, BASE)
    results.add(2, "a", True, scored(100, True, 10))  # a probe that outlived round 2
    assert [t.target for t in results.pop(3)] == ["a", "b"]
    assert results.pop(2) == []  # the late leftover went with round 3
