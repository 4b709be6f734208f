"""Vendor behaviour profiles and the presets that resemble the paper's observations.

TTFT grows quadratically with prompt length, `c0 + c1·P + c2·P²`, times a log-normal spread whose
sigma widens with P (queueing behind long prefills); decode runs at a steady rate with jitter; a
chunk carries `tokens_per_chunk` tokens; a chunk may stall; everything slows by an hour-of-day
factor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    ttft_s: tuple[float, float, float] = (0.05, 2e-5, 1e-9)
    """c0, c1, c2 of the median TTFT in seconds at prompt length P."""
    ttft_sigma: float = 0.0
    """Log-normal sigma of TTFT at P = 0."""
    ttft_sigma_per_1k: float = 0.0
    """Added sigma per 1000 prompt tokens: the spread at long prompts."""
    decode_tps: float = 50.0
    jitter: float = 0.0
    """Each gap is scaled by a uniform factor in [1 - jitter, 1 + jitter]."""
    tokens_per_chunk: tuple[int, int] = (1, 1)
    stall_prob: float = 0.0
    """Per chunk: probability of a stall before it."""
    stall_s: float = 0.5
    hourly_slowdown: tuple[float, ...] = ()
    """24 multipliers by UTC hour; empty means 1.0 all day."""
    fault_rates: Mapping[str, float] = field(default_factory=dict)
    """Fault name → probability per request (header-chosen faults win)."""
    max_output_tokens: int = 8192
    send_token_ids: bool = False
    """vLLM-style `token_ids` per chunk."""
    groq_timings: bool = False
    """Groq-style `x_groq.usage` with server timings on the final chunk."""
    reasoning_chunks: int = 0
    """The first this many chunks of each response are reasoning, in the API's reasoning channel
    (legacy completions has none: they go out as text). They count towards `max_tokens`."""

    def slowdown(self, hour: int) -> float:
        return self.hourly_slowdown[hour % 24] if len(self.hourly_slowdown) == 24 else 1.0

    def with_(self, **changes: object) -> Profile:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Switch:
    """A vendor that changes mid-run (a new build, a scheduler change): the requests after the
    first `after_requests` are served with `profile` (change-detection tests and benchmarks)."""

    after_requests: int
    profile: Profile


_DAYTIME: Final = tuple(
    1.0 if h < 8 or h >= 20 else (1.6 if 13 <= h < 18 else 1.25) for h in range(24)
)

PRESETS: Final[dict[str, Profile]] = {
    p.name: p
    for p in (
        # fast vendor: quick decode, TTFT fine at short prompts but spreading widely at long ones
        Profile(
            "fast",
            ttft_s=(0.06, 1e-5, 6e-9),
            ttft_sigma=0.05,
            ttft_sigma_per_1k=0.12,
            decode_tps=180.0,
            jitter=0.25,
        ),
        # multi-token chunks: good throughput, but tokens arrive in bursts of 3-8
        Profile(
            "chunky",
            ttft_s=(0.2, 3e-5, 4e-9),
            ttft_sigma=0.1,
            decode_tps=90.0,
            jitter=0.15,
            tokens_per_chunk=(3, 8),
        ),
        # slower vendor with mid-stream stalls and a daytime slow-down
        Profile(
            "stally",
            ttft_s=(0.35, 8e-5, 1e-8),
            ttft_sigma=0.2,
            decode_tps=35.0,
            jitter=0.35,
            stall_prob=0.02,
            stall_s=0.6,
            hourly_slowdown=_DAYTIME,
            fault_rates={"rate_limit": 0.01, "error_event": 0.005},
        ),
        # tests: everything in milliseconds
        Profile("test", ttft_s=(0.002, 0.0, 0.0), decode_tps=4000.0),
        # fidelity benchmark: exactly 50 chunks/s, one token each, no randomness
        Profile("bench", ttft_s=(0.02, 0.0, 0.0), decode_tps=50.0),
    )
}
