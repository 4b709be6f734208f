"""`etalon-monitor capacity`: the highest QPS at which each SLO still holds, found by search.

Live progress (per step: sent, finished, certain violators) goes to stderr; the result table or
`--json` to stdout. The document is stored in the database unless `--no-store`. When the client
fell behind in a step, no capacity is stated and the command exits 3.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from monitor.capacity.deadlines import wants_profile
from monitor.capacity.run import CapacityOptions, CapacityResult, search_capacity
from monitor.capacity.search import SearchConfig
from monitor.capacity.slo import SLO_NAMES, SloThresholds
from monitor.capacity.step import StepProgress, StepResult
from monitor.capacity.workload import ARRIVALS, parse_lengths
from monitor.cli.app import app
from monitor.cli.profile import resolve_target, store_or_fail
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
from monitor.cli.transfer import settings_or_exit
from monitor.config import Target
from monitor.metrics.prefill import DEFAULT_COEFFICIENTS, PrefillModel
from monitor.probe.eventloop import run
from monitor.probe.tokens import DEFAULT_TOKENIZER, TokenizerUnavailableError, get_tokenizer
from monitor.store.capacity import latest_profiles, save_capacity
from monitor.store.connect import open_store

EXIT_CLIENT_LIMITED = 3


def _slos(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [n for n in names if n not in SLO_NAMES]
    if bad or not names:
        raise typer.BadParameter(f"--slo takes a comma list of {', '.join(SLO_NAMES)}")
    return names


def _stored_profile(config_file: Path | None, name: str) -> tuple[float, float, float] | None:
    settings = settings_or_exit(config_file)

    async def go() -> tuple[float, float, float] | None:
        async with open_store(settings) as store:
            found = await latest_profiles(store.engine, [name])
        return found[name].coefficients if name in found else None

    return run(go())


def resolve_prefill(
    target: Target,
    name: str,
    config_file: Path | None,
    fixed_s: float | None,
    slack_s: float | None,
    use_profile: bool,
) -> PrefillModel:
    """`--prefill-deadline`, else the stored profile (if asked for), else the target's model."""
    d = target.deadlines
    slack = d.prefill_slack_s if slack_s is None else slack_s
    if fixed_s is not None:
        return PrefillModel.fixed(fixed_s)
    if use_profile or wants_profile(target):
        coefficients = _stored_profile(config_file, name)
        if coefficients is None:
            raise typer.BadParameter(
                f"no stored prefill profile for {name!r}: run `etalon-monitor profile` first"
            )
        return PrefillModel(coefficients=coefficients, slack_s=slack)
    if d.prefill_s is not None:
        return PrefillModel.fixed(d.prefill_s)
    return PrefillModel(coefficients=d.prefill_coefficients or DEFAULT_COEFFICIENTS, slack_s=slack)


def _num(v: Any, scale: float = 1.0, digits: int = 1) -> str:
    if v is None:
        return "—"
    if v == "inf":
        return "∞"
    return f"{float(v) * scale:.{digits}f}"


def step_line(step: StepResult) -> str:
    marks = " ".join(f"{s} {'✓' if step.passed(s) else '✗'}" for s in SLO_NAMES)
    achieved = _num(step.achieved_qps, digits=2)
    early = " (stopped early: saturated)" if step.early_stop else ""
    client = "" if step.client_ok else " [client fell behind]"
    return f"QPS {step.qps:g}: achieved {achieved}, {marks}{early}{client}"


