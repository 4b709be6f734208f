"""The QPS search: expansion, bisection, per-SLO brackets and when it stops (pure)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitor.capacity.search import SearchConfig, bracket, capacity, next_qps


def drive(
    truths: dict[str, float], cfg: SearchConfig
) -> tuple[list[float], dict[str, dict[float, bool]]]:
    """Run the search against SLOs that pass exactly below their true capacity."""
    results: dict[str, dict[float, bool]] = {s: {} for s in truths}
    tried: list[float] = []
    while len(tried) < cfg.max_steps:
        q = next_qps(results, cfg)
        if q is None:
            break
        tried.append(q)
        for slo, truth in truths.items():
            results[slo][q] = q <= truth
    return tried, results


def test_docstring_example_expands_then_bisects() -> None:
    cfg = SearchConfig(start_qps=1.0, granularity=0.05)
    tried, results = drive({"deadline": 3.3}, cfg)
    assert tried == [1.0, 2.0, 4.0, 3.0, 3.5, 3.25, 3.38]
    assert capacity(results["deadline"], cfg) == {
        "capacity_qps": 3.25,
        "lowest_failing_qps": 3.38,
        "status": "exact",
    }


@pytest.mark.parametrize("truth", [0.37, 1.0, 2.9, 17.0, 40.5])
def test_capacity_is_within_granularity_below_the_truth(truth: float) -> None:
    cfg = SearchConfig(start_qps=1.0, max_qps=64.0, granularity=0.05, max_steps=30)
    _, results = drive({"s": truth}, cfg)
    cap = capacity(results["s"], cfg)
    assert cap["status"] == "exact"
    # the bracket is (cap, right] with right - cap <= 5 % of right (or the 0.01 resolution)
    assert cap["capacity_qps"] <= truth < cap["lowest_failing_qps"]
    assert (
        cap["lowest_failing_qps"] - cap["capacity_qps"]
        <= max(0.05 * cap["lowest_failing_qps"], 0.01) + 1e-9
    )


def test_all_slos_are_bracketed_on_shared_steps() -> None:
    cfg = SearchConfig(start_qps=1.0, granularity=0.05, max_steps=30)
    truths = {"deadline": 2.2, "tbt": 9.0, "ttft_tpot": 5.1}
    tried, results = drive(truths, cfg)
    for slo, truth in truths.items():
        cap = capacity(results[slo], cfg)
        assert cap["status"] == "exact"
        assert cap["capacity_qps"] <= truth < cap["lowest_failing_qps"]
    # shared steps: fewer than three independent searches would need
    assert len(tried) < 3 * len(drive({"x": 2.2}, cfg)[0])


def test_passing_at_max_qps_is_a_lower_bound() -> None:
    cfg = SearchConfig(start_qps=1.0, max_qps=8.0)
    tried, results = drive({"s": 100.0}, cfg)
    assert tried == [1.0, 2.0, 4.0, 8.0]
    assert capacity(results["s"], cfg)["status"] == "at_least"


def test_failing_from_the_start_bisects_towards_zero() -> None:
    cfg = SearchConfig(start_qps=4.0, granularity=0.05, max_steps=30)
    tried, results = drive({"s": 0.3}, cfg)
    assert tried[:3] == [4.0, 2.0, 1.0]
    cap = capacity(results["s"], cfg)
    assert cap["capacity_qps"] <= 0.3 < cap["lowest_failing_qps"]


def test_running_out_of_steps_is_unresolved() -> None:
    cfg = SearchConfig(start_qps=1.0, max_steps=4)
    _, results = drive({"s": 3.3}, cfg)
    assert capacity(results["s"], cfg) == {
        "capacity_qps": 3.0,
        "lowest_failing_qps": 4.0,
        "status": "unresolved",
    }


def test_a_pass_above_a_failure_does_not_raise_capacity() -> None:
    """Noise: 6 passed after 4 failed; capacity stays below the lowest failure."""
    assert bracket({1.0: True, 2.0: True, 4.0: False, 6.0: True}) == (2.0, 4.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SearchConfig(start_qps=0.0),
        lambda: SearchConfig(start_qps=10.0, max_qps=5.0),
        lambda: SearchConfig(granularity=0.0),
        lambda: SearchConfig(max_steps=0),
    ],
)
def test_bad_configs_are_refused(make: Callable[[], SearchConfig]) -> None:
    with pytest.raises(ValueError):
        make()
