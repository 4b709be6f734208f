"""Stall positions: per-chunk lateness that adds up to the engine's decode-only miss count."""

import numpy as np

from monitor.metrics.analysis import AnalysisOptions, build_table, decode_deadlines_ns
from monitor.metrics.batch import score
from monitor.report.scoring import score_target
from monitor.report.stalls import Stall, chunk_stalls, stall_positions
from monitor.trace import Trace
from tests.unit.report.factories import make_trace


def test_worked_example() -> None:
    # chunks (100, 1), (130, 1), (200, 1), D = 25: b = [100, 105, 150]
    # chunk 1: 105 > 100 late, 1 + 5 // 25 = 1 miss; chunk 2: 150 > 105 late, 1 + 45 // 25 = 2
    assert chunk_stalls([100, 130, 200], [1, 1, 1], 25) == [Stall(1, 1), Stall(2, 2)]


def test_slack_from_a_multi_token_chunk_absorbs_a_gap() -> None:
    # (0, 4) banks 3 deadlines: b_1 = 90 - 4*25 = -10 <= 0, on time
    assert chunk_stalls([0, 90], [4, 1], 25) == []


def test_empty_chunks_are_not_arrivals() -> None:
    # the token-less chunk at 500 is skipped: the late token is at 510, index 1,
    # b = 510 - 25 = 485 > 0: 1 + 485 // 25 = 20 misses
    assert chunk_stalls([0, 500, 510], [1, 0, 1], 25) == [Stall(1, 20)]


def test_misses_add_up_to_the_engine_count(traces: list[Trace]) -> None:
    table = build_table(traces)
    decode = decode_deadlines_ns(traces, AnalysisOptions())
    engine = score(table.matrix, decode).missed
    ours = np.array(
        [
            sum(
                s.missed
                for s in chunk_stalls(
                    [c.t_ns for c in t.content_chunks],
                    [c.tokens for c in t.content_chunks],
                    int(decode[r]),
                )
            )
            for r, t in enumerate(traces)
        ]
    )
    assert engine.sum() > 0
    np.testing.assert_array_equal(ours, engine)


def test_positions_are_tenths_of_the_response() -> None:
    # tokens (ms) 100, 110, ..., 170, then 400, 410; D = 25 ms, decode-only.
    # b_j = a_j - 25 j: b_0 = 100, b_1..b_7 <= 85, running max 100;
    # b_8 = 400 - 200 = 200 > 100: late, 1 + (200 - 100) // 25 = 5 misses;
    # b_9 = 410 - 225 = 185 <= 200. Token 8 of 10 falls in the 80-90 % bin.
    ms = [100 + 10 * j for j in range(8)] + [400, 410]
    trace = make_trace([(t * 1_000_000, 1) for t in ms], decode_s=(0.025,))
    positions = stall_positions(score_target("t", [trace]))
    assert positions.stalls == positions.stalled_requests == 1
    assert positions.bins == (0, 0, 0, 0, 0, 0, 0, 0, 1, 0)
    assert positions.missed == (0, 0, 0, 0, 0, 0, 0, 0, 5, 0)
    assert positions.late_first_token == 0  # TTFT 100 ms < the 1 s prefill deadline
