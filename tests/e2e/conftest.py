"""The daemon as a real process: simulators on 127.0.0.1, PostgreSQL, /metrics scraped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from monitor.sim import RunningSimulator

CLI = [sys.executable, "-c", "from monitor.cli import main; main()"]
SERVING = "serving metrics at "


def write_config(
    path: Path, database_url: str, sims: dict[str, RunningSimulator], **schedule: Any
) -> Path:
    config = {
        "region": "lab",
        "data_dir": str(path.parent / "data"),
        "database": {"url": database_url},
        "exporter": {"listen": "127.0.0.1:0", "refresh_s": 0.2},
        "schedule": {
            "every": "1s",
            "rounds_per_cycle": 3,
            "cycles": 1,
            "jitter_s": 0,
            "spread": "0s",
            "leader_poll_s": 0.2,
            "stop_grace_s": 10,
            **schedule,
        },
        "targets": {
            name: {
                "provider": "simulator",
                "base_url": sim.base_url,
                "model": f"model-{name}",
                "workloads": {"prompt_tokens": [16, 32], "max_tokens": 8},
            }
            for name, sim in sims.items()
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


class DaemonProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.metrics_url: str | None = None
        self.serving = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if SERVING in line and self.metrics_url is None:
                self.metrics_url = line.split(SERVING, 1)[1].split()[0]
                self.serving.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def scrape(self) -> str:
        assert self.metrics_url is not None
        async with aiohttp.ClientSession() as s, s.get(self.metrics_url) as r:
            assert r.status == 200
            return await r.text()

    async def sample(self, name: str, labels: dict[str, str]) -> float | None:
        for family in text_string_to_metric_families(await self.scrape()):
            for s in family.samples:
                if s.name == name and s.labels == labels:
                    return float(s.value)
        return None

    async def wait_exit(self, timeout: float = 30) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(self._reader, 5)
        return code

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)


async def start_daemon(*args: str, ready: bool = True) -> DaemonProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETALON_")}
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "run",
        *args,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        env=env,
    )
    daemon = DaemonProcess(proc)
    if ready:
        waiter = asyncio.create_task(daemon.serving.wait())
        exited = asyncio.create_task(proc.wait())
        await asyncio.wait({waiter, exited}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        assert daemon.serving.is_set(), f"daemon did not start serving:\n{daemon.output}"
    return daemon


@contextlib.asynccontextmanager
async def daemon_process(*args: str) -> AsyncIterator[DaemonProcess]:
    daemon = await start_daemon(*args)
    try:
        yield daemon
    finally:
        if daemon.proc.returncode is None:
            daemon.proc.kill()
            await daemon.proc.wait()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Wait for the daemon to reach a state, failing after `timeout`."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("state not reached in time")
        await asyncio.sleep(0.1)
