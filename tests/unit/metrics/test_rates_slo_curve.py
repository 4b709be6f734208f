"""Set-level metrics: rates, SLO views and the fluidity curve."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.metrics.batch import ChunkMatrix, DeadlineCounts, score
from monitor.metrics.curve import fluidity_curve
from monitor.metrics.quantiles import quantiles_with_zeros
from monitor.metrics.rates import fluent_token_rate, tail_tbt_rate, tpot_rate
from monitor.metrics.slo import slo_view

MS = 1_000_000


def test_fluent_rate_uses_linear_q99_of_min_deadlines() -> None:
    # D* = [83.334, 187.5, 312.5] ms; Q0.99 at position 1.98: 187.5 + 0.98·125 = 310 ms
    assert fluent_token_rate([83_334_000, 187_500_000, 312_500_000]) == pytest.approx(1 / 0.31)


def test_fluent_rate_skips_requests_without_min_deadline() -> None:
    assert fluent_token_rate([-1, 50 * MS, -1]) == pytest.approx(20.0)
    assert fluent_token_rate([-1]) is None


def test_tpot_rate_is_inverse_mean() -> None:
    # mean(20 ms, 30 ms) = 25 ms → 40 tokens/s; NaN (fewer than 2 tokens) is ignored
    assert tpot_rate([20 * MS, 30 * MS, np.nan]) == pytest.approx(40.0)


def test_tail_tbt_rate_is_inverse_q99() -> None:
    # 100 values 0..99 ms: Q0.99 = 98.01 ms
    assert tail_tbt_rate(np.arange(100) * MS) == pytest.approx(1 / 0.09801)


def test_slo_view_arithmetic() -> None:
    # (met, missed): (9, 1) miss 0.1 fluid; (1, 1) miss 0.5; (10, 0) miss 0
    counts = DeadlineCounts(met=np.array([9, 1, 10]), missed=np.array([1, 1, 0]))
    view = slo_view(counts)
    assert view.service_miss_rate == pytest.approx(2 / 22)
    assert view.share_fluid == pytest.approx(2 / 3)
    # sorted miss rates [0, 0.1, 0.5]; Q0.99 at 1.98 → 0.1 + 0.98·0.4 = 0.492
    assert view.p99_request_miss_rate == pytest.approx(0.492)
    assert view.deadline_slo_met is False


def test_slo_of_nothing_is_undefined() -> None:
    empty = DeadlineCounts(met=np.array([], dtype=np.int64), missed=np.array([], dtype=np.int64))
    assert slo_view(empty).deadline_slo_met is None


def test_curve_crosses_at_the_steady_gap() -> None:
    # one request, 11 tokens exactly 30 ms apart: decode-only misses everything below 30 ms
    m = ChunkMatrix.from_chunks([([i * 30 * MS for i in range(11)], [1] * 11)])
    points = {p.decode_deadline_ms: p for p in fluidity_curve(m, [10, 29, 30, 31])}
    assert points[29].p99_fluidity_index == 0.0
    assert points[30].p99_fluidity_index == 1.0
    assert points[31].p99_fluidity_index == 1.0
    # at 10 ms each gap of 30 misses 1 + (30-10)//10 = 3 deadlines and meets none
    assert points[10].p99_miss_rate == 1.0
    assert int(score(m, 10 * MS).missed[0]) == 30


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 10**10), max_size=50),
    st.integers(0, 60),
    st.lists(st.floats(0, 1), min_size=1, max_size=4),
)
def test_quantiles_with_implicit_zeros_equal_numpy(
    values: list[int], zeros: int, qs: list[float]
) -> None:
    full = np.concatenate([np.zeros(zeros), np.asarray(values, dtype=np.float64)])
    got = quantiles_with_zeros(values, zeros, qs)
    for q in qs:
        if full.size == 0:
            assert got[q] is None
        else:
            assert got[q] == pytest.approx(float(np.quantile(full, q)), rel=1e-12, abs=1e-6)
