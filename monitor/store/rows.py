"""Trace ↔ `probes` row: the lossless mapping that export/import round-trips rely on.

Everything in a `Trace` has a column: chunks become parallel arrays (`chunk_kinds` is NULL when
every chunk is content, `chunk_texts` NULL when no chunk has text or text storage is off), the JSON
maps keep their key order (`json`, not `jsonb`), and `has_deadlines` tells "no deadlines" from
empty ones.
Only the full trace form is stored: the minimal form has no `started_at` to partition on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.metrics.score import ScoreRecord
from monitor.metrics.units import NS_PER_S
from monitor.trace import (
    Chunk,
    ChunkKind,
    Deadlines,
    FluidityScope,
    Outcome,
    TokenCountSource,
    Trace,
    conform,
)

SMALLINT_MAX = 32767
_KIND_CODE = {ChunkKind.CONTENT: 0, ChunkKind.REASONING: 1}
_CODE_KIND = {v: k for k, v in _KIND_CODE.items()}

INPUT_COLUMNS: tuple[str, ...] = (
    "probe_id",
    "started_at",
    "target",
    "provider",
    "model",
    "api",
    "region",
    "workload",
    "prompt_tokens",
    "max_tokens",
    "outcome",
    "http_status",
    "error",
    "finish_reason",
    "phases_ns",
    "token_count_source",
    "usage",
    "client",
    "loop_lag_max_ns",
    "meta",
    "has_deadlines",
    "deadline_prefill_s",
    "deadline_decode_s",
    "chunk_t_ns",
    "chunk_tokens",
    "chunk_kinds",
    "chunk_texts",
    "fluidity_scope",
)
"""Columns that hold what the trace said (written at ingest, read back by `trace_from_row`)."""

TRACE_COLUMNS: tuple[str, ...] = (*INPUT_COLUMNS, "prefill_deadline_ns", "decode_deadline_ns")
"""What to select for `trace_from_row`: with the deadlines used, a trace that came without its
own deadlines reads back with the ones it was judged against (trace-format: export always
writes them). Select `INPUT_COLUMNS` instead to get exactly what was ingested."""


class UnstorableTraceError(ValueError):
    """A trace the store cannot keep as is (names the probe and the reason)."""


def check_storable(trace: Trace) -> datetime:
    if trace.minimal or trace.started_at is None:
        raise UnstorableTraceError(
            f"probe {trace.probe_id!r}: only full-form traces with started_at can be stored"
        )
    if not trace.probe_id:
        raise UnstorableTraceError("a trace without probe_id cannot be stored")
    for i, c in enumerate(trace.chunks):
        if c.tokens > SMALLINT_MAX:
            raise UnstorableTraceError(
                f"probe {trace.probe_id!r}: chunks[{i}] carries {c.tokens} tokens "
                f"(max {SMALLINT_MAX})"
            )
    return trace.started_at


def _no_nul(text: str | None) -> str | None:
    """PostgreSQL text cannot hold U+0000 (a vendor may send `\\u0000`): one U+FFFD per NUL,
    so lengths and offsets stay as received."""
    return text.replace("\x00", "\ufffd") if text and "\x00" in text else text


def trace_columns(trace: Trace, *, store_text: bool = True) -> dict[str, Any]:
    """The non-summary columns of a trace's row (raises `UnstorableTraceError`).

    The trace is `conform`ed first: a vendor's number that does not fit its column is kept as
    text in `meta.out_of_range` rather than wrapped by the binary COPY or failing the batch.
    """
    trace = conform(trace)
    started_at = check_storable(trace)
    kinds = [_KIND_CODE[c.kind] for c in trace.chunks]
    texts = [_no_nul(c.text) for c in trace.chunks] if store_text else []
    d = trace.deadlines
    return {
        "probe_id": trace.probe_id,
        "started_at": started_at,
        "target": trace.target,
        "provider": trace.provider,
        "model": trace.model,
        "api": trace.api,
        "region": trace.region,
        "workload": trace.requested_prompt_tokens,
        "prompt_tokens": trace.prompt_tokens,
        "max_tokens": trace.max_tokens,
        "outcome": trace.outcome.value,
        "http_status": trace.http_status,
        "error": _no_nul(trace.error),
        "finish_reason": _no_nul(trace.finish_reason),
        "phases_ns": dict(trace.phases_ns),
        "token_count_source": trace.token_count_source.value,
        "usage": None if trace.usage is None else dict(trace.usage),
        "client": dict(trace.client),
        "loop_lag_max_ns": trace.client.get("loop_lag_max_ns"),
        "meta": None if trace.meta is None else dict(trace.meta),
        "has_deadlines": d is not None,
        "deadline_prefill_s": None if d is None else d.prefill_s,
        "deadline_decode_s": None if d is None else list(d.decode_s),
        "chunk_t_ns": [c.t_ns for c in trace.chunks],
        "chunk_tokens": [c.tokens for c in trace.chunks],
        "chunk_kinds": kinds if any(kinds) else None,
        "chunk_texts": texts if any(t is not None for t in texts) else None,
        "fluidity_scope": trace.fluidity_scope.value,
    }


def row_values(trace: Trace, score: ScoreRecord, *, store_text: bool = True) -> dict[str, Any]:
    values = trace_columns(trace, store_text=store_text)
    values.update(score.columns())
    return values


def trace_from_row(row: Mapping[Any, Any]) -> Trace:
    """Rebuild the `Trace` from a row holding at least `INPUT_COLUMNS`."""
    times: list[int] = row["chunk_t_ns"]
    tokens: list[int] = row["chunk_tokens"]
    kinds: list[int] | None = row["chunk_kinds"]
    texts: list[str | None] | None = row["chunk_texts"]
    chunks = tuple(
        Chunk(
            t_ns=t,
            tokens=k,
            kind=ChunkKind.CONTENT if kinds is None else _CODE_KIND[kinds[i]],
            text=None if texts is None else texts[i],
        )
        for i, (t, k) in enumerate(zip(times, tokens, strict=True))
    )
    deadlines = None
    if row["has_deadlines"]:
        deadlines = Deadlines(
            prefill_s=row["deadline_prefill_s"], decode_s=tuple(row["deadline_decode_s"] or ())
        )
    elif "prefill_deadline_ns" in row and "decode_deadline_ns" in row:
        deadlines = Deadlines(
            prefill_s=row["prefill_deadline_ns"] / NS_PER_S,
            decode_s=(row["decode_deadline_ns"] / NS_PER_S,),
        )
    return Trace(
        probe_id=row["probe_id"],
        chunks=chunks,
        prompt_tokens=row["prompt_tokens"],
        target=row["target"],
        provider=row["provider"],
        model=row["model"],
        api=row["api"],
        region=row["region"],
        started_at=row["started_at"].astimezone(UTC),
        requested_prompt_tokens=row["workload"],
        max_tokens=row["max_tokens"],
        outcome=Outcome(row["outcome"]),
        http_status=row["http_status"],
        error=row["error"],
        finish_reason=row["finish_reason"],
        phases_ns=row["phases_ns"],
        token_count_source=TokenCountSource(row["token_count_source"]),
        usage=row["usage"],
        client=row["client"],
        deadlines=deadlines,
        meta=row["meta"],
        fluidity_scope=FluidityScope(row["fluidity_scope"]),
    )
