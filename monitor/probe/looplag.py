"""Event-loop lag sampling, so the prober's own stalls can be told apart from the vendor's.

A blocked loop delivers queued chunks back-to-back, which looks exactly like a vendor burst. A task
sleeps `interval` and records how late it woke; a probe asks for the worst lag seen while it ran,
and `on_sample` (the daemon's `etalon_event_loop_lag_seconds` histogram) sees every sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable


class LoopLagMonitor:
    def __init__(
        self,
        interval_s: float = 0.05,
        keep: int = 20_000,
        clock: Callable[[], int] = time.perf_counter_ns,
        on_sample: Callable[[float], None] | None = None,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._on_sample = on_sample
        """Called with each sample's lag in seconds."""
        self._samples: deque[tuple[int, int]] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        interval_ns = int(self.interval_s * 1e9)
        while True:
            before = self._clock()
            await asyncio.sleep(self.interval_s)
            after = self._clock()
            lag = max(after - before - interval_ns, 0)
            self._samples.append((after, lag))
            if self._on_sample is not None:
                self._on_sample(lag / 1e9)

    def max_lag_ns(self, start_ns: int, end_ns: int) -> int:
        """Worst lag among wake-ups in [start, end + one interval] (the one covering the end)."""
        limit = end_ns + int(self.interval_s * 1e9)
        worst = 0
        for t, lag in reversed(self._samples):
            if t < start_ns:
                break
            if t <= limit and lag > worst:
                worst = lag
        return worst
