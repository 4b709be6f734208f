"""A batch of traces as arrays: the chunk matrix, per-request basics and the deadlines judged at.

The input side of the one scoring pass (`monitor.metrics.score`): no metric is decided here, only
arranged. Deadlines per request come from, in order: the caller's options, the deadlines stored
with the trace, the defaults (25 ms decode; the default prefill model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.metrics.arrays import FloatArray, Int64Array
from monitor.metrics.batch import PAD, ChunkMatrix
from monitor.metrics.prefill import PrefillModel
from monitor.metrics.units import seconds_to_ns
from monitor.trace import Outcome, Trace

DEFAULT_DECODE_S = 0.025


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    decode_s: float | None = None
    """One decode deadline for every request; None: each trace's first stored tier, else 25 ms."""
    prefill: PrefillModel | None = None
    """None: each trace's stored prefill deadline, else the default model."""
    default_prefill: PrefillModel = field(default_factory=PrefillModel)


@dataclass(frozen=True, slots=True)
class RequestTable:
    """Per-request basics of a batch, as arrays (NaN or -1 where undefined).

    `matrix` holds the answer (content) chunks only: reasoning is tracked apart and not scored.
    `first_any_ns` is the first token of any kind (reasoning or answer), -1 when none came.
    """

    probe_ids: list[str]
    ok: npt.NDArray[np.bool_]
    outcomes: list[str]
    matrix: ChunkMatrix
    prompt_tokens: Int64Array
    ttft_ns: Int64Array
    """First answer token (-1: none): the `a_0` every deadline metric judges."""
    e2e_ns: Int64Array
    tpot_ns: FloatArray
    first_any_ns: Int64Array
    first_answer_ns: Int64Array
    """First answer (content) token, -1 when none came: TTFAT. It equals `ttft_ns` unless the
    trace is scored on its whole visible stream (`fluidity_scope: visible`)."""

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


def _first_token_ns(t: Trace) -> int:
    return next((c.t_ns for c in t.chunks if c.tokens > 0), -1)


def _first_answer_ns(t: Trace) -> int:
    return next((c.t_ns for c in t.content_chunks if c.tokens > 0), -1)


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
        first_any_ns=np.array([_first_token_ns(t) for t in traces], dtype=np.int64),
        first_answer_ns=np.array([_first_answer_ns(t) for t in traces], dtype=np.int64),
    )


def table_from_matrix(
    m: ChunkMatrix,
    probe_ids: list[str],
    outcomes: list[str],
    prompt_tokens: Int64Array,
    first_any_ns: Int64Array | None = None,
    first_answer_ns: Int64Array | None = None,
) -> RequestTable:
    """The per-request basics of an already built matrix (bulk paths skip `Trace` objects;
    without `first_any_ns` every token is taken as an answer token)."""
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
        first_any_ns=first.astype(np.int64) if first_any_ns is None else first_any_ns,
        first_answer_ns=first.astype(np.int64) if first_answer_ns is None else first_answer_ns,
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
