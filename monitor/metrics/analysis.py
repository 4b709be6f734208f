"""Per-request and summary metrics of a set of traces: what `analyze`, reports and exports show.

Everything here is vectorised across requests (`ChunkMatrix`), so scoring 100 000 requests is a
matter of seconds. Deadlines per request come from, in order: the caller's options, the deadlines
stored with the trace, the defaults (25 ms decode; the default prefill model). Summary metrics are
over `ok` requests only (design/trace-format.md); failed probes are counted, not scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.metrics.batch import PAD, ChunkMatrix, DeadlineCounts, score
from monitor.metrics.min_deadline import min_decode_deadlines_ns
from monitor.metrics.prefill import PrefillModel
from monitor.metrics.quantiles import quantiles, quantiles_with_zeros
from monitor.metrics.rates import fluent_token_rate, tail_tbt_rate, tpot_rate
from monitor.metrics.slo import slo_view
from monitor.metrics.units import NS_PER_S, seconds_to_ns
from monitor.trace import Outcome, Trace

DEFAULT_DECODE_S = 0.025
PERCENTILES = (0.5, 0.9, 0.99)

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    decode_s: float | None = None
    """One decode deadline for every request; None: each trace's first stored tier, else 25 ms."""
    prefill: PrefillModel | None = None
    """None: each trace's stored prefill deadline, else the default model."""
    default_prefill: PrefillModel = field(default_factory=PrefillModel)


@dataclass(frozen=True, slots=True)
class RequestTable:
    """Per-request basics of a batch, as arrays (NaN or -1 where undefined)."""

    probe_ids: list[str]
    ok: npt.NDArray[np.bool_]
    outcomes: list[str]
    matrix: ChunkMatrix
    prompt_tokens: Int64Array
    ttft_ns: Int64Array
    e2e_ns: Int64Array
    tpot_ns: FloatArray

    @property
    def output_tokens(self) -> Int64Array:
        return self.matrix.n_tokens

    def chunk_gaps_ns(self, mask: npt.NDArray[np.bool_]) -> Int64Array:
        """Gaps between consecutive content chunks of the selected requests."""
        m = self.matrix
        if m.times.shape[0] < 2:
            return np.zeros(0, dtype=np.int64)
        valid = (m.times[1:] != PAD) & mask[np.newaxis, :]
        gaps: Int64Array = (m.times[1:] - m.times[:-1])[valid]
        return gaps

    def zero_tbt_count(self, mask: npt.NDArray[np.bool_]) -> int:
        """TBT values of 0: every token of a chunk after its first."""
        m = self.matrix
        return int(np.maximum(m.n_tokens - m.n_chunks, 0)[mask].sum())

    def tbt_values_ns(self, mask: npt.NDArray[np.bool_]) -> Int64Array:
        """Every TBT value of the selected requests: chunk gaps plus a zero per extra token."""
        zeros = np.zeros(self.zero_tbt_count(mask), dtype=np.int64)
        return np.concatenate([zeros, self.chunk_gaps_ns(mask)])


def prompt_length(t: Trace) -> int:
    """`P` of the prefill model: the prompt tokens the server counted, else those requested."""
    if t.prompt_tokens is not None:
        return t.prompt_tokens
    return t.requested_prompt_tokens if t.requested_prompt_tokens is not None else 0


def build_table(traces: Sequence[Trace]) -> RequestTable:
    chunks = [
        ([c.t_ns for c in t.scored_chunks], [c.tokens for c in t.scored_chunks]) for t in traces
    ]
    prompt = np.array([prompt_length(t) for t in traces], dtype=np.int64)
    return table_from_matrix(
        ChunkMatrix.from_chunks(chunks),
        probe_ids=[t.probe_id for t in traces],
        outcomes=[t.outcome.value for t in traces],
        prompt_tokens=prompt,
    )


def table_from_matrix(
    m: ChunkMatrix, probe_ids: list[str], outcomes: list[str], prompt_tokens: Int64Array
) -> RequestTable:
    """The per-request basics of an already built matrix (bulk paths skip `Trace` objects)."""
    has_tokens = m.n_tokens > 0
    cols = np.arange(m.requests)
    if m.times.shape[0]:
        first = np.where(has_tokens, m.times[0], -1)
        last = np.where(has_tokens, m.times[np.maximum(m.n_chunks - 1, 0), cols], -1)
    else:
        first = last = np.full(m.requests, -1, dtype=np.int64)
    span = (last - first).astype(np.float64)
    tpot = np.divide(
        span,
        m.n_tokens - 1,
        out=np.full(m.requests, np.nan),
        where=m.n_tokens >= 2,
    )
    return RequestTable(
        probe_ids=probe_ids,
        ok=np.array([o == Outcome.OK.value for o in outcomes], dtype=np.bool_),
        outcomes=outcomes,
        matrix=m,
        prompt_tokens=prompt_tokens,
        ttft_ns=first.astype(np.int64),
        e2e_ns=last.astype(np.int64),
        tpot_ns=tpot,
    )


