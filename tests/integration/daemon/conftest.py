"""In-process daemons against the test database and real simulators on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Settings
from monitor.daemon import Daemon, Served
from monitor.sim import RunningSimulator
from monitor.sim.profiles import PRESETS, Profile

FAST_SCHEDULE: dict[str, Any] = {
    "every": "1s",
    "rounds_per_cycle": 3,
    "cycles": 1,
    "jitter_s": 0,
    "spread": "0s",
    "leader_poll_s": 0.1,
    "stop_grace_s": 10,
}


async def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for a condition the code under test will make true, failing after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


def daemon_settings(
    database_url: str,
    data_dir: Path,
    sims: dict[str, RunningSimulator],
    *,
    prompts: tuple[int, ...] = (16, 32),
    region: str = "lab",
    apis: dict[str, str] | None = None,
    **schedule: Any,
) -> Settings:
    """`apis` picks a wire format per target name (default: the simulator preset's, OpenAI chat)."""
    targets = {
        name: {
            "provider": "simulator",
            "base_url": sim.base_url,
            "model": f"model-{name}",
            "workloads": {"prompt_tokens": list(prompts), "max_tokens": 8},
            **({"api": apis[name]} if apis and name in apis else {}),
        }
        for name, sim in sims.items()
    }
    return Settings(
        region=region,
        data_dir=data_dir,
        database={"url": database_url},
        exporter={"listen": "127.0.0.1:0", "refresh_s": 0.2},
        schedule={**FAST_SCHEDULE, **schedule},
        targets=targets,
    )


class RunningDaemon:
    def __init__(self, daemon: Daemon, task: asyncio.Task[int], served: Served) -> None:
        self.daemon = daemon
        self.task = task
        self.served = served

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.daemon.registry.get_sample_value(name, labels or {})

    async def stop(self) -> int:
        self.daemon.request_stop()
        return await asyncio.wait_for(self.task, 30)


@asynccontextmanager
async def running_daemon(settings: Settings) -> AsyncIterator[RunningDaemon]:
    served: asyncio.Future[Served] = asyncio.get_running_loop().create_future()
    daemon = Daemon(settings, on_serving=served.set_result)
    task = asyncio.create_task(daemon.run())
    try:
        address = await asyncio.wait_for(asyncio.shield(served), 20)
        yield RunningDaemon(daemon, task, address)
    finally:
        if not task.done():
            daemon.request_stop()
            await asyncio.wait_for(task, 30)


@pytest.fixture
def rate_limited_profile() -> Iterator[Profile]:
    yield PRESETS["test"].with_(fault_rates={"rate_limit": 1.0})
