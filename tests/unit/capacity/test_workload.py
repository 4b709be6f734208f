"""Arrival schedules and request lengths: seeded, validated, bounded."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from monitor.capacity.workload import (
    RequestShape,
    arrival_offsets,
    parse_lengths,
    scheduled_rate,
)


def test_poisson_is_seeded_and_has_the_asked_rate() -> None:
    a = arrival_offsets(5.0, 4000, random.Random(1))
    b = arrival_offsets(5.0, 4000, random.Random(1))
    assert a == b and a[0] == 0.0
    rate = scheduled_rate(a)
    assert rate is not None
    # mean of 3999 exponential gaps: relative standard error 1/sqrt(3999) = 1.6 %; allow 5 %
    assert abs(rate - 5.0) / 5.0 < 0.05


def test_uniform_arrivals_are_evenly_spaced() -> None:
    assert arrival_offsets(4.0, 3, random.Random(0), "uniform") == [0.0, 0.25, 0.5]


def test_lengths_fixed_and_uniform() -> None:
    fixed = parse_lengths("", 512, 64)
    assert fixed.draw(2, random.Random(0)) == [RequestShape(512, 64)] * 2
    assert parse_lengths("fixed:100,8", 1, 1).draw(1, random.Random(0)) == [RequestShape(100, 8)]
    uni = parse_lengths("uniform:100-200,5-6", 1, 1).draw(500, random.Random(0))
    assert {s.prompt_tokens for s in uni} <= set(range(100, 201))
    assert {s.max_tokens for s in uni} == {5, 6}


def test_lengths_file_cycles_in_order(tmp_path: Path) -> None:
    f = tmp_path / "lengths.csv"
    f.write_text("prompt,output\n# a comment\n100,10\n200 20\n", encoding="utf-8")
    shapes = parse_lengths(f"file:{f}", 1, 1).draw(3, random.Random(0))
    assert shapes == [RequestShape(100, 10), RequestShape(200, 20), RequestShape(100, 10)]


@pytest.mark.parametrize(
    "text", ["weird:1,2", "fixed:100", "fixed:100-200,5", "uniform:200-100,5", "uniform:0,5"]
)
def test_bad_lengths_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_lengths(text, 1, 1)


def test_bad_file_rows_name_the_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("100 10\n100 ten\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt:2"):
        parse_lengths(f"file:{f}", 1, 1)


def test_zero_qps_is_refused() -> None:
    with pytest.raises(ValueError):
        arrival_offsets(0.0, 3, random.Random(0))
