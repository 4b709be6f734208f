"""`etalon-monitor simulate`: run the simulated vendor standalone until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.probe.eventloop import run
from monitor.sim import PRESETS, start_simulator


async def _serve(host: str, port: int, profile: str, seed: int) -> None:
    sim = await start_simulator(host, port, profile=profile, seed=seed)
    sys.stdout.write(f"simulator ({profile}, seed {seed}) listening on {sim.base_url}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


@app.command("simulate")
def simulate_command(
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 8000,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    profile: Annotated[
        str, typer.Option("--profile", help=f"One of {', '.join(PRESETS)}.")
    ] = "fast",
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Serve OpenAI chat/completions/Responses, Anthropic and Gemini SSE from a simulated vendor."""
    if profile not in PRESETS:
        raise typer.BadParameter(f"unknown profile {profile!r}; known: {', '.join(PRESETS)}")
    run(_serve(host, port, profile, seed))
