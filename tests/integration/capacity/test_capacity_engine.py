"""Capacity search and prefill profiling against the simulated batching engine over real HTTP.

The engine here runs one request at a time (`max_batch=1`) so its capacity can be computed:
a 500-token prompt and 10 output tokens take S = prefill step + 9 decode steps =
max(0.002, 500·1e-5) + 9·(max(0.002, 1e-5) + 1e-3) = 0.005 + 0.027 = 0.032 s, so above
1/S = 31.25 QPS work arrives faster than it is done. With evenly spaced arrivals (no Poisson
noise) and 30 requests, request k waits k·(S - 1/q) once q > 1/S:

- TTFT p90 ≤ 20 ms allows 15 ms of waiting at rank 26.1: S - 1/q ≤ 0.57 ms, q ≤ 31.8 QPS.
- The deadline SLO (D_p 20 ms, D_d 25 ms, 10 tokens) allows one miss, so the p99 request (rank
  28.7) may be 15 + 25 ms late: S - 1/q ≤ 1.4 ms, q ≤ 32.7 QPS.

Both capacities therefore lie just below or at 1/S; the asserted brackets leave room for a loaded
machine (engine steps running late make S longer, never shorter: the lower end is loose).
"""

from __future__ import annotations

import math

import pytest

from monitor.capacity.profile import run_profile
from monitor.capacity.run import CapacityOptions, search_capacity
from monitor.capacity.search import SearchConfig
from monitor.capacity.slo import SloThresholds
from monitor.capacity.workload import fixed
from monitor.config import Target
from monitor.metrics.prefill import PrefillModel
from monitor.probe.tokens import BuiltinTokenizer
from monitor.sim.batching import EngineModel, start_engine

SERIAL = EngineModel(
    variant="whole",
    max_batch=1,
    overhead_s=0.002,
    per_token_s=1e-5,
    per_decode_s=1e-3,
    attention_s=0.0,
)
S = SERIAL.step_s([(500, 0)], 0) + 9 * SERIAL.step_s([], 1)


def engine_target(base_url: str) -> Target:
    return Target(provider="openai-compatible", api="openai-chat", base_url=base_url, model="e")


def test_service_time_is_the_documented_one() -> None:
    assert math.isclose(S, 0.032)


async def test_search_brackets_the_computed_capacity() -> None:
    engine = await start_engine(SERIAL)
    try:
        options = CapacityOptions(
            lengths=fixed(500, 10),
            slos=("deadline", "ttft_tpot"),
            thresholds=SloThresholds(decode_s=0.025, ttft_s=0.02, tpot_s=0.1, tbt_s=0.1),
            search=SearchConfig(start_qps=16.0, max_qps=64.0, granularity=0.05, max_steps=9),
            requests_per_step=30,
            arrivals="uniform",
            drain_s=5.0,
            max_client_lag_s=0.25,  # a shared 2-core CI machine; the bracket absorbs the rest
        )
        result = await search_capacity(
            engine_target(engine.base_url), options, PrefillModel.fixed(0.02), BuiltinTokenizer()
        )
    finally:
        await engine.stop()
    assert result.client_limited_at_qps is None
    caps = result.capacities()
    for slo in ("deadline", "ttft_tpot"):
        cap = caps[slo]
        assert cap["lowest_failing_qps"] is not None, slo
        assert 0.7 / S <= cap["capacity_qps"] <= 1.1 / S, (slo, cap, 1 / S)
        assert cap["lowest_failing_qps"] <= 1.3 / S, (slo, cap)
    for step in result.steps:
        # uniform arrivals: the schedule's own rate is the QPS asked for
        assert step.intended_qps == pytest.approx(step.qps)
        if step.cut_off == 0:
            # one request at a time: every gap is one decode step (3 ms), never a stall
            tbt = step.verdicts["tbt"].numbers["tbt_s_at_percentile"]
            assert tbt is not None and tbt < 0.015, step.to_json()
    doc = result.to_json()
    assert set(doc["capacity_qps"]) == {"deadline", "tbt", "ttft_tpot"}
    assert all({"qps", "achieved_qps", "slos"} <= set(s) for s in doc["steps"])


async def test_saturated_step_stops_early_and_fails_every_slo() -> None:
    """At 3/S the queue grows by 2/3 of a service time per arrival: hopeless requests pile up."""
    engine = await start_engine(SERIAL)
    try:
        options = CapacityOptions(
            lengths=fixed(500, 10),
            search=SearchConfig(start_qps=round(3 / S, 2), max_qps=128.0, max_steps=1),
            requests_per_step=200,
            arrivals="uniform",
            drain_s=5.0,
            max_client_lag_s=0.1,
        )
        result = await search_capacity(
            engine_target(engine.base_url), options, PrefillModel.fixed(0.02), BuiltinTokenizer()
        )
    finally:
        await engine.stop()
    (step,) = result.steps
    assert step.early_stop and step.sent < 200 and step.cut_off > 0
    assert not any(v.passed for v in step.verdicts.values())


async def test_profile_recovers_the_engine_prefill() -> None:
    model = EngineModel(overhead_s=0.005, per_token_s=5e-5, attention_s=2e-9)
    engine = await start_engine(model)
    try:
        profile, traces = await run_profile(
            engine_target(engine.base_url),
            BuiltinTokenizer(),
            lengths=(256, 1024, 2048, 4096),
            repeats=2,
            max_tokens=4,
        )
    finally:
        await engine.stop()
    assert len(traces) == 8 and profile.failed == 0
    for p, t in zip(profile.lengths, profile.min_ttft_s, strict=True):
        # never faster than the engine's own prefill; at most a few ms of HTTP and loop on top
        assert model.isolated_ttft_s(p) <= t <= model.isolated_ttft_s(p) + 0.015, (p, t)
    # the slope is 5e-5 s/token (a 0.2 s rise over 4000 tokens dwarfs ms noise)
    assert profile.coefficients[1] == pytest.approx(5e-5, rel=0.15)
    assert profile.rms_residual_s < 0.005


async def test_step_seconds_bounds_the_arrivals() -> None:
    """Uniform arrivals at 40 QPS for 0.5 s: offsets 0, 0.025, ..., 0.5, so 21 requests."""
    engine = await start_engine(SERIAL.with_(max_batch=64))
    try:
        options = CapacityOptions(
            lengths=fixed(100, 2),
            search=SearchConfig(start_qps=40.0, max_qps=40.0, max_steps=1),
            requests_per_step=2,
            step_seconds=0.5,
            arrivals="uniform",
            drain_s=5.0,
            max_client_lag_s=0.25,
        )
        result = await search_capacity(
            engine_target(engine.base_url), options, PrefillModel.fixed(1.0), BuiltinTokenizer()
        )
    finally:
        await engine.stop()
    (step,) = result.steps
    assert step.sent == 21 and step.planned > 21
    assert step.finished == 21 and step.cut_off == 0
