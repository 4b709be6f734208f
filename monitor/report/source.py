"""Where a report's traces come from: an exported trace file, or the store (read-only).

From the store, a report selects probes by time window or by cycle and also learns what traces
don't carry: each probe's round (incidents are judged per round) and the cycle's planned rounds
(completeness). It reads through `Store` (`Store.scored`, `Store.cycle_span`) on a read-only
connection and gets each probe's stored `ScoreRecord` beside its trace, so the report shows the
numbers the table holds; only rows scored under older definitions are rescored. A report from the
database and one from `etalon-monitor export` of the same probes are identical.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from monitor import trace as trace_codec
from monitor.metrics.score import ScoreRecord
from monitor.report.capacity import CapacitySection, capacity_section
from monitor.report.model import ChangeEntry
from monitor.store import Store
from monitor.store.capacity import capacity_documents, profiles_between
from monitor.trace import Trace, TraceFormatError


class SourceError(ValueError):
    """The requested data can't be read (bad trace file, unknown cycle)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    traces: list[Trace]
    since: datetime | None
    until: datetime | None
    cycle: str | None = None
    round_of: dict[str, str] = field(default_factory=dict)
    rounds_planned: int | None = None
    skipped: list[TraceFormatError] = field(default_factory=list)
    scores: list[ScoreRecord] | None = None
    """The stored score record of each trace (store only); None: score the traces."""
    changes: tuple[ChangeEntry, ...] = ()
    capacity: CapacitySection | None = None


def select_traces(
    traces: Iterable[Trace],
    since: datetime | None,
    until: datetime | None,
    targets: Sequence[str] | None,
) -> list[Trace]:
    """Probes started in `[since, until)` of the given targets (minimal-form traces have no
    start time; they pass a time filter only when there is none)."""
    wanted = set(targets or ())
    out = []
    for t in traces:
        if wanted and t.target not in wanted:
            continue
        if (since is not None or until is not None) and t.started_at is None:
            continue
        if since is not None and t.started_at is not None and t.started_at < since:
            continue
        if until is not None and t.started_at is not None and t.started_at >= until:
            continue
        out.append(t)
    return out


def load_file(
    stream: IO[str],
    since: datetime | None,
    until: datetime | None,
    targets: Sequence[str] | None,
    *,
    skip_invalid: bool = False,
) -> Loaded:
    result = trace_codec.read(stream)
    if result.errors and not skip_invalid:
        first = result.errors[0]
        raise SourceError(f"{len(result.errors)} invalid trace line(s), first: {first}")
    selected = select_traces(result.traces, since, until, targets)
    times = [t.started_at for t in selected if t.started_at is not None]
    return Loaded(
        traces=selected,
        since=since if since is not None or not times else min(times),
        until=until if until is not None or not times else max(times),
        skipped=list(result.errors),
    )


def round_label(cycle_id: int | None, round_index: int | None) -> str | None:
    if cycle_id is None or round_index is None:
        return None
    return f"cycle {cycle_id} round {round_index}"


async def load_store(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    targets: Sequence[str] | None = None,
    cycle: int | None = None,
) -> Loaded:
    """Probes of a cycle, or started in `[since, until)`, optionally of some targets, with their
    stored score records (read through `Store` on a read-only connection)."""
    rounds_planned = None
    if cycle is not None:
        span = await store.cycle_span(cycle)
        if span is None:
            raise SourceError(f"no cycle with id {cycle}")
        rounds_planned = span.rounds_planned
        since, until = span.started_at, span.finished_at
    rows = await store.scored(since, until, targets, cycle=cycle)
    round_of = {}
    for probe_id, (cycle_id, round_index) in rows.rounds.items():
        label = round_label(cycle_id, round_index)
        if label is not None:
            round_of[probe_id] = label
    capacity = capacity_section(
        await profiles_between(store.engine, since, until, targets),
        await capacity_documents(store.engine, since, until, targets),
    )
    return Loaded(
        traces=rows.traces,
        since=since,
        until=until,
        cycle=None if cycle is None else str(cycle),
        round_of=round_of,
        rounds_planned=rounds_planned,
        scores=rows.scores,
        capacity=capacity,
    )
