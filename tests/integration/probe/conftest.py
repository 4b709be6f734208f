"""A prober over a real session, with a clock that remembers each probe's t = 0."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from monitor.probe.client import Prober
from monitor.probe.looplag import LoopLagMonitor
from monitor.probe.session import make_session
from monitor.probe.tokens import BuiltinTokenizer


class RecordingClock:
    """`perf_counter_ns`, remembering every value handed out (the first per probe is its t = 0)."""

    def __init__(self) -> None:
        self.values: list[int] = []

    def __call__(self) -> int:
        t = time.perf_counter_ns()
        self.values.append(t)
        return t


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
async def prober(clock: RecordingClock) -> AsyncIterator[Prober]:
    lag = LoopLagMonitor(interval_s=0.01)
    lag.start()
    async with make_session(32) as session:
        yield Prober(session, BuiltinTokenizer(), lag_monitor=lag, clock=clock, environ={})
    await lag.stop()