def decode_deadlines_ns(traces: Sequence[Trace], options: AnalysisOptions) -> Int64Array:
    def one(t: Trace) -> float:
        if options.decode_s is not None:
            return options.decode_s
        if t.deadlines is not None and t.deadlines.decode_s:
            return t.deadlines.decode_s[0]
        return DEFAULT_DECODE_S

    return np.array([seconds_to_ns(one(t)) for t in traces], dtype=np.int64)


def prefill_deadlines_ns(traces: Sequence[Trace], options: AnalysisOptions) -> Int64Array:
    def one(t: Trace) -> int:
        if options.prefill is not None:
            return options.prefill.deadline_ns(prompt_length(t))
        if t.deadlines is not None and t.deadlines.prefill_s is not None:
            return seconds_to_ns(t.deadlines.prefill_s)
        return options.default_prefill.deadline_ns(prompt_length(t))

    return np.array([one(t) for t in traces], dtype=np.int64)


def _seconds(ns: float | None) -> float | None:
    return None if ns is None else ns / NS_PER_S


@dataclass(frozen=True, slots=True)
class RequestMetrics:
    probe_id: str
    outcome: str
    output_tokens: int
    ttft_s: float | None
    tpot_s: float | None
    e2e_s: float | None
    normalized_e2e_s: float | None
    prefill_deadline_s: float
    decode_deadline_s: float
    fluidity_index: float
    fluidity_index_decode: float
    missed_deadlines: int
    total_deadlines: int
    min_decode_deadline_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Summary:
    requests: int
    ok: int
    fluent_token_rate: float | None
    tpot_rate: float | None
    tail_tbt_rate: float | None
    service_miss_rate: float | None
    p99_request_miss_rate: float | None
    deadline_slo_met: bool | None
    share_fluid: float | None
    ttft_s: dict[str, float | None]
    tbt_s: dict[str, float | None]

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Analysis:
    requests: list[RequestMetrics]
    summary: Summary

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": [r.to_json() for r in self.requests],
            "summary": self.summary.to_json(),
        }


def _percentiles_s(values_ns: npt.ArrayLike) -> dict[str, float | None]:
    qs = quantiles(values_ns, PERCENTILES)
    return {f"p{round(q * 100)}": _seconds(v) for q, v in qs.items()}


def summarize(
    table: RequestTable, with_ttft: DeadlineCounts, min_deadlines_ns: Int64Array
) -> Summary:
    ok = table.ok
    ok_counts = DeadlineCounts(met=with_ttft.met[ok], missed=with_ttft.missed[ok])
    slo = slo_view(ok_counts)
    has_token = ok & (table.output_tokens > 0)
    gaps, zeros = table.chunk_gaps_ns(ok), table.zero_tbt_count(ok)
    tbt = quantiles_with_zeros(gaps, zeros, PERCENTILES)
    return Summary(
        requests=len(table.probe_ids),
        ok=int(ok.sum()),
        fluent_token_rate=fluent_token_rate(min_deadlines_ns[ok]),
        tpot_rate=tpot_rate(table.tpot_ns[ok]),
        tail_tbt_rate=tail_tbt_rate(gaps, zeros),
        service_miss_rate=slo.service_miss_rate,
        p99_request_miss_rate=slo.p99_request_miss_rate,
        deadline_slo_met=slo.deadline_slo_met,
        share_fluid=slo.share_fluid,
        ttft_s=_percentiles_s(table.ttft_ns[has_token]),
        tbt_s={f"p{round(q * 100)}": _seconds(tbt[q]) for q in PERCENTILES},
    )


def analyze(traces: Sequence[Trace], options: AnalysisOptions | None = None) -> Analysis:
    options = options or AnalysisOptions()
    table = build_table(traces)
    decode = decode_deadlines_ns(traces, options)
    prefill = prefill_deadlines_ns(traces, options)
    with_ttft = score(table.matrix, decode, prefill)
    decode_only = score(table.matrix, decode)
    d_star = min_decode_deadlines_ns(table.matrix)
    rows: list[RequestMetrics] = []
    w_index, d_index = with_ttft.index, decode_only.index
    for r, probe_id in enumerate(table.probe_ids):
        n = int(table.output_tokens[r])
        ttft = int(table.ttft_ns[r]) if n else None
        e2e = int(table.e2e_ns[r]) if n else None
        tpot = float(table.tpot_ns[r]) if n >= 2 else None
        rows.append(
            RequestMetrics(
                probe_id=probe_id,
                outcome=table.outcomes[r],
                output_tokens=n,
                ttft_s=_seconds(ttft),
                tpot_s=_seconds(tpot),
                e2e_s=_seconds(e2e),
                normalized_e2e_s=None if e2e is None else e2e / n / NS_PER_S,
                prefill_deadline_s=int(prefill[r]) / NS_PER_S,
                decode_deadline_s=int(decode[r]) / NS_PER_S,
                fluidity_index=float(w_index[r]),
                fluidity_index_decode=float(d_index[r]),
                missed_deadlines=int(with_ttft.missed[r]),
                total_deadlines=int(with_ttft.total[r]),
                min_decode_deadline_s=None if d_star[r] < 0 else int(d_star[r]) / NS_PER_S,
            )
        )
    return Analysis(rows, summarize(table, with_ttft, d_star))
