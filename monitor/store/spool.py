"""The durable spool: where finished traces wait while the database is unreachable.

Each trace is one record (`{"round": ..., "trace": {...}}`) of a `monitor.durable.AppendLog`,
fsync'd before the append returns (in a worker thread, never on the loop that stamps chunks), so
a crash loses nothing that was acknowledged. Replay reads the records in order and ingests them
(idempotent on `probe_id`, so a record replayed twice after a crash is stored once); the log keeps
the offset replayed so far and is truncated once everything in it is stored. A torn or corrupt
line is the log's business: cut or quarantined, never glued to, never blocking the rest.

`SpoolingWriter` is what the daemon calls per probe: it writes to the store, and while the spool
is not empty (or the database is unavailable) it appends to the spool instead, so traces reach
the database in the order they finished. When the spool cannot be written either (a full disk),
the trace is held in memory, up to `held_limit` traces; beyond that each new one is dropped,
logged at ERROR and counted (`etalon_spool_dropped_total`). Held traces go to the spool as soon
as the disk takes them again, or straight to the database when it answers first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from monitor import trace as trace_codec
from monitor.durable import AppendLog, Entry, LogWriteError, encode
from monitor.ledger import RoundKey, StoreUnavailable
from monitor.metrics.score import ScoreRecord
from monitor.store.rows import check_storable
from monitor.store.store import Store
from monitor.trace import Trace

log = logging.getLogger(__name__)

SPOOL_FILE: Final = "spool.jsonl"
REJECTED_FILE: Final = "rejected.jsonl"
HELD_LIMIT: Final = 1000
"""Traces held in memory while the spool cannot be written (a few MB at most: a trace of an
8k-token answer is a few hundred kB with its text, a typical one a few kB)."""


@dataclass(frozen=True, slots=True)
class SpooledTrace:
    trace: Trace
    round: RoundKey | None
    end: int
    """Byte offset just past this record."""


def _record(trace: Trace, key: RoundKey | None) -> dict[str, Any]:
    return {
        "round": None if key is None else [key.cycle_id, key.round_index, key.target],
        "trace": trace_codec.to_dict(trace),
    }


class Spool:
    """The spool's log plus a second log for traces the database refused (`rejected.jsonl`)."""

    def __init__(self, directory: Path) -> None:
        self._log = AppendLog(directory / SPOOL_FILE)
        self.path = self._log.path
        self._rejected = AppendLog(directory / REJECTED_FILE)
        self.rejected_path = self._rejected.path
        self.rejected = 0
        """Traces set aside by this process because the database refused them."""

    @property
    def depth(self) -> int:
        """Traces waiting to be replayed."""
        return self._log.lines

    @property
    def offset(self) -> int:
        return self._log.consumed

    @property
    def quarantined(self) -> int:
        """Corrupt lines skipped by this process (kept in `spool.jsonl.corrupt`)."""
        return self._log.quarantined

    def append(self, trace: Trace, key: RoundKey | None = None) -> None:
        """Append and fsync one trace (blocking); when this returns, it survives a crash.

        Raises `LogWriteError` (nothing of the trace left in the file) when the disk refuses.
        """
        self._log.append([_record(trace, key)])

    def _decode(self, entry: Entry) -> SpooledTrace | None:
        try:
            ref = entry.record["round"]
            trace = trace_codec.decode(json.dumps(entry.record["trace"]))
            key = None if ref is None else RoundKey(int(ref[0]), int(ref[1]), str(ref[2]))
        except (KeyError, TypeError, ValueError, IndexError) as e:  # TraceFormatError included
            self._log.quarantine(encode(entry.record), entry.start, f"not a trace: {e}")
            return None
        return SpooledTrace(trace, key, entry.end)

    def pending(self, limit: int | None = None) -> list[SpooledTrace]:
        """The oldest traces not yet replayed, in the order they were appended (blocking).

        A record that is not a trace is quarantined and left out; committing the next one's
        `end` steps over it (and the log steps over trailing ones on the next read)."""
        while entries := self._log.read(limit):
            items = [item for item in map(self._decode, entries) if item is not None]
            if items:
                return items
        return []

    def commit(self, end: int) -> None:
        """Mark everything before byte `end` as stored (blocking)."""
        self._log.commit(end)

    def reject(self, trace: Trace, reason: str) -> None:
        """Keep a trace the database refuses (not an outage) aside, so it cannot block the rest.

        Blocking; raises `LogWriteError` when the disk refuses."""
        self._rejected.append([{"reason": reason, "trace": trace_codec.to_dict(trace)}])
        self.rejected += 1

    async def replay(self, store: Store, batch: int = 200) -> int:
        """Ingest every waiting trace in order; returns how many were stored.

        Stops by raising `StoreUnavailable` (database) or `LogWriteError` (disk, when a refused
        trace cannot be set aside); what was stored before is committed. A trace the database
        refuses for its content goes to `rejected_path` with the reason, and replay continues.
        """
        replayed = 0
        while True:
            items = await asyncio.to_thread(self.pending, batch)
            if not items:
                return replayed
            done = 0
            try:
                for item in items:
                    replayed += await _ingest_or_reject(store, self, item.trace, item.round)
                    done = item.end
            finally:
                if done:
                    await asyncio.to_thread(self.commit, done)


