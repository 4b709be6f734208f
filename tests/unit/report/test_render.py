"""JSON and HTML renderings: the JSON's shape, the same numbers in both, vendor text inert."""

import json
import re
from typing import Any

from monitor import trace as trace_codec
from monitor.report.model import Report
from monitor.report.render_html import pct, render_html
from monitor.report.render_json import render_json
from monitor.trace import Outcome
from tests.unit.report.conftest import build
from tests.unit.report.factories import make_trace

OPTIONAL_NUMBER = (int, float, type(None))

TARGET_SHAPE: dict[str, tuple[type, ...]] = {
    "target": (str,),
    "probes": (int,),
    "failed": (int,),
    "share_fluid": OPTIONAL_NUMBER,
    "deadline_slo_met": (bool, type(None)),
    "fluent_token_rate": OPTIONAL_NUMBER,
    "tpot_rate": OPTIONAL_NUMBER,
    "tail_tbt_rate": OPTIONAL_NUMBER,
    "ttft_p50_s": OPTIONAL_NUMBER,
    "ttft_p90_s": OPTIONAL_NUMBER,
    "ttft_p99_s": OPTIONAL_NUMBER,
    "failures_by_outcome": (dict,),
    "ttft_by_prompt": (list,),
    "fluidity_curve": (list,),
    "tbt_cdf": (dict,),
    "inter_chunk_cdf": (dict,),
    "by_hour": (list,),
    "stalls": (dict,),
}
COMPARISON_SHAPE: dict[str, tuple[type, ...]] = {
    "metric": (str,),
    "a": (str,),
    "b": (str,),
    "difference": OPTIONAL_NUMBER,
    "ci_low": OPTIONAL_NUMBER,
    "ci_high": OPTIONAL_NUMBER,
    "significant": (bool, type(None)),
    "statement": (str,),
}


def _check(obj: dict[str, Any], shape: dict[str, tuple[type, ...]], where: str) -> None:
    for key, types in shape.items():
        assert key in obj, f"{where}: missing {key}"
        assert isinstance(obj[key], types), f"{where}.{key}: {type(obj[key]).__name__}"


def test_json_shape(report: Report) -> None:
    doc = json.loads(render_json(report))
    assert doc["format"] == "etalon-report/1"
    assert set(doc) >= {"targets", "comparisons", "incidents", "methodology", "window"}
    assert doc["generated_at"] == "2026-11-23T08:00:00Z"
    assert len(doc["targets"]) == 2
    for i, t in enumerate(doc["targets"]):
        _check(t, TARGET_SHAPE, f"targets[{i}]")
        assert [b["prompt_tokens"] for b in t["ttft_by_prompt"]] == [256, 1024, 4096]
        for point in t["fluidity_curve"]:
            assert 0.0 <= point["p99_fluidity_index"] <= 1.0
        cdf = t["tbt_cdf"]
        assert len(cdf["probabilities"]) == len(cdf["values_s"]) == 101
        assert cdf["values_s"] == sorted(cdf["values_s"])
        assert len(t["stalls"]["bins"]) == 10
    for i, c in enumerate(doc["comparisons"]):
        _check(c, COMPARISON_SHAPE, f"comparisons[{i}]")
    for incident in doc["incidents"]:
        assert isinstance(incident["worst_probes"], list)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", incident["started_at"])
    assert doc["methodology"]["tool_version"]


def test_json_is_the_model(report: Report) -> None:
    assert json.loads(render_json(report)) == json.loads(json.dumps(report.to_json()))


def test_html_shows_the_same_numbers(report: Report) -> None:
    html = render_html(report)
    for t in report.targets:
        assert pct(t.share_fluid) in html
        assert f"{t.fluent_token_rate:,.1f} tok/s" in html
        assert f"{t.tpot_rate:,.1f} tok/s" in html
    # TTFT boxes, fluidity curve, hour of day, stall positions, TBT CDF, inter-chunk CDF
    assert html.count("<svg") == 6


def test_html_is_self_contained(report: Report) -> None:
    html = render_html(report)
    assert "<script" not in html.lower()
    assert not re.search(r"\b(src|href)\s*=", html)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html


HOSTILE = "<script>alert(1)</script>"


def test_vendor_text_stays_inert() -> None:
    bad = make_trace(
        [(1_000_000_000, 1), (3_000_000_000, 1)],
        probe_id="evil-1",
        target="evil",
        texts=[HOSTILE, '<img src=x onerror="alert(2)">'],
    )
    failed = make_trace(
        [], probe_id="evil-2", target="evil", outcome=Outcome.HTTP_ERROR, error=HOSTILE
    )
    report = build([bad, failed])
    html = render_html(report)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html
    doc = json.loads(render_json(report))
    assert doc["targets"][0]["top_errors"][0]["error"] == HOSTILE


def test_empty_report_renders() -> None:
    report = build([])
    assert "No probes in this window." in render_html(report)
    assert json.loads(render_json(report))["targets"] == []


def test_minimal_form_traces_are_reported_as_one_unnamed_target() -> None:
    lines = [
        '{"probe_id": "a", "prompt_tokens": 100, "chunks": [[100000000, 1], [110000000, 1]]}',
        '{"probe_id": "b", "prompt_tokens": 100, "chunks": [[120000000, 1], [900000000, 1]]}',
    ]
    traces = trace_codec.read(lines).traces
    report = build(traces)
    (target,) = report.targets
    assert target.target == "(no target)"
    assert target.probes == 2
    assert target.by_hour == ()  # no start times
    assert "(no target)" in render_html(report)
    assert json.loads(render_json(report))["targets"][0]["ttft_p50_s"] == 0.11


def test_a_target_whose_probes_all_failed_renders_with_dashes() -> None:
    failed = [
        make_trace([], probe_id=f"f{i}", target="down", outcome=Outcome.CONNECT_ERROR, error="x")
        for i in range(3)
    ]
    report = build(failed)
    html = render_html(report)
    (target,) = report.targets
    assert (target.probes, target.failed, target.share_fluid) == (3, 3, None)
    assert "no successful probes" in html  # the charts say why they are empty
    doc = json.loads(render_json(report))
    assert doc["targets"][0]["fluent_token_rate"] is None
