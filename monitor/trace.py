"""The `Trace` record and its JSON Lines codec (`etalon-trace/1`).

A trace is everything one probe observed, in integer nanoseconds since the request started, so any
metric can be recomputed later. It is the one data shape that crosses package lines: the prober
produces it, the store keeps it, `analyze` and `export` read and write it.

The reader is strict about the full form (every field the format shows is required) so a broken
exporter is caught at import time, and lenient about the minimal form
`{"probe_id", "prompt_tokens", "chunks": [[t_ns, tokens], ...]}` so traces from other tools can be
scored. Every problem names its line and field, and the reader reports all of them, not the first.
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

FORMAT: Final = "etalon-trace/1"
INT64_MAX: Final = 2**63 - 1
"""Integers are stored as PostgreSQL `bigint` and scored as numpy int64."""
MAX_CHUNK_TOKENS: Final = 32767
"""The most tokens one chunk may carry (the store keeps counts as `smallint`)."""
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
    WORKER_LOST = "worker_lost"
    """The probe worker process running it died or stopped answering (`monitor.plane`)."""


class ChunkKind(StrEnum):
    CONTENT = "content"
    REASONING = "reasoning"


class TokenCountSource(StrEnum):
    """Where per-chunk token counts came from, best first."""

    USAGE_CONTINUOUS = "usage-continuous"
    TOKEN_ID = "token-id"
    TOKENIZER = "tokenizer"
    CHUNK = "chunk"


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
    minimal: bool = False
    """Read from the minimal form; written back in the same form."""

    @property
    def content_chunks(self) -> tuple[Chunk, ...]:
        """Chunks that carry answer text; reasoning is tracked apart and not scored."""
        return tuple(c for c in self.chunks if c.kind is ChunkKind.CONTENT)

    @property
    def output_tokens(self) -> int:
        return sum(c.tokens for c in self.content_chunks)

    def failed(self, outcome: Outcome, reason: str) -> Trace:
        return replace(self, outcome=outcome, error=reason)


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


def _int(obj: Mapping[str, Any], key: str, *, optional: bool = False, path: str = "") -> int | None:
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
    if value > INT64_MAX:
        raise _FieldError(name, f"must be at most {INT64_MAX} (a 64-bit integer)")
    return value


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
        t_ns = _int(obj, "t_ns", path=f"{path}.")
        tokens = _int(obj, "tokens", path=f"{path}.")
        assert t_ns is not None and tokens is not None
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


def _seconds(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(path, "must be a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise _FieldError(path, "must be a positive number of seconds")
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
        prefill_s=None if prefill is None else _seconds(prefill, "deadlines.prefill_s"),
        decode_s=tuple(_seconds(v, f"deadlines.decode_s[{i}]") for i, v in enumerate(decode)),
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
    return value.astimezone(UTC)


def _minimal(obj: Mapping[str, Any]) -> Trace:
    return Trace(
        probe_id=_str(obj, "probe_id") or "",
        prompt_tokens=_int(obj, "prompt_tokens", optional=True),
        chunks=_chunks(obj.get("chunks", None)),
        deadlines=_deadlines(obj.get("deadlines")),
        minimal=True,
    )


def _full(obj: Mapping[str, Any]) -> Trace:
    if obj["format"] != FORMAT:
        raise _FieldError("format", f"{obj['format']!r} is not {FORMAT!r}")
    client = obj.get("client")
    if not isinstance(client, dict):
        raise _FieldError("client", "must be an object")
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise _FieldError("meta", "must be an object")
    if "started_at" not in obj:
        raise _FieldError("started_at", "missing")
    for key in ("http_status", "error", "finish_reason", "usage", "requested_prompt_tokens"):
        if key not in obj:
            raise _FieldError(key, "missing (may be null)")
    if "phases_ns" not in obj:
        raise _FieldError("phases_ns", "missing")
    return Trace(
        probe_id=_str(obj, "probe_id") or "",
        target=_str(obj, "target") or "",
        provider=_str(obj, "provider") or "",
        model=_str(obj, "model") or "",
        api=_str(obj, "api") or "",
        region=_str(obj, "region") or "",
        started_at=_started_at(obj["started_at"]),
        requested_prompt_tokens=_int(obj, "requested_prompt_tokens", optional=True),
        prompt_tokens=_int(obj, "prompt_tokens", optional=True),
        max_tokens=_int(obj, "max_tokens", optional=True),
        outcome=_enum(obj, "outcome", Outcome),
        http_status=_int(obj, "http_status", optional=True),
        error=_str(obj, "error", optional=True),
        finish_reason=_str(obj, "finish_reason", optional=True),
        phases_ns=_phases(obj["phases_ns"]),
        chunks=_chunks(obj.get("chunks")),
        token_count_source=_enum(obj, "token_count_source", TokenCountSource),
        usage=_usage(obj["usage"]),
        client={k: v for k, v in client.items() if isinstance(v, int) and not isinstance(v, bool)},
        deadlines=_deadlines(obj.get("deadlines")),
        meta=meta,
    )


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
        "format": FORMAT,
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
    return obj


def encode(trace: Trace) -> str:
    """One line of JSON, no trailing newline; non-ASCII text is kept as is."""
    return json.dumps(to_dict(trace), ensure_ascii=False, separators=(",", ":"))


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
