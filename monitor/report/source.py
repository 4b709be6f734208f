"""Where a report's traces come from: an exported trace file, or the store (read-only).

From the store, a report selects probes by time window or by cycle and also learns what traces
don't carry: each probe's round (incidents are judged per round) and the cycle's planned rounds
(completeness). The query reads the store's `probes` and `cycles` tables in a read-only
transaction and rebuilds traces with the store's own row mapping, so a report from the database
and one from `etalon-monitor export` of the same probes are identical.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor import trace as trace_codec
from monitor.report.capacity import CapacitySection, capacity_section
from monitor.store.capacity import capacity_documents, profiles_between
from monitor.store.rows import TRACE_COLUMNS, trace_from_row
from monitor.store.schema import cycles, probes
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


async def _rows(conn: AsyncConnection, query: Any) -> tuple[list[Trace], dict[str, str]]:
    traces: list[Trace] = []
    round_of: dict[str, str] = {}
    result = await conn.stream(query.execution_options(yield_per=1000))
    async for row in result.mappings():
        trace = trace_from_row(row)
        traces.append(trace)
        label = round_label(row["cycle_id"], row["round_index"])
        if label is not None:
            round_of[trace.probe_id] = label
    return traces, round_of


async def load_store(
    engine: AsyncEngine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    targets: Sequence[str] | None = None,
    cycle: int | None = None,
) -> Loaded:
    """Probes of a cycle, or started in `[since, until)`, optionally of some targets."""
    columns = [probes.c[c] for c in TRACE_COLUMNS]
    query = select(*columns, probes.c.cycle_id, probes.c.round_index)
    if targets:
        query = query.where(probes.c.target.in_(list(targets)))
    rounds_planned = None
    async with engine.connect() as plain:
        conn = await plain.execution_options(postgresql_readonly=True)
        if cycle is not None:
            found = (
                await conn.execute(
                    select(
                        cycles.c.rounds_planned, cycles.c.started_at, cycles.c.finished_at
                    ).where(cycles.c.id == cycle)
                )
            ).first()
            if found is None:
                raise SourceError(f"no cycle with id {cycle}")
            rounds_planned = int(found.rounds_planned)
            since, until = found.started_at, found.finished_at
            query = query.where(probes.c.cycle_id == cycle)
        else:
            if since is not None:
                query = query.where(probes.c.started_at >= since)
            if until is not None:
                query = query.where(probes.c.started_at < until)
        query = query.order_by(probes.c.started_at, probes.c.probe_id)
        traces, round_of = await _rows(conn, query)
    capacity = capacity_section(
        await profiles_between(engine, since, until, targets),
        await capacity_documents(engine, since, until, targets),
    )
    return Loaded(
        traces=traces,
        since=since,
        until=until,
        cycle=None if cycle is None else str(cycle),
        round_of=round_of,
        rounds_planned=rounds_planned,
        capacity=capacity,
    )
