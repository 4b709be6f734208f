"""The detector on labelled series: a step is found, located, named worse or better; small or
tiny-but-significant shifts and steady noise are not changes."""

from __future__ import annotations

import numpy as np

from monitor.detect import BY_NAME, DetectorSettings, Direction, scan
from monitor.detect.series import WATCHED

SETTINGS = DetectorSettings()


def _heavy(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    return np.exp(rng.standard_t(3, n) * spread)


def test_d_star_up_is_worse_and_found_within_12_probes() -> None:
    rng = np.random.default_rng(10)
    x = _heavy(rng, 60, 0.1)
    x[40:] /= 0.7  # fluent rate 1/D* drops 30 %: D* grows by 1/0.7
    found = scan(x.tolist(), BY_NAME["d_star"], SETTINGS)
    assert len(found) == 1
    (c,) = found
    assert c.finding.direction is Direction.WORSE
    assert abs(c.at - 40) <= 2
    assert 40 <= c.detected < 40 + 12
    assert c.finding.effect > 0.3


def test_fluidity_up_is_better() -> None:
    rng = np.random.default_rng(11)
    x = np.clip(rng.normal(0.6, 0.05, 60), 0, 1)
    x[30:] = np.clip(rng.normal(0.9, 0.05, 30), 0, 1)
    found = scan(x.tolist(), BY_NAME["fluidity_25ms"], SETTINGS)
    assert [c.finding.direction for c in found] == [Direction.BETTER]


def test_failure_rate_jump_is_found() -> None:
    x = [0.0] * 30 + [1.0, 0.0] * 10  # 0 % then 50 % failures
    found = scan(x, BY_NAME["failure_rate"], SETTINGS)
    assert len(found) == 1
    assert found[0].finding.direction is Direction.WORSE
    assert found[0].finding.before.value == 0.0


def test_small_shift_is_not_news() -> None:
    # a 4 % step on almost noise-free values is significant but below min_relative_change (10 %)
    rng = np.random.default_rng(12)
    x = 1.0 + rng.normal(0, 0.002, 60)
    x[30:] *= 1.04
    assert scan(x.tolist(), BY_NAME["tpot"], SETTINGS) == []


def test_steady_heavy_tailed_noise_raises_few_alarms() -> None:
    # budget 1 per 1000 probes per metric; 3000 steady Cauchy-like probes: expected ≤ 3
    rng = np.random.default_rng(13)
    alarms = sum(
        len(scan(_heavy(rng, 1000, 0.5).tolist(), BY_NAME["ttft_norm"], SETTINGS)) for _ in range(3)
    )
    assert alarms <= 6  # P(Poisson(3) > 6) ≈ 0.03; the seed is fixed, so this is a fact


def test_every_metric_has_a_distinct_name() -> None:
    assert len({m.name for m in WATCHED}) == len(WATCHED) == 7
