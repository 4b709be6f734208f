"""One target's traces scored once, so every section of the report reads the same numbers.

The report never computes a metric of its own where the engine has one: `analyze` gives the
per-request rows and the summary (the JSON report's per-target numbers *are* its summary), and
`build_table` gives the arrays behind them. Judged like `analyze` with no options: each probe at the
first decode tier and the prefill deadline stored with it, else the engine's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.metrics.analysis import (
    Analysis,
    AnalysisOptions,
    RequestTable,
    analyze,
    build_table,
    decode_deadlines_ns,
    prefill_deadlines_ns,
)
from monitor.metrics.batch import DeadlineCounts
from monitor.trace import Chunk, Trace

BoolArray = npt.NDArray[np.bool_]
Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ScoredTarget:
    """A target's traces, in input order, with the engine's results aligned to them."""

    name: str
    traces: tuple[Trace, ...]
    analysis: Analysis
    table: RequestTable
    decode_ns: Int64Array
    """The decode deadline each probe was judged at (its first stored tier)."""
    prefill_ns: Int64Array
    counts: DeadlineCounts
    """With-TTFT met/missed per probe, as `analyze` counted them."""
    fluidity_index: FloatArray
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
        return self.counts.fluid


def score_target(name: str, traces: Sequence[Trace]) -> ScoredTarget:
    options = AnalysisOptions()
    analysis = analyze(traces, options)
    rows = analysis.requests
    missed = np.array([r.missed_deadlines for r in rows], dtype=np.int64)
    total = np.array([r.total_deadlines for r in rows], dtype=np.int64)
    d_star = np.array(
        [
            -1 if r.min_decode_deadline_s is None else round(r.min_decode_deadline_s * 1e9)
            for r in rows
        ],
        dtype=np.int64,
    )
    return ScoredTarget(
        name=name,
        traces=tuple(traces),
        analysis=analysis,
        table=build_table(traces),
        decode_ns=decode_deadlines_ns(traces, options),
        prefill_ns=prefill_deadlines_ns(traces, options),
        counts=DeadlineCounts(met=total - missed, missed=missed),
        fluidity_index=np.array([r.fluidity_index for r in rows], dtype=np.float64),
        min_deadline_ns=d_star,
        content=tuple(t.scored_chunks for t in traces),
    )


UNNAMED = "(no target)"
"""Minimal-form traces from other tools name no target; they are reported together."""


def group_by_target(traces: Sequence[Trace]) -> dict[str, list[Trace]]:
    """Traces per target name, targets in first-seen order, traces in input order."""
    out: dict[str, list[Trace]] = {}
    for t in traces:
        out.setdefault(t.target or UNNAMED, []).append(t)
    return out
