"""The prefill-deadline model and its least-squares fit."""

import pytest

from monitor.metrics.prefill import PrefillModel, fit_prefill_model


def test_quadratic_model_with_slack() -> None:
    # 0.02 + 5e-5·512 + 2e-9·512² + 0.3 = 0.02 + 0.0256 + 0.000524288 + 0.3
    m = PrefillModel(coefficients=(0.02, 5e-5, 2e-9), slack_s=0.3)
    assert m.deadline_ns(512) == 346_124_288


def test_fixed_model_ignores_prompt_length() -> None:
    m = PrefillModel.fixed(0.5)
    assert m.deadline_ns(10) == m.deadline_ns(100_000) == 500_000_000


def test_fit_recovers_coefficients_from_minimum_ttfts() -> None:
    # TTFT = 0.05 + 1e-4·P + 3e-9·P² exactly at the minimum; other samples are slower (queueing)
    truth = (0.05, 1e-4, 3e-9)
    lengths = [256, 1024, 2048, 4096, 8192]
    prompts, ttfts = [], []
    for p in lengths:
        base = truth[0] + truth[1] * p + truth[2] * p * p
        prompts += [p, p, p]
        ttfts += [base + 0.2, base, base + 0.05]
    m = fit_prefill_model(prompts, ttfts, slack_s=0.1)
    assert m.coefficients == pytest.approx(truth, rel=1e-6)
    assert m.seconds(1024) == pytest.approx(truth[0] + truth[1] * 1024 + truth[2] * 1024**2 + 0.1)


def test_fit_needs_three_lengths() -> None:
    with pytest.raises(ValueError, match="three"):
        fit_prefill_model([256, 256, 1024], [0.1, 0.2, 0.3])


def test_non_positive_fixed_deadline_is_rejected() -> None:
    with pytest.raises(ValueError):
        PrefillModel.fixed(0)
