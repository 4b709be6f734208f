"""`etalon-monitor analyze`: score a JSONL trace file with the metric engine."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console
from rich.table import Table

from monitor import trace as trace_codec
from monitor.cli.app import app
from monitor.limits import (
    DECODE_DEADLINE_MAX_S,
    DECODE_DEADLINE_MIN_S,
    PREFILL_DEADLINE_MAX_S,
    PREFILL_DEADLINE_MIN_S,
)
from monitor.metrics.analysis import DEFAULT_DECODE_S, Analysis, AnalysisOptions, analyze
from monitor.metrics.catalogue import reported
from monitor.metrics.prefill import DEFAULT_SLACK_S, PrefillModel


def _within(value: float, low: float, high: float, option: str) -> None:
    """NaN fails both comparisons, so it is rejected with the infinities."""
    if not low <= value <= high:
        raise typer.BadParameter(f"{option} {value:g} is outside {low:g}..{high:g} seconds")


def _prefill_option(
    fixed: float | None, model: str | None, slack: float | None
) -> PrefillModel | None:
    if fixed is not None and model is not None:
        raise typer.BadParameter("give --prefill-deadline or --prefill-model, not both")
    if fixed is not None:
        if slack is not None:
            raise typer.BadParameter("--prefill-slack goes with --prefill-model")
        _within(fixed, PREFILL_DEADLINE_MIN_S, PREFILL_DEADLINE_MAX_S, "--prefill-deadline")
        return PrefillModel.fixed(fixed)
    if model is None:
        if slack is not None:
            raise typer.BadParameter("--prefill-slack goes with --prefill-model")
        return None
    try:
        c0, c1, c2 = (float(part) for part in model.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"--prefill-model wants three numbers C0,C1,C2, got {model!r}"
        ) from None
    if slack is not None:
        _within(slack, 0.0, PREFILL_DEADLINE_MAX_S, "--prefill-slack")
    prefill = PrefillModel(
        coefficients=(c0, c1, c2), slack_s=DEFAULT_SLACK_S if slack is None else slack
    )
    problem = prefill.problem()
    if problem is not None:
        raise typer.BadParameter(f"--prefill-model {model} {problem}")
    return prefill


def _fmt(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "—" if value is None else f"{value * scale:.{digits}f}"


def render_table(result: Analysis, console: Console) -> None:
    table = Table(title="Requests", show_lines=False)
    for column in (
        "probe",
        "outcome",
        "tokens",
        "TTFT ms",
        "TTFAT ms",
        "TPOT ms",
        "E2E s",
        "D_p s",
        "D_d ms",
        "fluidity",
        "decode-only",
        "missed/total",
        "D* ms",
    ):
        left = column in {"probe", "outcome"}
        table.add_column(column, justify="left" if left else "right", overflow="fold")
    for r in result.requests:
        table.add_row(
            r.probe_id,
            r.outcome,
            str(r.output_tokens),
            _fmt(r.ttft_s, 1e3, 1),
            _fmt(r.ttfat_s, 1e3, 1),
            _fmt(r.tpot_s, 1e3, 2),
            _fmt(r.e2e_s, 1, 3),
            _fmt(r.prefill_deadline_s),
            _fmt(r.decode_deadline_s, 1e3, 1),
            _fmt(r.fluidity_index),
            _fmt(r.fluidity_index_decode),
            "—" if r.total_deadlines is None else f"{r.missed_deadlines}/{r.total_deadlines}",
            _fmt(r.min_decode_deadline_s, 1e3, 3),
        )
    console.print(table)
    s = result.summary
    summary = Table(
        title="Summary (latencies over ok requests, deadlines over scored ones)", show_header=False
    )
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    rows = [
        ("requests / ok / scored", f"{s.requests} / {s.ok} / {s.scored}"),
        ("fluent token rate (tok/s)", _fmt(s.fluent_token_rate, 1, 2)),
        ("TPOT-based rate (tok/s)", _fmt(s.tpot_rate, 1, 2)),
        ("tail-TBT rate (tok/s)", _fmt(s.tail_tbt_rate, 1, 2)),
        ("service miss rate", _fmt(s.service_miss_rate, 1, 4)),
        ("P99 request miss rate", _fmt(s.p99_request_miss_rate, 1, 4)),
        ("deadline SLO met", "—" if s.deadline_slo_met is None else str(s.deadline_slo_met)),
        ("share fluid (≥ 0.9)", _fmt(s.share_fluid, 1, 3)),
        *(
            (
                f"{m.label} p50/p90/p99 (ms)",
                " / ".join(_fmt(v, 1e3, 1) for v in s.percentiles[m.report].values()),
            )
            for m in reported()
            if m.report is not None
        ),
        (
            "TBT p50/p90/p99 (ms)",
            " / ".join(_fmt(s.tbt_s[k], 1e3, 1) for k in ("p50", "p90", "p99")),
        ),
    ]
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)


def _open(path: str) -> IO[str]:
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            return sys.stdin
        # bytes that are not UTF-8 become a per-line error, as for files
        return io.TextIOWrapper(buffer, encoding="utf-8", errors="surrogateescape")
    p = Path(path)
    if not p.is_file():
        raise typer.BadParameter(f"no such file: {path}", param_hint="TRACES")
    return trace_codec.open_traces(p)


@app.command("analyze")
def analyze_command(
    traces: Annotated[str, typer.Argument(help="JSONL trace file, or - for stdin.")],
    decode_deadline: Annotated[
        float | None,
        typer.Option(
            "--decode-deadline",
            help=f"D_d in seconds [default: the trace's own, else {DEFAULT_DECODE_S}].",
        ),
    ] = None,
    prefill_deadline: Annotated[
        float | None, typer.Option("--prefill-deadline", help="Fixed D_p in seconds.")
    ] = None,
    prefill_model: Annotated[
        str | None,
        typer.Option("--prefill-model", help="C0,C1,C2: D_p = C0 + C1·P + C2·P² + slack."),
    ] = None,
    prefill_slack: Annotated[
        float | None,
        typer.Option(
            "--prefill-slack",
            help=f"Seconds added to --prefill-model [default: {DEFAULT_SLACK_S}].",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document.")] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Score the valid lines, report the others.")
    ] = False,
) -> None:
    """Score traces: per-request fluidity-index, TTFT, TPOT, D*, and the summary."""
    if decode_deadline is not None:
        _within(decode_deadline, DECODE_DEADLINE_MIN_S, DECODE_DEADLINE_MAX_S, "--decode-deadline")
    prefill = _prefill_option(prefill_deadline, prefill_model, prefill_slack)
    err = Console(stderr=True)
    with _open(traces) as stream:
        result = trace_codec.read(stream)
    for error in result.errors:
        err.print(f"[red]invalid trace[/red] {error}", highlight=False, markup=True)
    if result.errors and not skip_invalid:
        err.print(f"{len(result.errors)} invalid line(s); fix them or pass --skip-invalid")
        raise typer.Exit(2)
    if result.errors:
        err.print(f"skipped {len(result.errors)} invalid line(s); scored {len(result.traces)}")
    analysis = analyze(result.traces, AnalysisOptions(decode_s=decode_deadline, prefill=prefill))
    if as_json:
        sys.stdout.write(json.dumps(analysis.to_json(), indent=2) + "\n")
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)  # pipes and files get whole ids, not ellipses
        render_table(analysis, console)
