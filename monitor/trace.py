"""The `Trace` record and its JSON Lines codec (`etalon-trace/2`, reading `/1` too).

A trace is everything one probe observed, in integer nanoseconds since the request started, so any
metric can be recomputed later. It is the one data shape that crosses package lines: the prober
produces it, the store keeps it, `analyze` and `export` read and write it.

The reader is strict about the full form (every field the format shows is required) so a broken
exporter is caught at import time, and lenient about the minimal form
`{"probe_id", "prompt_tokens", "chunks": [[t_ns, tokens], ...]}` so traces from other tools can be
scored. Every problem names its line and field, and the reader reports all of them, not the first.

Every number is range-checked against what the store's columns and the metric engine hold
(`monitor.limits`), so `analyze` never prints an overflowed value and `import` never wraps one.
The writer keeps the same promise from the other side: `conform` brings a trace into that domain
(a value out of range becomes null and is kept, as text, in `meta.out_of_range`; NaN and
infinities in `meta` become strings), so every file the tool writes, it reads back.

Versions: `/2` added the token count source `usage-total` and the field `fluidity_scope`. A trace
that uses neither is written as `/1`, so readers of `/1` keep reading what they can read; a `/1`
line that uses them is refused (it was not written by a `/1` writer).
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any, Final, TypeVar

from monitor.limits import (
    DECODE_DEADLINE_MAX_S,
    DECODE_DEADLINE_MIN_S,
    INT16_MAX,
    INT32_MAX,
    INT64_MAX,
    PREFILL_DEADLINE_MAX_S,
    PREFILL_DEADLINE_MIN_S,
    TRACE_SPAN_MAX_NS,
    YEAR_MAX,
    YEAR_MIN,
)

FORMAT: Final = "etalon-trace/2"
FORMAT_V1: Final = "etalon-trace/1"
FORMATS: Final = (FORMAT_V1, FORMAT)
MAX_CHUNK_TOKENS: Final = INT16_MAX
"""The most tokens one chunk may carry (the store keeps counts as `smallint`)."""
HTTP_STATUS_MAX: Final = 999
INT_FIELD_MAX: Final[dict[str, int]] = {
    "requested_prompt_tokens": INT32_MAX,
    "prompt_tokens": INT32_MAX,
    "max_tokens": INT32_MAX,
    "http_status": HTTP_STATUS_MAX,
}
"""Top-level integers and their largest value (the store keeps them as `integer`/`smallint`)."""
META_DEPTH_MAX: Final = 32
"""`meta` holds vendor headers and timings: a few levels deep, never a bomb."""
OUT_OF_RANGE: Final = "out_of_range"
"""`meta` key under which `conform` keeps, as text, each value it had to drop."""
_E = TypeVar("_E", bound=StrEnum)


class Outcome(StrEnum):
    """How a probe ended; a non-`ok` probe keeps the chunks it received."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    STREAM_ERROR = "stream_error"
    TRUNCATED = "truncated"
    PROTOCOL_ERROR = "protocol_error"
    REDIRECTED = "redirected"
    """A 3xx answer: never followed, so credentials never travel to another origin."""
    TOO_LARGE = "too_large"
    """The response passed the target's byte, event or event-size limit; reading stopped."""
    WORKER_LOST = "worker_lost"
    """The probe worker process running it died or stopped answering (`monitor.plane`)."""


class ChunkKind(StrEnum):
    CONTENT = "content"
    REASONING = "reasoning"


class TokenCountSource(StrEnum):
    """Where per-chunk token counts came from, best first (docs/trace-format.md): the vendor's
    per-chunk counts, the tokenizer's split of the stream's usage totals, the tokenizer alone
    (no usage, or usage that could not be reconciled), one per chunk."""

    USAGE_CONTINUOUS = "usage-continuous"
    TOKEN_ID = "token-id"
    USAGE_TOTAL = "usage-total"
    TOKENIZER = "tokenizer"
    CHUNK = "chunk"


class FluidityScope(StrEnum):
    """Which chunks fluidity and the other stream metrics score: the answer only, or everything
    the user sees (reasoning and answer, for products that show reasoning)."""

    ANSWER = "answer"
    VISIBLE = "visible"


