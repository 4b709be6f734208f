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
from monitor.sim.faults import HEADER as FAULT_HEADER
from monitor.sim.faults import Fault


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


HELP = (
    "Serve OpenAI chat/completions/Responses, Anthropic and Gemini SSE from a simulated vendor.\n\n"
    f"Faults are injected per request with headers: `{FAULT_HEADER}: NAME` "
    f"({', '.join(Fault)}), `X-Sim-Fault-After: N` content chunks before a mid-stream fault "
    "(default 3), `X-Sim-Delay-S` for slow_headers and `X-Sim-Retry-After` for the 429."
)


@app.command("simulate", help=HELP)
def simulate_command(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")
    ] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (keep it loopback for tests).")
    ] = "127.0.0.1",
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="Latency profile: fast, chunky and stally are vendors (stally also injects "
            "faults at low rates); test answers in milliseconds; bench sends exactly 50 chunks/s.",
        ),
    ] = "fast",
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of every random draw: same seed, same stream.")
    ] = 0,
) -> None:
    """Serve the simulated vendor until interrupted (help text: `HELP` above)."""
    if profile not in PRESETS:
        raise typer.BadParameter(f"unknown profile {profile!r}; known: {', '.join(PRESETS)}")
    run(_serve(host, port, profile, seed))
