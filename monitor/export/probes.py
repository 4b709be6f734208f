"""Per-probe series: updated once when a probe finishes, from its `Trace` and the metric engine.

Latency histograms are fed only by `ok` probes (failed ones are counted, not scored, as in
`analyze`); the fluidity-index is the with-TTFT index at the trace's first decode tier against its
stored prefill deadline, i.e. exactly `analyze([trace]).requests[0].fluidity_index`. TTFT, E2E and
fluidity observations carry the probe id as an exemplar, so a slow bucket links to its stored row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from monitor.export.labels import OUTCOMES, PROBE_LABELS, workload_label
from monitor.metrics.analysis import analyze
from monitor.metrics.arrivals import token_arrivals
from monitor.metrics.latency import inter_chunk_ns, tbt_ns
from monitor.metrics.units import NS_PER_S
from monitor.trace import Outcome, Trace

TTFT_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)
GAP_BUCKETS: Final = (
    0.001, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5,
)  # fmt: skip
TPOT_BUCKETS: Final = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.2)
E2E_BUCKETS: Final = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120)
FLUIDITY_BUCKETS: Final = (0.1, 0.25, 0.5, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 1)
D_STAR_BUCKETS: Final = (*TPOT_BUCKETS, 0.25, 0.5, 1)


def answer_tokens_disagree(trace: Trace) -> bool:
    """The counted tokens disagree with the stream's usage. `completion_tokens` includes reasoning
    (docs/trace-format.md): with a reasoning count the answer's share is compared with the answer
    chunks; without one, everything that streamed is compared with the total."""
    usage = trace.usage or {}
    reported = usage.get("completion_tokens")
    if reported is None:
        return False
    reasoning = usage.get("reasoning_tokens")
    if reasoning is not None:
        return reported - reasoning != trace.output_tokens
    return reported != trace.output_tokens + trace.reasoning_tokens


class ProbeMetrics:
    """The per-probe families of the contract, registered on the given registry."""

    def __init__(
        self, registry: CollectorRegistry, wall_clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self._clock = wall_clock_ns
        labels = PROBE_LABELS

        def histogram(name: str, doc: str, buckets: Iterable[float]) -> Histogram:
            return Histogram(name, doc, labels, buckets=tuple(buckets), registry=registry)

        self.probes = Counter(
            "etalon_probes", "Probes by outcome.", (*labels, "outcome"), registry=registry
        )
        self.output_tokens = Counter(
            "etalon_output_tokens", "Content tokens received.", labels, registry=registry
        )
        self.mismatch = Counter(
            "etalon_token_count_mismatch",
            "Probes whose counted tokens disagree with the server's usage.",
            labels,
            registry=registry,
        )
        self.nonfluid = Counter(
            "etalon_nonfluid_probes",
            "Ok probes whose with-TTFT miss rate is above 10 % (decided in integers, so a probe"
            " at exactly 0.9 is fluid, which the 0.9 histogram bucket cannot tell).",
            labels,
            registry=registry,
        )
        self.ttft = histogram(
            "etalon_time_to_first_token_seconds", "Time to first token per probe.", TTFT_BUCKETS
        )
        self.icl = histogram(
            "etalon_inter_chunk_latency_seconds", "Every gap between content chunks.", GAP_BUCKETS
        )
        self.tbt = histogram(
            "etalon_time_between_tokens_seconds",
            "Every time-between-tokens value (token-weighted; zeros inside chunks).",
            GAP_BUCKETS,
        )
        self.tpot = histogram(
            "etalon_time_per_output_token_seconds", "Time per output token per probe.", TPOT_BUCKETS
        )
        self.e2e = histogram(
            "etalon_end_to_end_seconds", "Time to the last content token per probe.", E2E_BUCKETS
        )
        self.fluidity = histogram(
            "etalon_fluidity_index",
            "With-TTFT fluidity-index at the target's first decode tier.",
            FLUIDITY_BUCKETS,
        )
        self.d_star = histogram(
            "etalon_min_decode_deadline_seconds",
            "Smallest decode deadline the probe would have met (D*).",
            D_STAR_BUCKETS,
        )
        self.last_timestamp = Gauge(
            "etalon_last_probe_timestamp_seconds",
            "Unix time the last probe finished.",
            labels,
            registry=registry,
        )
        self.last_success = Gauge(
            "etalon_last_probe_success",
            "1 if the last probe was ok, else 0.",
            labels,
            registry=registry,
        )

    def declare(
        self, target: str, provider: str, model: str, region: str, prompt_tokens: Iterable[int]
    ) -> None:
        """Create every outcome counter at zero, so `increase()` sees the first probe."""
        for p in prompt_tokens:
            base = (target, provider, model, region, workload_label(p))
            for outcome in OUTCOMES:
                self.probes.labels(*base, outcome)
            self.output_tokens.labels(*base)
            self.mismatch.labels(*base)
            self.nonfluid.labels(*base)

    def skipped(
        self, target: str, provider: str, model: str, region: str, prompt_tokens: int
    ) -> None:
        """A probe that was not sent (its target is backed off after a 429)."""
        base = (target, provider, model, region, workload_label(prompt_tokens))
        self.probes.labels(*base, "skipped").inc()

    def observe(self, trace: Trace) -> None:
        base = (
            trace.target,
            trace.provider,
            trace.model,
            trace.region,
            workload_label(trace.requested_prompt_tokens),
        )
        exemplar = {"probe_id": trace.probe_id}
        self.probes.labels(*base, trace.outcome.value).inc()
        self.output_tokens.labels(*base).inc(trace.output_tokens)
        self.last_timestamp.labels(*base).set(self._clock() / NS_PER_S)
        ok = trace.outcome is Outcome.OK
        self.last_success.labels(*base).set(1 if ok else 0)
        if not ok:
            return
        mismatch = self.mismatch.labels(*base)
        if answer_tokens_disagree(trace):
            mismatch.inc()
        row = analyze([trace]).requests[0]
        if row.output_tokens == 0:
            return
        if row.ttft_s is not None:
            self.ttft.labels(*base).observe(row.ttft_s, exemplar)
        if row.e2e_s is not None:
            self.e2e.labels(*base).observe(row.e2e_s, exemplar)
        if row.tpot_s is not None:
            self.tpot.labels(*base).observe(row.tpot_s)
        if row.min_decode_deadline_s is not None:
            self.d_star.labels(*base).observe(row.min_decode_deadline_s)
        self.fluidity.labels(*base).observe(row.fluidity_index, exemplar)
        nonfluid = self.nonfluid.labels(*base)
        if 10 * row.missed_deadlines > row.total_deadlines:
            nonfluid.inc()
        chunks = trace.scored_chunks
        times = [c.t_ns for c in chunks]
        icl = self.icl.labels(*base)
        for gap in inter_chunk_ns(times):
            icl.observe(int(gap) / NS_PER_S)
        tbt = self.tbt.labels(*base)
        for value in tbt_ns(token_arrivals(times, [c.tokens for c in chunks])):
            tbt.observe(int(value) / NS_PER_S)
