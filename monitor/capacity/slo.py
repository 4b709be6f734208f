"""The three capacity SLOs, judged on the same requests so their verdicts can be compared.

- `deadline` (the Etalon paper's fluidity SLO): each request's deadline-miss rate at `D_p(P)` and
  `D_d`; the SLO holds when the `percentile` (0.99) of those rates is at most `miss_rate` (0.1),
  i.e. 99 % of requests miss at most 10 % of their deadlines.
- `tbt`: the p99 of the flat, token-weighted list of time-between-tokens over all requests (zeros
  inside multi-token chunks included) is at most `tbt_s`.
- `ttft_tpot`: the p90 of per-request TTFT is at most `ttft_s` *and* the p90 of per-request TPOT is
  at most `tpot_s`.

A request that failed or was cut off is infinitely late: miss rate 1, TTFT and TPOT infinite, and
each token it did not deliver adds an infinite TBT. A step that drops requests therefore cannot
pass by having fewer samples.

Worked example (deadline SLO, 100 requests): 99 with miss rate 0 and one with 0.5: the linear
0.99-quantile lies between ranks 98 and 99, 0 + 0.01·(0.5 - 0) = 0.005 ≤ 0.1, so it passes; with
two requests at 0.5 it is 0.5 and it fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from monitor.metrics.arrivals import token_arrivals
from monitor.metrics.fluidity import fluidity
from monitor.metrics.latency import tbt_ns, tpot_ns
from monitor.metrics.prefill import PrefillModel
from monitor.metrics.quantiles import quantile
from monitor.metrics.units import seconds_to_ns
from monitor.trace import Outcome, Trace

SLO_NAMES: Final = ("deadline", "tbt", "ttft_tpot")


@dataclass(frozen=True, slots=True)
class SloThresholds:
    decode_s: float = 0.025
    """`D_d` of the deadline SLO (the paper's 25 ms)."""
    miss_rate: float = 0.1
    percentile: float = 0.99
    tbt_s: float = 0.1
    tbt_percentile: float = 0.99
    ttft_s: float = 2.0
    tpot_s: float = 0.1
    latency_percentile: float = 0.9

    def to_json(self) -> dict[str, float]:
        return {
            "decode_deadline_s": self.decode_s,
            "deadline_miss_rate": self.miss_rate,
            "deadline_percentile": self.percentile,
            "tbt_s": self.tbt_s,
            "tbt_percentile": self.tbt_percentile,
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "latency_percentile": self.latency_percentile,
        }


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the SLOs need from one request (seconds)."""

    ok: bool
    miss_rate: float
    ttft_s: float
    tpot_s: float
    tbt_s: tuple[float, ...]


def request_facts(trace: Trace, prefill: PrefillModel, decode_s: float) -> RequestFacts:
    """Facts of one trace; a failed or empty one is infinitely late everywhere."""
    chunks = trace.content_chunks
    arrivals = token_arrivals([c.t_ns for c in chunks], [c.tokens for c in chunks])
    wanted = trace.max_tokens or 1
    if trace.outcome is not Outcome.OK or arrivals.size == 0:
        gaps = tuple(float(g) / 1e9 for g in tbt_ns(arrivals)) if arrivals.size else ()
        missing = max(wanted - int(arrivals.size), 1)
        return RequestFacts(False, 1.0, math.inf, math.inf, gaps + (math.inf,) * missing)
    prompt = trace.prompt_tokens or trace.requested_prompt_tokens or 0
    score = fluidity(arrivals, prefill.deadline_ns(prompt), seconds_to_ns(decode_s))
    tpot = tpot_ns(arrivals)
    return RequestFacts(
        ok=True,
        miss_rate=score.miss_rate,
        ttft_s=float(arrivals[0]) / 1e9,
        tpot_s=0.0 if tpot is None else tpot / 1e9,
        tbt_s=tuple(float(g) / 1e9 for g in tbt_ns(arrivals)),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    slo: str
    passed: bool
    numbers: dict[str, float | None]

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, **{k: _finite(v) for k, v in self.numbers.items()}}


def _finite(value: float | None) -> float | str | None:
    """JSON has no infinity: an infinitely late value is written as the string "inf"."""
    if value is None or math.isfinite(value):
        return value
    return "inf"


def _q(values: Sequence[float] | np.ndarray[Any, Any], q: float) -> float | None:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return None
    if np.isinf(arr).any():
        # numpy interpolates inf - inf into nan; take order statistics by hand
        arr = np.sort(arr)
        h = (arr.size - 1) * q
        lo, hi = math.floor(h), math.ceil(h)
        if math.isinf(arr[hi]):
            return math.inf
        return float(arr[lo] + (h - lo) * (arr[hi] - arr[lo]))
    return quantile(arr, q)


def judge(facts: Sequence[RequestFacts], t: SloThresholds) -> dict[str, Verdict]:
    """Every SLO's verdict on the same requests; no requests means nothing passes."""
    miss = _q([f.miss_rate for f in facts], t.percentile)
    tbt_all = [g for f in facts for g in f.tbt_s]
    tbt = _q(tbt_all, t.tbt_percentile)
    ttft = _q([f.ttft_s for f in facts], t.latency_percentile)
    tpot = _q([f.tpot_s for f in facts], t.latency_percentile)
    failed = sum(not f.ok for f in facts)
    fluid = sum(f.miss_rate <= t.miss_rate for f in facts)
    return {
        "deadline": Verdict(
            "deadline",
            miss is not None and miss <= t.miss_rate,
            {
                "miss_rate_at_percentile": miss,
                "share_fluid": fluid / len(facts) if facts else None,
                "failed": float(failed),
            },
        ),
        "tbt": Verdict("tbt", tbt is not None and tbt <= t.tbt_s, {"tbt_s_at_percentile": tbt}),
        "ttft_tpot": Verdict(
            "ttft_tpot",
            ttft is not None and tpot is not None and ttft <= t.ttft_s and tpot <= t.tpot_s,
            {"ttft_s_at_percentile": ttft, "tpot_s_at_percentile": tpot},
        ),
    }
