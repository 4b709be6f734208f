"""The report's "Changes" section: found in a trace file's probes, valid JSON, shown in HTML."""

from __future__ import annotations

import json
from datetime import timedelta

from jsonschema import Draft202012Validator, FormatChecker

from monitor.report.changes import from_traces
from monitor.report.json_schema import REPORT_SCHEMA
from monitor.report.render_html import render_html
from monitor.report.render_json import render_json
from tests.change_series import STEP_AT, both
from tests.factories import T0
from tests.unit.report.conftest import build


def test_changes_found_in_traces_reach_json_and_html() -> None:
    traces = both()
    changes = from_traces(traces)
    assert changes
    assert {(c.target, c.direction) for c in changes} == {("drifting", "worse")}
    assert "d_star" in {c.metric for c in changes}
    for c in changes:
        assert abs(c.at - (T0 + timedelta(hours=STEP_AT))) <= timedelta(hours=2)
        assert c.p_value is not None and c.p_value <= 0.0005
    report = build(traces, changes=changes)
    doc = json.loads(render_json(report))
    errors = [
        e.message
        for e in Draft202012Validator(REPORT_SCHEMA, format_checker=FormatChecker()).iter_errors(
            doc
        )
    ]
    assert errors == []
    assert [c["metric"] for c in doc["changes"]] == [c.metric for c in changes]
    html = render_html(report)
    assert f"Changes ({len(changes)})" in html
    assert "drifting" in html and "worse" in html


def test_no_changes_is_said_plainly() -> None:
    report = build(both()[:20])
    assert report.changes == ()
    assert "No lasting change was found in this window." in render_html(report)