async def _ingest_or_reject(store: Store, spool: Spool, trace: Trace, key: RoundKey | None) -> int:
    """1 when stored (or already stored), 0 when the database refused it (set aside)."""
    try:
        await store.ingest(trace, round=key)
    except StoreUnavailable:
        raise
    except Exception as e:  # refused for its content (out-of-range value, ...): never blocks
        log.error(
            "spool: trace %s refused by the database (%s); set aside",
            trace.probe_id,
            type(e).__name__,
        )
        await asyncio.to_thread(spool.reject, trace, type(e).__name__)
        return 0
    return 1


class WriteResult(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    SPOOLED = "spooled"


class SpoolingWriter:
    """Per-probe writes that survive database outages and full disks without loss (beyond the
    counted drops), duplication or corruption.

    `on_write_error` is called once per failed database write (drives
    `etalon_db_write_errors_total`); `on_drop` with the number of traces dropped (drives
    `etalon_spool_dropped_total`); `depth` is what waits, spooled or held
    (`etalon_spool_depth`). Writes drain the spool as they come; when probes are rare the daemon
    also calls `drain()` periodically so the backlog reaches the database promptly.

    `ready` (optional) is awaited before any trace goes to the database; while it returns False
    traces wait in the spool. The daemon passes the round journal's `reconcile`, so rounds claimed
    during an outage exist in the database before their probes are counted into them.
    """

    def __init__(
        self,
        store: Store,
        spool: Spool,
        on_write_error: Callable[[BaseException], None] | None = None,
        ready: Callable[[], Awaitable[bool]] | None = None,
        *,
        held_limit: int = HELD_LIMIT,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.spool = spool
        self.write_errors = 0
        self.dropped = 0
        self.disk_error: str | None = None
        """Why the spool could not be written, while traces are held in memory (readiness)."""
        self._held: deque[tuple[Trace, RoundKey | None]] = deque()
        self._held_limit = held_limit
        self._on_write_error = on_write_error
        self._on_drop = on_drop
        self._ready = ready
        self._drain_lock = asyncio.Lock()
        self._append_lock = asyncio.Lock()
        """Orders appends (and moves of held traces) so lines keep the order of calls."""

    @property
    def depth(self) -> int:
        return self.spool.depth + len(self._held)

    @property
    def held(self) -> int:
        """Traces in memory because the spool could not be written."""
        return len(self._held)

    def _failed(self, exc: BaseException) -> None:
        self.write_errors += 1
        if self._on_write_error is not None:
            self._on_write_error(exc)

    async def write(
        self, trace: Trace, key: RoundKey | None = None, *, score: ScoreRecord | None = None
    ) -> WriteResult:
        """Store the trace, or spool it when the database is down or older traces still wait.

        `score` (the caller's record of the trace) is stored as is. The spool keeps only the trace:
        a spooled trace is rescored when it is replayed (same definitions, same numbers; the one
        scoring pass then runs twice for that probe).
        """
        check_storable(trace)  # an unstorable trace must never enter the spool
        if self.depth:
            await self._enqueue(trace, key)
            await self.drain()
            return WriteResult.SPOOLED
        if not await self._may_write():
            await self._enqueue(trace, key)
            return WriteResult.SPOOLED
        try:
            inserted = await self.store.ingest(trace, round=key, score=score)
        except StoreUnavailable as e:
            self._failed(e)
            await self._enqueue(trace, key)
            return WriteResult.SPOOLED
        return WriteResult.STORED if inserted else WriteResult.DUPLICATE

    async def _enqueue(self, trace: Trace, key: RoundKey | None) -> None:
        async with self._append_lock:
            self._held.append((trace, key))
            await self._spool_held()
            while len(self._held) > self._held_limit:
                dropped, _ = self._held.pop()
                self.dropped += 1
                log.error(
                    "spool: trace %s dropped (%s; %d held in memory, %d dropped so far)",
                    dropped.probe_id,
                    self.disk_error,
                    len(self._held),
                    self.dropped,
                )
                if self._on_drop is not None:
                    self._on_drop(1)

    async def _spool_held(self) -> None:
        """Move held traces to the spool, oldest first, until the disk refuses (lock held)."""
        while self._held:
            trace, key = self._held[0]
            try:
                await asyncio.to_thread(self.spool.append, trace, key)
            except LogWriteError as e:
                if self.disk_error is None:
                    log.error(
                        "spool: %s; holding traces in memory (at most %d)", e, self._held_limit
                    )
                self.disk_error = str(e)
                return
            self._held.popleft()
        if self.disk_error is not None:
            log.warning("spool: writable again; nothing held in memory")
            self.disk_error = None

    async def drain(self) -> int:
        """Replay the spool, then held traces, if the database is back; returns traces stored."""
        if self._drain_lock.locked():
            return 0  # another task is draining; it will pick up what was just appended
        async with self._drain_lock:
            if self._held:
                async with self._append_lock:
                    await self._spool_held()
            if not await self._may_write():
                return 0
            stored = 0
            try:
                stored += await self.spool.replay(self.store)
                stored += await self._store_held()
            except StoreUnavailable as e:
                self._failed(e)
            except LogWriteError as e:
                log.error("spool: replay paused: %s", e)
            return stored

    async def _store_held(self) -> int:
        """The database answers but the disk did not take these: store them directly."""
        stored = 0
        while self._held and not self.spool.depth:
            async with self._append_lock:
                if not self._held:
                    break
                trace, key = self._held.popleft()
            try:
                stored += await _ingest_or_reject(self.store, self.spool, trace, key)
            except BaseException:
                self._held.appendleft((trace, key))
                raise
        if not self._held:
            self.disk_error = None
        return stored

    async def close(self) -> None:
        """At shutdown: held traces go to the spool if the disk takes them; the rest are lost,
        and counted and logged as such."""
        async with self._append_lock:
            await self._spool_held()
            lost = len(self._held)
            if lost:
                self._held.clear()
                self.dropped += lost
                log.error(
                    "spool: %d trace(s) held in memory lost at shutdown (%s)", lost, self.disk_error
                )
                if self._on_drop is not None:
                    self._on_drop(lost)

    async def _may_write(self) -> bool:
        """False (a failed write, counted) while `ready` says the database cannot take traces."""
        if self._ready is None or await self._ready():
            return True
        self._failed(StoreUnavailable("round journal not reconciled"))
        return False
