"""`etalon-monitor config check`: validate a config and show what the daemon would run with.

Prints the resolved settings (provider presets applied, environment overrides merged) with the
database password masked; API keys are never read into the output, only whether their variable is
set. Exit 0 when valid and every enabled target has its key, 1 when a key variable is unset, 2 when
the config is invalid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from monitor.cli.app import app
from monitor.config import ConfigError, config_path, load, masked, missing_keys

config_app = typer.Typer(
    name="config", help="Inspect the daemon's configuration.", no_args_is_help=True
)
app.add_typer(config_app)


@config_app.command("check")
def check(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config file (default: $ETALON_CONFIG)."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only report problems, not the config.")
    ] = False,
) -> None:
    """Validate the config; print it resolved, with secrets masked; report missing API keys."""
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        settings = load(config)
    except ConfigError as e:
        err.print(f"invalid config ({e.source}):", markup=False)
        for problem in e.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(2) from None
    source = config_path(config)
    if not quiet:
        out.print(f"# config: {source if source else '(none: demo mode)'}", markup=False)
        out.print(yaml.safe_dump(masked(settings), sort_keys=False).rstrip(), markup=False)
    missing = missing_keys(settings)
    for target, env_name in missing.items():
        err.print(f"target {target}: API key variable {env_name} is not set", markup=False)
    if missing:
        raise typer.Exit(1)
    out.print(f"ok: {len(settings.targets)} target(s)", markup=False)
