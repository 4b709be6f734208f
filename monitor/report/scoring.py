"""A target's probes with their score records, so every report section reads the same numbers.

The report computes no per-probe metric of its own: each probe's numbers are its `ScoreRecord`, read
back from the store (the record ingest stored) or, for a trace file, made by the one scoring pass
(`monitor.metrics.score`). The per-target headline numbers are `analysis_of` over those records;
the arrays below are views of the same records. Failed probes have no scores (NaN / -1 / False
here) and every section masks them out: a failure is never fluid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.metrics.analysis import Analysis, RequestTable, analysis_of, build_table
from monitor.metrics.arrays import BoolArray, FloatArray, Int64Array
from monitor.metrics.batch import DeadlineCounts
from monitor.metrics.score import (
    ScoreRecord,
    deadline_counts,
    float_column,
    int_column,
    score_table,
    scored_mask,
)
from monitor.trace import Chunk, Trace


@dataclass(frozen=True, slots=True)
class ScoredTarget:
    """A target's traces, in input order, with their score records aligned to them."""

    name: str
    traces: tuple[Trace, ...]
    scores: tuple[ScoreRecord, ...]
    analysis: Analysis
    table: RequestTable
    decode_ns: Int64Array
    """The decode deadline each probe was judged at (its first stored tier)."""
    prefill_ns: Int64Array
    counts: DeadlineCounts
    """With-TTFT met/missed per probe (0/0 for unscored probes)."""
    scored: BoolArray
    """Ok with at least one answer token: the probes fluidity is judged over."""
    fluidity_index: FloatArray
    """NaN for unscored probes."""
    min_deadline_ns: Int64Array
    """`D*` per probe; -1 where undefined."""
    content: tuple[tuple[Chunk, ...], ...]
    """Each probe's scored chunks (`Trace.scored_chunks`: the answer, or all visible chunks),
    extracted once (the trace property rebuilds them per call)."""

    @property
    def ok(self) -> BoolArray:
        return self.table.ok

    @property
    def fluid(self) -> BoolArray:
        """True only for scored, fluid probes."""
        return self.scored & self.counts.fluid


def score_target(
    name: str, traces: Sequence[Trace], scores: Sequence[ScoreRecord] | None = None
) -> ScoredTarget:
    """`scores`: the stored records of `traces` (aligned); None scores the traces now."""
    if scores is None:
        table, records = score_table(traces)
    else:
        table, records = build_table(traces), list(scores)
    return ScoredTarget(
        name=name,
        traces=tuple(traces),
        scores=tuple(records),
        analysis=analysis_of(traces, table, records),
        table=table,
        decode_ns=int_column(records, "decode_deadline_ns"),
        prefill_ns=int_column(records, "prefill_deadline_ns"),
        counts=deadline_counts(records),
        scored=scored_mask(records),
        fluidity_index=float_column(records, "fluidity_index"),
        min_deadline_ns=int_column(records, "min_decode_deadline_ns"),
        content=tuple(t.scored_chunks for t in traces),
    )


UNNAMED = "(no target)"
"""Minimal-form traces from other tools name no target; they are reported together."""


def group_by_target(traces: Sequence[Trace]) -> dict[str, list[int]]:
    """Indices of the traces per target name, targets in first-seen order, traces in input order."""
    out: dict[str, list[int]] = {}
    for i, t in enumerate(traces):
        out.setdefault(t.target or UNNAMED, []).append(i)
    return out
