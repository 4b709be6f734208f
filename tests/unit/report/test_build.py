"""The report's numbers are the metric engine's: per target, `analyze` on that target's traces."""

from collections import Counter

import numpy as np
import pytest

from monitor.metrics.analysis import analyze
from monitor.report.model import Report
from monitor.trace import Outcome, Trace
from tests.unit.report.conftest import PRICED, build
from tests.unit.report.factories import make_trace

SUMMARY_KEYS = (
    "share_fluid",
    "deadline_slo_met",
    "service_miss_rate",
    "p99_request_miss_rate",
    "fluent_token_rate",
    "tpot_rate",
    "tail_tbt_rate",
)


def _of(traces: list[Trace], name: str) -> list[Trace]:
    return [t for t in traces if t.target == name]


def test_target_numbers_equal_analyze(report: Report, traces: list[Trace]) -> None:
    doc = report.to_json()
    assert [t["target"] for t in doc["targets"]] == ["stally", "steady"]
    for row in doc["targets"]:
        summary = analyze(_of(traces, row["target"])).summary
        assert row["probes"] == summary.requests
        assert row["failed"] == summary.requests - summary.ok
        for key in SUMMARY_KEYS:
            assert row[key] == getattr(summary, key), (row["target"], key)
        for p in ("p50", "p90", "p99"):
            assert row[f"ttft_{p}_s"] == summary.ttft_s[p]
            assert row["tbt_s"][p] == summary.tbt_s[p]


def test_failures_are_counted_by_outcome(report: Report, traces: list[Trace]) -> None:
    stally = next(t for t in report.targets if t.target == "stally")
    expected = Counter(t.outcome.value for t in _of(traces, "stally") if t.outcome != Outcome.OK)
    assert stally.failures_by_outcome == dict(expected)
    assert stally.failed == sum(expected.values()) > 0
    assert stally.top_errors[0].error == "first byte timeout after 60 s"


def test_ttft_by_prompt_length_uses_requested_length(report: Report, traces: list[Trace]) -> None:
    steady = next(t for t in report.targets if t.target == "steady")
    rows = {r.probe_id: r for r in analyze(_of(traces, "steady")).requests}
    for box in steady.ttft_by_prompt:
        ttfts = [
            rows[t.probe_id].ttft_s or 0.0
            for t in _of(traces, "steady")
            if t.requested_prompt_tokens == box.prompt_tokens and t.outcome is Outcome.OK
        ]
        assert box.probes == len(ttfts) == 48  # 24 hours x 2 repetitions
        assert box.p50 == pytest.approx(float(np.quantile(ttfts, 0.5)), rel=1e-12)
    assert [b.prompt_tokens for b in steady.ttft_by_prompt] == [256, 1024, 4096]


def test_judged_at_first_stored_decode_tier(report: Report) -> None:
    for t in report.targets:
        assert t.decode_deadlines_s == (0.025,)


def test_curve_reaches_full_fluidity_for_a_steady_stream(report: Report) -> None:
    steady = next(t for t in report.targets if t.target == "steady")
    curve = {p.decode_deadline_ms: p.p99_fluidity_index for p in steady.fluidity_curve}
    assert sorted(curve) == list(range(1, 101))
    # tokens every 15 ms ± a few ms of jitter: at 100 ms no token can be late
    assert curve[100] == 1.0
    # at 1 ms nearly every 15 ms gap is late
    assert curve[1] < 0.2


def test_hour_of_day_covers_the_cycle_and_shows_bad_hours(report: Report) -> None:
    stally = next(t for t in report.targets if t.target == "stally")
    assert [h.hour for h in stally.by_hour] == list(range(24))
    assert sum(h.probes for h in stally.by_hour) == stally.probes
    bad = [h.share_fluid for h in stally.by_hour if h.hour in (14, 15)]
    good = [h.share_fluid for h in stally.by_hour if h.hour not in (14, 15)]
    assert max(b or 0.0 for b in bad) < float(np.mean([g or 0.0 for g in good]))


def test_incidents_name_broken_hours_and_their_worst_probes(
    report: Report, traces: list[Trace]
) -> None:
    windows = {(i.target, i.window) for i in report.incidents}
    assert ("stally", "2026-11-22 14:00Z") in windows
    assert all(i.target == "stally" for i in report.incidents)
    by_id = {t.probe_id: t for t in traces}
    for incident in report.incidents:
        assert incident.worst_probes
        for w in incident.worst_probes:
            t = by_id[w.probe_id]
            assert t.started_at is not None
            assert t.started_at.strftime("%Y-%m-%d %H:00Z") == incident.window
            assert w.fluidity_index is None or w.fluidity_index < 0.9


