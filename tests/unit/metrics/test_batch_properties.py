"""Property tests: the vectorised engine equals the token walk; metrics behave as defined."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.metrics.arrivals import token_arrivals
from monitor.metrics.batch import ChunkMatrix, score
from monitor.metrics.fluidity import fluidity, fluidity_decode_only
from monitor.metrics.latency import e2e_ns, tpot_ns, ttft_ns
from monitor.metrics.min_deadline import min_decode_deadline_ns, min_decode_deadlines_ns

MS = 1_000_000

chunk_lists = st.lists(
    st.tuples(st.integers(0, 200 * MS), st.integers(0, 4)), min_size=0, max_size=40
)


def _as_request(gaps_and_tokens: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    times = np.cumsum([g for g, _ in gaps_and_tokens]).tolist()
    return times, [k for _, k in gaps_and_tokens]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(chunk_lists, min_size=1, max_size=8),
    st.integers(1, 60 * MS),
    st.integers(1, 2000 * MS),
)
def test_batch_equals_token_walk(
    requests: list[list[tuple[int, int]]], decode_ns: int, prefill_ns: int
) -> None:
    reqs = [_as_request(r) for r in requests]
    m = ChunkMatrix.from_chunks(reqs)
    with_ttft = score(m, decode_ns, prefill_ns)
    decode_only = score(m, decode_ns)
    for i, (times, tokens) in enumerate(reqs):
        a = token_arrivals(times, tokens)
        w = fluidity(a, prefill_ns, decode_ns)
        d = fluidity_decode_only(a, decode_ns)
        assert (int(with_ttft.met[i]), int(with_ttft.missed[i])) == (w.met, w.missed)
        assert (int(decode_only.met[i]), int(decode_only.missed[i])) == (d.met, d.missed)


@settings(max_examples=150, deadline=None)
@given(chunk_lists, st.integers(1, 50 * MS), st.integers(1, 50 * MS))
def test_miss_rate_never_increases_with_decode_deadline(
    req: list[tuple[int, int]], d1: int, d2: int
) -> None:
    lo, hi = sorted((d1, d2))
    a = token_arrivals(*_as_request(req))
    assert fluidity_decode_only(a, hi).miss_rate <= fluidity_decode_only(a, lo).miss_rate
    assert fluidity(a, 300 * MS, hi).miss_rate <= fluidity(a, 300 * MS, lo).miss_rate


@settings(max_examples=150, deadline=None)
@given(chunk_lists, st.integers(1, 50 * MS))
def test_fluidity_index_is_a_share(req: list[tuple[int, int]], decode_ns: int) -> None:
    a = token_arrivals(*_as_request(req))
    for r in (fluidity(a, 200 * MS, decode_ns), fluidity_decode_only(a, decode_ns)):
        assert 0.0 <= r.index <= 1.0


@settings(max_examples=150, deadline=None)
@given(st.lists(chunk_lists, min_size=1, max_size=6))
def test_min_decode_deadline_is_the_threshold(requests: list[list[tuple[int, int]]]) -> None:
    """At D* the miss rate is <= 0.1; one microsecond below it, it is > 0.1."""
    reqs = [_as_request(r) for r in requests]
    found = min_decode_deadlines_ns(ChunkMatrix.from_chunks(reqs))
    for (times, tokens), d_star in zip(reqs, found, strict=True):
        a = token_arrivals(times, tokens)
        oracle = min_decode_deadline_ns(times, tokens)
        if a.size < 2:
            assert d_star == -1 and oracle is None
            continue
        assert d_star == oracle
        assert d_star % 1000 == 0
        assert fluidity_decode_only(a, int(d_star)).miss_rate <= 0.1
        if d_star > 1000:
            assert fluidity_decode_only(a, int(d_star) - 1000).miss_rate > 0.1


@settings(max_examples=100, deadline=None)
@given(chunk_lists.filter(lambda r: sum(k for _, k in r) >= 2), st.integers(2, 1000))
def test_scaling_the_time_axis_scales_latencies(req: list[tuple[int, int]], factor: int) -> None:
    times, tokens = _as_request(req)
    a = token_arrivals(times, tokens)
    scaled = token_arrivals([t * factor for t in times], tokens)
    assert ttft_ns(scaled) == factor * (ttft_ns(a) or 0)
    assert e2e_ns(scaled) == factor * (e2e_ns(a) or 0)
    tpot, tpot_scaled = tpot_ns(a), tpot_ns(scaled)
    assert tpot is not None and tpot_scaled is not None
    assert abs(tpot_scaled - factor * tpot) <= 1e-9 * max(1.0, factor * tpot)


@settings(max_examples=100, deadline=None)
@given(st.lists(chunk_lists, min_size=1, max_size=8))
def test_flat_builder_equals_per_request_builder(requests: list[list[tuple[int, int]]]) -> None:
    reqs = [_as_request(r) for r in requests]
    expected = ChunkMatrix.from_chunks(reqs)
    sizes = [len(t) for t, _ in reqs]
    flat = ChunkMatrix.from_flat(
        np.array([x for t, _ in reqs for x in t], dtype=np.int64),
        np.array([x for _, k in reqs for x in k], dtype=np.int64),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
    )
    assert flat.n_tokens.tolist() == expected.n_tokens.tolist()
    assert flat.n_chunks.tolist() == expected.n_chunks.tolist()
    assert flat.times.tolist() == expected.times.tolist()
    assert flat.first_token.tolist() == expected.first_token.tolist()
