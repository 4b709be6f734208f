"""Hostile numbers in trace files (issue 14): line errors, never wrong output or tracebacks; and
every trace the tool can hold is written so that it reads back (`conform` on write).

Bounds come from `monitor.limits`: chunk tokens <= 32767 (smallint), top-level counts <= 2^31-1
(integer), chunk times <= a week in ns, decode deadlines 0.001..60 s, prefill 0.001..3600 s,
`started_at` in years 1970..9998, `meta` at most 32 levels deep and without NaN/Infinity.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from monitor import trace as codec
from monitor.cli import app
from monitor.trace import OUT_OF_RANGE, Chunk, Deadlines, Trace
from tests.factories import make_trace

runner = CliRunner()


def _minimal(**fields: object) -> str:
    obj: dict[str, object] = {"probe_id": "h", "prompt_tokens": 256}
    obj["chunks"] = [[100_000_000, 1], [125_000_000, 1]]
    obj.update(fields)
    return json.dumps(obj)


def _full(**fields: object) -> str:
    obj = codec.to_dict(make_trace("h"))
    obj.update(fields)
    return json.dumps(obj)


DEEP = '{"probe_id":"h","chunks":[],"x":' + "[" * 100_000 + "]" * 100_000 + "}"

# name → (one line, the line error analyze must print)
CASES: dict[str, tuple[str, str]] = {
    "token counts of 2^62": (
        _minimal(chunks=[[1, 2**62], [2, 2**62], [3, 2**62]]),
        "line 1: chunks[0].tokens: must be at most 32767",
    ),
    "arrays nested 100k deep": (DEEP, "line 1: (line): nested too deeply"),
    "a 5000-digit integer": (
        '{"probe_id":"h","prompt_tokens":' + "9" * 5000 + ',"chunks":[]}',
        "line 1: (line): not readable",
    ),
    "prompt_tokens 10^12": (
        _minimal(prompt_tokens=10**12),
        "line 1: prompt_tokens: must be at most 2147483647",
    ),
    "decode deadline 1e300": (
        _minimal(deadlines={"prefill_s": None, "decode_s": [1e300]}),
        "line 1: deadlines.decode_s[0]: 1e+300 s is outside 0.001..60 s",
    ),
    "prefill deadline 1e300": (
        _minimal(deadlines={"prefill_s": 1e300, "decode_s": [0.025]}),
        "line 1: deadlines.prefill_s: 1e+300 s is outside 0.001..3600 s",
    ),
    "decode deadline 1e-12": (
        _minimal(deadlines={"prefill_s": None, "decode_s": [1e-12]}),
        "line 1: deadlines.decode_s[0]: 1e-12 s is outside 0.001..60 s",
    ),
    "prefill deadline 1e-12": (
        _minimal(deadlines={"prefill_s": 1e-12, "decode_s": [0.025]}),
        "line 1: deadlines.prefill_s: 1e-12 s is outside 0.001..3600 s",
    ),
    "chunk a year after the request": (
        _minimal(chunks=[[1, 1], [365 * 86400 * 10**9, 1]]),
        "line 1: chunks[1].t_ns: must be at most 604800000000000 ns (a week)",
    ),
    "tokens past 2^31 in all": (
        _minimal(chunks=[[i, 32767] for i in range(65540)]),
        # 65539 chunks: 32767 · 65539 = 2147516413 > 2^31 - 1 (65538 of them, 2147483646, fit)
        "line 1: chunks[65538]: more than 2147483647 tokens in all",
    ),
    "year 9999": (
        _full(started_at="9999-12-31T12:00:00.000000Z"),
        "line 1: started_at: year 9999 is outside 1970..9998",
    ),
    "year 9999 at the calendar's end": (
        _full(started_at="9999-12-31T23:59:59-05:00"),
        "line 1: started_at: '9999-12-31T23:59:59-05:00' is outside the calendar",
    ),
    "HTTP status of seven digits": (
        _full(http_status=2_000_000),
        "line 1: http_status: must be at most 999",
    ),
    "client number beyond 64 bits": (
        _full(client={"loop_lag_max_ns": 2**64}),
        "line 1: client.loop_lag_max_ns: must be at most 9223372036854775807",
    ),
    "NaN in meta": (
        _full(meta={"retry_after_s": math.nan}),
        "line 1: meta.retry_after_s: nan is not a JSON number",
    ),
    "meta 40 levels deep": (
        _full(meta=json.loads('{"a":' + "[" * 40 + "]" * 40 + "}")),
        "nested deeper than 32 levels",
    ),
    "negative usage": (
        _full(usage={"completion_tokens": -5}),
        "line 1: usage.completion_tokens: must not be negative",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_analyze_reports_a_line_error_not_a_number_or_traceback(case: str, tmp_path: Path) -> None:
    line, message = CASES[case]
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    result = runner.invoke(app, ["analyze", str(path), "--json"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert message in " ".join(result.stderr.split()), result.stderr
    assert result.stdout == ""


def test_the_largest_accepted_numbers_score_without_overflow(tmp_path: Path) -> None:
    """At the bounds the engine's arithmetic still holds: 65538 chunks of 32767 tokens (in all
    2147483646 < 2^31) and a prompt of 2^31-1 tokens (its model deadline clamped to 3600 s)."""
    chunks = [[100_000_000 + i * 1_000_000, 32767] for i in range(65538)]
    path = tmp_path / "t.jsonl"
    path.write_text(_minimal(prompt_tokens=2**31 - 1, chunks=chunks) + "\n")
    result = runner.invoke(app, ["analyze", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (request,) = json.loads(result.stdout)["requests"]
    assert request["output_tokens"] == 65538 * 32767 == 2_147_483_646
    assert request["prefill_deadline_s"] == 3600.0


# --------------------------------------------------------------------------- the writer


def test_conform_keeps_dropped_vendor_numbers_as_text() -> None:
    hostile = make_trace(
        "v",
        prompt_tokens=10**12,
        http_status=-1,
        usage={"prompt_tokens": 10**12, "completion_tokens": -5, "cached_tokens": None},
        meta={"retry_after_s": math.nan, "limit": math.inf},
        chunks=(Chunk(t_ns=1_000, tokens=2**40),),
    )
    fixed = codec.conform(hostile)
    assert fixed.prompt_tokens is None and fixed.http_status is None
    assert fixed.usage == {
        "prompt_tokens": 10**12,
        "completion_tokens": None,
        "cached_tokens": None,
    }
    assert fixed.chunks[0].tokens == 32767
    assert fixed.meta is not None
    assert fixed.meta["retry_after_s"] == "NaN" and fixed.meta["limit"] == "Infinity"
    assert fixed.meta[OUT_OF_RANGE] == {
        "prompt_tokens": str(10**12),
        "http_status": "-1",
        "usage.completion_tokens": "-5",
        "chunks[0].tokens": str(2**40),
    }
    assert codec.conform(fixed) is fixed  # already in range: the same object
    assert codec.decode(codec.encode(hostile)) == fixed


_ints = st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70))
_floats = st.floats(allow_nan=True, allow_infinity=True)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), _floats, st.integers(-(2**70), 2**70), st.text()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=40,
)
_text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["\ud800", "\x00"]))


@st.composite
def _vendor_traces(draw: st.DrawFn) -> Trace:
    """What a hostile vendor can put in a trace: every number and text it reports. Times come
    from the prober's clock (non-decreasing, within the request), so they stay realistic."""
    gaps = draw(st.lists(st.integers(0, 10**9), max_size=6))
    times = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    chunks = tuple(
        Chunk(t_ns=t, tokens=draw(st.integers(0, 2**64)), text=draw(st.none() | _text))
        for t in times
    )
    deadlines = draw(
        st.none()
        | st.builds(
            Deadlines,
            prefill_s=st.none() | st.floats(1e-15, 1e300),
            decode_s=st.lists(st.floats(1e-15, 1e300), max_size=3).map(tuple),
        )
    )
    base = make_trace("p", started_at=datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC))
    return replace(
        base,
        chunks=chunks,
        prompt_tokens=draw(_ints),
        requested_prompt_tokens=draw(_ints),
        max_tokens=draw(_ints),
        http_status=draw(_ints),
        model=draw(_text),
        error=draw(st.none() | _text),
        usage=draw(st.none() | st.dictionaries(st.text(max_size=8), _ints, max_size=4)),
        phases_ns=draw(st.dictionaries(st.text(max_size=8), st.integers(0, 2**70), max_size=3)),
        client=draw(st.dictionaries(st.text(max_size=8), st.integers(0, 2**70), max_size=2)),
        meta=draw(st.none() | st.dictionaries(st.text(max_size=8), _json, max_size=4)),
        deadlines=deadlines,
    )


@settings(max_examples=300, deadline=None)
@given(_vendor_traces())
def test_every_trace_written_reads_back(trace: Trace) -> None:
    """`decode(encode(t))` never fails, and writing what was read changes nothing."""
    line = codec.encode(trace)
    line.encode("utf-8")  # the file is UTF-8: no lone surrogate reaches it raw
    read = codec.decode(line)
    assert codec.encode(read) == line
    assert read.prompt_tokens == codec.conform(trace).prompt_tokens
    assert read.output_tokens == codec.conform(trace).output_tokens
