"""Per-target back-off after a 429: probes due before `Retry-After` has passed are skipped.

Skipping (and recording the skip) rather than waiting keeps a round's timing honest: a probe sent
late would measure the vendor's recovery, not its steady state. A back-off never lasts longer than
`RETRY_AFTER_MAX_S` (an hour), whatever the trace says: an infinite or absurd `Retry-After` must
not skip a target for the rest of the process.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from monitor.probe.numbers import RETRY_AFTER_MAX_S
from monitor.trace import Outcome, Trace


def retry_after_s(trace: Trace) -> float | None:
    """The vendor's `Retry-After`, as the prober recorded it in `meta`, at most an hour."""
    value = (trace.meta or {}).get("retry_after_s")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if (isinstance(value, float) and math.isnan(value)) or value < 0:
        return None
    return RETRY_AFTER_MAX_S if value > RETRY_AFTER_MAX_S else float(value)


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
