"""Every trace of the reference file must reproduce `expected` (tests/data/reference/).

Fluidity and counts exactly, `D*` to 1 µs, times and rates to 1e-9 relative.
"""

from typing import Any

import pytest

from monitor.metrics.analysis import AnalysisOptions, analyze
from monitor.metrics.prefill import PrefillModel
from tests.unit.metrics.conftest import load_reference, make_trace

TRACES = load_reference()["traces"]
TIER_CASES = [(t, tier) for t in TRACES for tier in t["expected"]["tiers"]]


def _trace(t: dict[str, Any]) -> Any:
    return make_trace(t["chunks"], t["id"], t["prompt_tokens"], t["prefill_deadline_s"])


@pytest.mark.parametrize(("ref", "tier"), TIER_CASES, ids=[f"{t['id']}@{d}" for t, d in TIER_CASES])
def test_fluidity_matches_reference(ref: dict[str, Any], tier: str) -> None:
    expected = ref["expected"]["tiers"][tier]
    row = analyze([_trace(ref)], AnalysisOptions(decode_s=float(tier))).requests[0]
    assert row.missed_deadlines == expected["missed_deadlines"]
    assert row.total_deadlines == expected["total_deadlines"]
    assert row.fluidity_index == pytest.approx(expected["fluidity_index"], rel=1e-12)
    assert row.fluidity_index_decode == pytest.approx(expected["fluidity_index_decode"], rel=1e-12)


@pytest.mark.parametrize("ref", TRACES, ids=[t["id"] for t in TRACES])
def test_latency_and_min_deadline_match_reference(ref: dict[str, Any]) -> None:
    expected = ref["expected"]
    row = analyze([_trace(ref)]).requests[0]
    assert row.output_tokens == expected["output_tokens"]
    for key in ("ttft_s", "e2e_s", "normalized_e2e_s", "tpot_s"):
        got = getattr(row, key)
        if expected[key] is None:
            assert got is None
        else:
            assert got == pytest.approx(expected[key], rel=1e-9)
    if expected["min_decode_deadline_s"] is None:
        assert row.min_decode_deadline_s is None
    else:
        assert row.min_decode_deadline_s == pytest.approx(
            expected["min_decode_deadline_s"], abs=1e-6
        )


@pytest.mark.parametrize("ref", TRACES, ids=[t["id"] for t in TRACES])
def test_prefill_model_reproduces_reference_deadline(ref: dict[str, Any]) -> None:
    """The file's prefill deadlines come from --prefill-model 0.02,5e-5,2e-9 --prefill-slack 0.3."""
    if ref["id"].startswith("hand_"):
        model = PrefillModel.fixed(0.5)
    else:
        model = PrefillModel(coefficients=(0.02, 5e-5, 2e-9), slack_s=0.3)
    row = analyze([_trace(ref)], AnalysisOptions(prefill=model)).requests[0]
    assert row.prefill_deadline_s == pytest.approx(ref["prefill_deadline_s"], abs=1e-9)


def test_service_summary_matches_reference_hand_examples() -> None:
    data = load_reference()
    expected = data["service"]["hand_examples"]
    hands = [_trace(t) for t in TRACES if t["id"].startswith("hand_")]
    summary = analyze(hands, AnalysisOptions(decode_s=expected["decode_deadline_s"])).summary
    for key in (
        "fluent_token_rate",
        "tpot_rate",
        "tail_tbt_rate",
        "service_miss_rate",
        "p99_request_miss_rate",
        "share_fluid",
    ):
        assert getattr(summary, key) == pytest.approx(expected[key], rel=1e-9), key
