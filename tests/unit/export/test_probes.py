"""Per-probe series: exact sample values from one hand-made trace on a fresh registry."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from monitor.export.probes import ProbeMetrics, answer_tokens_disagree
from monitor.trace import Chunk, ChunkKind, Outcome, Trace
from tests.unit.export.conftest import observe, probe_trace

LABELS = {
    "target": "sim-a",
    "provider": "simulator",
    "model": "sim-fast",
    "region": "lab",
    "workload": "p256",
}
NOW_NS = 1_795_000_000_500_000_000  # 1795000000.5 s


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> ProbeMetrics:
    return ProbeMetrics(registry, wall_clock_ns=lambda: NOW_NS)


def value(registry: CollectorRegistry, name: str, **extra: str) -> float | None:
    return registry.get_sample_value(name, {**LABELS, **extra})


def test_ok_probe_fills_every_family(registry: CollectorRegistry, metrics: ProbeMetrics) -> None:
    # STYLE.md's worked example, in ms: tokens at 90, 110, 160, 170; D_p = 100, D_d = 25
    # 90 <= 100 met (slack 10); 20 <= 35 met (slack 15); 50 > 40 missed; 10 <= 25 met
    # -> fluidity 3/4 = 0.75
    trace = probe_trace([(90, 1), (110, 1), (160, 1), (170, 1)], prefill_s=0.1, decode_s=0.025)
    observe(metrics, trace)
    assert value(registry, "etalon_probes_total", outcome="ok") == 1
    assert value(registry, "etalon_output_tokens_total") == 4
    # TTFT 0.09 s: first bucket >= 0.09 is 0.1
    assert value(registry, "etalon_time_to_first_token_seconds_bucket", le="0.05") == 0
    assert value(registry, "etalon_time_to_first_token_seconds_bucket", le="0.1") == 1
    assert value(registry, "etalon_time_to_first_token_seconds_sum") == pytest.approx(0.09)
    # no reasoning: the first answer token is the first token
    assert value(registry, "etalon_time_to_first_answer_token_seconds_sum") == pytest.approx(0.09)
    # E2E 0.17 s
    assert value(registry, "etalon_end_to_end_seconds_sum") == pytest.approx(0.17)
    # TPOT (170 - 90) / (4 - 1) = 26.667 ms -> bucket 0.03
    assert value(registry, "etalon_time_per_output_token_seconds_sum") == pytest.approx(0.08 / 3)
    assert value(registry, "etalon_time_per_output_token_seconds_bucket", le="0.025") == 0
    assert value(registry, "etalon_time_per_output_token_seconds_bucket", le="0.03") == 1
    # ICL gaps 20, 50, 10 ms: three observations summing to 80 ms; <= 25 ms holds two
    assert value(registry, "etalon_inter_chunk_latency_seconds_count") == 3
    assert value(registry, "etalon_inter_chunk_latency_seconds_sum") == pytest.approx(0.08)
    assert value(registry, "etalon_inter_chunk_latency_seconds_bucket", le="0.025") == 2
    # one token per chunk: TBT values are the same gaps (no zeros)
    assert value(registry, "etalon_time_between_tokens_seconds_count") == 3
    assert value(registry, "etalon_fluidity_index_sum") == pytest.approx(0.75)
    assert value(registry, "etalon_fluidity_index_bucket", le="0.5") == 0
    assert value(registry, "etalon_fluidity_index_bucket", le="0.75") == 1
    assert value(registry, "etalon_min_decode_deadline_seconds_count") == 1
    assert value(registry, "etalon_last_probe_timestamp_seconds") == 1795000000.5
    assert value(registry, "etalon_last_probe_success") == 1
    assert value(registry, "etalon_token_count_mismatch_total") == 0
    assert value(registry, "etalon_nonfluid_probes_total") == 1  # 0.75 < 0.9


def test_a_probe_at_exactly_point_nine_is_fluid(
    registry: CollectorRegistry, metrics: ProbeMetrics
) -> None:
    """Regression: the burn-rate rules counted the `le="0.9"` bucket as non-fluid, so a probe at
    exactly 0.9 (fluid by definition) spent error budget."""
    # D_p = 100 ms, D_d = 25 ms. Tokens at 90 (met, slack 10), then 6 gaps of 25 (met, slack 10),
    # a gap of 50 > 25 + 10: 1 + (50 - 10 - 25) // 25 = 1 missed, then 2 gaps of 25 (met).
    # met 9, missed 1: fluidity 9 / 10 = 0.9 exactly.
    times = [90, 115, 140, 165, 190, 215, 240, 290, 315, 340]
    observe(metrics, probe_trace([(t, 1) for t in times], prefill_s=0.1, decode_s=0.025))
    assert value(registry, "etalon_fluidity_index_sum") == pytest.approx(0.9)
    assert value(registry, "etalon_fluidity_index_bucket", le="0.9") == 1  # the bucket can't tell
    assert value(registry, "etalon_nonfluid_probes_total") == 0


def test_tokens_inside_a_chunk_add_zero_tbt_values(
    registry: CollectorRegistry, metrics: ProbeMetrics
) -> None:
    # chunks (200 ms, 1), (220, 1), (260, 2), (270, 1): gaps 20, 40, 10 plus one zero = 4 values
    observe(metrics, probe_trace([(200, 1), (220, 1), (260, 2), (270, 1)], prefill_s=0.3))
    assert value(registry, "etalon_time_between_tokens_seconds_count") == 4
    assert value(registry, "etalon_time_between_tokens_seconds_bucket", le="0.001") == 1
    assert value(registry, "etalon_time_between_tokens_seconds_sum") == pytest.approx(0.07)
    assert value(registry, "etalon_inter_chunk_latency_seconds_count") == 3
    assert value(registry, "etalon_output_tokens_total") == 5


def test_failed_probe_is_counted_not_scored(
    registry: CollectorRegistry, metrics: ProbeMetrics
) -> None:
    trace = probe_trace([(90, 1), (110, 1)], outcome=Outcome.TRUNCATED)
    observe(metrics, trace)
    assert value(registry, "etalon_probes_total", outcome="truncated") == 1
    assert value(registry, "etalon_output_tokens_total") == 2  # received, even if cut short
    assert value(registry, "etalon_last_probe_success") == 0
    assert value(registry, "etalon_time_to_first_token_seconds_count") is None
    assert value(registry, "etalon_fluidity_index_count") is None


@pytest.mark.parametrize("outcome", [Outcome.RATE_LIMITED, Outcome.TIMEOUT])
def test_failed_probe_is_never_fluid_even_on_declared_series(
    registry: CollectorRegistry, metrics: ProbeMetrics, outcome: Outcome
) -> None:
    """Regression: a 429 with no tokens was stored as fluid (index 1). On /metrics it must reach
    neither the fluidity histogram nor the non-fluid counter (a ratio of them stays among ok)."""
    metrics.declare("sim-a", "simulator", "sim-fast", "lab", [256])
    observe(metrics, probe_trace([], outcome=outcome))
    observe(metrics, probe_trace([(90, 1), (110, 1)], outcome=outcome, probe_id="p2"))
    assert value(registry, "etalon_probes_total", outcome=outcome.value) == 2
    assert value(registry, "etalon_fluidity_index_count") == 0
    assert value(registry, "etalon_fluidity_index_bucket", le="1.0") == 0
    assert value(registry, "etalon_nonfluid_probes_total") == 0
    assert value(registry, "etalon_time_to_first_token_seconds_count") == 0


def test_declare_creates_every_ratio_series_at_zero(
    registry: CollectorRegistry, metrics: ProbeMetrics
) -> None:
    """Both sides of every ratio exist from the start, so `increase()` sees the first probe."""
    metrics.declare("sim-a", "simulator", "sim-fast", "lab", [256])
    for name in (
        "etalon_nonfluid_probes_total",
        "etalon_fluidity_index_count",
        "etalon_time_to_first_token_seconds_count",
        "etalon_time_to_first_answer_token_seconds_count",
        "etalon_time_per_output_token_seconds_count",
        "etalon_end_to_end_seconds_count",
        "etalon_min_decode_deadline_seconds_count",
        "etalon_inter_chunk_latency_seconds_count",
        "etalon_time_between_tokens_seconds_count",
        "etalon_token_count_mismatch_total",
    ):
        assert value(registry, name) == 0, name
    assert value(registry, "etalon_fluidity_index_bucket", le="0.9") == 0
    # gauges are not declared: a zero "last probe" time would read as a stale target
    assert value(registry, "etalon_last_probe_timestamp_seconds") is None


def test_usage_disagreeing_with_counted_tokens_is_counted(
    registry: CollectorRegistry, metrics: ProbeMetrics
) -> None:
    observe(metrics, probe_trace([(90, 1), (110, 1)], usage_completion=3))
    observe(metrics, probe_trace([(90, 1), (110, 1)], usage_completion=2, probe_id="p2"))
    assert value(registry, "etalon_token_count_mismatch_total") == 1


def test_declare_creates_zero_counters_for_every_outcome(
    registry: CollectorRegistry, metrics: ProbeMetrics
) -> None:
    metrics.declare("sim-a", "simulator", "sim-fast", "lab", [256, 1024])
    for outcome in ("ok", "rate_limited", "skipped", "protocol_error"):
        assert value(registry, "etalon_probes_total", outcome=outcome) == 0
    assert (
        registry.get_sample_value(
            "etalon_probes_total", {**LABELS, "workload": "p1024", "outcome": "timeout"}
        )
        == 0
    )


def test_skipped_probes_count_as_outcome_skipped(
    registry: CollectorRegistry, metrics: ProbeMetrics
) -> None:
    metrics.skipped("sim-a", "simulator", "sim-fast", "lab", 256)
    metrics.skipped("sim-a", "simulator", "sim-fast", "lab", 256)
    assert value(registry, "etalon_probes_total", outcome="skipped") == 2
    assert value(registry, "etalon_last_probe_timestamp_seconds") is None


def test_exemplar_carries_the_probe_id(registry: CollectorRegistry, metrics: ProbeMetrics) -> None:
    observe(metrics, probe_trace([(90, 1), (110, 1)], probe_id="abc123"))
    text = generate_latest(registry).decode()
    ttft_line = next(
        line
        for line in text.splitlines()
        if line.startswith("etalon_time_to_first_token_seconds_bucket") and 'le="0.1"' in line
    )
    assert '# {probe_id="abc123"} 0.09' in ttft_line


@pytest.mark.parametrize(
    ("usage", "disagree"),
    [
        # reasoning counted: the answer's share 12 - 10 = 2 equals the 2 answer tokens
        ({"completion_tokens": 12, "reasoning_tokens": 10}, False),
        ({"completion_tokens": 13, "reasoning_tokens": 10}, True),
        # no reasoning count: the total 5 against 2 answer + 3 reasoning tokens that streamed
        ({"completion_tokens": 5}, False),
        ({"completion_tokens": 2}, True),
        ({}, False),
    ],
)
def test_reasoning_is_part_of_the_usage_comparison(usage: dict[str, int], disagree: bool) -> None:
    chunks = (
        Chunk(50, 3, ChunkKind.REASONING),
        Chunk(90, 1, ChunkKind.CONTENT),
        Chunk(110, 1, ChunkKind.CONTENT),
    )
    assert answer_tokens_disagree(Trace("p", chunks, 10, usage=usage)) is disagree
