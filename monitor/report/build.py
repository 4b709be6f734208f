"""Assemble the report from a plain list of traces: the one entry point renderers and tests use.

Input is a `Sequence[Trace]` (from a JSONL export or the store) plus what traces don't carry:
prices and workloads from the config, round labels, planned rounds and each probe's stored
`ScoreRecord` from the store. The per-target headline numbers are `analyze`'s summary over those
records, unchanged; latency percentile fields come from the metric catalogue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.config import Target
from monitor.metrics.catalogue import percentile_key, reported
from monitor.metrics.score import ScoreRecord
from monitor.report import compare, cost, cycle, distributions, methodology, stalls
from monitor.report.capacity import CapacitySection
from monitor.report.model import (
    FORMAT,
    ChangeEntry,
    ErrorCount,
    Methodology,
    Percentiles,
    Report,
    TargetReport,
    Window,
)
from monitor.report.scoring import ScoredTarget, group_by_target, score_target
from monitor.trace import Trace

TOP_ERRORS = 5


@dataclass(frozen=True, slots=True)
class ReportInputs:
    traces: Sequence[Trace]
    generated_at: datetime
    window: Window
    title: str = "Vendor SLA review"
    targets: Mapping[str, Target] = field(default_factory=dict)
    """Configured targets (prices, workloads); targets not configured get no cost."""
    round_of: Mapping[str, str] = field(default_factory=dict)
    """probe_id → round label; probes not in it are grouped by UTC hour."""
    rounds_planned: int | None = None
    seed: int = 0
    resamples: int = compare.RESAMPLES
    scores: Sequence[ScoreRecord] | None = None
    """The stored score record of each trace (aligned with `traces`); None: score them now."""
    changes: Sequence[ChangeEntry] = ()
    """Change points in the window (from the store, or found in the traces)."""
    capacity: CapacitySection | None = None


def _distinct(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if v}))


def _top_errors(s: ScoredTarget) -> tuple[ErrorCount, ...]:
    counts = Counter(t.error for t in s.traces if t.error and t.outcome.value != "ok")
    return tuple(ErrorCount(e, n) for e, n in counts.most_common(TOP_ERRORS))


def target_report(
    s: ScoredTarget, target: Target | None, views: list[cycle.RoundView]
) -> TargetReport:
    summary = s.analysis.summary
    failures = Counter(o for o in s.table.outcomes if o != "ok")
    prefill_s = s.prefill_ns[s.ok] / 1e9
    return TargetReport(
        target=s.name,
        providers=_distinct([t.provider for t in s.traces]),
        models=_distinct([t.model for t in s.traces]),
        regions=_distinct([t.region for t in s.traces]),
        probes=summary.requests,
        ok=summary.ok,
        failed=summary.requests - summary.ok,
        failures_by_outcome=dict(sorted(failures.items())),
        top_errors=_top_errors(s),
        share_fluid=summary.share_fluid,
        deadline_slo_met=summary.deadline_slo_met,
        service_miss_rate=summary.service_miss_rate,
        p99_request_miss_rate=summary.p99_request_miss_rate,
        round_compliance=cycle.compliance(views),
        fluent_token_rate=summary.fluent_token_rate,
        tpot_rate=summary.tpot_rate,
        tail_tbt_rate=summary.tail_tbt_rate,
        latency={
            percentile_key(m.report, q): summary.percentiles[m.report][f"p{round(q * 100)}"]
            for m in reported()
            if m.report is not None
            for q in m.report_quantiles
        },
        tbt_s=Percentiles(summary.tbt_s["p50"], summary.tbt_s["p90"], summary.tbt_s["p99"]),
        decode_deadlines_s=tuple(sorted({int(d) / 1e9 for d in s.decode_ns})),
        prefill_deadline_range_s=(
            (float(prefill_s.min()), float(prefill_s.max())) if prefill_s.size else None
        ),
        ttft_by_prompt=distributions.ttft_boxes(s),
        cost=cost.cost(s, None if target is None else target.price),
        fluidity_curve=distributions.curve(s),
        tbt_cdf=distributions.tbt_cdf(s),
        inter_chunk_cdf=distributions.inter_chunk_cdf(s),
        by_hour=cycle.by_hour(s),
        stalls=stalls.stall_positions(s),
    )


def build_report(inputs: ReportInputs) -> Report:
    groups = group_by_target(inputs.traces)
    scores = inputs.scores
    scored = [
        score_target(
            name,
            [inputs.traces[i] for i in rows],
            None if scores is None else [scores[i] for i in rows],
        )
        for name, rows in sorted(groups.items())
    ]
    views = [cycle.rounds(s, inputs.round_of) for s in scored]
    targets = tuple(
        target_report(s, inputs.targets.get(s.name), v) for s, v in zip(scored, views, strict=True)
    )
    incidents = tuple(i for s, v in zip(scored, views, strict=True) for i in cycle.incidents(s, v))
    incidents = tuple(
        sorted(incidents, key=lambda i: (i.started_at is None, i.started_at or inputs.generated_at))
    )
    completeness = tuple(
        methodology.completeness(
            s,
            len(v),
            inputs.targets.get(s.name),
            inputs.rounds_planned,
        )
        for s, v in zip(scored, views, strict=True)
    )
    return Report(
        format=FORMAT,
        title=inputs.title,
        generated_at=inputs.generated_at,
        window=inputs.window,
        targets=targets,
        comparisons=compare.compare_targets(scored, inputs.seed, inputs.resamples),
        incidents=incidents,
        methodology=Methodology(
            tool_version=methodology.tool_version(),
            definitions=methodology.DEFINITIONS,
            completeness=completeness,
            bootstrap_resamples=inputs.resamples,
            bootstrap_seed=inputs.seed,
        ),
        changes=tuple(inputs.changes),
        capacity=inputs.capacity,
    )
