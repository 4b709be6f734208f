"""Bootstrap comparisons: point estimates are the summary's numbers, intervals are seeded."""

from dataclasses import replace

import numpy as np

from monitor.report.compare import bootstrap
from monitor.report.model import Report
from monitor.trace import Trace
from tests.unit.report.conftest import build
from tests.unit.report.factories import make_trace


def test_point_estimates_equal_the_summary(report: Report) -> None:
    stally, steady = report.to_json()["targets"]  # flat keys, catalogue latencies included
    for c in report.comparisons:
        assert (c.a, c.b) == ("stally", "steady")
        assert c.value_a == stally[c.metric]
        assert c.value_b == steady[c.metric]
        assert c.difference == (c.value_a or 0.0) - (c.value_b or 0.0)
        assert c.ci_low is not None and c.ci_high is not None
        assert c.ci_low <= c.ci_high


def test_significance_follows_the_interval(report: Report) -> None:
    for c in report.comparisons:
        assert c.ci_low is not None and c.ci_high is not None
        assert c.significant == (c.ci_low > 0 or c.ci_high < 0)
    # the stally target's fluent rate (stalls every ~100 chunks) is far below the steady one's
    fluent = next(c for c in report.comparisons if c.metric == "fluent_token_rate")
    assert fluent.significant and fluent.better == "steady"
    assert "significant, favours steady" in fluent.statement
    # lower TTFT is better: steady's TTFT is lower
    ttft = next(c for c in report.comparisons if c.metric == "ttft_p50_s")
    assert ttft.significant and ttft.better == "steady"


def test_same_seed_same_intervals_other_seed_other_intervals(traces: list[Trace]) -> None:
    a = build(traces, seed=3, resamples=200).comparisons
    b = build(traces, seed=3, resamples=200).comparisons
    c = build(traces, seed=4, resamples=200).comparisons
    assert a == b
    assert [x.ci_low for x in a] != [x.ci_low for x in c]


def test_identical_samples_are_not_significantly_different(traces: list[Trace]) -> None:
    same = [t for t in traces if t.target == "steady"]
    twin = [replace(t, target="twin", probe_id="twin-" + t.probe_id) for t in same]
    report = build(same + twin, resamples=500)
    for c in report.comparisons:
        assert c.difference == 0.0
        assert not c.significant, c.statement


def test_bootstrap_of_a_constant_is_that_constant() -> None:
    rng = np.random.default_rng(0)
    out = bootstrap(np.full(10, 2.0), lambda x: np.mean(x, axis=-1), rng, 7)
    assert out.shape == (7,)
    assert (out == 2.0).all()


def test_too_few_probes_is_undecided() -> None:
    one = make_trace([(1_000_000, 1), (2_000_000, 1)], probe_id="a", target="a")
    two = make_trace([(1_000_000, 1), (2_000_000, 1)], probe_id="b", target="b")
    report = build([one, two])
    assert all(c.significant is None for c in report.comparisons)
    assert all("too few probes" in c.statement for c in report.comparisons)
