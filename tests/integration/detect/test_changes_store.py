"""Change points through PostgreSQL: the daemon's probe-by-probe step stores what a recompute over
history finds, and `etalon-monitor changes` works on a database imported from a trace file."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor import trace as trace_codec
from monitor.cli import app
from monitor.detect import DetectorSettings
from monitor.detect.watch import check_series, recompute
from monitor.store import Store
from monitor.store.changes import ChangePoint, SeriesKey, list_changes
from tests.change_series import PROBES, STEP_AT, both
from tests.factories import T0

NOW = datetime(2026, 11, 29, tzinfo=UTC)
runner = CliRunner()


def _comparable(points: list[ChangePoint]) -> list[ChangePoint]:
    return [replace(p, recorded_at=NOW) for p in points]


async def test_live_steps_store_what_a_recompute_finds(store: Store) -> None:
    settings = DetectorSettings()
    for trace in both():
        assert await store.ingest(trace)
        key = SeriesKey(trace.target, trace.requested_prompt_tokens or 0)
        await check_series(store.engine, key, settings, NOW)
    live = await list_changes(store.engine)
    assert live, "the 30 % slowdown was not found"
    assert {p.target for p in live} == {"drifting"}
    assert {p.direction for p in live} == {"worse"}
    metrics = {p.metric for p in live}
    assert {"d_star", "tpot"} <= metrics
    for p in live:
        # located at the step (±2 probes), revealed within 12 probes of it
        assert abs(p.at - (T0 + timedelta(hours=STEP_AT))) <= timedelta(hours=2), p
        assert p.detected_at - (T0 + timedelta(hours=STEP_AT)) < timedelta(hours=12), p
        assert p.before_low <= p.before <= p.before_high
        assert p.after_low <= p.after <= p.after_high
        assert p.evidence["p_value"] <= p.evidence["alpha"] == 0.0005
    d_star = next(p for p in live if p.metric == "d_star")
    # gaps ~20 ms (±20 %) before, ~28.6 ms after: D* tracks the longest gaps
    assert d_star.after / d_star.before > 1.25

    assert await recompute(store.engine, settings, NOW) == len(live)
    again = await list_changes(store.engine)
    assert _comparable(again) == _comparable(live)


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", database_url)


def test_changes_on_a_database_imported_from_traces(
    tmp_path: Path, store: Store, cli_env: None
) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(trace_codec.encode(t) + "\n" for t in both()), encoding="utf-8")
    done = runner.invoke(app, ["import", str(path)])
    assert done.exit_code == 0, done.output
    assert f"imported {2 * PROBES} new probe(s)" in done.output

    listed = runner.invoke(app, ["changes", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []  # an import stores probes; it does not run detection

    done = runner.invoke(app, ["changes", "--recompute", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.stdout)
    assert found
    step_time = T0 + timedelta(hours=STEP_AT)
    for c in found:
        assert {"target", "workload", "metric", "direction", "at", "before", "after"} <= set(c)
        assert (c["target"], c["workload"], c["direction"]) == ("drifting", 256, "worse")
        at = datetime.fromisoformat(c["at"].replace("Z", "+00:00"))
        assert abs(at - step_time) <= timedelta(hours=2)
    assert "d_star" in {c["metric"] for c in found}

    # filters: by target, and by time (every change is at the step, ±2 h)
    other = runner.invoke(app, ["changes", "--json", "--target", "steady"])
    assert json.loads(other.stdout) == []
    later = (step_time + timedelta(hours=3)).isoformat().replace("+00:00", "Z")
    assert json.loads(runner.invoke(app, ["changes", "--json", "--since", later]).stdout) == []

    table = runner.invoke(app, ["changes", "--target", "drifting"])
    assert table.exit_code == 0
    assert "d_star" in table.stdout and "worse" in table.stdout


def test_sla_report_from_the_database_lists_the_stored_changes(
    tmp_path: Path, store: Store, cli_env: None
) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(trace_codec.encode(t) + "\n" for t in both()), encoding="utf-8")
    assert runner.invoke(app, ["import", str(path)]).exit_code == 0
    stored = json.loads(runner.invoke(app, ["changes", "--recompute", "--json"]).stdout)
    since = T0.isoformat().replace("+00:00", "Z")
    until = (T0 + timedelta(hours=PROBES)).isoformat().replace("+00:00", "Z")
    done = runner.invoke(
        app,
        ["report", "--since", since, "--until", until, "--format", "json", "--out", "-"],
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert [(c["target"], c["metric"], c["at"]) for c in report["changes"]] == [
        (c["target"], c["metric"], c["at"]) for c in stored
    ]
    # a window that ends before the step holds none of them
    early = (T0 + timedelta(hours=STEP_AT - 3)).isoformat().replace("+00:00", "Z")
    done = runner.invoke(
        app, ["report", "--since", since, "--until", early, "--format", "json", "--out", "-"]
    )
    assert json.loads(done.stdout)["changes"] == []
