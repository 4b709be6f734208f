"""The typer application every sub-command module registers on, loaded lazily.

`etalon-monitor --help` and `--version` must answer in a fraction of a second, but the sub-commands
pull in numpy, SQLAlchemy, aiohttp and Alembic (over a second of imports). So the command list is
declared here, one line per command, and a command's module is imported only when that command is
run or its own help is asked for. The module registers its command on `app` as usual.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import typer
from typer import _click as click  # typer >= 0.2x vendors its own click; its types must match
from typer.core import TyperGroup

from monitor.version import version


class Command(NamedTuple):
    """Where a sub-command lives and the one line the top-level help shows for it."""

    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    "run": Command(
        "monitor.cli.run", "Run the monitor: scheduled probe rounds, storage and /metrics."
    ),
    "probe": Command("monitor.cli.probe", "Probe one endpoint now and print its Etalon metrics."),
    "analyze": Command("monitor.cli.analyze", "Score trace files (JSONL) with the Etalon metrics."),
    "simulate": Command("monitor.cli.simulate", "Serve a simulated streaming LLM vendor."),
    "report": Command("monitor.cli.report", "Write a vendor SLA review report (HTML or JSON)."),
    "export": Command("monitor.cli.transfer", "Write stored probes as trace files (JSONL)."),
    "import": Command("monitor.cli.transfer", "Store trace files (JSONL) in the database."),
    "db": Command("monitor.cli.db", "Database schema and upkeep."),
    "config": Command("monitor.cli.config_check", "Check a configuration file."),
    "profile": Command(
        "monitor.cli.profile", "Measure a deployment's prefill time per prompt length (D_p fit)."
    ),
    "capacity": Command(
        "monitor.cli.capacity", "Find the highest QPS at which each SLO still holds."
    ),
    "changes": Command(
        "monitor.cli.changes", "List detected vendor changes (change points), or recompute them."
    ),
}


class LazyGroup(TyperGroup):
    """A command group that imports a sub-command's module only when that command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        importlib.import_module(COMMANDS[cmd_name].module)  # registers the command on `app`
        return TyperGroup.get_command(typer.main.get_group(app), ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name].summary) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="etalon-monitor",
    help="Fluidity-index monitoring of streaming LLM APIs (Etalon metrics, Prometheus).",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"etalon-monitor {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Holds the global options; `Typer(help=...)` above is what `--help` shows."""
