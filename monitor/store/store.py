"""`Store`: the one object other packages use to write and read probes (and the round ledger).

Stable API for the daemon, the exporter and reports:

- `await Store.open(url, ...)` / `await store.close()`; `store.engine` for migrations.
- `await store.ingest(trace, round=None, score=None) -> bool`: one probe, one transaction (row +
  round bookkeeping), idempotent on `probe_id`; False when it was already stored. `score` is the
  probe's `ScoreRecord` when the caller already scored it (the daemon): stored as is, not redone.
- `await store.ingest_many(traces) -> int`: bulk via `COPY`, idempotent; returns rows inserted.
- `await store.traces(since, until, targets) -> list[Trace]` and `store.iter_traces(...)` (streams).
- `await store.scored(...) -> ScoredRows`: traces with their stored `ScoreRecord`s (records of an
  older definitions version are rescored on the way out) and rounds, on a read-only connection.
- `await store.window_summaries(now) -> list[WindowSummary]` for the exporter's rolling windows.
- `await store.maintain(now)`: partitions ahead, expired ones dropped (`retention_days`).
- `await store.recompute()`: re-derive summary columns from stored chunks.
- The `monitor.ledger.RoundLedger` methods (`monitor.store.ledger`) for the scheduler.

A database that cannot be reached raises `StoreUnavailable` from every method (see
`monitor.store.boundary`); a refused statement propagates as SQLAlchemy's exception.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from hashlib import sha256
from typing import Any, Final

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from monitor.ledger import RoundKey
from monitor.store import bulk
from monitor.store.boundary import boundary, guarded
from monitor.store.ledger import LedgerQueries
from monitor.store.partitions import MaintenanceResult, day_of, ensure_partitions, maintain
from monitor.store.recompute import recompute
from monitor.store.rows import INPUT_COLUMNS, TRACE_COLUMNS, row_values, trace_from_row
from monitor.store.schema import cycles, probes, rounds, targets
from monitor.store.summary import SUMMARY_COLUMNS, ScoreRecord, score_traces
from monitor.store.windows import DEFAULT_WINDOWS, WindowSummary, window_summaries
from monitor.trace import Trace

BATCH: Final = 1000
"""Traces per COPY batch: big enough to amortise round trips, small enough to bound memory."""

ROW_COLUMNS: Final = (*INPUT_COLUMNS, *SUMMARY_COLUMNS)
Progress = Callable[[int], None]
"""Called with the number of items just processed (drives a progress bar)."""


@dataclass(slots=True)
class ScoredRows:
    """Stored probes with their score records (aligned) and, where known, their rounds."""

    traces: list[Trace] = field(default_factory=list)
    scores: list[ScoreRecord] = field(default_factory=list)
    rounds: dict[str, tuple[int, int]] = field(default_factory=dict)
    """probe_id → (cycle_id, round_index)."""
    rescored: int = 0
    """Rows whose stored scores predate the current definitions (rescored on read)."""


@dataclass(frozen=True, slots=True)
class CycleSpan:
    rounds_planned: int
    started_at: datetime
    finished_at: datetime | None


def _missing_partition(exc: IntegrityError) -> bool:
    """`no partition of relation "probes" found for row` (check_violation)."""
    return getattr(exc.orig, "sqlstate", None) == "23514"


def config_hash(config: Mapping[str, Any]) -> str:
    """Stable hash of a target's configuration (key order does not matter)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return sha256(canonical.encode()).hexdigest()[:16]


def _time_filter(
    since: datetime | None, until: datetime | None, target_names: Sequence[str] | None
) -> list[Any]:
    where: list[Any] = []
    if since is not None:
        where.append(probes.c.started_at >= since)
    if until is not None:
        where.append(probes.c.started_at < until)
    if target_names:
        where.append(probes.c.target.in_(list(target_names)))
    return where


