"""Per-probe series: updated once when a probe finishes, from its `Trace` and its `ScoreRecord`.

The histograms are the metric catalogue's (`monitor.metrics.catalogue.histograms`): each observes
the record's field, in exported units, and only when it is defined. The failed-probe rule is the
record's: a failed probe has no scores, so it reaches only the outcome counter and the last-probe
gauges, never a latency or fluidity series and never `etalon_nonfluid_probes_total`. Inter-chunk
and TBT histograms take the trace's own answer chunks (raw gaps, not scores) of scored probes.
TTFT, TTFAT, E2E and fluidity observations carry the probe id as an exemplar, so a slow bucket
links to its stored row.

`declare` creates every counter *and histogram* series of a target/workload at zero before the
first probe: a ratio such as non-fluid / fluidity count must see both series from the same start,
or `increase()` misses the first observation of the later one (ratios above 1 after a start).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from monitor.export.labels import OUTCOMES, PROBE_LABELS, SKIPPED, workload_label
from monitor.metrics.arrivals import token_arrivals
from monitor.metrics.catalogue import (
    D_STAR_BUCKETS,
    E2E_BUCKETS,
    FLUIDITY_BUCKETS,
    TPOT_BUCKETS,
    TTFT_BUCKETS,
    Metric,
    histograms,
)
from monitor.metrics.latency import inter_chunk_ns, tbt_ns
from monitor.metrics.score import ScoreRecord
from monitor.metrics.units import NS_PER_S
from monitor.trace import Outcome, Trace

GAP_BUCKETS: Final = (
    0.001, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5,
)  # fmt: skip

__all__ = [
    "D_STAR_BUCKETS",
    "E2E_BUCKETS",
    "FLUIDITY_BUCKETS",
    "GAP_BUCKETS",
    "TPOT_BUCKETS",
    "TTFT_BUCKETS",
    "ProbeMetrics",
]


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
            "Scored probes (ok, with an answer) whose with-TTFT miss rate is above 10 % (decided"
            " in integers, so a probe at exactly 0.9 is fluid, which the 0.9 bucket cannot tell).",
            labels,
            registry=registry,
        )
        self.icl = histogram(
            "etalon_inter_chunk_latency_seconds", "Every gap between content chunks.", GAP_BUCKETS
        )
        self.tbt = histogram(
            "etalon_time_between_tokens_seconds",
            "Every time-between-tokens value (token-weighted; zeros inside chunks).",
            GAP_BUCKETS,
        )
        self.scores: dict[str, tuple[Metric, Histogram]] = {}
        """The catalogue's histograms by record field."""
        for m in histograms():
            assert m.histogram is not None
            self.scores[m.name] = (m, histogram(m.histogram, m.help, m.buckets))
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
        """Create every counter and histogram series at zero, so `increase()` sees the first
        probe and the series of a ratio start together (never a ratio above 1 after a start)."""
        for p in prompt_tokens:
            base = (target, provider, model, region, workload_label(p))
            for outcome in OUTCOMES:
                self.probes.labels(*base, outcome)
            self.output_tokens.labels(*base)
            self.mismatch.labels(*base)
            self.nonfluid.labels(*base)
            self.icl.labels(*base)
            self.tbt.labels(*base)
            for _, h in self.scores.values():
                h.labels(*base)

    def skipped(
        self, target: str, provider: str, model: str, region: str, prompt_tokens: int
    ) -> None:
        """A probe that was not sent (its target is backed off after a 429)."""
        base = (target, provider, model, region, workload_label(prompt_tokens))
        self.probes.labels(*base, SKIPPED).inc()

    def observe(self, trace: Trace, score: ScoreRecord) -> None:
        """Count the probe and observe its record (the one the store keeps for it)."""
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
        for name, (metric, family) in self.scores.items():
            value = getattr(score, name)
            if value is not None:
                family.labels(*base).observe(
                    float(value) * metric.scale, exemplar if metric.exemplar else None
                )
        if not score.scored:
            return
        nonfluid = self.nonfluid.labels(*base)
        if score.fluid is False:
            nonfluid.inc()
        chunks = trace.scored_chunks
        times = [c.t_ns for c in chunks]
        icl = self.icl.labels(*base)
        for gap in inter_chunk_ns(times):
            icl.observe(int(gap) / NS_PER_S)
        tbt = self.tbt.labels(*base)
        for value in tbt_ns(token_arrivals(times, [c.tokens for c in chunks])):
            tbt.observe(int(value) / NS_PER_S)
