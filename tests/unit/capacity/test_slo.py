"""The three SLO verdicts on one set of requests (worked examples from monitor.capacity.slo)."""

from __future__ import annotations

import math

from monitor.capacity.slo import RequestFacts, SloThresholds, judge, request_facts
from monitor.metrics.prefill import PrefillModel
from monitor.trace import Chunk, Outcome, Trace


def ok(miss: float = 0.0, ttft: float = 0.1, tpot: float = 0.02, tbt: float = 0.02) -> RequestFacts:
    return RequestFacts(True, miss, ttft, tpot, (tbt,) * 9)


def test_deadline_slo_worked_example() -> None:
    t = SloThresholds()
    one_bad = [ok()] * 99 + [ok(miss=0.5)]
    v = judge(one_bad, t)["deadline"]
    # linear 0.99-quantile of 99 zeros and one 0.5: h = 99·0.99 = 98.01 -> 0.01·0.5
    assert v.passed
    assert math.isclose(v.numbers["miss_rate_at_percentile"] or 0.0, 0.005)
    two_bad = [ok()] * 98 + [ok(miss=0.5)] * 2
    assert not judge(two_bad, t)["deadline"].passed


def test_ttft_and_tpot_must_both_hold() -> None:
    t = SloThresholds(ttft_s=1.0, tpot_s=0.05)
    assert judge([ok()] * 10, t)["ttft_tpot"].passed
    slow_tpot = [ok(tpot=0.06)] * 10
    v = judge(slow_tpot, t)["ttft_tpot"]
    assert not v.passed and v.numbers["ttft_s_at_percentile"] == 0.1


def test_tail_tbt_is_over_the_flat_token_list() -> None:
    t = SloThresholds(tbt_s=0.1)
    # 10 requests x 9 gaps = 90 gaps; one request's gaps all 0.5 s is 10 % of them: p99 fails
    facts = [ok()] * 9 + [ok(tbt=0.5)]
    assert not judge(facts, t)["tbt"].passed
    # one 0.5 s gap among 90: h = 89·0.99 = 88.11, between rank 88 (0.02) and 89 (0.5):
    # 0.02 + 0.11·0.48 = 0.0728 <= 0.1, so the rare stall passes the tail-TBT SLO
    one_gap = [ok()] * 9 + [RequestFacts(True, 0.0, 0.1, 0.02, (0.02,) * 8 + (0.5,))]
    v = judge(one_gap, t)["tbt"]
    assert v.passed
    assert math.isclose(v.numbers["tbt_s_at_percentile"] or 0.0, 0.0728)


def test_failed_request_is_infinitely_late_everywhere() -> None:
    trace = Trace(probe_id="x", chunks=(), prompt_tokens=10, max_tokens=5, outcome=Outcome.TIMEOUT)
    f = request_facts(trace, PrefillModel.fixed(1.0), 0.025)
    assert not f.ok and f.miss_rate == 1.0 and math.isinf(f.ttft_s)
    assert f.tbt_s == (math.inf,) * 5
    verdicts = judge([f] * 2 + [ok()] * 8, SloThresholds())
    assert not any(v.passed for v in verdicts.values())
    assert verdicts["tbt"].to_json()["tbt_s_at_percentile"] == "inf"


def test_request_facts_from_a_trace() -> None:
    # tokens at 100, 130, 160 ms: TTFT 0.1, TPOT 0.03, gaps 0.03; D_p 0.2, D_d 0.025:
    # 130 ms gap against 25 + 100 slack -> met; all met
    chunks = tuple(Chunk(t_ns=ms * 1_000_000, tokens=1) for ms in (100, 130, 160))
    trace = Trace(probe_id="y", chunks=chunks, prompt_tokens=10, max_tokens=3)
    f = request_facts(trace, PrefillModel.fixed(0.2), 0.025)
    assert f.ok and f.miss_rate == 0.0
    assert f.ttft_s == 0.1 and math.isclose(f.tpot_s, 0.03) and len(f.tbt_s) == 2


def test_no_requests_pass_nothing() -> None:
    assert not any(v.passed for v in judge([], SloThresholds()).values())
