"""Fluidity-index of one request: the deadline walk of metrics.md, token by token.

This is the readable definition and the oracle for the vectorised `batch.score`. The first
token is due at `D_p`, each later one `D_d` after the previous deadline; time saved becomes
slack; a late token misses every deadline period that passed and re-anchors the schedule at its
own arrival.

Worked example, gaps `[90, 20, 50, 10]`, `D_p = 100`, `D_d = 25`:
90 <= 100 met (slack 10); 20 <= 35 met (slack 15);
50 > 40 late: 1 + (50 - 15 - 25) // 25 = 1 missed, slack 0; 10 <= 25 met.
So met 3, missed 1, index 0.75.
"""

from dataclasses import dataclass

from monitor.metrics.arrays import Int64Array
from monitor.metrics.arrivals import gaps


@dataclass(frozen=True, slots=True)
class DeadlineScore:
    met: int
    missed: int

    @property
    def total(self) -> int:
        return self.met + self.missed

    @property
    def index(self) -> float:
        """Share of deadlines met; 1.0 when there were none to meet."""
        return self.met / self.total if self.total else 1.0

    @property
    def miss_rate(self) -> float:
        return self.missed / self.total if self.total else 0.0

    @property
    def fluid(self) -> bool:
        """Miss rate <= 10 %, decided in integers: 10·missed <= met + missed."""
        return 9 * self.missed <= self.met


def _walk(gap_list: list[int], first_deadline_ns: int, decode_ns: int) -> DeadlineScore:
    if decode_ns <= 0:
        raise ValueError("the decode deadline must be positive")
    slack = met = missed = 0
    deadline = first_deadline_ns
    for g in gap_list:
        if g <= deadline + slack:
            slack += deadline - g
            met += 1
        else:
            missed += 1 + (g - slack - deadline) // decode_ns
            slack = 0
        deadline = decode_ns
    return DeadlineScore(met=met, missed=missed)


def fluidity(arrivals: Int64Array, prefill_ns: int, decode_ns: int) -> DeadlineScore:
    """With-TTFT variant: token 0 is judged against `prefill_ns`."""
    if prefill_ns <= 0:
        raise ValueError("the prefill deadline must be positive")
    return _walk([int(g) for g in gaps(arrivals)], prefill_ns, decode_ns)


def fluidity_decode_only(arrivals: Int64Array, decode_ns: int) -> DeadlineScore:
    """Decode-only variant: token 0 is skipped, token 1 starts with no slack."""
    return _walk([int(g) for g in gaps(arrivals)[1:]], decode_ns, decode_ns)
