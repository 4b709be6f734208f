"""The prefill deadline `D_p(P)`: when the first token of a `P`-token prompt is due.

Prefill cost grows with prompt length, so one fixed TTFT deadline is either lax for short
prompts or impossible for long ones. The model is `D_p(P) = c0 + c1·P + c2·P² + slack`
(seconds, rounded to the nearest ns), or a fixed value. The coefficients are fitted by least
squares to the *minimum* TTFT seen per prompt length in a profiling run: the minimum is the
vendor's capability, the rest is queueing.
A quadratic extrapolates sensibly beyond the profiled lengths.

Example: c = (0.02, 5e-5, 2e-9), slack 0.3, P = 512:
0.02 + 0.0256 + 0.000524288 + 0.3 = 0.346124288 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monitor.limits import (
    PREFILL_DEADLINE_MAX_S,
    PREFILL_DEADLINE_MIN_S,
    PROMPT_TOKENS_MAX,
    PROMPT_TOKENS_MIN,
)
from monitor.metrics.units import seconds_to_ns

DEFAULT_SLACK_S = 0.3
DEFAULT_COEFFICIENTS = (0.02, 5e-5, 2e-9)
"""Used when neither the target nor the trace says otherwise: the reference data's model."""


@dataclass(frozen=True, slots=True)
class PrefillModel:
    coefficients: tuple[float, float, float] | None = DEFAULT_COEFFICIENTS
    slack_s: float = DEFAULT_SLACK_S
    fixed_s: float | None = None

    @classmethod
    def fixed(cls, seconds: float) -> PrefillModel:
        if seconds <= 0:
            raise ValueError("a fixed prefill deadline must be positive")
        return cls(coefficients=None, slack_s=0.0, fixed_s=seconds)

    def seconds(self, prompt_tokens: int) -> float:
        if self.fixed_s is not None:
            return self.fixed_s
        assert self.coefficients is not None
        c0, c1, c2 = self.coefficients
        p = float(prompt_tokens)
        return c0 + c1 * p + c2 * p * p + self.slack_s

    def deadline_ns(self, prompt_tokens: int) -> int:
        """`D_p(P)` in ns, held to [PREFILL_DEADLINE_MIN_S, PREFILL_DEADLINE_MAX_S].

        A model checked by `problem()` stays inside that range for every workload length; the
        clamp only matters for prompts longer than any workload (a trace from another tool),
        where a quadratic would otherwise run past int64 nanoseconds or below zero.
        """
        seconds = min(
            max(self.seconds(prompt_tokens), PREFILL_DEADLINE_MIN_S), PREFILL_DEADLINE_MAX_S
        )
        return seconds_to_ns(seconds)

    def problem(self, lo: int = PROMPT_TOKENS_MIN, hi: int = PROMPT_TOKENS_MAX) -> str | None:
        """Why this model is unusable for prompts of `lo..hi` tokens, or None when it is fine.

        A quadratic on an interval is extreme at its ends or at its vertex, so three values
        decide whether `D_p` stays within the allowed deadlines for every length in between.
        """
        values = [self.fixed_s] if self.fixed_s is not None else [self.slack_s]
        if self.coefficients is not None:
            values += list(self.coefficients)
        if not all(math.isfinite(v) for v in values):
            return "must be finite numbers"
        points = [lo, hi]
        if self.coefficients is not None and self.coefficients[2] != 0:
            vertex = -self.coefficients[1] / (2 * self.coefficients[2])
            if lo < vertex < hi:
                points.append(round(vertex))
        for p in points:
            d = self.seconds(p)
            if not PREFILL_DEADLINE_MIN_S <= d <= PREFILL_DEADLINE_MAX_S:
                return (
                    f"gives a prefill deadline of {d:.6g} s at {p} prompt tokens; it must stay "
                    f"within {PREFILL_DEADLINE_MIN_S:g}..{PREFILL_DEADLINE_MAX_S:g} s for "
                    f"{lo}..{hi} tokens"
                )
        return None


def fit_prefill_model(
    prompt_tokens: Sequence[int], ttft_s: Sequence[float], slack_s: float = DEFAULT_SLACK_S
) -> PrefillModel:
    """Least-squares quadratic through the minimum TTFT per prompt length.

    Needs at least three distinct prompt lengths (three unknowns).
    """
    if len(prompt_tokens) != len(ttft_s):
        raise ValueError("prompt_tokens and ttft_s differ in length")
    best: dict[int, float] = {}
    for p, t in zip(prompt_tokens, ttft_s, strict=True):
        best[p] = min(t, best.get(p, float("inf")))
    if len(best) < 3:
        raise ValueError("fitting a quadratic needs TTFTs at three or more prompt lengths")
    p_arr = np.array(sorted(best), dtype=np.float64)
    y = np.array([best[int(p)] for p in p_arr], dtype=np.float64)
    design = np.column_stack([np.ones_like(p_arr), p_arr, p_arr * p_arr])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return PrefillModel(
        coefficients=(float(coef[0]), float(coef[1]), float(coef[2])), slack_s=slack_s
    )
