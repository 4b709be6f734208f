"""`etalon-monitor run`: the daemon; with no config at all, the demo.

The demo needs nothing but this package and local PostgreSQL binaries: it starts three simulated
vendors in-process on loopback (a fast one, a bursty one and a stalling one), probes them every
10 seconds, keeps the probes in the embedded database in the data directory, and serves
`/metrics` until Ctrl-C. `ETALON_*` overrides still apply (e.g. `ETALON_EXPORTER__LISTEN`).
"""

from __future__ import annotations

import logging
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from monitor.cli.app import app
from monitor.config import DEFAULT_DATA_DIR, ConfigError, Exporter, Settings, config_path, load
from monitor.probe.eventloop import run as run_loop

DEMO_VENDORS: Final = (("demo-fast", "fast"), ("demo-chunky", "chunky"), ("demo-stally", "stally"))
DEMO_SCHEDULE: Final = {"every": "10s", "rounds_per_cycle": 24, "jitter_s": 1.0, "spread": "2s"}

log = logging.getLogger("monitor.run")


def demo_settings(base_urls: dict[str, str]) -> Settings:
    """Settings for the demo vendors; the environment still overrides any of them."""
    targets: dict[str, Any] = {
        name: {
            "provider": "simulator",
            "base_url": url,
            "model": f"sim-{name.removeprefix('demo-')}",
            "workloads": {"prompt_tokens": [128, 512], "max_tokens": 48},
        }
        for name, url in base_urls.items()
    }
    return Settings(schedule=DEMO_SCHEDULE, targets=targets)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _main(settings: Settings | None) -> int:
    # imported here: `config check` and `--help` should not pay for the daemon's imports
    from monitor.daemon import Daemon, Served  # noqa: PLC0415

    async with AsyncExitStack() as stack:
        if settings is None:
            from monitor.sim import start_simulator  # noqa: PLC0415

            urls: dict[str, str] = {}
            for name, profile in DEMO_VENDORS:
                sim = await start_simulator("127.0.0.1", 0, profile, seed=len(urls))
                stack.push_async_callback(sim.stop)
                urls[name] = sim.base_url
            settings = demo_settings(urls)
            _say(f"demo: simulated vendors {', '.join(f'{n} at {u}' for n, u in urls.items())}")
            _say(f"demo: a round every {settings.schedule.every}, data in {settings.data_dir}")

        def serving(served: Served) -> None:
            _say(f"serving metrics at {served.metrics_url} (Ctrl-C to stop)")

        return await Daemon(settings, on_serving=serving, lower_priority=True).run()
    return 0


HELP = (
    "Run the monitor: scheduled probe rounds, storage, and Prometheus metrics.\n\n"
    "With no --config (and no ETALON_CONFIG) it runs the demo: simulated vendors "
    f"{', '.join(name for name, _ in DEMO_VENDORS)} on loopback, a round every "
    f"{DEMO_SCHEDULE['every']}, metrics at "
    f"http://{Exporter.model_fields['listen'].default}/metrics "
    f"(ETALON_EXPORTER__LISTEN moves it) and the embedded PostgreSQL in {DEFAULT_DATA_DIR} "
    "(ETALON_DATA_DIR moves it). Ctrl-C or SIGTERM stops it after the probes in flight."
)


@app.command(help=HELP)
def run(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config (default: $ETALON_CONFIG; none: demo)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """The daemon, or the demo without a config (help text: `HELP` above)."""
    path = config_path(config)
    try:
        settings = load(config)
    except ConfigError as e:
        _say(f"invalid config ({e.source}):")
        for problem in e.problems:
            _say(f"  {problem}")
        raise typer.Exit(2) from None
    demo = path is None and not settings.targets
    if not demo and not any(t.enabled for t in settings.targets.values()):
        _say(f"nothing to probe: no enabled target in {path or 'the environment'}")
        raise typer.Exit(2)
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per fire is noise
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin list on every start too
    from monitor.daemon import StartupError  # noqa: PLC0415

    try:
        code = run_loop(_main(None if demo else settings))
    except KeyboardInterrupt:
        code = 0
    except StartupError as e:
        _say(f"cannot start: {e}")
        code = 1
    raise typer.Exit(code)