@dataclass(frozen=True, slots=True)
class Chunk:
    """One content-bearing event: its arrival time and how many tokens it carried."""

    t_ns: int
    tokens: int
    kind: ChunkKind = ChunkKind.CONTENT
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Deadlines:
    """What a probe is judged against. `prefill_s` None means "use the configured default"."""

    prefill_s: float | None
    decode_s: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Trace:
    probe_id: str
    chunks: tuple[Chunk, ...]
    prompt_tokens: int | None
    target: str = ""
    provider: str = ""
    model: str = ""
    api: str = ""
    region: str = ""
    started_at: datetime | None = None
    requested_prompt_tokens: int | None = None
    max_tokens: int | None = None
    outcome: Outcome = Outcome.OK
    http_status: int | None = None
    error: str | None = None
    finish_reason: str | None = None
    phases_ns: Mapping[str, int] = field(default_factory=dict)
    token_count_source: TokenCountSource = TokenCountSource.CHUNK
    usage: Mapping[str, int | None] | None = None
    client: Mapping[str, int] = field(default_factory=dict)
    deadlines: Deadlines | None = None
    meta: Mapping[str, Any] | None = None
    """Vendor extras kept verbatim (rate-limit headers, server timings); optional in the format."""
    fluidity_scope: FluidityScope = FluidityScope.ANSWER
    """The target's choice of chunks to score (`scored_chunks`); optional in the format."""
    minimal: bool = False
    """Read from the minimal form; written back in the same form."""

    @property
    def content_chunks(self) -> tuple[Chunk, ...]:
        """Chunks that carry answer text; reasoning is tracked apart and not scored."""
        return tuple(c for c in self.chunks if c.kind is ChunkKind.CONTENT)

    @property
    def scored_chunks(self) -> tuple[Chunk, ...]:
        """The chunks stream metrics (TTFT, TBT, fluidity) score: the answer, or with
        `fluidity_scope: visible` every chunk the user sees, reasoning included."""
        if self.fluidity_scope is FluidityScope.VISIBLE:
            return self.chunks
        return self.content_chunks

    @property
    def reasoning_tokens(self) -> int:
        """Reasoning tokens that streamed (the vendor's hidden reasoning is in `usage`)."""
        return sum(c.tokens for c in self.chunks if c.kind is ChunkKind.REASONING)

    @property
    def output_tokens(self) -> int:
        return sum(c.tokens for c in self.content_chunks)


class TraceFormatError(ValueError):
    """One bad line: where it is and which field is wrong."""

    def __init__(self, line: int, field_path: str, problem: str) -> None:
        self.line = line
        self.field = field_path
        self.problem = problem
        super().__init__(f"line {line}: {field_path}: {problem}")


class _FieldError(Exception):
    def __init__(self, field_path: str, problem: str) -> None:
        self.field = field_path
        self.problem = problem
        super().__init__(f"{field_path}: {problem}")


# --------------------------------------------------------------------------- decoding


