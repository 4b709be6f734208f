"""The rank change test: mid-ranks, split scores with worked arithmetic, the permutation p-value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.detect.rank_cpm import CpmParams, change_test, midranks, split_scores


def test_midranks_average_ties() -> None:
    # sorted: 1 (rank 1), 5, 5 (ranks 2 and 3 → 2.5 each), 7 (rank 4)
    assert midranks(np.array([5.0, 1.0, 5.0, 7.0])).tolist() == [2.5, 1.0, 2.5, 4.0]


def test_split_score_worked_example() -> None:
    # values 1..6 in order, split k=3: after ranks 4+5+6 = 15, mean m(n+1)/2 = 3·7/2 = 10.5,
    # variance k·m/12·(n+1) = 3·3/12·7 = 5.25 (no ties) → z = 4.5/√5.25 = 1.9640
    ranks = np.arange(1.0, 7.0)[None, :]
    z = split_scores(ranks, 0.0, 3, 3)[0]
    assert z.shape == (1,)
    assert z[0] == pytest.approx(4.5 / math.sqrt(5.25))


def test_split_score_tie_correction() -> None:
    # values [0, 0, 1, 1], split k=2: mid-ranks [1.5, 1.5, 3.5, 3.5], after sum 7, mean 2·5/2 = 5;
    # ties T = 2·(2³-2) = 12; variance 2·2/12·(5 - 12/(4·3)) = 4/3 → z = 2/√(4/3) = 1.7321
    values = np.array([0.0, 0.0, 1.0, 1.0])
    z = split_scores(midranks(values)[None, :], 12.0, 2, 2)[0]
    assert z[0] == pytest.approx(2 / math.sqrt(4 / 3))


def test_too_short_or_constant_windows_are_not_tested() -> None:
    params = CpmParams(alpha=0.001, min_before=8, min_after=4)
    assert change_test(np.arange(11.0), params) is None  # 11 < 8 + 4
    assert change_test(np.ones(40), params) is None


def test_clear_step_is_significant_and_located() -> None:
    # 24 values then 12 clearly higher ones: every shuffle is less extreme than the order seen
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 24), rng.normal(6, 1, 12)]
    r = change_test(x, CpmParams(alpha=0.001))
    assert r is not None
    assert r.split == 24
    assert r.z > 0
    # the p-value's floor with B = 10/alpha - 1 = 9999 shuffles is 1/10000
    assert r.p_value == pytest.approx(1 / 10_000)
    assert r.shuffles == 9999


def test_steady_window_stops_early_with_large_p() -> None:
    x = np.random.default_rng(3).standard_cauchy(40)
    r = change_test(x, CpmParams(alpha=0.001))
    assert r is not None
    assert r.p_value > 0.001
    assert r.shuffles < 9999  # settled after a batch or two


def test_same_window_same_answer() -> None:
    x = np.random.default_rng(4).normal(0, 1, 30)
    a = change_test(x, CpmParams(alpha=0.01))
    b = change_test(x.copy(), CpmParams(alpha=0.01))
    assert a == b


def test_one_failure_after_many_successes_is_not_a_change() -> None:
    """Regression: with a normal approximation one failure at the end of 47 successes scores
    z = 3.32, above a fixed threshold; shuffling knows the 1 lands anywhere with equal chance:
    as extreme only in the last 4 places (the smallest after part), p = 4/48 = 0.083."""
    x = np.r_[np.zeros(47), 1.0]
    r = change_test(x, CpmParams(alpha=0.001))
    assert r is not None
    assert r.p_value > 0.05
