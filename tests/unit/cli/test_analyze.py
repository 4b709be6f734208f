"""`etalon-monitor analyze` end to end through the real command (typer's runner, real files)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from tests.unit.metrics.conftest import load_reference

DATA = Path(__file__).parents[2] / "data"
runner = CliRunner()


def _reference_file(tmp_path: Path) -> Path:
    path = tmp_path / "ref.jsonl"
    lines = [
        json.dumps(
            {"probe_id": t["id"], "prompt_tokens": t["prompt_tokens"], "chunks": t["chunks"]}
        )
        for t in load_reference()["traces"]
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_output_reproduces_reference(tmp_path: Path) -> None:
    path = _reference_file(tmp_path)
    args = [
        "analyze",
        str(path),
        "--json",
        "--decode-deadline",
        "0.05",
        "--prefill-model",
        "0.02,5e-5,2e-9",
        "--prefill-slack",
        "0.3",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = {r["probe_id"]: r for r in doc["requests"]}
    for ref in load_reference()["traces"]:
        if ref["id"].startswith("hand_"):
            continue  # those use a fixed 0.5 s prefill deadline, checked below
        expected = ref["expected"]["tiers"]["0.05"]
        row = rows[ref["id"]]
        assert row["missed_deadlines"] == expected["missed_deadlines"], ref["id"]
        assert row["total_deadlines"] == expected["total_deadlines"], ref["id"]
        assert row["decode_deadline_s"] == 0.05
    assert set(doc["summary"]) >= {
        "requests",
        "ok",
        "fluent_token_rate",
        "tpot_rate",
        "tail_tbt_rate",
        "service_miss_rate",
        "p99_request_miss_rate",
        "deadline_slo_met",
        "share_fluid",
        "ttft_s",
        "tbt_s",
    }
    assert doc["summary"]["requests"] == len(load_reference()["traces"])


def test_fixed_prefill_deadline_reproduces_hand_examples(tmp_path: Path) -> None:
    path = _reference_file(tmp_path)
    result = runner.invoke(app, ["analyze", str(path), "--json", "--prefill-deadline", "0.5"])
    assert result.exit_code == 0, result.output
    rows = {r["probe_id"]: r for r in json.loads(result.stdout)["requests"]}
    for ref in load_reference()["traces"]:
        if ref["id"].startswith("hand_"):
            expected = ref["expected"]["tiers"]["0.025"]
            assert rows[ref["id"]]["missed_deadlines"] == expected["missed_deadlines"]


def test_stdin_is_read_with_dash(tmp_path: Path) -> None:
    text = _reference_file(tmp_path).read_text()
    result = runner.invoke(app, ["analyze", "-", "--json"], input=text)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["ok"] == len(text.splitlines())


def test_invalid_lines_fail_and_are_all_reported() -> None:
    result = runner.invoke(app, ["analyze", str(DATA / "traces" / "bad.jsonl"), "--json"])
    assert result.exit_code == 2
    for line in (
        "line 2: chunks[1].t_ns",
        "line 3: (line)",
        "line 4: chunks[0].tokens",
        "line 5: outcome",
    ):
        assert line in result.stderr
    assert result.stdout == ""


def test_skip_invalid_scores_the_rest() -> None:
    args = ["analyze", str(DATA / "traces" / "bad.jsonl"), "--json", "--skip-invalid"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "skipped 4 invalid line(s)" in result.stderr
    assert json.loads(result.stdout)["summary"]["requests"] == 2


def test_table_output_names_the_probes(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(DATA / "traces" / "full.jsonl")])
    assert result.exit_code == 0
    assert "0b6c1" in result.stdout and "fluent token rate" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prefill-deadline", "0.5", "--prefill-model", "1,2,3"], "not both"),
        (["--prefill-model", "1,2"], "three numbers"),
        (["--decode-deadline", "0"], "--decode-deadline 0 is outside 0.001..60 seconds"),
        (["--decode-deadline", "1e-12"], "--decode-deadline 1e-12 is outside 0.001..60"),
        (["--decode-deadline", "1e300"], "--decode-deadline 1e+300 is outside 0.001..60"),
        (["--decode-deadline", "nan"], "--decode-deadline nan is outside 0.001..60"),
        (["--prefill-deadline", "inf"], "--prefill-deadline inf is outside 0.001..3600"),
        (["--prefill-deadline", "1e-12"], "--prefill-deadline 1e-12 is outside 0.001..3600"),
        # D_p(16) = -1 + 0 + 0 + 0.3 = -0.7 s
        (["--prefill-model", "-1,0,0"], "gives a prefill deadline of -0.7 s at 16 prompt"),
        (["--prefill-model", "nan,0,0"], "must be finite numbers"),
        (["--prefill-model", "0,0,0", "--prefill-slack", "1e300"], "--prefill-slack 1e+300"),
    ],
)
def test_bad_options_are_explained(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["analyze", str(DATA / "traces" / "full.jsonl"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.replace("│", " ").split())
    assert "Traceback" not in result.output