def render(result: CapacityResult, console: Console) -> None:
    doc = result.to_json()
    table = Table(
        title=f"Capacity steps of {result.target} ({result.model})",
        caption="ms; dl deadline, tbt tail TBT, tt TTFT+TPOT; * stopped early (saturated)",
    )
    columns = ["QPS", "got", "sent/ok", "miss p99", "TBT p99", "TTFT p90", "TPOT p90"]
    columns += ["dl", "tbt", "tt"]
    for c in columns:
        table.add_column(c, justify="right")
    for step in sorted(doc["steps"], key=lambda s: s["qps"]):
        slos = step["slos"]
        table.add_row(
            f"{step['qps']:g}",
            _num(step["achieved_qps"], digits=2),
            f"{step['sent']}/{step['finished']}" + (" *" if step["early_stop"] else ""),
            _num(slos["deadline"]["miss_rate_at_percentile"], digits=3),
            _num(slos["tbt"]["tbt_s_at_percentile"], 1000),
            _num(slos["ttft_tpot"]["ttft_s_at_percentile"], 1000),
            _num(slos["ttft_tpot"]["tpot_s_at_percentile"], 1000),
            *("✓" if slos[s]["passed"] else "✗" for s in SLO_NAMES),
        )
    console.print(table)
    if result.client_limited_at_qps is not None:
        console.print(
            "[red]no capacity stated:[/] the client fell behind at "
            f"{result.client_limited_at_qps:g} QPS (late sends or loop lag); "
            "rerun on a less loaded machine or lower --max-qps"
        )
        return
    for slo, cap in doc["capacity"].items():
        bound = {"at_least": "≥ ", "unresolved": "≥ "}.get(cap["status"], "")
        fail = cap["lowest_failing_qps"]
        tail = f" (fails at {fail:g})" if fail is not None else ""
        line = f"capacity {slo}: {bound}{cap['capacity_qps']:g} QPS{tail} ({cap['status']})"
        console.print(line, markup=False)


