"""Prefill profiling: isolated requests over prompt lengths, and the quadratic `D_p(P)` they fit.

Each request runs alone (one at a time, so none queues behind another) with a short output
(`max_tokens`, 16 as in the Etalon authors' profiler). Per prompt length the *minimum* TTFT over the
repeats is the engine's prefill capability; the rest is noise. `fit_profile` fits
`c0 + c1·P + c2·P²` to those minima by least squares (`monitor.metrics.prefill`) and reports each
length's residual (measured minus fitted) so a poor fit shows.

Example: minima 0.1, 0.2, 0.4 s at P = 1000, 2000, 3000 are fitted exactly by
c = (0.1, -5e-5, 5e-8): 0.1 - 0.05 + 0.05 = 0.1; 0.1 - 0.1 + 0.2 = 0.2; 0.1 - 0.15 + 0.45 = 0.4;
all residuals 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from monitor.config import Target
from monitor.metrics.prefill import DEFAULT_SLACK_S, PrefillModel, fit_prefill_model
from monitor.probe.client import Prober
from monitor.probe.looplag import LoopLagMonitor
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import Tokenizer
from monitor.trace import Outcome, Trace

DEFAULT_LENGTHS: Final = (256, 512, 1024, 2048, 4096, 8192)
PROFILE_MAX_TOKENS: Final = 16


@dataclass(frozen=True, slots=True)
class PrefillProfile:
    target: str
    model: str
    measured_at: datetime
    lengths: tuple[int, ...]
    min_ttft_s: tuple[float, ...]
    """Minimum TTFT per length, same order as `lengths`."""
    coefficients: tuple[float, float, float]
    residuals_s: tuple[float, ...]
    repeats: int
    failed: int = 0

    @property
    def rms_residual_s(self) -> float:
        return math.sqrt(sum(r * r for r in self.residuals_s) / len(self.residuals_s))

    def model_with_slack(self, slack_s: float = DEFAULT_SLACK_S) -> PrefillModel:
        return PrefillModel(coefficients=self.coefficients, slack_s=slack_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "model": self.model,
            "measured_at": self.measured_at.isoformat(),
            "repeats": self.repeats,
            "failed": self.failed,
            "coefficients": list(self.coefficients),
            "rms_residual_s": self.rms_residual_s,
            "points": [
                {"prompt_tokens": p, "min_ttft_s": t, "residual_s": r}
                for p, t, r in zip(self.lengths, self.min_ttft_s, self.residuals_s, strict=True)
            ],
        }


def fit_profile(
    prompt_tokens: Sequence[int], ttft_s: Sequence[float]
) -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, float, float], tuple[float, ...]]:
    """(lengths, minimum TTFT per length, coefficients, residuals) — pure."""
    model = fit_prefill_model(prompt_tokens, ttft_s, slack_s=0.0)
    assert model.coefficients is not None
    best: dict[int, float] = {}
    for p, t in zip(prompt_tokens, ttft_s, strict=True):
        best[p] = min(t, best.get(p, float("inf")))
    lengths = tuple(sorted(best))
    minima = tuple(best[p] for p in lengths)
    residuals = tuple(t - model.seconds(p) for p, t in zip(lengths, minima, strict=True))
    return lengths, minima, model.coefficients, residuals


def profile_from_traces(
    traces: Sequence[Trace], *, target: str, model: str, repeats: int, measured_at: datetime
) -> PrefillProfile:
    """Fit the successful traces' TTFTs; raises ValueError with fewer than three lengths."""
    points = [
        (t.requested_prompt_tokens or 0, t.content_chunks[0].t_ns / 1e9)
        for t in traces
        if t.outcome is Outcome.OK and t.content_chunks
    ]
    lengths, minima, coef, residuals = fit_profile([p for p, _ in points], [t for _, t in points])
    return PrefillProfile(
        target=target,
        model=model,
        measured_at=measured_at,
        lengths=lengths,
        min_ttft_s=minima,
        coefficients=coef,
        residuals_s=residuals,
        repeats=repeats,
        failed=len(traces) - len(points),
    )


async def run_profile(
    target: Target,
    tokenizer: Tokenizer,
    *,
    name: str = "cli",
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    repeats: int = 5,
    max_tokens: int = PROFILE_MAX_TOKENS,
    seed: int = 0,
    environ: Mapping[str, str] | None = None,
    on_trace: Callable[[Trace], None] | None = None,
) -> tuple[PrefillProfile, list[Trace]]:
    """Isolated requests, one at a time, lengths interleaved so drift hits every length alike."""
    measured_at = datetime.now(UTC)
    traces: list[Trace] = []
    lag = LoopLagMonitor()
    lag.start()
    try:
        async with make_session(2) as session:
            prober = Prober(session, tokenizer, lag_monitor=lag, environ=environ, keep_text=False)
            for r in range(repeats):
                for p in lengths:
                    prompt = make_prompt(p, tokenizer, seed=seed + p, nonce=f"p{r}-{p}")
                    trace = await prober.probe(
                        target, prompt, target_name=name, max_tokens=max_tokens
                    )
                    traces.append(trace)
                    if on_trace is not None:
                        on_trace(trace)
    finally:
        await lag.stop()
    profile = profile_from_traces(
        traces, target=name, model=target.model, repeats=repeats, measured_at=measured_at
    )
    return profile, traces