def test_incident_when_every_probe_of_a_round_failed() -> None:
    failed = [
        make_trace([], probe_id=f"f{i}", outcome=Outcome.TIMEOUT, error="timeout") for i in range(2)
    ]
    report = build(failed)
    (incident,) = report.incidents
    assert incident.reason == "no successful probe"
    assert [w.probe_id for w in incident.worst_probes] == ["f0", "f1"]


def test_rounds_group_incidents_when_known(traces: list[Trace]) -> None:
    stally = _of(traces, "stally")
    round_of = {t.probe_id: "cycle 1 round 7" for t in stally}
    report = build(stally, round_of=round_of)
    assert [i.window for i in report.incidents] in ([], ["cycle 1 round 7"])
    (done,) = report.methodology.completeness
    assert done.rounds == 1


def test_cost_arithmetic() -> None:
    # 2 probes of 1000 prompt + 200 output tokens at $0.5 / $1.5 per 1M, and a rate-limited probe
    # that produced nothing (not billed): total = 2 * (1000*0.5 + 200*1.5) / 1e6 = $0.0016
    ok = [
        make_trace(
            [(100_000_000 + i * 10_000_000, 1) for i in range(200)],
            probe_id=f"ok{n}",
            target="steady",
            prompt_tokens=1000,
            usage={"prompt_tokens": 1000, "completion_tokens": 200},
        )
        for n in range(2)
    ]
    limited = make_trace([], probe_id="rl", target="steady", outcome=Outcome.RATE_LIMITED)
    report = build([*ok, limited], targets=PRICED)
    (target,) = report.targets
    cost = target.cost
    assert cost is not None
    assert (cost.input_tokens, cost.output_tokens) == (2000, 400)
    assert cost.total == pytest.approx(0.0016)
    assert cost.per_1m_tokens == pytest.approx(0.0016 / 2400 * 1e6)
    assert cost.per_1m_output_tokens == pytest.approx(0.0016 / 400 * 1e6)
    # both ok probes are perfectly regular 10 ms streams: both fluid
    assert cost.per_fluid_response == pytest.approx(0.0016 / 2)


def test_no_price_means_no_cost(report: Report) -> None:
    stally = next(t for t in report.targets if t.target == "stally")
    assert stally.cost is None


def test_methodology_states_completeness_and_version(report: Report) -> None:
    m = report.methodology
    steady = next(c for c in m.completeness if c.target == "steady")
    # configured workload: 3 prompt lengths x 2 repetitions per round, 24 hourly rounds seen
    assert steady.rounds == 24
    assert steady.expected_probes == 144
    assert steady.completeness == 1.0
    stally = next(c for c in m.completeness if c.target == "stally")
    assert stally.expected_probes is None  # not configured: the plan is unknown
    assert steady.prompt_lengths == (256, 1024, 4096)
    assert m.tool_version
    assert any(d.term == "Deadline SLO" for d in m.definitions)


def test_empty_input_gives_an_empty_report() -> None:
    report = build([])
    assert report.targets == ()
    assert report.comparisons == ()
    assert report.incidents == ()


def test_round_compliance_counts_rounds_without_incident(report: Report) -> None:
    for t in report.targets:
        broken = [i for i in report.incidents if i.target == t.target]
        c = t.round_compliance
        # hourly rounds, every hour has successful probes: all 24 are judged
        assert (c.rounds, c.judged) == (24, 24)
        assert c.slo_met == 24 - len(broken)
        assert c.share == c.slo_met / 24
    stally = next(t for t in report.targets if t.target == "stally")
    assert stally.round_compliance.slo_met < 24


def test_completeness_against_the_cycle_plan(traces: list[Trace]) -> None:
    steady = _of(traces, "steady")
    # 30 planned rounds x 3 lengths x 2 repetitions = 180 expected; 144 probed
    planned = build(steady, targets=PRICED, rounds_planned=30).methodology.completeness[0]
    assert (planned.expected_probes, planned.completeness) == (180, 144 / 180)
    # a continuous cycle plans 0 rounds: judged against the 24 rounds seen
    continuous = build(steady, targets=PRICED, rounds_planned=0).methodology.completeness[0]
    assert (continuous.expected_probes, continuous.completeness) == (144, 1.0)
