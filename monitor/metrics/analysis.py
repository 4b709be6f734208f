"""Per-request and summary metrics of a set of traces: what `analyze`, reports and exports show.

Per request, the numbers are the one scoring pass's `ScoreRecord`s (`monitor.metrics.score`),
converted to seconds for output; the summary aggregates those records (and the chunk matrix, for
TBT). Summary metrics follow the failed-probe rule: deadline metrics are over *scored* probes (ok,
at least one answer token), latencies over ok probes; failed probes are counted, never scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from monitor.metrics.batch import DeadlineCounts
from monitor.metrics.catalogue import reported
from monitor.metrics.quantiles import quantiles, quantiles_with_zeros
from monitor.metrics.rates import fluent_token_rate, tail_tbt_rate, tpot_rate
from monitor.metrics.score import (
    ScoreRecord,
    deadline_counts,
    float_column,
    int_column,
    score_table,
    scored_mask,
)
from monitor.metrics.slo import slo_view
from monitor.metrics.table import (
    DEFAULT_DECODE_S,
    AnalysisOptions,
    RequestTable,
    build_table,
    decode_deadlines_ns,
    prefill_deadlines_ns,
    prompt_length,
    table_from_matrix,
)
from monitor.metrics.units import NS_PER_S
from monitor.trace import Trace

PERCENTILES = (0.5, 0.9, 0.99)

__all__ = [
    "DEFAULT_DECODE_S",
    "PERCENTILES",
    "Analysis",
    "AnalysisOptions",
    "RequestMetrics",
    "RequestTable",
    "Summary",
    "analyze",
    "build_table",
    "decode_deadlines_ns",
    "prefill_deadlines_ns",
    "prompt_length",
    "summarize",
    "table_from_matrix",
]


def _seconds(ns: float | None) -> float | None:
    return None if ns is None else ns / NS_PER_S


@dataclass(frozen=True, slots=True)
class RequestMetrics:
    probe_id: str
    outcome: str
    output_tokens: int
    ttft_s: float | None
    ttfat_s: float | None
    tpot_s: float | None
    e2e_s: float | None
    normalized_e2e_s: float | None
    prefill_deadline_s: float
    decode_deadline_s: float
    fluidity_index: float | None
    fluidity_index_decode: float | None
    missed_deadlines: int | None
    total_deadlines: int | None
    min_decode_deadline_s: float | None

    @classmethod
    def of(cls, probe_id: str, outcome: str, r: ScoreRecord) -> RequestMetrics:
        n = r.output_tokens
        return cls(
            probe_id=probe_id,
            outcome=outcome,
            output_tokens=n,
            ttft_s=_seconds(r.ttft_ns),
            ttfat_s=_seconds(r.ttfat_ns),
            tpot_s=_seconds(r.tpot_ns),
            e2e_s=_seconds(r.e2e_ns),
            normalized_e2e_s=None if r.e2e_ns is None else r.e2e_ns / n / NS_PER_S,
            prefill_deadline_s=r.prefill_deadline_ns / NS_PER_S,
            decode_deadline_s=r.decode_deadline_ns / NS_PER_S,
            fluidity_index=r.fluidity_index,
            fluidity_index_decode=r.fluidity_index_decode,
            missed_deadlines=r.missed_deadlines,
            total_deadlines=r.total_deadlines,
            min_decode_deadline_s=_seconds(r.min_decode_deadline_ns),
        )

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Summary:
    requests: int
    ok: int
    scored: int
    """Ok probes with at least one answer token: the denominator of every deadline metric."""
    fluent_token_rate: float | None
    tpot_rate: float | None
    tail_tbt_rate: float | None
    service_miss_rate: float | None
    p99_request_miss_rate: float | None
    deadline_slo_met: bool | None
    share_fluid: float | None
    percentiles: dict[str, dict[str, float | None]]
    """Catalogue latencies by report key (`ttft`, `ttfat`): p50/p90/p99 in seconds."""
    tbt_s: dict[str, float | None]

    @property
    def ttft_s(self) -> dict[str, float | None]:
        return self.percentiles["ttft"]

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__ if k != "percentiles"}
        out.update({f"{key}_s": v for key, v in self.percentiles.items()})
        return out


@dataclass(frozen=True, slots=True)
class Analysis:
    requests: list[RequestMetrics]
    summary: Summary

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": [r.to_json() for r in self.requests],
            "summary": self.summary.to_json(),
        }


def _percentiles_s(values_ns: npt.ArrayLike, points: Sequence[float]) -> dict[str, float | None]:
    qs = quantiles(values_ns, points)
    return {f"p{round(q * 100)}": _seconds(v) for q, v in qs.items()}


def summarize(table: RequestTable, records: Sequence[ScoreRecord]) -> Summary:
    """Aggregate a batch's records; `table` supplies the chunk gaps behind TBT."""
    ok = table.ok
    scored = scored_mask(records)
    counts = deadline_counts(records)
    slo = slo_view(DeadlineCounts(met=counts.met[scored], missed=counts.missed[scored]))
    gaps, zeros = table.chunk_gaps_ns(ok), table.zero_tbt_count(ok)
    tbt = quantiles_with_zeros(gaps, zeros, PERCENTILES)
    d_star = int_column(records, "min_decode_deadline_ns")
    tpot = float_column(records, "tpot_ns")
    latencies = {}
    for metric in reported():
        assert metric.report is not None
        values = int_column(records, metric.name)
        latencies[metric.report] = _percentiles_s(values[values >= 0], metric.report_quantiles)
    return Summary(
        requests=len(table.probe_ids),
        ok=int(ok.sum()),
        scored=int(scored.sum()),
        fluent_token_rate=fluent_token_rate(d_star[scored]),
        tpot_rate=tpot_rate(tpot[ok]),
        tail_tbt_rate=tail_tbt_rate(gaps, zeros),
        service_miss_rate=slo.service_miss_rate,
        p99_request_miss_rate=slo.p99_request_miss_rate,
        deadline_slo_met=slo.deadline_slo_met,
        share_fluid=slo.share_fluid,
        percentiles=latencies,
        tbt_s={f"p{round(q * 100)}": _seconds(tbt[q]) for q in PERCENTILES},
    )


def analyze(traces: Sequence[Trace], options: AnalysisOptions | None = None) -> Analysis:
    table, records = score_table(traces, options)
    return analysis_of(traces, table, records)


def analysis_of(
    traces: Sequence[Trace], table: RequestTable, records: Sequence[ScoreRecord]
) -> Analysis:
    """Rows and summary of already scored traces (reports pass the stored records)."""
    rows = [
        RequestMetrics.of(t.probe_id, t.outcome.value, r)
        for t, r in zip(traces, records, strict=True)
    ]
    return Analysis(rows, summarize(table, records))
