"""Rolling-window summaries equal the metric engine's numbers over the same probes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from monitor.metrics.analysis import analyze
from monitor.store import Store, WindowSummary
from monitor.trace import Outcome, Trace
from tests.factories import T0, make_trace, trace_stream

NOW = T0 + timedelta(hours=5)


def _expected(traces: list[Trace], window: timedelta) -> dict[tuple[str, int], dict[str, object]]:
    out: dict[tuple[str, int], dict[str, object]] = {}
    keys = {(t.target, t.requested_prompt_tokens) for t in traces}
    for target, workload in sorted(keys):  # type: ignore[type-var]
        group = [
            t
            for t in traces
            if (t.target, t.requested_prompt_tokens) == (target, workload)
            and t.started_at is not None
            and NOW - window <= t.started_at < NOW
        ]
        if not group:
            continue
        a = analyze(group)
        ok_index = [r.fluidity_index for r in a.requests if r.fluidity_index is not None]
        s = a.summary
        out[(target, workload)] = {  # type: ignore[index]
            "probes": s.requests,
            "ok": s.ok,
            "success_ratio": s.ok / s.requests,
            "fluidity_p50": float(np.quantile(ok_index, 0.5)),
            "fluidity_p01": float(np.quantile(ok_index, 0.01)),
            "fluid_ratio": s.share_fluid,
            "p99_miss_rate": s.p99_request_miss_rate,
            "deadline_slo_met": s.deadline_slo_met,
            "fluent_token_rate": s.fluent_token_rate,
            "tpot_token_rate": s.tpot_rate,
            **{
                f"{key}_{p}": s.percentiles[key][p]
                for key in ("ttft", "ttfat")
                for p in ("p50", "p90", "p99")
            },
        }
    return out


def _actual(rows: list[WindowSummary], window: str) -> dict[tuple[str, int], dict[str, object]]:
    fields = [
        "probes",
        "ok",
        "success_ratio",
        "fluidity_p50",
        "fluidity_p01",
        "fluid_ratio",
        "p99_miss_rate",
        "deadline_slo_met",
        "fluent_token_rate",
        "tpot_token_rate",
    ]
    out = {}
    for r in rows:
        if r.window != window:
            continue
        values = {f: getattr(r, f) for f in fields}
        for key, name in (("ttft", "ttft_ns"), ("ttfat", "ttfat_ns")):
            for p, v in zip(("p50", "p90", "p99"), r.quantiles[name], strict=True):
                values[f"{key}_{p}"] = v
        out[(r.target, r.workload)] = values
    return out  # type: ignore[return-value]


async def test_windows_match_the_metric_engine(store: Store) -> None:
    # 300 probes, one a minute from T0: the 1 h window holds the last 60, 24 h and 7 d all 300;
    # one probe 8 days old and one at NOW itself fall outside every window ([now - span, now)).
    traces = list(trace_stream(300, every=timedelta(minutes=1)))
    traces.append(make_trace("too-old", started_at=NOW - timedelta(days=8)))
    traces.append(make_trace("at-now", started_at=NOW))
    await store.ingest_many(traces)
    rows = await store.window_summaries(NOW)
    assert {r.window for r in rows} == {"1h", "24h", "7d"}
    assert sum(r.probes for r in rows if r.window == "1h") == 60
    assert sum(r.probes for r in rows if r.window == "7d") == 300
    for name, span in (("1h", timedelta(hours=1)), ("24h", timedelta(days=1))):
        expected, actual = _expected(traces, span), _actual(rows, name)
        assert actual.keys() == expected.keys()
        for key, values in expected.items():
            assert actual[key] == pytest.approx(values, rel=1e-9), (name, key)
    assert all(r.provider == "openai-compatible" and r.region == "eu-west" for r in rows)


async def test_window_with_only_failed_probes_has_no_scores(store: Store) -> None:
    await store.ingest(
        make_trace("f1", started_at=NOW - timedelta(minutes=1), outcome=Outcome.TIMEOUT)
    )
    (row,) = await store.window_summaries(NOW, {"1h": timedelta(hours=1)})
    assert (row.probes, row.ok, row.success_ratio) == (1, 0, 0.0)
    assert row.fluidity_p50 is None and row.fluent_token_rate is None
    assert row.quantiles == {"ttft_ns": (None, None, None), "ttfat_ns": (None, None, None)}
    assert row.deadline_slo_met is None
