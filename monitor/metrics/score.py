"""Score once: one vectorised pass turns finished traces into one `ScoreRecord` per probe.

Everything downstream reads these records: the store keeps them as the `probes` summary columns,
the exporter observes them, `analyze` and reports aggregate them. Nothing else walks deadlines.

The failed-probe rule (docs/metrics.md, "Failed probes"): a probe is *scored* only when it is `ok`
and delivered at least one answer token. Every timing score of a probe that is not `ok` is `None`
(NULL in the table), and the deadline scores (fluidity, missed/total, `fluid`, `D*`) of an
unscored probe are `None`: a 429 is never "fluid", a failed stream never "fast". What arrived is
still counted (`output_tokens`, `content_chunks`), and the deadlines it would have been judged at
are kept (an export carries them).

Times are integer nanoseconds; `tpot_ns` is a mean, so a float.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.metrics.arrays import FloatArray, Int64Array
from monitor.metrics.batch import DeadlineCounts, score
from monitor.metrics.catalogue import FIXED_TIERS_MS, METRIC_DEFINITIONS_VERSION
from monitor.metrics.min_deadline import min_decode_deadlines_ns
from monitor.metrics.table import (
    AnalysisOptions,
    RequestTable,
    build_table,
    decode_deadlines_ns,
    prefill_deadlines_ns,
)
from monitor.metrics.units import NS_PER_MS
from monitor.trace import Trace


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """One probe's scores; field names are the `probes` summary columns (see the catalogue)."""

    metrics_version: int
    output_tokens: int
    content_chunks: int
    tokens_per_chunk: float | None
    ttft_ns: int | None
    ttfat_ns: int | None
    tpot_ns: float | None
    e2e_ns: int | None
    prefill_deadline_ns: int
    decode_deadline_ns: int
    fluidity_index: float | None
    fluidity_index_decode: float | None
    missed_deadlines: int | None
    total_deadlines: int | None
    fluid: bool | None
    fluidity_25ms: float | None
    fluidity_50ms: float | None
    fluidity_100ms: float | None
    fluidity_decode_25ms: float | None
    fluidity_decode_50ms: float | None
    fluidity_decode_100ms: float | None
    min_decode_deadline_ns: int | None

    @property
    def scored(self) -> bool:
        """Ok with at least one answer token: the probes fluidity is judged over."""
        return self.fluid is not None

    @property
    def current(self) -> bool:
        return self.metrics_version == METRIC_DEFINITIONS_VERSION

    def columns(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_columns(cls, row: Any) -> ScoreRecord:
        """From a mapping holding the summary columns (a stored row)."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})


class _Tally:
    """How many probes the one scoring pass has scored in this process (tests assert on it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.probes = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.probes += n


SCORED = _Tally()


def score_table(
    traces: Sequence[Trace], options: AnalysisOptions | None = None
) -> tuple[RequestTable, list[ScoreRecord]]:
    """The one scoring pass; returns the arranged table too (reports reuse its chunk matrix)."""
    options = options or AnalysisOptions()
    table = build_table(traces)
    decode = decode_deadlines_ns(traces, options)
    prefill = prefill_deadlines_ns(traces, options)
    return table, score_matrix(table, decode, prefill)


def score_matrix(table: RequestTable, decode: Int64Array, prefill: Int64Array) -> list[ScoreRecord]:
    """The pass itself, on an arranged table and the deadlines per request (bulk paths that
    never build `Trace` objects, e.g. the benchmark, call this directly)."""
    SCORED.add(table.matrix.requests)
    if not table.matrix.requests:
        return []
    m = table.matrix
    fixed_counts = {ms: score(m, ms * NS_PER_MS, prefill) for ms in FIXED_TIERS_MS}
    fixed_decode_counts = {ms: score(m, ms * NS_PER_MS) for ms in FIXED_TIERS_MS}
    judged_ms = int(decode[0]) // NS_PER_MS if decode.size else 0
    if decode.size and judged_ms in fixed_counts and np.all(decode == judged_ms * NS_PER_MS):
        # the usual case: every probe judged at one of the fixed tiers; no walk twice
        with_ttft, decode_only = fixed_counts[judged_ms], fixed_decode_counts[judged_ms]
    else:
        with_ttft, decode_only = score(m, decode, prefill), score(m, decode)
    # index arrays computed once (the properties compute on every access)
    fixed = {ms: c.index.tolist() for ms, c in fixed_counts.items()}
    fixed_decode = {ms: c.index.tolist() for ms, c in fixed_decode_counts.items()}
    d_star = min_decode_deadlines_ns(m)
    index, index_decode = with_ttft.index.tolist(), decode_only.index.tolist()
    fluid, missed, total = (
        with_ttft.fluid.tolist(),
        with_ttft.missed.tolist(),
        with_ttft.total.tolist(),
    )
    n_tokens, n_chunks = m.n_tokens.tolist(), m.n_chunks.tolist()
    ok_rows, tpots = table.ok.tolist(), table.tpot_ns.tolist()
    first_any, first_answer, last = (
        table.first_any_ns.tolist(),
        table.first_answer_ns.tolist(),
        table.e2e_ns.tolist(),
    )
    d_star_list, prefill_list, decode_list = d_star.tolist(), prefill.tolist(), decode.tolist()
    out: list[ScoreRecord] = []
    for r in range(m.requests):
        n, chunks, ok = n_tokens[r], n_chunks[r], ok_rows[r]
        scored = ok and n > 0
        tpot, any_first, dr = tpots[r], first_any[r], d_star_list[r]
        out.append(
            ScoreRecord(
                metrics_version=METRIC_DEFINITIONS_VERSION,
                output_tokens=n,
                content_chunks=chunks,
                tokens_per_chunk=n / chunks if chunks else None,
                ttft_ns=any_first if ok and any_first >= 0 else None,
                ttfat_ns=first_answer[r] if scored and first_answer[r] >= 0 else None,
                tpot_ns=None if not ok or math.isnan(tpot) else tpot,
                e2e_ns=last[r] if scored else None,
                prefill_deadline_ns=prefill_list[r],
                decode_deadline_ns=decode_list[r],
                fluidity_index=index[r] if scored else None,
                fluidity_index_decode=index_decode[r] if scored else None,
                missed_deadlines=missed[r] if scored else None,
                total_deadlines=total[r] if scored else None,
                fluid=fluid[r] if scored else None,
                fluidity_25ms=fixed[25][r] if scored else None,
                fluidity_50ms=fixed[50][r] if scored else None,
                fluidity_100ms=fixed[100][r] if scored else None,
                fluidity_decode_25ms=fixed_decode[25][r] if scored else None,
                fluidity_decode_50ms=fixed_decode[50][r] if scored else None,
                fluidity_decode_100ms=fixed_decode[100][r] if scored else None,
                min_decode_deadline_ns=dr if scored and dr >= 0 else None,
            )
        )
    return out


def score_traces(
    traces: Sequence[Trace], options: AnalysisOptions | None = None
) -> list[ScoreRecord]:
    """One `ScoreRecord` per trace, in order (deadlines as in `analyze`)."""
    return score_table(traces, options)[1]


# ------------------------------------------------------------------ columnar views of records


def int_column(records: Sequence[ScoreRecord], name: str) -> Int64Array:
    """An integer field across records; -1 where it is None."""
    values = (getattr(r, name) for r in records)
    return np.fromiter((-1 if v is None else int(v) for v in values), np.int64, len(records))


def float_column(records: Sequence[ScoreRecord], name: str) -> FloatArray:
    """A numeric field across records; NaN where it is None."""
    values = (getattr(r, name) for r in records)
    return np.fromiter(
        (math.nan if v is None else float(v) for v in values), np.float64, len(records)
    )


def scored_mask(records: Sequence[ScoreRecord]) -> npt.NDArray[np.bool_]:
    return np.fromiter((r.scored for r in records), np.bool_, len(records))


def deadline_counts(records: Sequence[ScoreRecord]) -> DeadlineCounts:
    """With-TTFT met/missed per record (0/0 for unscored ones: mask with `scored_mask`)."""
    total = np.maximum(int_column(records, "total_deadlines"), 0)
    missed = np.maximum(int_column(records, "missed_deadlines"), 0)
    return DeadlineCounts(met=total - missed, missed=missed)
