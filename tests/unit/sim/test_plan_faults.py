"""Simulator schedules are deterministic and follow the profile; faults come from header or rate."""

from __future__ import annotations

import random

import pytest

from monitor.probe.tokens import BuiltinTokenizer
from monitor.sim.faults import Fault, choose_fault
from monitor.sim.plan import WORDS, make_plan, median_ttft_s, rng_for
from monitor.sim.profiles import PRESETS, Profile


def test_words_are_one_builtin_token_each() -> None:
    tok = BuiltinTokenizer()
    assert all(tok.count(w) == 1 for w in WORDS)


def test_same_seed_and_request_same_plan() -> None:
    p = PRESETS["stally"]
    a = make_plan(p, rng_for(1, "openai-chat", "hi", 64), 1000, 64, 12)
    b = make_plan(p, rng_for(1, "openai-chat", "hi", 64), 1000, 64, 12)
    c = make_plan(p, rng_for(2, "openai-chat", "hi", 64), 1000, 64, 12)
    assert a == b
    assert a != c


def test_quadratic_median_ttft() -> None:
    p = Profile("q", ttft_s=(0.1, 1e-4, 1e-8))
    # 0.1 + 1e-4·2000 + 1e-8·2000² = 0.1 + 0.2 + 0.04
    assert median_ttft_s(p, 2000) == pytest.approx(0.34)


def test_plan_without_randomness_is_exact() -> None:
    p = Profile("exact", ttft_s=(0.5, 0.0, 0.0), decode_tps=50.0, tokens_per_chunk=(2, 2))
    plan = make_plan(p, random.Random(0), 100, 7, 0)
    # 7 tokens in chunks of 2: 2, 2, 2, 1; gaps: TTFT, then k/50 s
    assert plan.tokens == (2, 2, 2, 1)
    assert plan.gaps_s == pytest.approx((0.5, 0.04, 0.04, 0.02))


def test_multi_token_chunks_sum_to_max_tokens() -> None:
    plan = make_plan(PRESETS["chunky"], random.Random(5), 500, 256, 3)
    assert sum(plan.tokens) == 256
    assert all(1 <= k <= 8 for k in plan.tokens)
    assert all(k >= 3 for k in plan.tokens[:-1])


def test_hour_of_day_slowdown_scales_ttft_and_gaps() -> None:
    slow = tuple(2.0 if h == 14 else 1.0 for h in range(24))
    p = Profile("h", ttft_s=(0.1, 0.0, 0.0), decode_tps=10.0, hourly_slowdown=slow)
    night = make_plan(p, random.Random(0), 10, 3, 2)
    day = make_plan(p, random.Random(0), 10, 3, 14)
    assert night.gaps_s == pytest.approx((0.1, 0.1, 0.1))
    assert day.gaps_s == pytest.approx((0.2, 0.2, 0.2))


def test_ttft_spreads_more_at_long_prompts() -> None:
    p = PRESETS["fast"]

    def spread(prompt: int) -> float:
        ttfts = [make_plan(p, random.Random(i), prompt, 1, 0).ttft_s for i in range(300)]
        med = median_ttft_s(p, prompt)
        return max(ttfts) / med - min(ttfts) / med

    assert spread(8000) > 2 * spread(100)


def test_fault_from_header_beats_rates() -> None:
    rng = random.Random(0)
    assert choose_fault({"X-Sim-Fault": "reset"}, {"rate_limit": 1.0}, rng) is Fault.RESET
    assert choose_fault({}, {"rate_limit": 1.0}, rng) is Fault.RATE_LIMIT
    assert choose_fault({}, {"rate_limit": 0.0}, rng) is None
    with pytest.raises(ValueError):
        choose_fault({"X-Sim-Fault": "meteor"}, {}, rng)
