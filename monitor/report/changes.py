"""The report's "Changes" section: change points in the report's window.

From the database, the ones the daemon stored (`change_points`); from a trace file, the detector
run over the file's probes (the same scan as `changes --recompute`, with the default settings),
so a report from an export shows what a database holding those probes would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.detect.detector import DetectorSettings
from monitor.detect.watch import changes_in
from monitor.metrics.score import score_traces
from monitor.report.model import ChangeEntry
from monitor.store.changes import ChangePoint, SeriesKey, list_changes
from monitor.trace import Trace


def entry(c: ChangePoint) -> ChangeEntry:
    p_value = c.evidence.get("p_value")
    return ChangeEntry(
        target=c.target,
        workload=c.workload,
        metric=c.metric,
        direction=c.direction,
        at=c.at,
        detected_at=c.detected_at,
        before=c.before,
        before_low=c.before_low,
        before_high=c.before_high,
        after=c.after,
        after_low=c.after_low,
        after_high=c.after_high,
        n_before=c.n_before,
        n_after=c.n_after,
        p_value=float(p_value) if isinstance(p_value, int | float) else None,
    )


async def from_store(
    engine: AsyncEngine,
    since: datetime | None,
    until: datetime | None,
    targets: Sequence[str] | None,
) -> tuple[ChangeEntry, ...]:
    return tuple(entry(c) for c in await list_changes(engine, since, until, targets))


def from_traces(
    traces: Sequence[Trace], settings: DetectorSettings | None = None
) -> tuple[ChangeEntry, ...]:
    """Scan the traces' per-probe series (grouped by target and prompt length, in time order)."""
    series: dict[SeriesKey, list[Trace]] = defaultdict(list)
    for t in traces:
        if t.started_at is not None:
            series[SeriesKey(t.target, t.requested_prompt_tokens or 0)].append(t)
    out: list[ChangeEntry] = []
    now = datetime.now(UTC)
    for key in sorted(series, key=lambda k: (k.target, k.workload)):
        group = sorted(series[key], key=lambda t: (t.started_at, t.probe_id))
        rows: list[dict[str, Any]] = [
            {"started_at": t.started_at, "region": t.region, "outcome": t.outcome.value}
            | s.columns()
            for t, s in zip(group, score_traces(group), strict=True)
        ]
        points = changes_in(key, rows, settings or DetectorSettings(), now)
        out.extend(entry(p) for p in points)
    return tuple(sorted(out, key=lambda e: (e.at, e.target, e.workload, e.metric)))
