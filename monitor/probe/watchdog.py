"""Per-probe timeouts enforced by one timer, at no cost per read.

The read loop only stores the time of the last read (which it stamps anyway); a `call_later` timer
wakes at the nearest deadline, re-arms itself if data arrived in the meantime, and otherwise cancels
the probe's task, remembering which deadline fired so the probe can record it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from monitor.config import Timeouts

_NS = 1_000_000_000


class Watchdog:
    def __init__(
        self,
        task: asyncio.Task[object],
        start_ns: int,
        timeouts: Timeouts,
        clock: Callable[[], int],
    ) -> None:
        self._task = task
        self._start = start_ns
        self._clock = clock
        self._first_byte = start_ns + int(timeouts.first_byte_s * _NS)
        self._total = start_ns + int(timeouts.total_s * _NS)
        self._idle_ns = int(timeouts.idle_s * _NS)
        self._timeouts = timeouts
        self._handle: asyncio.TimerHandle | None = None
        self.last_read_ns: int | None = None
        self.fired: str | None = None

    def arm(self) -> None:
        self._schedule(min(self._first_byte, self._total, self._start + self._idle_ns))

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, at_ns: int) -> None:
        delay = max(at_ns - self._clock(), 0) / _NS
        self._handle = asyncio.get_running_loop().call_later(delay, self._check)

    def _check(self) -> None:
        now = self._clock()
        t = self._timeouts
        if now >= self._total:
            return self._fire(f"total timeout ({t.total_s:g}s)")
        if self.last_read_ns is None:
            if now >= self._first_byte:
                return self._fire(f"no first byte within {t.first_byte_s:g}s")
            # wake again within one idle period: the first read may come at any moment
            return self._schedule(min(self._first_byte, self._total, now + self._idle_ns))
        idle_at = self.last_read_ns + self._idle_ns
        if now >= idle_at:
            return self._fire(f"idle timeout ({t.idle_s:g}s without data)")
        return self._schedule(min(idle_at, self._total))

    def _fire(self, reason: str) -> None:
        self._handle = None
        self.fired = reason
        self._task.cancel()