@app.command("capacity")
def capacity_command(
    base_url: BaseUrl = None,
    model: Model = None,
    api: Api = None,
    provider: Provider = None,
    api_key_env: ApiKeyEnv = None,
    prompt_tokens: Annotated[
        int, typer.Option("--prompt-tokens", min=1, help="Prompt length of fixed requests.")
    ] = 512,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Output tokens asked per request.")
    ] = 128,
    lengths: Annotated[
        str,
        typer.Option(
            "--lengths",
            help="fixed:P,O | uniform:P1-P2,O1-O2 | file:PATH [fixed --prompt-tokens,--max-tokens]",
        ),
    ] = "",
    target_name: TargetName = None,
    config_file: ConfigFile = None,
    slo: Annotated[
        str, typer.Option("--slo", help=f"SLOs to search, comma list of {', '.join(SLO_NAMES)}.")
    ] = ",".join(SLO_NAMES),
    decode_deadline: Annotated[
        float, typer.Option("--decode-deadline", min=0.0001, help="D_d of the deadline SLO, s.")
    ] = 0.025,
    miss_rate: Annotated[
        float,
        typer.Option(
            "--miss-rate",
            min=0.0,
            max=1.0,
            help="Deadline SLO: largest share of missed deadlines a request may have.",
        ),
    ] = 0.1,
    percentile: Annotated[
        float,
        typer.Option(
            "--percentile",
            min=0.5,
            max=1.0,
            help="Deadline SLO: share of requests that must keep within --miss-rate.",
        ),
    ] = 0.99,
    tbt_slo: Annotated[float, typer.Option("--tbt-slo", min=0.0, help="p99 TBT limit, s.")] = 0.1,
    ttft_slo: Annotated[
        float, typer.Option("--ttft-slo", min=0.0, help="p90 TTFT limit, s.")
    ] = 2.0,
    tpot_slo: Annotated[
        float, typer.Option("--tpot-slo", min=0.0, help="p90 TPOT limit, s.")
    ] = 0.1,
    prefill_deadline: Annotated[
        float | None, typer.Option("--prefill-deadline", min=0.0001, help="Fixed D_p, s.")
    ] = None,
    prefill_slack: Annotated[
        float | None,
        typer.Option("--prefill-slack", min=0.0, help="Seconds added to the prefill model's D_p."),
    ] = None,
    use_profile: Annotated[
        bool, typer.Option("--prefill-profile", help="D_p from the latest stored profile.")
    ] = False,
    requests_per_step: Annotated[
        int, typer.Option("--requests-per-step", min=2, help="Requests sent at each QPS step.")
    ] = 100,
    step_seconds: Annotated[
        float | None, typer.Option("--step-seconds", min=0.1, help="Arrivals per step, s.")
    ] = None,
    start_qps: Annotated[
        float, typer.Option("--start-qps", min=0.01, help="First QPS tried.")
    ] = 1.0,
    max_qps: Annotated[
        float, typer.Option("--max-qps", min=0.01, help="Highest QPS the search may try.")
    ] = 64.0,
    granularity: Annotated[
        float, typer.Option("--granularity", min=0.1, max=50.0, help="Bracket width, %.")
    ] = 5.0,
    max_steps: Annotated[
        int, typer.Option("--max-steps", min=1, help="Most QPS steps the search may take.")
    ] = 12,
    arrivals: Annotated[str, typer.Option("--arrivals", help="poisson | uniform")] = "poisson",
    seed: Seed = 0,
    drain: Annotated[
        float, typer.Option("--drain", min=0.1, help="Wait after last arrival.")
    ] = 60.0,
    max_client_lag: Annotated[
        float, typer.Option("--max-client-lag", min=0.0, help="Client lateness allowed, s.")
    ] = 0.025,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Store the result in the database.")
    ] = True,
    as_json: Json = False,
    tokenizer_name: TokenizerName = DEFAULT_TOKENIZER,
) -> None:
    """Search the highest QPS each SLO holds at (deadline/fluidity, tail TBT, TTFT+TPOT)."""
    name, target = resolve_target(
        target_name, config_file, base_url, model, api, provider, api_key_env
    )
    if arrivals not in ARRIVALS:
        raise typer.BadParameter(f"--arrivals must be one of {', '.join(ARRIVALS)}")
    if start_qps > max_qps:
        raise typer.BadParameter("--start-qps must not exceed --max-qps")
    try:
        workload = parse_lengths(lengths, prompt_tokens, max_tokens)
        tokenizer = get_tokenizer(tokenizer_name)
    except (ValueError, OSError, TokenizerUnavailableError) as e:
        raise typer.BadParameter(str(e)) from None
    prefill = resolve_prefill(
        target, name, config_file, prefill_deadline, prefill_slack, use_profile
    )
    options = CapacityOptions(
        lengths=workload,
        slos=_slos(slo),
        thresholds=SloThresholds(
            decode_s=decode_deadline,
            miss_rate=miss_rate,
            percentile=percentile,
            tbt_s=tbt_slo,
            ttft_s=ttft_slo,
            tpot_s=tpot_slo,
        ),
        search=SearchConfig(
            start_qps=start_qps,
            max_qps=max_qps,
            granularity=granularity / 100.0,
            max_steps=max_steps,
        ),
        requests_per_step=requests_per_step,
        step_seconds=step_seconds,
        arrivals=arrivals,
        seed=seed,
        drain_s=drain,
        max_client_lag_s=max_client_lag,
    )
    err = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sent {task.fields[sent]}, {task.fields[bad]} certain violators"),
        console=err,
        transient=True,
    )
    current: dict[str, TaskID] = {}

    def on_start(qps: float, planned: int) -> None:
        current["task"] = progress.add_task(f"step at {qps:g} QPS", total=planned, sent=0, bad=0)

    def on_progress(p: StepProgress) -> None:
        progress.update(current["task"], completed=p.finished, sent=p.sent, bad=p.violators)

    def on_step(step: StepResult) -> None:
        progress.remove_task(current["task"])
        progress.console.print(step_line(step))

    with progress:
        result = run(
            search_capacity(
                target,
                options,
                prefill,
                tokenizer,
                name=name,
                environ=os.environ,
                on_step_start=on_start,
                on_progress=on_progress,
                on_step=on_step,
            )
        )
    doc = result.to_json()
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        render(result, Console())
    if store:
        store_or_fail(config_file, "capacity result", lambda engine: save_capacity(engine, doc))
    if result.client_limited_at_qps is not None:
        raise typer.Exit(EXIT_CLIENT_LIMITED)
