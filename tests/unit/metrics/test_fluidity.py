"""The deadline walk of metrics.md, with its arithmetic shown."""

import numpy as np
import pytest

from monitor.metrics.arrivals import token_arrivals
from monitor.metrics.batch import ChunkMatrix, score
from monitor.metrics.fluidity import fluidity, fluidity_decode_only


def arrivals(*times: int) -> np.ndarray:
    return np.array(times, dtype=np.int64)


def test_fluidity_one_late_token() -> None:
    # gaps [90, 20, 50, 10], D_p=100, D_d=25
    # 90 <= 100 met (slack 10); 20 <= 35 met (slack 15)
    # 50 > 40 late: 1 + (50-15-25)//25 = 1 missed, slack 0; 10 <= 25 met
    r = fluidity(arrivals(90, 110, 160, 170), prefill_ns=100, decode_ns=25)
    assert (r.met, r.missed, r.index) == (3, 1, 0.75)


def test_tie_is_on_time() -> None:
    # gaps exactly equal to the deadline: 25 <= 25 each time, never late
    r = fluidity(arrivals(100, 125, 150, 175), prefill_ns=100, decode_ns=25)
    assert (r.met, r.missed) == (4, 0)


def test_long_stall_misses_every_period_and_reanchors() -> None:
    # D_d = 10; gaps after token 0: [10, 45, 10]
    # 10 <= 10 met; 45 > 10: 1 + (45-0-10)//10 = 4 missed, re-anchor; 10 <= 10 met
    r = fluidity_decode_only(arrivals(0, 10, 55, 65), decode_ns=10)
    assert (r.met, r.missed) == (2, 4)


def test_late_first_token_counts_prefill_periods_in_decode_units() -> None:
    # D_p = 100, D_d = 25, a_0 = 160: 1 + (160-100)//25 = 3 missed; then gap 25 met
    r = fluidity(arrivals(160, 185), prefill_ns=100, decode_ns=25)
    assert (r.met, r.missed) == (1, 3)


def test_tokens_in_one_chunk_bank_slack() -> None:
    # chunk of 3 at t=10 then 1 at t=70, D_d = 25, decode-only:
    # gaps [0, 0, 60]: slack 25, 50; 60 <= 25 + 50 met
    a = token_arrivals([10, 70], [3, 1])
    r = fluidity_decode_only(a, decode_ns=25)
    assert (r.met, r.missed) == (3, 0)


def test_no_tokens_means_no_deadlines_and_index_one() -> None:
    r = fluidity(arrivals(), prefill_ns=100, decode_ns=25)
    assert (r.total, r.index) == (0, 1.0)


@pytest.mark.parametrize("bad", [0, -5])
def test_non_positive_deadline_is_rejected(bad: int) -> None:
    with pytest.raises(ValueError):
        fluidity(arrivals(1, 2), prefill_ns=100, decode_ns=bad)


def test_batch_example_from_its_docstring() -> None:
    # b = a - j*25 = [90, 85, 110, 95], T0 = 100; only b_2 = 110 > 100 is late: 1 + 10//25 = 1
    m = ChunkMatrix.from_chunks([([90, 110, 160, 170], [1, 1, 1, 1])])
    c = score(m, 25, 100)
    assert (int(c.met[0]), int(c.missed[0])) == (3, 1)
