"""Summary columns of a probe row, computed from its trace with the metric engine at ingest.

Batches are scored together (the engine is vectorised), so a 100 000-probe import or a recompute
costs seconds. Deadlines used: the trace's own (the prober stores its target's), else the engine's
defaults (25 ms decode; the default prefill model), exactly as `analyze` does, so a stored value
equals what `etalon-monitor analyze` prints for the same trace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from monitor.metrics.analysis import (
    AnalysisOptions,
    build_table,
    decode_deadlines_ns,
    prefill_deadlines_ns,
)
from monitor.metrics.batch import score
from monitor.metrics.min_deadline import min_decode_deadlines_ns
from monitor.metrics.units import NS_PER_MS
from monitor.store.schema import FIXED_TIERS_MS, METRIC_DEFINITIONS_VERSION
from monitor.trace import Trace


@dataclass(frozen=True, slots=True)
class ProbeSummary:
    """The `probes` summary columns; names match the table's columns."""

    metrics_version: int
    output_tokens: int
    content_chunks: int
    tokens_per_chunk: float | None
    ttft_ns: int | None
    tpot_ns: float | None
    e2e_ns: int | None
    prefill_deadline_ns: int
    decode_deadline_ns: int
    fluidity_index: float
    fluidity_index_decode: float
    missed_deadlines: int
    total_deadlines: int
    fluid: bool
    fluidity_25ms: float
    fluidity_50ms: float
    fluidity_100ms: float
    fluidity_decode_25ms: float
    fluidity_decode_50ms: float
    fluidity_decode_100ms: float
    min_decode_deadline_ns: int | None

    def columns(self) -> dict[str, Any]:
        return asdict(self)


SUMMARY_COLUMNS: tuple[str, ...] = tuple(ProbeSummary.__dataclass_fields__)


def summarize(traces: Sequence[Trace]) -> list[ProbeSummary]:
    """One summary per trace, in order."""
    if not traces:
        return []
    options = AnalysisOptions()
    table = build_table(traces)
    m = table.matrix
    decode = decode_deadlines_ns(traces, options)
    prefill = prefill_deadlines_ns(traces, options)
    with_ttft = score(m, decode, prefill)
    decode_only = score(m, decode)
    fixed = {ms: score(m, ms * NS_PER_MS, prefill).index for ms in FIXED_TIERS_MS}
    fixed_decode = {ms: score(m, ms * NS_PER_MS).index for ms in FIXED_TIERS_MS}
    d_star = min_decode_deadlines_ns(m)
    index, index_decode, fluid = with_ttft.index, decode_only.index, with_ttft.fluid
    out: list[ProbeSummary] = []
    for r in range(len(traces)):
        n = int(m.n_tokens[r])
        chunks = int(m.n_chunks[r])
        tpot = float(table.tpot_ns[r])
        out.append(
            ProbeSummary(
                metrics_version=METRIC_DEFINITIONS_VERSION,
                output_tokens=n,
                content_chunks=chunks,
                tokens_per_chunk=n / chunks if chunks else None,
                ttft_ns=int(table.ttft_ns[r]) if n else None,
                tpot_ns=None if math.isnan(tpot) else tpot,
                e2e_ns=int(table.e2e_ns[r]) if n else None,
                prefill_deadline_ns=int(prefill[r]),
                decode_deadline_ns=int(decode[r]),
                fluidity_index=float(index[r]),
                fluidity_index_decode=float(index_decode[r]),
                missed_deadlines=int(with_ttft.missed[r]),
                total_deadlines=int(with_ttft.total[r]),
                fluid=bool(fluid[r]),
                fluidity_25ms=float(fixed[25][r]),
                fluidity_50ms=float(fixed[50][r]),
                fluidity_100ms=float(fixed[100][r]),
                fluidity_decode_25ms=float(fixed_decode[25][r]),
                fluidity_decode_50ms=float(fixed_decode[50][r]),
                fluidity_decode_100ms=float(fixed_decode[100][r]),
                min_decode_deadline_ns=None if d_star[r] < 0 else int(d_star[r]),
            )
        )
    return out
