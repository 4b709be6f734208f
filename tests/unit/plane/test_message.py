"""The `etalon-plane/1` boundary: a job and a trace come out exactly as they went in.

The property tests push generated jobs and traces through the real frames (length prefix, header
line, trace line) and a real `asyncio.StreamReader`; the rest checks that bad frames are named
errors, not guesses.
"""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import Target
from monitor.limits import (
    DECODE_DEADLINE_MAX_S,
    DECODE_DEADLINE_MIN_S,
    INT32_MAX,
    PREFILL_DEADLINE_MAX_S,
    PREFILL_DEADLINE_MIN_S,
    TRACE_SPAN_MAX_NS,
)
from monitor.plane.message import (
    MAX_FRAME,
    Job,
    MessageError,
    encode_trace,
    frame,
    job_from_header,
    job_header,
    parse_frame,
    read_frame,
    trace_frame,
    trace_from_payload,
)
from monitor.probe.prompts import Prompt
from monitor.trace import (
    INT64_MAX,
    MAX_CHUNK_TOKENS,
    Chunk,
    ChunkKind,
    Deadlines,
    Outcome,
    TokenCountSource,
    Trace,
    encode,
)

ints = st.integers(min_value=0, max_value=INT64_MAX)
texts = st.text(max_size=40)  # any unicode, newlines and quotes included
names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,12}", fullmatch=True)
# in the trace format's ranges (monitor.limits): what the codec writes unchanged
decode_seconds = st.floats(DECODE_DEADLINE_MIN_S, DECODE_DEADLINE_MAX_S, allow_nan=False)
prefill_seconds = st.floats(PREFILL_DEADLINE_MIN_S, PREFILL_DEADLINE_MAX_S, allow_nan=False)
int32s = st.integers(min_value=0, max_value=INT32_MAX)
chunk_times = st.integers(min_value=0, max_value=TRACE_SPAN_MAX_NS)
model_names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
).filter(str.strip)  # model names: not blank, no control characters


def read_back(data: bytes) -> tuple[dict[str, object], str | None] | None:
    async def go() -> tuple[dict[str, object], str | None] | None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_frame(reader)

    return asyncio.run(go())


@st.composite
def chunk_lists(draw: st.DrawFn) -> tuple[Chunk, ...]:
    times = sorted(draw(st.lists(chunk_times, max_size=150)))
    return tuple(
        Chunk(
            t_ns=t,
            tokens=draw(st.integers(0, MAX_CHUNK_TOKENS)),
            kind=draw(st.sampled_from(ChunkKind)),
            text=draw(st.none() | texts),
        )
        for t in times
    )


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    micros = draw(st.integers(0, 10**15))
    json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts
    return Trace(
        probe_id=draw(texts),
        chunks=draw(chunk_lists()),
        prompt_tokens=draw(st.none() | int32s),
        target=draw(texts),
        provider=draw(texts),
        model=draw(texts),
        api=draw(texts),
        region=draw(texts),
        started_at=datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros),
        requested_prompt_tokens=draw(st.none() | int32s),
        max_tokens=draw(st.none() | int32s),
        outcome=draw(st.sampled_from(Outcome)),
        http_status=draw(st.none() | st.integers(100, 599)),
        error=draw(st.none() | texts),
        finish_reason=draw(st.none() | texts),
        phases_ns=draw(st.dictionaries(texts, ints, max_size=5)),
        token_count_source=draw(st.sampled_from(TokenCountSource)),
        usage=draw(st.none() | st.dictionaries(texts, st.none() | ints, max_size=4)),
        client=draw(st.dictionaries(texts, ints, max_size=3)),
        deadlines=draw(
            st.none()
            | st.builds(
                Deadlines,
                st.none() | prefill_seconds,
                st.lists(decode_seconds, max_size=3).map(tuple),
            )
        ),
        meta=draw(st.none() | st.dictionaries(texts, json_scalars, max_size=4)),
    )


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    target = Target(
        provider="simulator",
        base_url=f"http://127.0.0.1:{draw(st.integers(1, 65535))}/v1",
        model=draw(model_names),
        api=draw(st.none() | st.sampled_from(["openai-chat", "openai-completions", "anthropic"])),
        api_key_env=draw(st.none() | st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True)),
        concurrency=draw(st.integers(1, 512)),
        workloads={"prompt_tokens": [draw(st.integers(16, 200_000))]},
        deadlines={"decode_s": draw(st.lists(decode_seconds, min_size=1, max_size=3))},
        params=draw(st.dictionaries(names, st.integers() | texts, max_size=3)),
    )
    return Job(
        probe_id=draw(texts),
        target_name=draw(names),
        target=target,
        region=draw(names),
        prompt=Prompt(draw(texts), draw(st.integers(1, 200_000)), draw(texts), draw(texts)),
        max_tokens=draw(st.none() | st.integers(1, 32768)),
        keep_text=draw(st.booleans()),
    )


