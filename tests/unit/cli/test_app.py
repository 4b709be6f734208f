"""The command group: every listed command exists, and help/version import nothing heavy."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.app import COMMANDS

runner = CliRunner()

# Modules that cost most of a second to import; `--help` and `--version` must not load them.
HEAVY = ("numpy", "sqlalchemy", "aiohttp", "alembic", "pydantic_settings", "monitor.daemon")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_command_loads_and_has_help(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"etalon-monitor {name}" in result.output


def test_top_level_help_lists_every_command_with_its_summary() -> None:
    result = runner.invoke(app, ["-h"])
    assert result.exit_code == 0
    for name, command in COMMANDS.items():
        assert name in result.output
        assert command.summary[:30] in result.output.replace("\n", " ")


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["--version"]])
def test_help_and_version_import_no_heavy_module(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from monitor.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_version_names_the_distribution() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("etalon-monitor ")


def test_run_help_says_where_the_demo_serves_and_keeps_data() -> None:
    from monitor.config import DEFAULT_DATA_DIR  # noqa: PLC0415

    text = " ".join(runner.invoke(app, ["run", "--help"]).output.split())
    assert "http://127.0.0.1:9464/metrics" in text
    assert str(DEFAULT_DATA_DIR) in text


def test_simulate_help_names_every_profile_and_fault() -> None:
    from monitor.sim import PRESETS  # noqa: PLC0415
    from monitor.sim.faults import Fault  # noqa: PLC0415

    text = " ".join(runner.invoke(app, ["simulate", "--help"]).output.split())
    for name in [*PRESETS, *Fault]:
        assert name in text, name


def _commands() -> list[tuple[str, object]]:
    import typer  # noqa: PLC0415
    from typer import _click as click  # noqa: PLC0415

    root = typer.main.get_command(app)
    ctx = click.Context(root)
    out: list[tuple[str, object]] = []
    for name in sorted(COMMANDS):
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        if subs:
            out += [(f"{name} {sub}", c) for sub, c in sorted(subs.items())]
        else:
            out.append((name, command))
    return out


def test_every_option_says_what_it_is_for() -> None:
    missing = [
        f"{name} {param.opts[0]}"  # type: ignore[attr-defined]
        for name, command in _commands()
        for param in command.params  # type: ignore[attr-defined]
        if param.param_type_name == "option" and not (param.help or "").strip()
    ]
    assert missing == []
