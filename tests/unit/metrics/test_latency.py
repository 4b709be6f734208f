"""Conventional metrics, worked by hand (metrics.md, "Conventional metrics")."""

import pytest

from monitor.metrics.arrivals import gaps, token_arrivals
from monitor.metrics.latency import (
    e2e_ns,
    inter_chunk_ns,
    normalized_e2e_ns,
    output_rate,
    tbt_ns,
    tokens_per_chunk,
    tpot_ns,
    ttft_ns,
)


def test_worked_example() -> None:
    # chunks (100, 1), (130, 2), (190, 1) → arrivals [100, 130, 130, 190]
    a = token_arrivals([100, 130, 190], [1, 2, 1])
    assert a.tolist() == [100, 130, 130, 190]
    assert gaps(a).tolist() == [100, 30, 0, 60]
    assert ttft_ns(a) == 100
    assert tbt_ns(a).tolist() == [30, 0, 60]
    assert inter_chunk_ns([100, 130, 190]).tolist() == [30, 60]
    assert tpot_ns(a) == 30.0  # (190 - 100) / 3
    assert e2e_ns(a) == 190
    assert normalized_e2e_ns(a) == 47.5  # 190 / 4
    assert output_rate(a) == pytest.approx(4 / 190e-9)
    assert tokens_per_chunk([1, 2, 1]) == pytest.approx(4 / 3)


def test_undefined_values_are_none() -> None:
    one = token_arrivals([5], [1])
    none = token_arrivals([], [])
    assert tpot_ns(one) is None
    assert (ttft_ns(none), e2e_ns(none), normalized_e2e_ns(none)) == (None, None, None)
    assert tokens_per_chunk([]) is None


def test_zero_token_chunks_add_no_arrival() -> None:
    assert token_arrivals([10, 20, 30], [1, 0, 2]).tolist() == [10, 30, 30]


@pytest.mark.parametrize(("times", "tokens"), [([20, 10], [1, 1]), ([10], [-1]), ([10, 20], [1])])
def test_corrupt_input_is_an_error(times: list[int], tokens: list[int]) -> None:
    with pytest.raises(ValueError):
        token_arrivals(times, tokens)