@settings(max_examples=100, deadline=None)
@given(traces())
def test_a_trace_survives_the_boundary_unchanged(trace: Trace) -> None:
    line = asyncio.run(encode_trace(trace, slice_chunks=7))
    message = read_back(trace_frame(trace.probe_id, line))
    assert message is not None
    header, payload = message
    assert header == {"v": 1, "kind": "trace", "probe_id": trace.probe_id}
    assert trace_from_payload(payload) == trace


@settings(max_examples=100, deadline=None)
@given(jobs())
def test_a_job_survives_the_boundary_unchanged(job: Job) -> None:
    message = read_back(frame(job_header(job)))
    assert message is not None
    header, payload = message
    assert payload is None
    assert job_from_header(header) == job


def test_the_sliced_encoding_is_the_codec_line_up_to_key_order() -> None:
    trace = Trace(
        "p1",
        tuple(Chunk(i * 1000, 1, text="é\n") for i in range(200)),
        16,
        target="t",
        started_at=datetime(2026, 11, 29, tzinfo=UTC),
        deadlines=Deadlines(0.5, (0.025,)),
    )
    sliced = json.loads(asyncio.run(encode_trace(trace)))
    assert sliced == json.loads(encode(trace))
    assert list(sliced)[-1] == "chunks"


def test_a_job_carries_the_key_variable_name_never_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VENDOR_KEY", "sk-secret-123")
    target = Target(provider="openai", model="m", api_key_env="VENDOR_KEY")
    job = Job("p", "t", target, "eu", Prompt("hi", 1, "builtin", "n"))
    text = frame(job_header(job))[4:].decode()
    assert '"api_key_env":"VENDOR_KEY"' in text
    assert "sk-secret-123" not in text  # the worker resolves the key from its own environment


def test_frames_end_cleanly_only_between_frames() -> None:
    assert read_back(b"") is None
    whole = frame({"kind": "stop"})
    with pytest.raises(MessageError, match="inside a frame length"):
        read_back(whole[:2])
    with pytest.raises(MessageError, match="inside a frame"):
        read_back(whole[:-1])


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff\xfe", "not UTF-8 at byte 0"),
        (b"{nope", "header is not JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"v":2,"kind":"job"}', "version 2 is not 1"),
        (b'{"v":1}', "no kind"),
    ],
)
def test_a_bad_frame_is_a_named_error(body: bytes, problem: str) -> None:
    with pytest.raises(MessageError, match=problem):
        parse_frame(body)


def test_an_oversized_frame_is_refused_before_it_is_read() -> None:
    with pytest.raises(MessageError, match="over the"):
        read_back(struct.pack(">I", MAX_FRAME + 1) + b"x")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"probe_id": 7}, "probe_id must be a string"),
        ({"max_tokens": "many"}, "max_tokens must be an integer"),
        ({"target": {"model": "m", "provider": "nope"}}, "bad job: ValidationError"),
        ({"prompt": {}}, "bad job: KeyError"),
    ],
)
def test_a_bad_job_is_a_named_error(change: dict[str, object], problem: str) -> None:
    target = Target(provider="openai", model="m")
    header = {**job_header(Job("p", "t", target, "eu", Prompt("hi", 1, "b", "n"))), **change}
    with pytest.raises(MessageError, match=problem):
        job_from_header(header)
