"""`etalon-monitor probe`: one-shot probing of an endpoint, a table per prompt length.

The API key is read from the environment variable named by `--api-key-env` (or the target / provider
preset) and goes only into the request header: it is never printed, logged or written to a trace.
Progress goes to stderr so `--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from monitor import config as config_mod
from monitor import trace as trace_codec
from monitor.cli.app import app
from monitor.cli.target_options import (
    Api,
    ApiKeyEnv,
    BaseUrl,
    ConfigFile,
    Json,
    Model,
    Provider,
    Seed,
    TargetName,
    TokenizerName,
)
from monitor.config import Target, Workload
from monitor.limits import MAX_TOKENS_MAX, PROMPT_TOKENS_MAX, PROMPT_TOKENS_MIN, REPETITIONS_MAX
from monitor.metrics.analysis import AnalysisOptions
from monitor.metrics.analysis import summarize as summarize_records
from monitor.metrics.quantiles import quantile
from monitor.metrics.score import score_table, score_traces
from monitor.metrics.units import NS_PER_S
from monitor.probe.batch import run_batch
from monitor.probe.eventloop import run
from monitor.probe.gcpolicy import settle_heap
from monitor.probe.tokens import DEFAULT_TOKENIZER, TokenizerUnavailableError, get_tokenizer
from monitor.secrets import Scrubber, scrubbed_stderr_logging, url_secrets
from monitor.trace import Outcome, Trace


def _lengths(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"want comma-separated integers, got {text!r}") from None
    if not values:
        raise typer.BadParameter("needs at least one prompt length")
    for value in values:
        if not PROMPT_TOKENS_MIN <= value <= PROMPT_TOKENS_MAX:
            raise typer.BadParameter(
                f"prompt length {value} is outside {PROMPT_TOKENS_MIN}..{PROMPT_TOKENS_MAX} tokens",
                param_hint="--prompt-tokens",
            )
    return values


def _describe(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'target'}: "
        f"{err['msg'].removeprefix('Value error, ')}"
        for err in e.errors()
    )


def _target_from_args(
    base_url: str | None,
    model: str | None,
    api: str | None,
    provider: str | None,
    api_key_env: str | None,
) -> Target:
    if model is None:
        raise typer.BadParameter("--model is required (or use --target with --config)")
    fields: dict[str, Any] = {"provider": provider or "openai-compatible", "model": model}
    if base_url is not None:
        fields["base_url"] = base_url
    if api is not None:
        fields["api"] = api
    if api_key_env is not None:
        fields["api_key_env"] = api_key_env
    try:
        return Target(**fields)
    except ValidationError as e:
        raise typer.BadParameter(_describe(e)) from None


def _target_from_config(path: Path | None, name: str) -> Target:
    try:
        settings = config_mod.load(path)
    except config_mod.ConfigError as e:
        raise typer.BadParameter(str(e)) from None
    if name not in settings.targets:
        known = ", ".join(sorted(settings.targets)) or "none"
        raise typer.BadParameter(f"no target {name!r} in the config (targets: {known})")
    return settings.targets[name]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(traces: Sequence[Trace], tiers: Sequence[float]) -> dict[int, dict[str, Any]]:
    """Per requested prompt length: the engine's summary at the first tier, plus the mean
    fluidity-index of the scored probes at each decode tier (score records, nothing else)."""
    by_length: dict[int, list[Trace]] = {}
    for t in traces:
        by_length.setdefault(t.requested_prompt_tokens or 0, []).append(t)
    out: dict[int, dict[str, Any]] = {}
    for length in sorted(by_length):
        group = by_length[length]
        table, records = score_table(group, AnalysisOptions(decode_s=tiers[0]))
        summary = summarize_records(table, records)
        fluidity: dict[str, float | None] = {}
        for i, tier in enumerate(tiers):
            at_tier = records if i == 0 else score_traces(group, AnalysisOptions(decode_s=tier))
            values = [r.fluidity_index for r in at_tier if r.fluidity_index is not None]
            fluidity[f"{round(tier * 1000)}ms"] = _mean(values)
        tpots = [r.tpot_ns / NS_PER_S for r in records if r.tpot_ns is not None]
        chunk_sizes = [
            r.tokens_per_chunk
            for t, r in zip(group, records, strict=True)
            if t.outcome is Outcome.OK and r.tokens_per_chunk is not None
        ]
        failures = Counter(t.outcome.value for t in group if t.outcome is not Outcome.OK)
        out[length] = {
            "requests": summary.requests,
            "ok": summary.ok,
            "ttft_s": summary.percentiles["ttft"],
            "ttfat_s": summary.percentiles["ttfat"],
            "tpot_s": {"p50": quantile(tpots, 0.5), "p90": quantile(tpots, 0.9)},
            "fluidity_index": fluidity,
            "share_fluid": summary.share_fluid,
            "fluent_token_rate": summary.fluent_token_rate,
            "tokens_per_chunk": _mean(chunk_sizes),
            "failures": dict(sorted(failures.items())),
        }
    return out


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.1f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render(summary: dict[int, dict[str, Any]], tiers: Sequence[float], console: Console) -> None:
    tier_names = "/".join(str(round(t * 1000)) for t in tiers)
    table = Table(title="Probe results by prompt length")
    columns = ["P", "ok/n", "TTFT ms p50/90/99", "TPOT ms", f"FI @{tier_names}ms", "fluid"]
    columns += ["fluent tok/s", "tok/chunk", "failures"]
    for c in columns:
        table.add_column(c, justify="left" if c == "failures" else "right")
    for length, row in summary.items():
        ttft = row["ttft_s"]
        table.add_row(
            str(length),
            f"{row['ok']}/{row['requests']}",
            "/".join(_ms(ttft[k]) for k in ("p50", "p90", "p99")),
            _ms(row["tpot_s"]["p50"]),
            "/".join(_num(v, 2) for v in row["fluidity_index"].values()),
            _num(row["share_fluid"], 2),
            _num(row["fluent_token_rate"], 1),
            _num(row["tokens_per_chunk"], 2),
            ", ".join(f"{k} {v}" for k, v in row["failures"].items()) or "—",
        )
    console.print(table)


def _default(field: str) -> str:
    """A workload default as the help shows it (the config model is the one declaration)."""
    info = Workload.model_fields[field]
    value = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


@app.command("probe")
def probe_command(
    base_url: BaseUrl = None,
    model: Model = None,
    api: Api = None,
    provider: Provider = None,
    api_key_env: ApiKeyEnv = None,
    prompt_tokens: Annotated[
        str | None,
        typer.Option(
            "--prompt-tokens",
            help=f"Comma-separated prompt lengths [default: {_default('prompt_tokens')}].",
        ),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            min=1,
            max=MAX_TOKENS_MAX,
            help=f"Output tokens asked per probe [default: {_default('max_tokens')}].",
        ),
    ] = None,
    requests: Annotated[
        int | None,
        typer.Option(
            "--requests",
            min=1,
            max=REPETITIONS_MAX,
            help=f"Probes per prompt length [default: {_default('repetitions')}].",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            max=512,
            help="Probes in flight at once [default: "
            f"{Target.model_fields['concurrency'].default}].",
        ),
    ] = None,
    trace_out: Annotated[
        Path | None, typer.Option("--trace-out", help="Write etalon-trace JSONL here.")
    ] = None,
    as_json: Json = False,
    target_name: TargetName = None,
    config_file: ConfigFile = None,
    tokenizer_name: TokenizerName = DEFAULT_TOKENIZER,
    seed: Seed = 0,
) -> None:
    """Probe an endpoint now: TTFT, TPOT and fluidity-index per prompt length."""
    if target_name is not None:
        target = _target_from_config(config_file, target_name)
        name = target_name
    else:
        target = _target_from_args(base_url, model, api, provider, api_key_env)
        name = "cli"
    lengths = _lengths(prompt_tokens) if prompt_tokens else list(target.workloads.prompt_tokens)
    max_out = max_tokens or target.workloads.max_tokens
    reps = requests or target.workloads.repetitions
    conc = concurrency or target.concurrency
    try:
        tokenizer = get_tokenizer(tokenizer_name)
    except TokenizerUnavailableError as e:
        raise typer.BadParameter(str(e)) from None
    err = Console(stderr=True)
    key = target.api_key()
    secrets = [key.get_secret_value()] if key is not None else []
    scrubbed_stderr_logging(Scrubber([*secrets, *url_secrets(target.resolved_base_url or "")]))
    key_env = target.resolved_key_env
    if key_env and key is None:
        err.print(f"[yellow]environment variable {key_env} is not set: sending no API key[/]")
    total = len(lengths) * reps
    progress = Progress(
        TextColumn("probing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
    )
    settle_heap()
    with progress:
        task = progress.add_task(target.model, total=total, failed=0)
        failed = 0

        def done(trace: Trace) -> None:
            nonlocal failed
            failed += trace.outcome is not Outcome.OK
            progress.update(task, advance=1, failed=failed)

        traces = run(
            run_batch(
                target,
                name=name,
                prompt_tokens=lengths,
                max_tokens=max_out,
                requests=reps,
                concurrency=conc,
                tokenizer=tokenizer,
                seed=seed,
                on_trace=done,
                environ=os.environ,
            )
        )
    if trace_out is not None:
        with trace_out.open("w", encoding="utf-8") as stream:
            trace_codec.write(traces, stream)
    tiers = list(target.deadlines.decode_s)
    summary = summarize(traces, tiers)
    if as_json:
        doc = {
            "target": name,
            "model": target.model,
            "api": target.resolved_api,
            "by_prompt_tokens": {str(k): v for k, v in summary.items()},
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        render(summary, tiers, Console())
        for t in traces:
            if t.outcome is not Outcome.OK and t.error:
                err.print(f"[red]{t.outcome.value}[/] P={t.requested_prompt_tokens}: {t.error}")
                break
    if not any(t.outcome is Outcome.OK for t in traces):
        raise typer.Exit(1)
