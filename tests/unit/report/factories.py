"""Deterministic, realistic traces for report tests: a 24-round cycle of several targets.

Each target has a latency profile (TTFT growing with prompt length, a token interval with jitter,
tokens per chunk, stalls, failures). Everything comes from a seeded numpy RNG, so a test's traces
are the same on every run; tests compare the report with the engine on these same traces rather
than with constants, except where the arithmetic is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from monitor.trace import Chunk, Deadlines, Outcome, TokenCountSource, Trace

CYCLE_START = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
PROMPTS = (256, 1024, 4096)
TIERS = (0.025, 0.05, 0.1)
WORDS = ("the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".")


@dataclass(frozen=True)
class Profile:
    ttft_s: float = 0.12
    ttft_per_token_s: float = 4e-5
    token_s: float = 0.015
    jitter_s: float = 0.002
    tokens_per_chunk: int = 1
    stall_p: float = 0.0
    stall_s: float = 0.4
    bad_hours: tuple[int, ...] = ()
    bad_stall_p: float = 0.05
    failure_p: float = 0.0
    failure: Outcome = Outcome.RATE_LIMITED


STEADY = Profile()
STALLY = Profile(
    ttft_s=0.2,
    token_s=0.012,
    jitter_s=0.004,
    tokens_per_chunk=3,
    stall_p=0.01,
    bad_hours=(14, 15),
    bad_stall_p=0.08,
    failure_p=0.05,
    failure=Outcome.TIMEOUT,
)


def make_trace(
    chunks: list[tuple[int, int]],
    *,
    probe_id: str = "p",
    target: str = "t",
    started_at: datetime = CYCLE_START,
    prompt_tokens: int = 256,
    outcome: Outcome = Outcome.OK,
    error: str | None = None,
    texts: list[str] | None = None,
    prefill_s: float | None = 1.0,
    decode_s: tuple[float, ...] = TIERS,
    usage: dict[str, int | None] | None = None,
) -> Trace:
    return Trace(
        probe_id=probe_id,
        target=target,
        provider="openai-compatible",
        model=f"{target}-model",
        api="openai-chat",
        region="eu-west",
        started_at=started_at,
        requested_prompt_tokens=prompt_tokens,
        prompt_tokens=prompt_tokens,
        max_tokens=128,
        outcome=outcome,
        http_status=200 if outcome is Outcome.OK else 504,
        error=error,
        finish_reason="length" if outcome is Outcome.OK else None,
        chunks=tuple(
            Chunk(t_ns=t, tokens=k, text=None if texts is None else texts[i])
            for i, (t, k) in enumerate(chunks)
        ),
        token_count_source=TokenCountSource.USAGE_CONTINUOUS,
        usage=usage,
        deadlines=Deadlines(prefill_s=prefill_s, decode_s=decode_s),
    )


def _probe(
    rng: np.random.Generator,
    profile: Profile,
    target: str,
    hour: int,
    index: int,
    prompt: int,
    output_tokens: int,
) -> Trace:
    started = CYCLE_START + timedelta(hours=hour, minutes=index % 50, seconds=int(rng.integers(60)))
    probe_id = f"{target}-h{hour:02d}-{index:03d}"
    prefill_s = 0.02 + 5e-5 * prompt + 2e-9 * prompt * prompt + 0.3
    if rng.random() < profile.failure_p:
        return make_trace(
            [],
            probe_id=probe_id,
            target=target,
            started_at=started,
            prompt_tokens=prompt,
            outcome=profile.failure,
            error="first byte timeout after 60 s",
            prefill_s=prefill_s,
        )
    stall_p = profile.bad_stall_p if hour in profile.bad_hours else profile.stall_p
    t = (profile.ttft_s + profile.ttft_per_token_s * prompt) * (1 + 0.2 * rng.random())
    t_ns = round(t * 1e9)
    chunks: list[tuple[int, int]] = []
    texts: list[str] = []
    sent = 0
    while sent < output_tokens:
        k = min(profile.tokens_per_chunk, output_tokens - sent)
        chunks.append((t_ns, k))
        texts.append("".join(WORDS[(sent + i) % len(WORDS)] for i in range(k)))
        sent += k
        gap = k * profile.token_s + rng.normal(0, profile.jitter_s)
        if rng.random() < stall_p:
            gap += profile.stall_s * (0.5 + rng.random())
        t_ns += max(round(gap * 1e9), 1_000)
    return make_trace(
        chunks,
        probe_id=probe_id,
        target=target,
        started_at=started,
        prompt_tokens=prompt,
        texts=texts,
        prefill_s=prefill_s,
        usage={"prompt_tokens": prompt, "completion_tokens": output_tokens},
    )


def cycle_traces(
    profiles: dict[str, Profile] | None = None,
    *,
    hours: int = 24,
    repetitions: int = 2,
    output_tokens: int = 64,
    seed: int = 7,
) -> list[Trace]:
    """One probe per (target, hour, prompt length, repetition), hours 0..hours-1 of one day."""
    rng = np.random.default_rng(seed)
    profiles = profiles or {"steady": STEADY, "stally": STALLY}
    out = []
    for name, profile in profiles.items():
        index = 0
        for hour in range(hours):
            for prompt in PROMPTS:
                for _ in range(repetitions):
                    out.append(_probe(rng, profile, name, hour, index, prompt, output_tokens))
                    index += 1
    return out
