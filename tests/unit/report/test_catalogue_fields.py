"""Report latency fields come from the metric catalogue: TTFAT appears in the JSON (valid against
the generated schema) and the HTML summary beside TTFT, and a failed probe is fluid nowhere."""

from __future__ import annotations

from datetime import timedelta

from jsonschema import Draft202012Validator

from monitor.metrics.catalogue import reported
from monitor.report.json_schema import REPORT_SCHEMA
from monitor.report.render_html import render_html
from monitor.trace import Outcome
from tests.factories import T0, make_trace, reasoning_trace
from tests.unit.report.conftest import build


def test_every_reported_metric_is_in_the_schema_and_the_json() -> None:
    keys = REPORT_SCHEMA["properties"]["targets"]["items"]["properties"]
    report = build(
        [reasoning_trace(f"r{i}", started_at=T0 + timedelta(seconds=i)) for i in range(3)]
    )
    (target,) = report.to_json()["targets"]
    for metric in reported():
        for key in metric.report_fields():
            assert key in keys and key in target
    assert list(Draft202012Validator(REPORT_SCHEMA).iter_errors(report.to_json())) == []


def test_ttfat_is_the_answer_after_the_reasoning() -> None:
    # reasoning_trace: reasoning from 100 ms, first answer token at 300 ms (tests/factories.py)
    report = build(
        [reasoning_trace(f"r{i}", started_at=T0 + timedelta(seconds=i)) for i in range(3)]
    )
    (target,) = report.to_json()["targets"]
    assert (target["ttft_p50_s"], target["ttfat_p50_s"]) == (0.1, 0.3)
    html = render_html(report)
    assert "TTFT p50" in html and "TTFAT p99" in html


def test_a_rate_limited_probe_is_a_failure_not_a_fluid_response() -> None:
    fine = make_trace("ok-1")
    limited = make_trace(
        "429-1", chunks=(), outcome=Outcome.RATE_LIMITED, started_at=T0 + timedelta(seconds=1)
    )
    report = build([fine, limited])
    (target,) = report.targets
    assert (target.probes, target.ok, target.failed) == (2, 1, 1)
    assert target.failures_by_outcome == {"rate_limited": 1}
    assert target.share_fluid == 1.0  # 1 of the 1 scored probe; the 429 is not in it
    worst = [w for i in report.incidents for w in i.worst_probes if w.probe_id == "429-1"]
    assert all(w.fluidity_index is None for w in worst)
