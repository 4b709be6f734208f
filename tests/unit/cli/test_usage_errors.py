"""Absurd command-line numbers are usage errors (exit 2, the option named), never tracebacks.

Each case used to end in a traceback or a run that never ends (issue 14). All of them are
rejected before any network or database is touched, so no server is needed.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from monitor.cli import app

runner = CliRunner()
PROBE = ["probe", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]

CASES: dict[str, tuple[list[str], str]] = {
    "probe zero prompt tokens": (
        [*PROBE, "--prompt-tokens", "0"],
        "prompt length 0 is outside 16..200000 tokens",
    ),
    "probe negative prompt tokens": (
        [*PROBE, "--prompt-tokens", "256,-5"],
        "prompt length -5 is outside 16..200000 tokens",
    ),
    "probe a billion prompt tokens": (
        [*PROBE, "--prompt-tokens", "1000000000"],
        "prompt length 1000000000 is outside 16..200000 tokens",
    ),
    "probe a billion requests": ([*PROBE, "--requests", "1000000000"], "--requests"),
    "probe a billion output tokens": ([*PROBE, "--max-tokens", "1000000000"], "--max-tokens"),
    "report since 99999999 days ago": (
        ["report", "--since", "99999999d"],
        "'99999999d' is outside the years 1970..9998",
    ),
    "report since before the calendar": (
        ["report", "--since", "9999999999999d"],
        "'9999999999999d' is outside the years 1970..9998",
    ),
    "report until year 9999": (
        ["report", "--until", "9999-12-31T23:00:00Z"],
        "'9999-12-31T23:00:00Z' is outside the years 1970..9998",
    ),
    "report a cycle beyond 64 bits": (
        ["report", "--cycle", "99999999999999999999"],
        "--cycle",
    ),
    "export since 99999999 days ago": (
        ["export", "--since", "99999999d"],
        "'99999999d' is outside the years 1970..9998",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_absurd_number_is_a_usage_error(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ETALON_CONFIG", raising=False)
    args, expected = CASES[case]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert expected in " ".join(result.output.replace("│", " ").split()), result.output


def test_probe_refuses_credentials_in_base_url_without_echoing_them() -> None:
    result = runner.invoke(
        app, ["probe", "--base-url", "http://alice:hunter2@127.0.0.1:9/v1", "--model", "m"]
    )
    assert result.exit_code == 2
    assert "hunter2" not in result.output
    assert "'http://alice:***@127.0.0.1:9/v1' carries credentials" in " ".join(
        result.output.replace("│", " ").split()
    )


def test_db_command_on_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # port 1 on loopback: nothing listens, the connection is refused at once
    url = "postgresql+psycopg://u:hunter2@127.0.0.1:1/x?password=hunter3"
    monkeypatch.setenv("ETALON_DATABASE__URL", url)
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.output.startswith("cannot reach the database: OperationalError: connection")
    assert "port 1 failed" in result.output
    assert "hunter" not in result.output


def test_simulate_port_beyond_65535_is_a_usage_error() -> None:
    """It used to wrap silently (99999 → a random free port)."""
    result = runner.invoke(app, ["simulate", "--port", "99999"])
    assert result.exit_code == 2
    assert "--port" in result.output
