"""The one message each way between the core and a probe worker (`etalon-plane/1`).

A frame is a 4-byte big-endian length and that many bytes of UTF-8. Its first line is a compact
JSON object, the header, with the schema version `v` and a `kind`; a `trace` frame carries a
second line, the finished probe as one `etalon-trace/1` line of the existing JSONL codec
(`monitor.trace`), so a trace crosses the boundary exactly as `export` writes it.

core → worker
    `job`     a probe to run: `probe_id`, `target_name`, `target` (the config `Target` as JSON: the
              *name* of the key's environment variable, never the key), `region`, `prompt`
              (`text`, `tokens`, `tokenizer`, `nonce`: built by the core), `max_tokens` (null: the
              target's), `keep_text`.
    `cancel`  stop probe `probe_id` (the scheduler gave up on it); no trace comes back.
    `stop`    take no more jobs, finish those in flight, exit.
worker → core
    `hello`   `pid`: the worker is ready.
    `beat`    every heartbeat: `lag_max_ns` (worst loop lag since the last beat), `in_flight`.
    `trace`   `probe_id`, then the trace line. Its `client.loop_lag_max_ns` is the lag of the loop
              that stamped it.

Everything here is pure and small so the same worker can later be fed from another host. A frame
longer than `MAX_FRAME` or a header that is not this version is a `MessageError`, never a guess.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, replace
from typing import Any, Final

from monitor.config import Target
from monitor.probe.prompts import Prompt
from monitor.trace import Trace, chunk_to_dict, decode, encode, to_dict

SCHEMA: Final = "etalon-plane/1"
VERSION: Final = 1
MAX_FRAME: Final = 64 * 1024 * 1024
"""A frame bigger than this is refused (a 200 000-token prompt is ~1.2 MB)."""
ENCODE_SLICE_CHUNKS: Final = 64
"""Chunks encoded between yields to the loop (~50 µs, one parse slice; see `encode_trace`)."""
_LENGTH = struct.Struct(">I")


class MessageError(ValueError):
    """A frame that is not a valid `etalon-plane/1` message; says what is wrong."""


@dataclass(frozen=True, slots=True)
class Job:
    """One probe for a worker: everything it needs, nothing secret."""

    probe_id: str
    target_name: str
    target: Target
    region: str
    prompt: Prompt
    max_tokens: int | None = None
    keep_text: bool = True


@dataclass(frozen=True, slots=True)
class Beat:
    lag_max_ns: int
    in_flight: int


# --------------------------------------------------------------------------- frames


def frame(header: dict[str, Any], payload: str | None = None) -> bytes:
    """Length prefix + header line (+ newline + payload line)."""
    text = json.dumps({"v": VERSION, **header}, ensure_ascii=False, separators=(",", ":"))
    if payload is not None:
        text = f"{text}\n{payload}"
    body = text.encode("utf-8")
    if len(body) > MAX_FRAME:
        raise MessageError(f"frame of {len(body)} bytes is over the {MAX_FRAME}-byte limit")
    return _LENGTH.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], str | None] | None:
    """The next frame's header and payload; None at a clean end of stream."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise MessageError("stream ended inside a frame length") from None
    (size,) = _LENGTH.unpack(head)
    if size > MAX_FRAME:
        raise MessageError(f"frame of {size} bytes is over the {MAX_FRAME}-byte limit")
    try:
        body = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise MessageError("stream ended inside a frame") from None
    return parse_frame(body)


def parse_frame(body: bytes) -> tuple[dict[str, Any], str | None]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MessageError(f"frame is not UTF-8 at byte {e.start}") from None
    line, sep, payload = text.partition("\n")
    try:
        header = json.loads(line)
    except json.JSONDecodeError as e:
        raise MessageError(f"frame header is not JSON: {e.msg}") from None
    if not isinstance(header, dict):
        raise MessageError("frame header must be a JSON object")
    if header.get("v") != VERSION:
        raise MessageError(f"frame version {header.get('v')!r} is not {VERSION} ({SCHEMA})")
    if not isinstance(header.get("kind"), str):
        raise MessageError("frame header has no kind")
    return header, (payload if sep else None)


# --------------------------------------------------------------------------- jobs


def job_header(job: Job) -> dict[str, Any]:
    p = job.prompt
    return {
        "kind": "job",
        "probe_id": job.probe_id,
        "target_name": job.target_name,
        "target": job.target.model_dump(mode="json"),
        "region": job.region,
        "prompt": {"text": p.text, "tokens": p.tokens, "tokenizer": p.tokenizer, "nonce": p.nonce},
        "max_tokens": job.max_tokens,
        "keep_text": job.keep_text,
    }


def job_from_header(header: dict[str, Any]) -> Job:
    try:
        prompt = header["prompt"]
        max_tokens = header["max_tokens"]
        if max_tokens is not None and not isinstance(max_tokens, int):
            raise MessageError("job.max_tokens must be an integer or null")
        return Job(
            probe_id=_text(header, "probe_id"),
            target_name=_text(header, "target_name"),
            target=Target.model_validate(header["target"]),
            region=_text(header, "region"),
            prompt=Prompt(
                text=_text(prompt, "text"),
                tokens=int(prompt["tokens"]),
                tokenizer=_text(prompt, "tokenizer"),
                nonce=_text(prompt, "nonce"),
            ),
            max_tokens=max_tokens,
            keep_text=bool(header["keep_text"]),
        )
    except MessageError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise MessageError(f"bad job: {type(e).__name__}: {str(e)[:200]}") from None


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise MessageError(f"job.{key} must be a string")
    return value


# --------------------------------------------------------------------------- traces


async def encode_trace(trace: Trace, slice_chunks: int = ENCODE_SLICE_CHUNKS) -> str:
    """The trace as one `etalon-trace/1` line, yielding to the loop between slices of chunks.

    `monitor.trace.encode` of a 1 000-chunk trace is ~0.7 ms in one go, far more than a parse
    slice, and it runs on the worker's stamping loop while other streams are open. The line is the
    same object (`chunks` last), so `monitor.trace.decode` reads it unchanged.
    """
    if trace.minimal:
        return encode(trace)  # never from the prober; the plain codec is fine for tests
    head = to_dict(replace(trace, chunks=()))
    head.pop("chunks")
    parts: list[str] = []
    chunks = trace.chunks
    for i in range(0, len(chunks), slice_chunks):
        part = [chunk_to_dict(c) for c in chunks[i : i + slice_chunks]]
        parts.append(json.dumps(part, ensure_ascii=False, separators=(",", ":"))[1:-1])
        if i + slice_chunks < len(chunks):
            await asyncio.sleep(0)
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    return f'{text[:-1]},"chunks":[{",".join(parts)}]}}'


def trace_frame(probe_id: str, line: str) -> bytes:
    return frame({"kind": "trace", "probe_id": probe_id}, line)


def trace_from_payload(payload: str | None) -> Trace:
    if payload is None:
        raise MessageError("trace frame without its trace line")
    return decode(payload)
