"""The deterministic schedule of one simulated response: when each chunk goes out and its size.

Seeded from the simulator seed and the request itself, so the same request to the same simulator
gets the same timings whatever else runs concurrently."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Final

from monitor.sim.profiles import Profile

WORDS: Final = (
    " the",
    " of",
    " and",
    " to",
    " in",
    " a",
    " is",
    " that",
    " it",
    " was",
    " for",
    " on",
    " are",
    " as",
    " with",
    " his",
    " they",
    " at",
    " be",
    " this",
    " from",
    " have",
    " or",
    " by",
    " one",
    " had",
    " not",
    " but",
    " what",
    " all",
    " were",
    " when",
    " we",
    " can",
    " an",
    " your",
    " said",
    " if",
    " do",
    " will",
    " each",
    " how",
    " up",
    " out",
    " them",
    " then",
    " she",
    " many",
    " some",
    " so",
    " town",
    " road",
    " sun",
    " rain",
    " bell",
    " map",
    " ship",
    " lamp",
    " gate",
    " hill",
)
"""Each is exactly one token of the builtin tokenizer (a space plus at most four letters)."""


@dataclass(frozen=True, slots=True)
class Plan:
    ttft_s: float
    gaps_s: tuple[float, ...]
    """Delay of each content chunk after the previous one (the first is after the TTFT)."""
    tokens: tuple[int, ...]
    """Tokens in each content chunk."""
    text: tuple[str, ...]


def rng_for(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def median_ttft_s(profile: Profile, prompt_tokens: int) -> float:
    c0, c1, c2 = profile.ttft_s
    p = float(prompt_tokens)
    return c0 + c1 * p + c2 * p * p


def make_plan(
    profile: Profile, rng: random.Random, prompt_tokens: int, max_tokens: int, hour: int
) -> Plan:
    slow = profile.slowdown(hour)
    sigma = profile.ttft_sigma + profile.ttft_sigma_per_1k * prompt_tokens / 1000.0
    spread = math.exp(rng.gauss(0.0, sigma)) if sigma > 0 else 1.0
    ttft = median_ttft_s(profile, prompt_tokens) * slow * spread
    total = min(max_tokens, profile.max_output_tokens)
    lo, hi = profile.tokens_per_chunk
    gaps: list[float] = []
    tokens: list[int] = []
    text: list[str] = []
    sent = 0
    per_token = 1.0 / profile.decode_tps
    while sent < total:
        k = min(rng.randint(lo, hi), total - sent)
        if not tokens:
            gap = ttft
        else:
            gap = k * per_token * slow
            if profile.jitter:
                gap *= 1.0 + profile.jitter * rng.uniform(-1.0, 1.0)
            if profile.stall_prob and rng.random() < profile.stall_prob:
                gap += profile.stall_s * rng.uniform(0.5, 1.5)
        gaps.append(max(gap, 0.0))
        tokens.append(k)
        text.append("".join(rng.choice(WORDS) for _ in range(k)))
        sent += k
    return Plan(ttft, tuple(gaps), tuple(tokens), tuple(text))
