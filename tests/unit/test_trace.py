"""The trace codec (`etalon-trace/2`, reads `/1`): round trips, errors naming line and field."""

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from monitor import trace as codec
from monitor.metrics.analysis import build_table
from monitor.trace import Chunk, ChunkKind, FluidityScope, Outcome, TokenCountSource, Trace

DATA = Path(__file__).parents[1] / "data" / "traces"


def test_full_form_round_trips_byte_for_byte() -> None:
    text = (DATA / "full.jsonl").read_text()
    result = codec.read(io.StringIO(text))
    assert result.errors == []
    assert codec.dumps(result.traces) == text


def test_full_form_fields_are_typed() -> None:
    first, second = codec.read((DATA / "full.jsonl").open()).traces
    assert first.started_at is not None and first.started_at.microsecond == 123456
    assert first.token_count_source is TokenCountSource.USAGE_CONTINUOUS
    assert [c.tokens for c in first.chunks] == [1, 3]
    assert first.output_tokens == 4
    assert first.deadlines is not None and first.deadlines.decode_s == (0.025, 0.05, 0.1)
    assert second.outcome is Outcome.RATE_LIMITED
    assert second.meta == {"retry_after": "7"}


def test_minimal_form_is_read_and_written_back_minimal() -> None:
    line = '{"probe_id":"x","prompt_tokens":256,"chunks":[[100,1],[130,3]]}'
    t = codec.decode(line)
    assert t.minimal and t.outcome is Outcome.OK
    assert codec.encode(t) == line


def test_every_bad_line_is_reported_with_line_and_field() -> None:
    result = codec.read((DATA / "bad.jsonl").open())
    assert [t.probe_id for t in result.traces] == ["ok-1", "ok-2"]
    assert [(e.line, e.field) for e in result.errors] == [
        (2, "chunks[1].t_ns"),
        (3, "(line)"),
        (4, "chunks[0].tokens"),
        (5, "outcome"),
    ]
    assert "earlier than the previous chunk" in str(result.errors[0])
    assert str(result.errors[3]).startswith("line 5: outcome: 'fine' is not one of ok,")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"prompt_tokens":1,"chunks":[]}', "probe_id"),
        ('{"probe_id":"x","chunks":[[1,-1]]}', "chunks[0].tokens"),
        ('{"probe_id":"x","chunks":[[1]]}', "chunks[0]"),
        (
            '{"probe_id":"x","chunks":[]," deadlines":1,"deadlines":{"decode_s":[0]}}',
            "deadlines.decode_s[0]",
        ),
        ("[1,2]", "(line)"),
    ],
)
def test_single_line_errors(line: str, field: str) -> None:
    with pytest.raises(codec.TraceFormatError) as e:
        codec.decode(line, 7)
    assert (e.value.line, e.value.field) == (7, field)


def test_full_form_requires_every_field() -> None:
    line = (
        (DATA / "full.jsonl")
        .read_text()
        .splitlines()[0]
        .replace('"client":{"loop_lag_max_ns":310000},', "")
    )
    with pytest.raises(codec.TraceFormatError, match="client"):
        codec.decode(line)


def test_iter_traces_stops_at_first_bad_line() -> None:
    with pytest.raises(codec.TraceFormatError) as e:
        list(codec.iter_traces((DATA / "bad.jsonl").open()))
    assert e.value.line == 2


FIRST_LINE = (DATA / "full.jsonl").read_text().splitlines()[0]


def _v2(line: str, **changes: object) -> str:
    obj = json.loads(line)
    obj.update(changes)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def test_version_2_fields_round_trip_and_need_version_2() -> None:
    line = _v2(
        FIRST_LINE,
        format="etalon-trace/2",
        token_count_source="usage-total",
        fluidity_scope="visible",
    )
    t = codec.decode(line)
    assert t.token_count_source is TokenCountSource.USAGE_TOTAL
    assert t.fluidity_scope is FluidityScope.VISIBLE
    assert codec.encode(t) == line
    # the same fields under /1 are refused, naming the format
    with pytest.raises(codec.TraceFormatError) as err:
        codec.decode(_v2(line, format="etalon-trace/1"))
    assert err.value.field == "format" and "etalon-trace/2" in err.value.problem


def test_a_trace_version_1_can_hold_is_written_as_version_1() -> None:
    t = codec.decode(_v2(FIRST_LINE, format="etalon-trace/2"))
    assert json.loads(codec.encode(t))["format"] == "etalon-trace/1"
    assert json.loads(codec.encode(replace(t, fluidity_scope=FluidityScope.VISIBLE)))["format"] == (
        "etalon-trace/2"
    )
    with pytest.raises(codec.TraceFormatError) as err:
        codec.decode(_v2(FIRST_LINE, format="etalon-trace/3"))
    assert err.value.field == "format"


def test_scored_chunks_follow_the_fluidity_scope() -> None:
    chunks = (
        Chunk(100, 5, ChunkKind.REASONING),
        Chunk(300, 1, ChunkKind.CONTENT),
        Chunk(320, 2, ChunkKind.CONTENT),
    )
    answer = Trace("p", chunks, 10)
    visible = replace(answer, fluidity_scope=FluidityScope.VISIBLE)
    assert answer.scored_chunks == chunks[1:] and visible.scored_chunks == chunks
    assert (answer.output_tokens, answer.reasoning_tokens) == (3, 5)
    # scoring follows: TTFT is the first answer chunk (300 ns) or the first visible one (100 ns)
    table = build_table([answer, visible])
    assert table.ttft_ns.tolist() == [300, 100]
    assert table.output_tokens.tolist() == [3, 8]
