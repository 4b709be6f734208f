"""`etalon-monitor report`: the vendor SLA review of a cycle or a time window, as HTML, PDF or JSON.

Traces come from the database (read-only; `--cycle` or `--since/--until`, default the last 24 h)
or from an exported trace file (`--traces`). Prices and workloads come from the config.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.cli.app import app
from monitor.cli.transfer import ConfigOption, parse_moment, settings_or_exit
from monitor.config import Settings
from monitor.limits import INT64_MAX
from monitor.report import changes as report_changes
from monitor.report.browser import BrowserError, print_pdf
from monitor.report.build import ReportInputs, build_report
from monitor.report.json_schema import REPORT_SCHEMA
from monitor.report.model import ChangeEntry, Report, Window
from monitor.report.render_html import render_html
from monitor.report.render_json import render_json
from monitor.report.source import Loaded, SourceError, load_file, load_store
from monitor.store import StoreUnavailable
from monitor.store.connect import open_store
from monitor.store.embedded import EmbeddedError

DEFAULT_WINDOW = timedelta(hours=24)
Clock = Callable[[], datetime]


class Format(StrEnum):
    HTML = "html"
    PDF = "pdf"
    JSON = "json"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _err().print(message, markup=False)
    return typer.Exit(code)


def _format(fmt: Format | None, out: Path | None) -> Format:
    if fmt is not None:
        return fmt
    if out is not None and out.suffix.lower().lstrip(".") in {f.value for f in Format}:
        return Format(out.suffix.lower().lstrip("."))
    return Format.HTML


async def _from_store(
    settings: Settings,
    since: datetime | None,
    until: datetime | None,
    targets: list[str] | None,
    cycle: int | None,
) -> Loaded:
    async with open_store(settings, upgrade=False, create=False) as store:
        loaded = await load_store(store, since=since, until=until, targets=targets, cycle=cycle)
        return replace(loaded, changes=await _stored_changes(store.engine, loaded, targets))


async def _stored_changes(
    engine: AsyncEngine, loaded: Loaded, targets: list[str] | None
) -> tuple[ChangeEntry, ...]:
    """Change points within the report's window (a cycle's: its first to last probe)."""
    starts = [t.started_at for t in loaded.traces if t.started_at is not None]
    since = loaded.since or (min(starts) if starts else None)
    until = loaded.until or (max(starts) + timedelta(microseconds=1) if starts else None)
    try:
        return await report_changes.from_store(engine, since, until, targets)
    except ProgrammingError:  # a schema from before change detection: no section
        return ()


def load(
    settings: Settings,
    *,
    traces: str | None,
    cycle: int | None,
    since: str | None,
    until: str | None,
    targets: list[str] | None,
    clock: Clock,
) -> Loaded:
    now = clock()
    start = None if since is None else parse_moment(since, now)
    end = None if until is None else parse_moment(until, now)
    if traces is not None:
        if cycle is not None:
            raise typer.BadParameter("--cycle needs the database; a trace file has no cycles")
        try:
            if traces == "-":
                loaded = load_file(sys.stdin, start, end, targets)
            else:
                path = Path(traces)
                if not path.is_file():
                    raise typer.BadParameter(f"no such file: {traces}", param_hint="--traces")
                with path.open(encoding="utf-8") as f:
                    loaded = load_file(f, start, end, targets)
            return replace(loaded, changes=report_changes.from_traces(loaded.traces))
        except SourceError as e:
            raise _fail(f"{traces}: {e}", 2) from None
    if cycle is None and start is None:
        end = end or now
        start = end - DEFAULT_WINDOW
    try:
        return asyncio.run(_from_store(settings, start, end, targets, cycle))
    except EmbeddedError as e:
        raise _fail(str(e)) from None
    except SourceError as e:
        raise _fail(str(e), 2) from None
    except ProgrammingError:
        raise _fail(
            "the database has no etalon-monitor schema; run `etalon-monitor db upgrade`"
        ) from None
    except StoreUnavailable as e:
        raise _fail(f"cannot read the database: {e.reason}") from None


def make_report(
    loaded: Loaded, settings: Settings, source: str, *, seed: int, title: str, clock: Clock
) -> Report:
    return build_report(
        ReportInputs(
            traces=loaded.traces,
            scores=loaded.scores,
            generated_at=clock(),
            window=Window(
                since=loaded.since, until=loaded.until, cycle=loaded.cycle, source=source
            ),
            title=title,
            targets=settings.targets,
            round_of=loaded.round_of,
            rounds_planned=loaded.rounds_planned,
            seed=seed,
            changes=loaded.changes,
            capacity=loaded.capacity,
        )
    )


def write(report: Report, fmt: Format, out: Path | None, browser: str | None) -> str:
    """Write the report; returns where it went."""
    if fmt is Format.PDF:
        target = out or Path("report.pdf")
        with tempfile.TemporaryDirectory(prefix="etalon-report-") as tmp:
            page = Path(tmp) / "report.html"
            page.write_text(render_html(report), encoding="utf-8")
            try:
                print_pdf(page, target, browser)
            except BrowserError as e:
                raise _fail(f"cannot write PDF: {e}", 2) from None
        return str(target)
    text = render_json(report) if fmt is Format.JSON else render_html(report)
    if out is not None and str(out) == "-":
        sys.stdout.write(text)
        return "stdout"
    target = out or Path(f"report.{fmt.value}")
    target.write_text(text, encoding="utf-8")
    return str(target)


@app.command("report")
def report_command(
    config: ConfigOption = None,
    traces: Annotated[
        str | None,
        typer.Option("--traces", help="Report from an exported trace JSONL file (- for stdin)."),
    ] = None,
    cycle: Annotated[
        int | None,
        typer.Option("--cycle", min=1, max=INT64_MAX, help="A cycle id from the database."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="From (ISO time, or a duration ago: 24h, 7d); default 24h ago."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before (same forms); default now.")
    ] = None,
    targets: Annotated[
        str | None, typer.Option("--targets", help="Only these targets, comma separated.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output file, - for stdout; default report.FORMAT."),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format", "-f", help="html, pdf or json; default from --out's suffix, else html."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap RNG seed.")] = 0,
    title: Annotated[str, typer.Option("--title", help="Report title.")] = "Vendor SLA review",
    browser: Annotated[
        str | None, typer.Option("--browser", help="Chromium executable for --format pdf.")
    ] = None,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON Schema of --format json and exit.")
    ] = False,
) -> None:
    """Write the vendor SLA review: per-target SLO compliance, rates, TTFT, plots, comparisons,
    incidents and methodology, as one self-contained file."""
    if schema:
        sys.stdout.write(json.dumps(REPORT_SCHEMA, indent=2) + "\n")
        return
    if cycle is not None and (since is not None or until is not None):
        raise typer.BadParameter("give --cycle or --since/--until, not both")
    chosen = _format(fmt, out)
    if chosen is Format.PDF and out is not None and str(out) == "-":
        raise typer.BadParameter("a PDF needs a file: pass --out report.pdf")
    names = [n.strip() for n in targets.split(",") if n.strip()] if targets else None
    settings = settings_or_exit(config)
    loaded = load(
        settings,
        traces=traces,
        cycle=cycle,
        since=since,
        until=until,
        targets=names,
        clock=_utc_now,
    )
    source = f"trace file {traces}" if traces is not None else "database"
    report = make_report(loaded, settings, source, seed=seed, title=title, clock=_utc_now)
    where = write(report, chosen, out, browser)
    err = _err()
    for name in names or ():
        if name not in {t.target for t in report.targets}:
            err.print(f"warning: no probes of target {name!r} in this window", markup=False)
    if not report.targets:
        err.print("warning: no probes in this window; the report is empty", markup=False)
    err.print(
        f"wrote {where}: {len(report.targets)} target(s), "
        f"{sum(t.probes for t in report.targets)} probe(s), {len(report.incidents)} incident(s)",
        markup=False,
    )
