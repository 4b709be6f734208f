"""Stored profiles and capacity searches appear in the report: data in JSON (schema-valid), the
attainment-vs-QPS and profile charts in HTML; a window without them has no section."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator

from monitor.capacity.profile import PrefillProfile
from monitor.report.build import ReportInputs, build_report
from monitor.report.json_schema import REPORT_SCHEMA
from monitor.report.model import Window
from monitor.report.render_html import render_html
from monitor.report.source import load_store
from monitor.store import Store
from monitor.store.capacity import save_capacity, save_profile

NOW = datetime.now(UTC).replace(microsecond=0)


def step(qps: float, miss: float | str, passed: bool) -> dict[str, Any]:
    return {
        "qps": qps,
        "achieved_qps": qps,
        "slos": {
            "deadline": {"passed": passed, "miss_rate_at_percentile": miss},
            "tbt": {"passed": True, "tbt_s_at_percentile": 0.05},
            "ttft_tpot": {
                "passed": passed,
                "ttft_s_at_percentile": 1.0,
                "tpot_s_at_percentile": 0.2 if not passed else 0.05,
            },
        },
    }


DOC: dict[str, Any] = {
    "target": "engine-a",
    "model": "m",
    "started_at": (NOW - timedelta(hours=1)).isoformat(),
    "capacity_qps": {"deadline": 2.0, "tbt": 4.0, "ttft_tpot": 2.0},
    "capacity": {
        "deadline": {"capacity_qps": 2.0, "lowest_failing_qps": 4.0, "status": "exact"},
        "tbt": {"capacity_qps": 4.0, "lowest_failing_qps": None, "status": "at_least"},
        "ttft_tpot": {"capacity_qps": 2.0, "lowest_failing_qps": 4.0, "status": "exact"},
    },
    "client_limited_at_qps": None,
    "thresholds": {"deadline_miss_rate": 0.1, "tbt_s": 0.1, "ttft_s": 2.0, "tpot_s": 0.1},
    "steps": [step(4.0, "inf", False), step(2.0, 0.05, True)],
}


async def test_report_shows_stored_capacity_and_profiles(store: Store) -> None:
    await save_capacity(store.engine, DOC)
    await save_profile(
        store.engine,
        PrefillProfile(
            target="engine-a",
            model="m",
            measured_at=NOW - timedelta(hours=2),
            lengths=(256, 1024, 4096),
            min_ttft_s=(0.03, 0.07, 0.25),
            coefficients=(0.02, 5e-5, 2e-9),
            residuals_s=(0.0, -0.001, 0.001),
            repeats=3,
        ),
    )
    loaded = await load_store(store, since=NOW - timedelta(days=1), until=NOW)
    report = build_report(
        ReportInputs(
            traces=loaded.traces,
            generated_at=NOW,
            window=Window(NOW - timedelta(days=1), NOW, None, "database"),
            capacity=loaded.capacity,
        )
    )
    doc = json.loads(json.dumps(report.to_json()))
    Draft202012Validator(REPORT_SCHEMA).validate(doc)
    (run,) = doc["capacity"]["runs"]
    assert run["capacity_qps"] == [2.0, 4.0, 2.0]
    assert [s["qps"] for s in run["steps"]] == [2.0, 4.0]  # sorted by QPS
    # measured / limit: 0.05 / 0.1 = 0.5 at 2 QPS; cut-off requests (inf) become null in JSON
    assert run["steps"][0]["ratio"][0] == 0.5 and run["steps"][1]["ratio"][0] is None
    # TTFT+TPOT: the worse ratio, 0.2 / 0.1 = 2 at 4 QPS
    assert run["steps"][1]["ratio"][2] == 2.0
    (profile,) = doc["capacity"]["profiles"]
    assert [p["prompt_tokens"] for p in profile["points"]] == [256, 1024, 4096]
    html = render_html(report)
    assert "Capacity and prefill profiles" in html
    assert "SLO attainment vs QPS: engine-a" in html
    assert "Prefill profile of engine-a" in html

    before = await load_store(store, since=NOW - timedelta(days=9), until=NOW - timedelta(days=8))
    assert before.capacity is None
