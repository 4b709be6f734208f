"""`export` → `import` round-trips losslessly (byte for byte); importing twice changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor import trace as trace_codec
from monitor.cli import app
from monitor.store import Store
from monitor.trace import Trace
from tests.factories import (
    REASONING_USED_DEADLINES,
    T0,
    make_trace,
    reasoning_trace,
    trace_stream,
)

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", database_url)


def _traces() -> list[Trace]:
    traces = list(trace_stream(40, every=timedelta(hours=3)))  # spans 5 days: 5 partitions
    traces.append(reasoning_trace(started_at=T0 + timedelta(days=6)))
    traces.append(make_trace("unicode", started_at=T0 + timedelta(days=7), error=None))
    return traces


def _as_exported(traces: list[Trace]) -> list[Trace]:
    """Export writes the deadlines a probe was judged against, also when it came without any."""
    return [
        replace(t, deadlines=REASONING_USED_DEADLINES) if t.deadlines is None else t for t in traces
    ]


async def test_store_round_trip_equals_the_input(store: Store) -> None:
    traces = _traces()
    assert await store.ingest_many(traces, batch=7) == len(traces)
    assert await store.traces() == _as_exported(traces)


async def test_export_filters_by_time_and_target(store: Store) -> None:
    traces = list(trace_stream(20, every=timedelta(hours=1)))
    await store.ingest_many(traces)
    since, until = T0 + timedelta(hours=5), T0 + timedelta(hours=10)
    got = await store.traces(since, until, ["sim-slow"])
    expected = [
        t
        for t in traces
        if t.target == "sim-slow" and t.started_at is not None and since <= t.started_at < until
    ]
    # probes at hours 5..9 are indexes 5..9; targets alternate, sim-slow has the odd ones: 5, 7, 9
    assert [t.probe_id for t in got] == ["p0000005", "p0000007", "p0000009"]
    assert [t.probe_id for t in got] == [t.probe_id for t in expected]


@pytest.mark.usefixtures("cli_env")
def test_cli_import_then_export_is_byte_identical(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(trace_codec.dumps(_traces()), encoding="utf-8")
    result = runner.invoke(app, ["import", str(source)])
    assert result.exit_code == 0, result.output
    assert "imported 42 new probe(s) of 42" in result.output
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == trace_codec.dumps(_as_exported(_traces()))
    # and the export itself round-trips byte for byte
    assert runner.invoke(app, ["import", str(out)]).exit_code == 0
    again = tmp_path / "again.jsonl"
    assert runner.invoke(app, ["export", "--output", str(again)]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.usefixtures("cli_env")
def test_cli_import_twice_changes_nothing(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(trace_codec.dumps(_traces()), encoding="utf-8")
    assert runner.invoke(app, ["import", str(source)]).exit_code == 0
    first = runner.invoke(app, ["export"]).stdout
    again = runner.invoke(app, ["import", str(source)])
    assert again.exit_code == 0, again.output
    assert "imported 0 new probe(s) of 42; 42 already stored" in again.output
    assert runner.invoke(app, ["export"]).stdout == first
    assert first.count("\n") == 42


@pytest.mark.usefixtures("cli_env")
def test_cli_import_names_the_bad_line(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    good = trace_codec.encode(make_trace("ok-1"))
    source.write_text(good + "\n" + good.replace('"outcome":"ok"', '"outcome":"fine"') + "\n")
    result = runner.invoke(app, ["import", str(source)])
    assert result.exit_code == 2
    assert "line 2: outcome" in result.output


@pytest.mark.usefixtures("cli_env")
def test_cli_export_filters_by_since_until_and_target(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(trace_codec.dumps(trace_stream(20, every=timedelta(hours=1))))
    assert runner.invoke(app, ["import", str(source)]).exit_code == 0
    # T0 = 2026-11-20 12:00Z; hours 5..9 → 17:00 ≤ t < 22:00; sim-slow has the odd indexes
    args = ["export", "--since", "2026-11-20T17:00:00Z", "--until", "2026-11-20T22:00:00"]
    result = runner.invoke(app, [*args, "--target", "sim-slow"])
    assert result.exit_code == 0, result.output
    ids = [trace_codec.decode(line).probe_id for line in result.stdout.splitlines()]
    assert ids == ["p0000005", "p0000007", "p0000009"]
    bad = runner.invoke(app, ["export", "--since", "last tuesday"])
    assert bad.exit_code == 2
    assert "neither an ISO date/time nor a duration" in bad.output