class Store(LedgerQueries):
    def __init__(
        self, engine: AsyncEngine, *, store_text: bool = True, retention_days: int = 400
    ) -> None:
        self.engine = engine
        self.store_text = store_text
        self.retention_days = retention_days
        self._days: set[date] = set()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        store_text: bool = True,
        retention_days: int = 400,
        pool_size: int = 5,
        connect_timeout_s: int = 10,
    ) -> Store:
        """Connect (lazily; the first query opens the pool). `url`: `postgresql+psycopg://...`.

        `connect_timeout_s` bounds how long a write waits for an unreachable server before the
        trace goes to the spool.
        """
        engine = create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            # a refused row must never reach a log or an exception message: it holds vendor text
            hide_parameters=True,
            connect_args={"connect_timeout": connect_timeout_s},
        )
        return cls(engine, store_text=store_text, retention_days=retention_days)

    async def close(self) -> None:
        await self.engine.dispose()

    # ----------------------------------------------------------------- writes

    def _row_values(
        self, traces: Sequence[Trace], scores: Sequence[ScoreRecord] | None = None
    ) -> list[dict[str, Any]]:
        if scores is None:
            scores = score_traces(traces)
        return [
            row_values(t, s, store_text=self.store_text)
            for t, s in zip(traces, scores, strict=True)
        ]

    async def _ensure_days(self, days: Iterable[date]) -> None:
        missing = set(days) - self._days
        if missing:
            async with self.engine.begin() as conn:
                await ensure_partitions(conn, missing)
            self._days |= missing

    @guarded
    async def ingest(
        self, trace: Trace, round: RoundKey | None = None, score: ScoreRecord | None = None
    ) -> bool:
        """Store one probe and count it in its round, in one transaction.

        `score`: the trace's record from the one scoring pass, stored as given; None scores it here
        (a record of an older definitions version is rescored too).
        Returns False (and changes nothing) when a probe with this id and start is already stored.
        Raises `UnstorableTraceError` for a minimal-form trace; database errors propagate.
        """
        if score is not None and score.current:
            (values,) = self._row_values([trace], [score])
        else:
            # scoring takes milliseconds of CPU: keep it off the event loop the prober times with
            (values,) = await asyncio.to_thread(self._row_values, [trace])
        day = day_of(values["started_at"])
        await self._ensure_days([day])
        values["target_config_id"] = (
            select(targets.c.id)
            .where(targets.c.name == trace.target)
            .order_by(targets.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        if round is not None:
            values["cycle_id"] = round.cycle_id
            values["round_index"] = round.round_index
        query = (
            pg_insert(probes)
            .values(values)
            .on_conflict_do_nothing(index_elements=["probe_id", "started_at"])
            .returning(probes.c.probe_id)
        )
        try:
            return await self._insert_one(query, round)
        except IntegrityError as e:
            if not _missing_partition(e):
                raise
            # the day's partition was dropped by another process since we cached it
            self._days.discard(day)
            await self._ensure_days([day])
            return await self._insert_one(query, round)

    async def _insert_one(self, query: Any, round: RoundKey | None) -> bool:
        async with self.engine.begin() as conn:
            inserted = (await conn.execute(query)).first() is not None
            if inserted and round is not None:
                await conn.execute(
                    update(rounds)
                    .where(
                        rounds.c.cycle_id == round.cycle_id,
                        rounds.c.round_index == round.round_index,
                        rounds.c.target == round.target,
                    )
                    .values(probes=rounds.c.probes + 1)
                )
        return inserted

    @guarded
    async def ingest_many(
        self, traces: Iterable[Trace], *, progress: Progress | None = None, batch: int = BATCH
    ) -> int:
        """Bulk-store traces via COPY in batches (one transaction each); returns rows inserted.

        Probes already stored are skipped, so re-running an interrupted import is safe.
        """
        inserted = 0
        pending: list[Trace] = []
        for trace in traces:
            pending.append(trace)
            if len(pending) >= batch:
                inserted += await self._ingest_batch(pending)
                if progress:
                    progress(len(pending))
                pending = []
        if pending:
            inserted += await self._ingest_batch(pending)
            if progress:
                progress(len(pending))
        return inserted

    async def _ingest_batch(self, traces: Sequence[Trace]) -> int:
        rows = await asyncio.to_thread(self._row_values, traces)
        days = {day_of(r["started_at"]) for r in rows}
        await self._ensure_days(days)
        try:
            return await self._copy_batch(rows)
        except IntegrityError as e:
            if not _missing_partition(e):
                raise
            self._days -= days
            await self._ensure_days(days)
            return await self._copy_batch(rows)

    async def _copy_batch(self, rows: Sequence[dict[str, Any]]) -> int:
        async with self.engine.begin() as conn:
            await bulk.copy_into_stage(conn, ROW_COLUMNS, rows)
            return await bulk.insert_from_stage(conn, ROW_COLUMNS)

    @guarded
    async def register_target(self, name: str, config: Mapping[str, Any], now: datetime) -> int:
        """Record a target's configuration; a changed config gets a new version row. Returns its id.

        Pass the config without secrets (the target names its key's variable, never the key).
        """
        digest = config_hash(config)
        async with self.engine.begin() as conn:
            await conn.execute(
                pg_insert(targets)
                .values(name=name, config_hash=digest, config=dict(config), first_seen=now)
                .on_conflict_do_nothing(index_elements=["name", "config_hash"])
            )
            found = await conn.execute(
                select(targets.c.id).where(targets.c.name == name, targets.c.config_hash == digest)
            )
            return int(found.scalar_one())

    # ----------------------------------------------------------------- reads

    def _select_traces(
        self, since: datetime | None, until: datetime | None, target_names: Sequence[str] | None
    ) -> Any:
        columns = [probes.c[c] for c in TRACE_COLUMNS]
        return (
            select(*columns)
            .where(*_time_filter(since, until, target_names))
            .order_by(probes.c.started_at, probes.c.probe_id)
        )

    async def traces(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        targets: Sequence[str] | None = None,
    ) -> list[Trace]:
        """Probes started in `[since, until)` (either end open), optionally of some targets."""
        return [t async for t in self.iter_traces(since, until, targets)]

    async def iter_traces(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        targets: Sequence[str] | None = None,
        *,
        chunk: int = BATCH,
    ) -> AsyncIterator[Trace]:
        """Stream probes (server-side cursor) so an export of months stays in bounded memory."""
        query = self._select_traces(since, until, targets).execution_options(yield_per=chunk)
        with boundary():
            async with self.engine.connect() as conn:
                result = await conn.stream(query)
                async for row in result.mappings():
                    yield trace_from_row(row)

    @guarded
    async def scored(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        targets: Sequence[str] | None = None,
        *,
        cycle: int | None = None,
    ) -> ScoredRows:
        """Probes (of a cycle, or started in `[since, until)`) with their stored scores.

        Reads on a read-only connection (a report must never write). A row scored under an older
        `METRIC_DEFINITIONS_VERSION` is rescored here, in one batch, with the current definitions
        (its row stays as it is: `db recompute` rewrites history).
        """
        columns = [probes.c[c] for c in (*TRACE_COLUMNS, *SUMMARY_COLUMNS)]
        where = _time_filter(since, until, targets)
        if cycle is not None:
            where = [probes.c.cycle_id == cycle, *_time_filter(None, None, targets)]
        query = (
            select(*columns, probes.c.cycle_id, probes.c.round_index)
            .where(*where)
            .order_by(probes.c.started_at, probes.c.probe_id)
            .execution_options(yield_per=BATCH)
        )
        out = ScoredRows()
        async with self.engine.connect() as plain:
            conn = await plain.execution_options(postgresql_readonly=True)
            result = await conn.stream(query)
            async for row in result.mappings():
                trace = trace_from_row(row)
                out.traces.append(trace)
                out.scores.append(ScoreRecord.from_columns(row))
                if row["cycle_id"] is not None and row["round_index"] is not None:
                    out.rounds[trace.probe_id] = (int(row["cycle_id"]), int(row["round_index"]))
        stale = [i for i, r in enumerate(out.scores) if not r.current]
        if stale:
            fresh = await asyncio.to_thread(score_traces, [out.traces[i] for i in stale])
            for i, record in zip(stale, fresh, strict=True):
                out.scores[i] = record
            out.rescored = len(stale)
        return out

    @guarded
    async def cycle_span(self, cycle_id: int) -> CycleSpan | None:
        """A cycle's planned rounds and time span (read-only), None when there is no such cycle."""
        query = select(cycles.c.rounds_planned, cycles.c.started_at, cycles.c.finished_at).where(
            cycles.c.id == cycle_id
        )
        async with self.engine.connect() as plain:
            conn = await plain.execution_options(postgresql_readonly=True)
            found = (await conn.execute(query)).first()
        if found is None:
            return None
        return CycleSpan(int(found.rounds_planned), found.started_at, found.finished_at)

    @guarded
    async def count(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        targets: Sequence[str] | None = None,
    ) -> int:
        query = select(func.count()).select_from(probes)
        query = query.where(*_time_filter(since, until, targets))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    @guarded
    async def window_summaries(
        self, now: datetime, windows: Mapping[str, Any] = DEFAULT_WINDOWS
    ) -> list[WindowSummary]:
        """Rolling-window summaries (see `monitor.store.windows.WindowSummary`)."""
        return await window_summaries(self.engine, now, windows)

    # ----------------------------------------------------------------- upkeep

    @guarded
    async def maintain(self, now: datetime) -> MaintenanceResult:
        """Create the coming days' partitions and drop the expired ones (run daily)."""
        async with self.engine.begin() as conn:
            result = await maintain(conn, now, self.retention_days)
        self._days.clear()
        return result

    @guarded
    async def recompute(
        self, *, force: bool = False, batch: int = BATCH, progress: Progress | None = None
    ) -> int:
        """Re-derive summary columns from the stored chunks; returns rows rewritten.

        Rows already at the current `METRIC_DEFINITIONS_VERSION` are skipped, so an interrupted run
        resumes where it stopped. `force` first marks every row stale.
        """
        return await recompute(self.engine, force=force, batch=batch, progress=progress)

    @guarded
    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
