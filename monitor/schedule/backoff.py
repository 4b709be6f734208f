"""Per-target back-off after a 429: probes due before `Retry-After` has passed are skipped.

Skipping (and recording the skip) rather than waiting keeps a round's timing honest: a probe sent
late would measure the vendor's recovery, not its steady state.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.trace import Outcome, Trace


def retry_after_s(trace: Trace) -> float | None:
    """The vendor's `Retry-After`, as the prober recorded it in `meta`."""
    value = (trace.meta or {}).get("retry_after_s")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


class Backoff:
    def __init__(self, clock: Callable[[], float], default_s: float) -> None:
        self._clock = clock
        self._default_s = default_s
        self._until: dict[str, float] = {}

    def record(self, target: str, trace: Trace) -> None:
        if trace.outcome is not Outcome.RATE_LIMITED:
            return
        wait = retry_after_s(trace)
        until = self._clock() + (self._default_s if wait is None else wait)
        self._until[target] = max(until, self._until.get(target, 0.0))

    def active(self, target: str) -> bool:
        until = self._until.get(target)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[target]
            return False
        return True
