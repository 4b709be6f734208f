"""`etalon-monitor changes`: the change points found in per-probe series, as a table or JSON.

Lists what the daemon stored in `change_points` (`--since`, `--target`); `--recompute` first
replaces them by a scan over every stored probe (of `--target`, or all), e.g. after importing
trace files or changing the `changes:` settings. JSON (`--json`) is a list of objects with
`target`, `workload` (requested prompt tokens), `metric`, `direction` (`worse`/`better`), `at`
(first probe after the change), `before`/`after` (estimates, with `*_interval` 95 % bounds and
`n_*` probe counts), `detected_at` and the test's `evidence`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from monitor.cli.app import app
from monitor.cli.transfer import ConfigOption, parse_moment, settings_or_exit
from monitor.config import Settings
from monitor.detect.series import BY_NAME
from monitor.detect.watch import recompute, settings_from
from monitor.store.changes import ChangePoint, list_changes
from monitor.store.connect import open_store
from monitor.store.embedded import EmbeddedError


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_json(c: ChangePoint) -> dict[str, Any]:
    return {
        "target": c.target,
        "region": c.region,
        "workload": c.workload,
        "metric": c.metric,
        "direction": c.direction,
        "at": _iso(c.at),
        "detected_at": _iso(c.detected_at),
        "before": c.before,
        "before_interval": [c.before_low, c.before_high],
        "n_before": c.n_before,
        "after": c.after,
        "after_interval": [c.after_low, c.after_high],
        "n_after": c.n_after,
        "evidence": dict(c.evidence),
    }


def _number(metric: str, value: float) -> str:
    unit = BY_NAME[metric].unit if metric in BY_NAME else ""
    if unit == "s":
        return f"{value * 1000:.1f} ms"
    return f"{value:.3f}"


async def _changes(
    settings: Settings,
    since: datetime | None,
    targets: list[str] | None,
    again: bool,
    now: datetime,
) -> tuple[list[ChangePoint], int | None]:
    async with open_store(settings) as store:
        stored = None
        if again:
            stored = await recompute(store.engine, settings_from(settings.changes), now, targets)
        return await list_changes(store.engine, since, None, targets), stored


@app.command("changes")
def changes_command(
    config: ConfigOption = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Changes from (ISO time, or a duration ago: 24h, 7d)."),
    ] = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", "-t", help="Only this target (repeatable).")
    ] = None,
    as_json_flag: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    again: Annotated[
        bool,
        typer.Option("--recompute", help="First rescan all stored probes (replaces the table)."),
    ] = False,
) -> None:
    """Changes found in per-probe series: when a vendor got worse (or better), and by how much."""
    settings = settings_or_exit(config)
    now = datetime.now(UTC)
    start = None if since is None else parse_moment(since, now)
    try:
        found, stored = asyncio.run(_changes(settings, start, target, again, now))
    except EmbeddedError as e:
        Console(stderr=True, highlight=False, soft_wrap=True).print(str(e), markup=False)
        raise typer.Exit(1) from None
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if stored is not None:
        err.print(f"recomputed: {stored} change point(s) over the stored probes", markup=False)
    if as_json_flag:
        sys.stdout.write(json.dumps([as_json(c) for c in found], indent=2) + "\n")
        return
    if not found:
        err.print("no change points", markup=False)
        return
    table = Table(box=None, header_style="bold")
    for column in ("at", "target", "workload", "metric", "direction", "before", "after"):
        table.add_column(column)
    for c in found:
        table.add_row(
            _iso(c.at),
            c.target,
            f"p{c.workload}",
            c.metric,
            c.direction,
            f"{_number(c.metric, c.before)} [{_number(c.metric, c.before_low)}, "
            f"{_number(c.metric, c.before_high)}]",
            f"{_number(c.metric, c.after)} [{_number(c.metric, c.after_low)}, "
            f"{_number(c.metric, c.after_high)}]",
        )
    Console(highlight=False, soft_wrap=True).print(table)
