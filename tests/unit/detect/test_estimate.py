"""Before/after estimates: medians with order-statistic intervals, Wilson, clipped means."""

from __future__ import annotations

import pytest

from monitor.detect.estimate import effect, locate, mean_interval, median_interval, wilson
from monitor.detect.series import Scale


def test_median_interval_nine_values() -> None:
    # n=9: j = floor(4.5 - 0.98·3) = 1, k = ceil(4.5 + 2.94) = 8 → 1st and 8th smallest
    e = median_interval([9, 1, 8, 2, 7, 3, 6, 4, 5])
    assert (e.value, e.low, e.high, e.n) == (5.0, 1.0, 8.0, 9)


def test_wilson_one_in_ten() -> None:
    # p = 0.1, z² = 3.8415: centre = (0.1 + 0.19207)/1.38415 = 0.21101,
    # half = 1.96·√(0.009 + 0.0096037)/1.38415 = 0.19310 → [0.0179, 0.4041]
    e = wilson(1, 10)
    assert e.value == 0.1
    assert e.low == pytest.approx(0.0179, abs=1e-4)
    assert e.high == pytest.approx(0.4041, abs=1e-4)


def test_binary_means_use_wilson_and_others_clip() -> None:
    assert mean_interval([0, 0, 0, 1]) == wilson(1, 4)
    e = mean_interval([1.0, 1.0, 0.5, 1.0])
    assert e.value == 0.875
    assert e.high == 1.0  # 0.875 + 1.96·0.25/2 = 1.12 clipped


def test_effect_is_relative_for_ratios_and_absolute_for_shares() -> None:
    b, a = median_interval([10, 10, 10]), median_interval([13, 13, 13])
    assert effect(b, a, Scale.RATIO) == pytest.approx(0.3)
    b, a = mean_interval([0.9, 1.0]), mean_interval([0.5, 0.6])
    assert effect(b, a, Scale.SHARE) == pytest.approx(-0.4)


def test_locate_prefers_where_the_level_moved() -> None:
    # [1,1,1,5,5]: split 3 costs 0; split 2 leaves [1,5,5] with median 5: cost |1-5| = 4
    assert locate([1, 1, 1, 5, 5], 1, 1, Scale.SHARE) == 3


def test_locate_is_not_drawn_to_balanced_splits() -> None:
    """Regression: the rank statistic put a 43 % TPOT step 6 probes early, because the 6 values
    before it were the highest of the steady ones (and 12/24 beats 6/30 on ranks)."""
    steady = [19.6, 19.8, 19.7, 19.9, 19.5, 19.6, 19.8, 19.9, 19.7, 19.6] * 3
    before = [*steady[:24], 20.9, 20.5, 20.4, 20.4, 20.3, 20.3]
    assert locate([*before, 28.4, 28.0, 28.2, 28.2, 29.0, 29.0], 8, 4, Scale.RATIO) == 30
