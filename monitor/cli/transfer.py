"""`etalon-monitor export` and `etalon-monitor import`: traces out of and into the database.

Export streams probes (oldest first) in the trace format; import loads a trace file with `COPY` in
batches and skips probes already stored, so `export | import` round-trips losslessly and importing a
file twice changes nothing. Both show a progress bar when stderr is a terminal.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from monitor import trace as trace_codec
from monitor.cli.app import app
from monitor.config import ConfigError, Settings, load, parse_duration
from monitor.limits import YEAR_MAX, YEAR_MIN
from monitor.store.connect import open_store
from monitor.store.embedded import EmbeddedError
from monitor.store.rows import UnstorableTraceError, check_storable
from monitor.trace import Trace, TraceFormatError

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (default: $ETALON_CONFIG)."),
]


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n)`; draws only when stderr is a terminal, so pipes and logs stay clean."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda n: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def settings_or_exit(config: Path | None) -> Settings:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return load(config)
    except ConfigError as e:
        err.print(f"invalid config ({e.source}):", markup=False)
        for problem in e.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(2) from None


def parse_moment(text: str, now: datetime) -> datetime:
    """`2026-11-01`, `2026-11-01T12:00:00Z` (naive means UTC) or a duration ago (`24h`, `7d`).

    A moment outside years 1970..9998 (`99999999d` ago) is a usage error, not an overflow.
    """
    try:
        seconds = parse_duration(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        try:
            moment = now - timedelta(seconds=seconds)
        except OverflowError:
            moment = None
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise typer.BadParameter(
                f"{text!r} is neither an ISO date/time nor a duration"
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment is None or not YEAR_MIN <= moment.year <= YEAR_MAX:
        raise typer.BadParameter(f"{text!r} is outside the years {YEAR_MIN}..{YEAR_MAX}")
    return moment


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)
    return typer.Exit(code)


async def _export(
    settings: Settings,
    out: TextIO,
    since: datetime | None,
    until: datetime | None,
    targets: list[str] | None,
) -> int:
    written = 0
    async with open_store(settings, create=False) as store:
        total = await store.count(since, until, targets)
        with progress_bar("export", total) as advance:
            async for trace in store.iter_traces(since, until, targets):
                out.write(trace_codec.encode(trace))
                out.write("\n")
                written += 1
                if written % 1000 == 0:
                    advance(1000)
            advance(written % 1000)
    return written


@app.command("export")
def export_command(
    config: ConfigOption = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From (ISO time, or a duration ago: 24h, 7d).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before (same forms).")] = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", "-t", help="Only this target (repeatable).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write stored probes as trace JSONL, oldest first: `export --since 7d > traces.jsonl`."""
    settings = settings_or_exit(config)
    now = datetime.now(UTC)
    start = None if since is None else parse_moment(since, now)
    end = None if until is None else parse_moment(until, now)
    try:
        if output is None:
            count = asyncio.run(_export(settings, sys.stdout, start, end, target))
        else:
            with output.open("w", encoding="utf-8") as f:
                count = asyncio.run(_export(settings, f, start, end, target))
    except EmbeddedError as e:
        raise _fail(str(e)) from None
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"exported {count} probe(s)", markup=False
    )


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def storable_traces(lines: Iterable[str]) -> Iterator[Trace]:
    """Decode line by line; a trace the store cannot keep (minimal form, no probe id) is a line
    error too, raised before its batch is written."""
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        trace = trace_codec.decode(line, line_no)
        try:
            check_storable(trace)
        except UnstorableTraceError as e:
            raise TraceFormatError(line_no, "(trace)", str(e)) from None
        yield trace


async def _import(settings: Settings, path: Path, total: int) -> tuple[int, int]:
    async with open_store(settings) as store:
        with trace_codec.open_traces(path) as f, progress_bar("import", total) as advance:
            inserted = await store.ingest_many(storable_traces(f), progress=advance)
    return inserted, total


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Trace JSONL file (as written by export).")],
    config: ConfigOption = None,
) -> None:
    """Load a trace file into the database; probes already stored are skipped."""
    if not file.is_file():
        raise typer.BadParameter(f"no such file: {file}", param_hint="FILE")
    settings = settings_or_exit(config)
    total = _count_lines(file)
    try:
        inserted, seen = asyncio.run(_import(settings, file, total))
    except EmbeddedError as e:
        raise _fail(str(e)) from None
    except (TraceFormatError, UnstorableTraceError) as e:
        message = (
            f"{file}: {e}. Probes before this batch were imported; fix the file and run the "
            "import again (stored probes are skipped)."
        )
        raise _fail(message, 2) from None
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"imported {inserted} new probe(s) of {seen}; {seen - inserted} already stored",
        markup=False,
    )