def _int(
    obj: Mapping[str, Any],
    key: str,
    *,
    optional: bool = False,
    path: str = "",
    most: int = INT64_MAX,
) -> int | None:
    name = f"{path}{key}"
    if key not in obj:
        if optional:
            return None
        raise _FieldError(name, "missing")
    value = obj[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(name, f"must be an integer, got {type(value).__name__}")
    if value < 0:
        raise _FieldError(name, "must not be negative")
    if value > most:
        what = {INT64_MAX: " (a 64-bit integer)", TRACE_SPAN_MAX_NS: " ns (a week)"}.get(most, "")
        raise _FieldError(name, f"must be at most {most}{what}")
    return value


def _top_int(obj: Mapping[str, Any], key: str) -> int | None:
    return _int(obj, key, optional=True, most=INT_FIELD_MAX[key])


def _str(obj: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    if key not in obj:
        if optional:
            return None
        raise _FieldError(key, "missing")
    value = obj[key]
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _FieldError(key, f"must be a string, got {type(value).__name__}")
    return value


def _enum(obj: Mapping[str, Any], key: str, enum: type[_E]) -> _E:
    raw = _str(obj, key) or ""
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise _FieldError(key, f"{raw!r} is not one of {allowed}") from None


def _chunks(raw: Any) -> tuple[Chunk, ...]:
    if not isinstance(raw, list):
        raise _FieldError("chunks", "must be a list")
    out: list[Chunk] = []
    previous = -1
    total = 0
    for i, item in enumerate(raw):
        path = f"chunks[{i}]"
        if isinstance(item, list):
            if len(item) != 2:
                raise _FieldError(path, "must be [t_ns, tokens]")
            obj: Any = {"t_ns": item[0], "tokens": item[1]}
        else:
            obj = item
        if not isinstance(obj, dict):
            raise _FieldError(path, "must be an object or a [t_ns, tokens] pair")
        t_ns = _int(obj, "t_ns", path=f"{path}.", most=TRACE_SPAN_MAX_NS)
        tokens = _int(obj, "tokens", path=f"{path}.", most=MAX_CHUNK_TOKENS)
        assert t_ns is not None and tokens is not None
        total += tokens
        if total > INT32_MAX:
            raise _FieldError(path, f"more than {INT32_MAX} tokens in all")
        kind_raw = obj.get("kind", "content")
        try:
            kind = ChunkKind(kind_raw)
        except ValueError:
            raise _FieldError(f"{path}.kind", f"{kind_raw!r} is not content or reasoning") from None
        text = obj.get("text")
        if text is not None and not isinstance(text, str):
            raise _FieldError(f"{path}.text", "must be a string")
        if t_ns < previous:
            raise _FieldError(
                f"{path}.t_ns", f"{t_ns} is earlier than the previous chunk ({previous})"
            )
        previous = t_ns
        out.append(Chunk(t_ns=t_ns, tokens=tokens, kind=kind, text=text))
    return tuple(out)


def _phases(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise _FieldError("phases_ns", "must be an object")
    out: dict[str, int] = {}
    for key in raw:
        value = _int(raw, key, optional=True, path="phases_ns.")
        if value is not None:
            out[str(key)] = value
    return out


def _usage(raw: Any) -> dict[str, int | None] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _FieldError("usage", "must be an object or null")
    return {str(k): _int(raw, k, optional=True, path="usage.") for k in raw}


def _seconds(value: Any, path: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(path, "must be a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise _FieldError(path, "must be a positive number of seconds")
    if not low <= value <= high:
        raise _FieldError(path, f"{value:g} s is outside {low:g}..{high:g} s")
    return float(value)


def _deadlines(raw: Any) -> Deadlines | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _FieldError("deadlines", "must be an object")
    prefill = raw.get("prefill_s")
    decode = raw.get("decode_s", [])
    if not isinstance(decode, list):
        raise _FieldError("deadlines.decode_s", "must be a list of seconds")
    return Deadlines(
        prefill_s=None
        if prefill is None
        else _seconds(
            prefill, "deadlines.prefill_s", PREFILL_DEADLINE_MIN_S, PREFILL_DEADLINE_MAX_S
        ),
        decode_s=tuple(
            _seconds(v, f"deadlines.decode_s[{i}]", DECODE_DEADLINE_MIN_S, DECODE_DEADLINE_MAX_S)
            for i, v in enumerate(decode)
        ),
    )


def _started_at(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise _FieldError("started_at", "must be an ISO-8601 UTC timestamp string")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _FieldError("started_at", f"{raw!r} is not an ISO-8601 timestamp") from None
    if value.tzinfo is None:
        raise _FieldError("started_at", "needs a timezone (end it with Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise _FieldError("started_at", f"{raw!r} is outside the calendar") from None
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise _FieldError("started_at", f"year {value.year} is outside {YEAR_MIN}..{YEAR_MAX}")
    return value


def _client(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise _FieldError("client", "must be an object")
    out: dict[str, int] = {}
    for key, value in raw.items():
        if isinstance(value, int) and not isinstance(value, bool):
            checked = _int(raw, key, path="client.")
            assert checked is not None
            out[str(key)] = checked
    return out


def _meta(raw: Any) -> dict[str, Any] | None:
    """Vendor extras, verbatim, but storable: no NaN or infinity (not JSON; PostgreSQL refuses
    them) and at most `META_DEPTH_MAX` levels deep."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _FieldError("meta", "must be an object")
    stack: list[tuple[Any, str, int]] = [(raw, "meta", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise _FieldError(where, f"{value} is not a JSON number")
        if isinstance(value, dict | list):
            if depth > META_DEPTH_MAX:
                raise _FieldError(where, f"nested deeper than {META_DEPTH_MAX} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((v, f"{where}.{k}", depth + 1) for k, v in items)
    return raw


def _minimal(obj: Mapping[str, Any]) -> Trace:
    return Trace(
        probe_id=_str(obj, "probe_id") or "",
        prompt_tokens=_top_int(obj, "prompt_tokens"),
        chunks=_chunks(obj.get("chunks", None)),
        deadlines=_deadlines(obj.get("deadlines")),
        minimal=True,
    )


def _full(obj: Mapping[str, Any]) -> Trace:
    version = obj["format"]
    if version not in FORMATS:
        raise _FieldError("format", f"{version!r} is not one of {', '.join(FORMATS)}")
    client = _client(obj.get("client"))
    meta = _meta(obj.get("meta"))
    if "started_at" not in obj:
        raise _FieldError("started_at", "missing")
    for key in ("http_status", "error", "finish_reason", "usage", "requested_prompt_tokens"):
        if key not in obj:
            raise _FieldError(key, "missing (may be null)")
    if "phases_ns" not in obj:
        raise _FieldError("phases_ns", "missing")
    trace = Trace(
        probe_id=_str(obj, "probe_id") or "",
        target=_str(obj, "target") or "",
        provider=_str(obj, "provider") or "",
        model=_str(obj, "model") or "",
        api=_str(obj, "api") or "",
        region=_str(obj, "region") or "",
        started_at=_started_at(obj["started_at"]),
        requested_prompt_tokens=_top_int(obj, "requested_prompt_tokens"),
        prompt_tokens=_top_int(obj, "prompt_tokens"),
        max_tokens=_top_int(obj, "max_tokens"),
        outcome=_enum(obj, "outcome", Outcome),
        http_status=_top_int(obj, "http_status"),
        error=_str(obj, "error", optional=True),
        finish_reason=_str(obj, "finish_reason", optional=True),
        phases_ns=_phases(obj["phases_ns"]),
        chunks=_chunks(obj.get("chunks")),
        token_count_source=_enum(obj, "token_count_source", TokenCountSource),
        usage=_usage(obj["usage"]),
        client=client,
        deadlines=_deadlines(obj.get("deadlines")),
        meta=meta,
        fluidity_scope=_scope(obj),
    )
    if version == FORMAT_V1 and _version(trace) != FORMAT_V1:
        raise _FieldError(
            "format",
            f"{FORMAT_V1!r} cannot carry token_count_source {trace.token_count_source.value!r} "
            f"or fluidity_scope {trace.fluidity_scope.value!r} (they need {FORMAT!r})",
        )
    return trace


def _scope(obj: Mapping[str, Any]) -> FluidityScope:
    if obj.get("fluidity_scope") is None:
        return FluidityScope.ANSWER
    return _enum(obj, "fluidity_scope", FluidityScope)


def _version(trace: Trace) -> str:
    """The oldest format that can hold this trace."""
    if (
        trace.token_count_source is TokenCountSource.USAGE_TOTAL
        or trace.fluidity_scope is not FluidityScope.ANSWER
    ):
        return FORMAT
    return FORMAT_V1


def decode(line: str, line_no: int = 1) -> Trace:
    """Parse one JSON line; raises `TraceFormatError` naming the line and field.

    Files should be opened with `errors="surrogateescape"` (see `open_traces`): a line with
    bytes that are not UTF-8 is then reported here, with its number, instead of ending the read.
    """
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as e:
        raise TraceFormatError(
            line_no, "(line)", f"not valid UTF-8 at character {e.start}"
        ) from None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise TraceFormatError(line_no, "(line)", f"not valid JSON: {e.msg}") from None
    except RecursionError:
        raise TraceFormatError(line_no, "(line)", "nested too deeply") from None
    except ValueError as e:  # a number of more than 4300 digits
        raise TraceFormatError(line_no, "(line)", f"not readable: {e}") from None
    if not isinstance(obj, dict):
        raise TraceFormatError(line_no, "(line)", "must be a JSON object")
    try:
        return _full(obj) if "format" in obj else _minimal(obj)
    except _FieldError as e:
        raise TraceFormatError(line_no, e.field, e.problem) from None


@dataclass(slots=True)
class ReadResult:
    traces: list[Trace]
    errors: list[TraceFormatError]


def open_traces(path: str | os.PathLike[str]) -> IO[str]:
    """Open a trace file for `read`/`iter_traces` (bad bytes become per-line errors)."""
    return open(path, encoding="utf-8", errors="surrogateescape")


def read(stream: IO[str] | Iterable[str]) -> ReadResult:
    """Read every line, collecting all bad lines instead of stopping at the first."""
    traces: list[Trace] = []
    errors: list[TraceFormatError] = []
    for line_no, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            traces.append(decode(line, line_no))
        except TraceFormatError as e:
            errors.append(e)
    return ReadResult(traces, errors)


def iter_traces(stream: IO[str] | Iterable[str]) -> Iterator[Trace]:
    """Stream traces, raising on the first bad line (for importers that must not half-load)."""
    for line_no, line in enumerate(stream, start=1):
        if line.strip():
            yield decode(line, line_no)


# --------------------------------------------------------------------------- the writer's domain


def _fits(value: int | None, most: int) -> bool:
    return value is None or 0 <= value <= most


def _json_safe(value: Any, depth: int = 1) -> Any:
    """`value` with NaN/infinities as strings and anything deeper than `META_DEPTH_MAX` as its
    JSON text, so the reader (and PostgreSQL's `json`) accept it."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # "NaN", "Infinity", "-Infinity"
    if isinstance(value, dict | list):
        if depth > META_DEPTH_MAX:
            return json.dumps(value, default=str)
        if isinstance(value, dict):
            return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
        return [_json_safe(v, depth + 1) for v in value]
    return value


def _needs_json_fix(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict | list):
            if depth > META_DEPTH_MAX:
                return True
            stack.extend(
                (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
            )
    return False


def conform(trace: Trace) -> Trace:
    """The trace with every field inside the range the reader accepts (the same trace, unchanged,
    when it already is).

    A vendor's number that does not fit (a 10^12-token prompt, a negative usage count, a status
    of 7 digits) becomes null and is kept as text in `meta.out_of_range.<field>`; a chunk of more
    than `MAX_CHUNK_TOKENS` is clamped (its count kept there too); deadlines out of range are
    dropped; NaN or infinity in `meta` becomes a string. Nothing the vendor sent is lost, and the
    file reads back.
    """
    dropped: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for key, most in INT_FIELD_MAX.items():
        value = getattr(trace, key)
        if not _fits(value, most):
            dropped[key] = str(value)
            changes[key] = None
    if trace.usage is not None and not all(_fits(v, INT64_MAX) for v in trace.usage.values()):
        usage: dict[str, int | None] = {}
        for k, v in trace.usage.items():
            if _fits(v, INT64_MAX):
                usage[k] = v
            else:
                usage[k] = None
                dropped[f"usage.{k}"] = str(v)
        changes["usage"] = usage
    for name in ("phases_ns", "client"):
        values: Mapping[str, int] = getattr(trace, name)
        if not all(_fits(v, INT64_MAX) for v in values.values()):
            dropped.update(
                {f"{name}.{k}": str(v) for k, v in values.items() if not _fits(v, INT64_MAX)}
            )
            changes[name] = {k: v for k, v in values.items() if _fits(v, INT64_MAX)}
    counts = [c.tokens for c in trace.chunks]
    if counts and (max(counts) > MAX_CHUNK_TOKENS or min(counts) < 0):
        for i, c in enumerate(trace.chunks):
            if not 0 <= c.tokens <= MAX_CHUNK_TOKENS:
                dropped[f"chunks[{i}].tokens"] = str(c.tokens)
        changes["chunks"] = tuple(
            replace(c, tokens=min(max(c.tokens, 0), MAX_CHUNK_TOKENS)) for c in trace.chunks
        )
    d = trace.deadlines
    if d is not None and not (
        (d.prefill_s is None or PREFILL_DEADLINE_MIN_S <= d.prefill_s <= PREFILL_DEADLINE_MAX_S)
        and all(DECODE_DEADLINE_MIN_S <= v <= DECODE_DEADLINE_MAX_S for v in d.decode_s)
    ):
        dropped["deadlines"] = repr((d.prefill_s, d.decode_s))
        changes["deadlines"] = None
    meta = trace.meta
    if meta is not None and _needs_json_fix(meta):
        meta = _json_safe(dict(meta))
    if dropped:
        meta = dict(meta or {})
        previous = meta.get(OUT_OF_RANGE)
        meta[OUT_OF_RANGE] = {**(previous if isinstance(previous, dict) else {}), **dropped}
    if meta is not trace.meta:
        changes["meta"] = meta
    return replace(trace, **changes) if changes else trace


# --------------------------------------------------------------------------- encoding


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chunk_to_dict(c: Chunk) -> dict[str, Any]:
    obj: dict[str, Any] = {"t_ns": c.t_ns, "tokens": c.tokens, "kind": c.kind.value}
    if c.text is not None:
        obj["text"] = c.text
    return obj


def _deadlines_obj(d: Deadlines) -> dict[str, Any]:
    return {"prefill_s": d.prefill_s, "decode_s": list(d.decode_s)}


def to_dict(trace: Trace) -> dict[str, Any]:
    """The JSON object of a trace, `conform`ed: whatever holds it (a trace file, the spool) reads
    back."""
    trace = conform(trace)
    if trace.minimal:
        obj: dict[str, Any] = {
            "probe_id": trace.probe_id,
            "prompt_tokens": trace.prompt_tokens,
            "chunks": [[c.t_ns, c.tokens] for c in trace.chunks],
        }
        if trace.deadlines is not None:
            obj["deadlines"] = _deadlines_obj(trace.deadlines)
        return obj
    obj = {
        "format": _version(trace),
        "probe_id": trace.probe_id,
        "target": trace.target,
        "provider": trace.provider,
        "model": trace.model,
        "api": trace.api,
        "region": trace.region,
        "started_at": _iso(trace.started_at or datetime.fromtimestamp(0, UTC)),
        "requested_prompt_tokens": trace.requested_prompt_tokens,
        "prompt_tokens": trace.prompt_tokens,
        "max_tokens": trace.max_tokens,
        "outcome": trace.outcome.value,
        "http_status": trace.http_status,
        "error": trace.error,
        "finish_reason": trace.finish_reason,
        "phases_ns": dict(trace.phases_ns),
        "chunks": [chunk_to_dict(c) for c in trace.chunks],
        "token_count_source": trace.token_count_source.value,
        "usage": None if trace.usage is None else dict(trace.usage),
        "client": dict(trace.client),
    }
    if trace.deadlines is not None:
        obj["deadlines"] = _deadlines_obj(trace.deadlines)
    if trace.meta is not None:
        obj["meta"] = dict(trace.meta)
    if trace.fluidity_scope is not FluidityScope.ANSWER:
        obj["fluidity_scope"] = trace.fluidity_scope.value
    return obj


def encode(trace: Trace) -> str:
    """One line of JSON, no trailing newline; non-ASCII text is kept as is.

    The trace is `conform`ed (by `to_dict`), so `decode(encode(t))` never fails. Text that is
    not valid Unicode (a lone surrogate from a vendor's `\\ud800` escape) is written as a JSON
    escape instead, which reads back as the same string.
    """
    obj = to_dict(trace)
    line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return line


def write(traces: Iterable[Trace], stream: IO[str]) -> int:
    count = 0
    for trace in traces:
        stream.write(encode(trace))
        stream.write("\n")
        count += 1
    return count


def dumps(traces: Iterable[Trace]) -> str:
    buffer = io.StringIO()
    write(traces, buffer)
    return buffer.getvalue()
