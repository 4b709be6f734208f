"""`etalon-monitor report --traces FILE` end to end through the real command and real files."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor import trace as trace_codec
from monitor.cli import app
from monitor.metrics.analysis import analyze
from monitor.trace import Trace

runner = CliRunner()


def _file(tmp_path: Path, traces: list[Trace]) -> Path:
    path = tmp_path / "traces.jsonl"
    path.write_text(trace_codec.dumps(traces))
    return path


def test_json_report_from_a_trace_file(tmp_path: Path, traces: list[Trace]) -> None:
    path = _file(tmp_path, traces)
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["report", "--traces", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 target(s), 288 probe(s)" in result.stderr
    doc = json.loads(out.read_text())
    assert doc["window"]["source"] == f"trace file {path}"
    # a file without --since/--until: the window is its first and last probe (hours 0 and 23)
    assert doc["window"]["since"].startswith("2026-11-22T00:")
    assert doc["window"]["until"].startswith("2026-11-22T23:")
    for row in doc["targets"]:
        summary = analyze([t for t in traces if t.target == row["target"]]).summary
        assert row["fluent_token_rate"] == summary.fluent_token_rate
        assert row["share_fluid"] == summary.share_fluid


def test_filters_and_stdout(tmp_path: Path, traces: list[Trace]) -> None:
    path = _file(tmp_path, traces)
    args = [
        "report",
        "--traces",
        str(path),
        "--targets",
        "steady,missing",
        "--since",
        "2026-11-22T12:00:00Z",
        "--until",
        "2026-11-22T18:00:00Z",
        "--format",
        "json",
        "--out",
        "-",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (row,) = doc["targets"]
    # hours 12..17: 6 hours x 3 prompt lengths x 2 repetitions
    assert (row["target"], row["probes"]) == ("steady", 36)
    assert "no probes of target 'missing'" in result.stderr


def test_html_is_the_default_format(tmp_path: Path, traces: list[Trace]) -> None:
    path = _file(tmp_path, traces[:10])
    out = tmp_path / "review.html"
    result = runner.invoke(app, ["report", "--traces", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_cycle_needs_the_database(tmp_path: Path, traces: list[Trace]) -> None:
    path = _file(tmp_path, traces[:3])
    result = runner.invoke(app, ["report", "--traces", str(path), "--cycle", "1"])
    assert result.exit_code == 2
    assert "--cycle needs the database" in result.output


def test_cycle_and_since_exclude_each_other() -> None:
    result = runner.invoke(app, ["report", "--cycle", "1", "--since", "24h"])
    assert result.exit_code == 2
    assert "not both" in result.output


def test_invalid_trace_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"probe_id": "x"}\n')
    result = runner.invoke(app, ["report", "--traces", str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "invalid trace line" in result.stderr


def test_no_secret_reaches_the_report(
    tmp_path: Path, traces: list[Trace], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-5ecret-value"
    monkeypatch.setenv("STEADY_API_KEY", secret)
    config = tmp_path / "etalon.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "targets": {
                    "steady": {
                        "provider": "openai",
                        "model": "m",
                        "api_key_env": "STEADY_API_KEY",
                        "price": {"input_per_1m": 0.5, "output_per_1m": 1.5},
                    }
                }
            }
        )
    )
    path = _file(tmp_path, traces)
    # the config was read: its input price shows in each format
    for suffix, price in (("json", '"input_per_1m": 0.5,'), ("html", "$0.5000")):
        out = tmp_path / f"r.{suffix}"
        args = ["report", "-c", str(config), "--traces", str(path), "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert price in text
        assert secret not in text
        assert secret not in result.output
