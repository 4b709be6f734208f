"""The prefill profile fit and the `prefill_model: profile` substitution."""

from __future__ import annotations

import math

import pytest

from monitor.capacity.deadlines import apply_profile
from monitor.capacity.profile import fit_profile
from monitor.config import Target
from monitor.probe.client import deadlines_for
from monitor.sim.batching import EngineModel


def test_fit_recovers_the_docstring_example_exactly() -> None:
    # minima of three repeats each; the extra (larger) TTFTs are queueing noise
    lengths, minima, coef, residuals = fit_profile(
        [1000, 1000, 2000, 2000, 3000, 3000], [0.1, 0.3, 0.2, 0.25, 0.4, 0.9]
    )
    assert lengths == (1000, 2000, 3000) and minima == (0.1, 0.2, 0.4)
    for got, want in zip(coef, (0.1, -5e-5, 5e-8), strict=True):
        assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12)
    assert all(abs(r) < 1e-9 for r in residuals)


def test_residuals_show_a_poor_fit() -> None:
    # a step at 4000 no quadratic follows: residuals are large and sum to ~0 (least squares)
    _, _, _, residuals = fit_profile([1000, 2000, 3000, 4000, 5000], [0.1, 0.1, 0.1, 1.0, 1.0])
    assert max(abs(r) for r in residuals) > 0.1
    assert abs(sum(residuals)) < 1e-9


def test_fewer_than_three_lengths_is_refused() -> None:
    with pytest.raises(ValueError):
        fit_profile([100, 100, 200], [0.1, 0.1, 0.2])


def test_engine_ttft_is_the_documented_quadratic() -> None:
    m = EngineModel(overhead_s=0.01, per_token_s=5e-5, attention_s=2e-9)
    # max(0.01, 5e-5·4000) + 2e-9·4000²/2 = 0.2 + 0.016
    assert math.isclose(m.isolated_ttft_s(4000), 0.216)
    chunked = m.with_(variant="chunked", chunk_tokens=1000)
    # four compute-bound chunks (0.05 s > 0.01 s each): the same work, no overhead added
    assert math.isclose(chunked.isolated_ttft_s(4000), 0.216)
    # 100 tokens are memory-bound: the overhead, plus 2e-9·100²/2
    assert math.isclose(m.isolated_ttft_s(100), 0.01 + 1e-5)


def test_profile_replaces_profile_in_the_deadlines() -> None:
    target = Target(
        provider="openai-compatible",
        base_url="http://127.0.0.1:1/v1",
        model="m",
        deadlines={"prefill_model": "profile", "prefill_slack_s": 0.1},
    )
    # unresolved: the default model, so probes are still judged
    assert deadlines_for(target, 1000).prefill_s == pytest.approx(0.02 + 0.05 + 0.002 + 0.1)
    fitted = apply_profile(target, (0.5, 0.0, 0.0))
    assert deadlines_for(fitted, 1000).prefill_s == pytest.approx(0.6)
    plain = Target(provider="openai-compatible", base_url="http://127.0.0.1:1/v1", model="m")
    assert apply_profile(plain, (0.5, 0.0, 0.0)) is plain
