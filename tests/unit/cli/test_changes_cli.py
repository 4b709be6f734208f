"""`etalon-monitor changes`: a bad --since is a usage error before any database is touched."""

from __future__ import annotations

from typer.testing import CliRunner

from monitor.cli import app


def test_bad_since_is_a_usage_error() -> None:
    done = CliRunner().invoke(app, ["changes", "--since", "last tuesday"])
    assert done.exit_code == 2
    assert "neither an ISO date/time nor a duration" in done.output


def test_help_lists_recompute_and_json() -> None:
    done = CliRunner().invoke(app, ["changes", "--help"])
    assert done.exit_code == 0
    assert "--recompute" in done.output and "--json" in done.output
