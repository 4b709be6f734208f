"""`etalon-monitor profile`: isolated prefill TTFT per prompt length, the fitted `D_p(P)`, stored.

The fit (`monitor.capacity.profile`) is stored per target with its date; a target configured with
`deadlines.prefill_model: profile` is then judged against its latest profile by the daemon and by
`capacity`. Progress goes to stderr so `--json` on stdout stays machine-readable.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.capacity.profile import (
    DEFAULT_LENGTHS,
    PROFILE_MAX_TOKENS,
    PrefillProfile,
    run_profile,
)
from monitor.cli.app import app
from monitor.cli.probe import _lengths, _target_from_args, _target_from_config
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
from monitor.probe.eventloop import run
from monitor.probe.tokens import DEFAULT_TOKENIZER, TokenizerUnavailableError, get_tokenizer
from monitor.store.capacity import save_profile
from monitor.store.connect import open_store
from monitor.trace import Outcome, Trace


def resolve_target(
    target_name: str | None,
    config_file: Path | None,
    base_url: str | None,
    model: str | None,
    api: str | None,
    provider: str | None,
    api_key_env: str | None,
) -> tuple[str, Target]:
    if target_name is not None:
        return target_name, _target_from_config(config_file, target_name)
    return "cli", _target_from_args(base_url, model, api, provider, api_key_env)


def store_or_fail(
    config_file: Path | None, what: str, action: Callable[[AsyncEngine], Awaitable[object]]
) -> None:
    """Run `action(engine)` on the configured database; a clear message and exit 1 on failure."""
    settings = settings_or_exit(config_file)

    async def go() -> None:
        async with open_store(settings) as store:
            await action(store.engine)

    try:
        run(go())
    except Exception as e:  # any failure to store is reported, never hidden
        Console(stderr=True).print(f"[red]{what} not stored:[/] {type(e).__name__}: {e}")
        raise typer.Exit(1) from None


def render_profile(profile: PrefillProfile, console: Console) -> None:
    c0, c1, c2 = profile.coefficients
    table = Table(title=f"Prefill profile of {profile.target} ({profile.model})")
    for col in ("P", "min TTFT ms", "fit ms", "residual ms"):
        table.add_column(col, justify="right")
    for p, t, r in zip(profile.lengths, profile.min_ttft_s, profile.residuals_s, strict=True):
        table.add_row(str(p), f"{t * 1000:.1f}", f"{(t - r) * 1000:.1f}", f"{r * 1000:+.2f}")
    console.print(table)
    console.print(
        f"D_p(P) = {c0:.4g} + {c1:.4g}·P + {c2:.4g}·P²  (+ slack)   "
        f"rms residual {profile.rms_residual_s * 1000:.2f} ms, "
        f"{profile.repeats} repeats, {profile.failed} failed"
    )


@app.command("profile")
def profile_command(
    base_url: BaseUrl = None,
    model: Model = None,
    api: Api = None,
    provider: Provider = None,
    api_key_env: ApiKeyEnv = None,
    prompt_tokens: Annotated[
        str | None,
        typer.Option(
            "--prompt-tokens",
            help=f"Comma-separated lengths [{','.join(map(str, DEFAULT_LENGTHS))}].",
        ),
    ] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Requests per length.")] = 5,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Output tokens asked per request.")
    ] = PROFILE_MAX_TOKENS,
    target_name: TargetName = None,
    config_file: ConfigFile = None,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Store the profile in the database.")
    ] = True,
    as_json: Json = False,
    tokenizer_name: TokenizerName = DEFAULT_TOKENIZER,
    seed: Seed = 0,
) -> None:
    """Profile prefill: minimum isolated TTFT per prompt length and its quadratic fit."""
    name, target = resolve_target(
        target_name, config_file, base_url, model, api, provider, api_key_env
    )
    lengths = _lengths(prompt_tokens) if prompt_tokens else list(DEFAULT_LENGTHS)
    if len(set(lengths)) < 3:
        raise typer.BadParameter("a quadratic fit needs at least three distinct prompt lengths")
    try:
        tokenizer = get_tokenizer(tokenizer_name)
    except TokenizerUnavailableError as e:
        raise typer.BadParameter(str(e)) from None
    err = Console(stderr=True)
    progress = Progress(
        TextColumn("profiling {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
    )
    with progress:
        task = progress.add_task(target.model, total=len(lengths) * repeats, failed=0)
        failed = 0

        def done(trace: Trace) -> None:
            nonlocal failed
            failed += trace.outcome is not Outcome.OK
            progress.update(task, advance=1, failed=failed)

        try:
            profile, _traces = run(
                run_profile(
                    target,
                    tokenizer,
                    name=name,
                    lengths=lengths,
                    repeats=repeats,
                    max_tokens=max_tokens,
                    seed=seed,
                    environ=os.environ,
                    on_trace=done,
                )
            )
        except ValueError as e:
            err.print(f"[red]no profile:[/] {e}")
            raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(profile.to_json(), indent=2) + "\n")
    else:
        render_profile(profile, Console())
    if store:
        store_or_fail(config_file, "profile", lambda engine: save_profile(engine, profile))
