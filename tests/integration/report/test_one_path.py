"""One path from trace to row, /metrics and report: the same probes show the same numbers.

Real simulator over HTTP (stalls and 429s), real PostgreSQL. Each finished trace is scored once and
that record is observed by the exporter and stored with the trace, as the daemon does; the report
reads the records back through `Store`. A rate-limited probe is fluid nowhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from monitor.export.probes import ProbeMetrics
from monitor.metrics.score import ScoreRecord, score_traces
from monitor.probe.client import Prober
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import get_tokenizer
from monitor.report.build import ReportInputs, build_report
from monitor.report.model import Report, Window
from monitor.report.source import load_store
from monitor.sim.profiles import Profile
from monitor.store import Store
from monitor.trace import Outcome, Trace
from tests.fixtures.simulator import StartSimulator, simulator_target

PROBES = 24
PROMPT = 64
FLAKY = Profile(
    "flaky-stally",
    ttft_s=(0.004, 0.0, 0.0),
    decode_tps=1500.0,
    jitter=0.3,
    stall_prob=0.03,
    stall_s=0.2,
    fault_rates={"rate_limit": 0.3},
)
LABELS = {
    "target": "flaky",
    "provider": "simulator",
    "model": "sim-model",
    "region": "",
    "workload": f"p{PROMPT}",
}


@pytest.fixture
async def probed(
    store: Store, start_simulator_factory: StartSimulator
) -> tuple[list[Trace], CollectorRegistry]:
    sim = await start_simulator_factory(FLAKY, seed=3)
    target = simulator_target(
        sim,
        deadlines={"decode_s": [0.002], "prefill_s": 0.25},
        workloads={"prompt_tokens": [PROMPT], "max_tokens": 24},
    )
    registry = CollectorRegistry()
    metrics = ProbeMetrics(registry)
    metrics.declare("flaky", "simulator", "sim-model", "", [PROMPT])
    tokenizer = get_tokenizer()
    traces = []
    async with make_session() as session:
        prober = Prober(session, tokenizer)
        for i in range(PROBES):
            prompt = make_prompt(PROMPT, tokenizer, seed=i)
            trace = await prober.probe(target, prompt, target_name="flaky")
            (record,) = score_traces([trace])
            metrics.observe(trace, record)
            assert await store.ingest(trace, score=record)
            traces.append(trace)
    return traces, registry


async def _table(store: Store) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT probe_id, outcome, fluid, fluidity_index, missed_deadlines, ttft_ns,"
                " ttfat_ns FROM probes ORDER BY started_at, probe_id"
            )
        )
        return [dict(r) for r in result.mappings()]


async def _report(store: Store) -> Report:
    loaded = await load_store(store)
    assert loaded.scores is not None
    return build_report(
        ReportInputs(
            traces=loaded.traces,
            scores=loaded.scores,
            generated_at=datetime.now(UTC),
            window=Window(None, None, None, "database"),
        )
    )


async def test_table_metrics_and_report_show_the_same_numbers(
    store: Store, probed: tuple[list[Trace], CollectorRegistry]
) -> None:
    _, registry = probed
    rows = await _table(store)
    report = await _report(store)
    (target,) = report.to_json()["targets"]

    def sample(name: str, **extra: str) -> float | None:
        return registry.get_sample_value(name, {**LABELS, **extra})

    limited = [r for r in rows if r["outcome"] == Outcome.RATE_LIMITED.value]
    scored = [r for r in rows if r["fluid"] is not None]
    fluid = [r for r in scored if r["fluid"]]
    assert limited and scored and len(fluid) < len(scored)  # the seed gives all three kinds

    # counts: table vs /metrics vs report
    assert sample("etalon_probes_total", outcome="rate_limited") == len(limited)
    assert sample("etalon_fluidity_index_count") == len(scored)
    assert sample("etalon_nonfluid_probes_total") == len(scored) - len(fluid)
    assert target["probes"] == len(rows) == PROBES
    assert target["failed"] == sum(r["outcome"] != "ok" for r in rows)
    assert target["failures_by_outcome"]["rate_limited"] == len(limited)
    assert target["share_fluid"] == len(fluid) / len(scored)

    # values: sums on /metrics, exact percentiles in the report, both from the stored columns
    index = [r["fluidity_index"] for r in scored]
    assert sample("etalon_fluidity_index_sum") == pytest.approx(sum(index), rel=1e-12)
    for column, family, key in (
        ("ttft_ns", "etalon_time_to_first_token_seconds", "ttft"),
        ("ttfat_ns", "etalon_time_to_first_answer_token_seconds", "ttfat"),
    ):
        values = [r[column] for r in rows if r[column] is not None]
        assert sample(f"{family}_count") == len(values)
        assert sample(f"{family}_sum") == pytest.approx(sum(values) / 1e9, rel=1e-12)
        for q in (0.5, 0.9, 0.99):
            expected = float(np.quantile(values, q)) / 1e9
            assert target[f"{key}_p{round(q * 100)}_s"] == pytest.approx(expected, rel=1e-12)


async def test_a_rate_limited_probe_is_fluid_nowhere(
    store: Store, probed: tuple[list[Trace], CollectorRegistry]
) -> None:
    _, registry = probed
    rows = await _table(store)
    limited = {r["probe_id"] for r in rows if r["outcome"] == Outcome.RATE_LIMITED.value}
    assert limited
    # table: no score at all (SQL over the table cannot count it fluid)
    for r in rows:
        if r["probe_id"] in limited:
            assert (r["fluid"], r["fluidity_index"], r["missed_deadlines"]) == (None, None, None)
            assert (r["ttft_ns"], r["ttfat_ns"]) == (None, None)
    # /metrics: only ok probes are in the fluidity histogram (its count + the 429s = every probe)
    count = registry.get_sample_value("etalon_fluidity_index_count", LABELS)
    ok = registry.get_sample_value("etalon_probes_total", {**LABELS, "outcome": "ok"})
    assert count == ok == len(rows) - len(limited)
    # report: the 429s are failures, never among the fluid, and listed as worst without an index
    report = await _report(store)
    (t,) = report.targets
    assert t.failed == len(limited)
    for incident in report.incidents:
        for w in incident.worst_probes:
            if w.probe_id in limited:
                assert w.fluidity_index is None


async def test_the_report_reads_stored_records_and_rescores_only_old_ones(
    store: Store, probed: tuple[list[Trace], CollectorRegistry]
) -> None:
    rows = await store.scored()
    assert rows.rescored == 0
    assert rows.scores == score_traces(rows.traces)  # what ingest stored is the one pass's record
    victim = next(t.probe_id for t, s in zip(rows.traces, rows.scores, strict=True) if s.scored)
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE probes SET metrics_version = 1, fluidity_index = 0.123 WHERE probe_id = :id"
            ),
            {"id": victim},
        )
    again = await store.scored()
    assert again.rescored == 1
    record: ScoreRecord = again.scores[[t.probe_id for t in again.traces].index(victim)]
    assert record.current and record.fluidity_index != 0.123
    assert again.scores == rows.scores
