"""The durable spool: where finished traces wait while the database is unreachable.

Each trace is appended as one JSON line (`{"round": ..., "trace": {...}}`) and fsync'd before
`append` returns, so a crash loses nothing that was acknowledged. Replay reads the lines in order
and ingests them one by one (idempotent on `probe_id`, so a line replayed twice after a crash is
stored once); the byte offset replayed so far is kept in a side file, written atomically, and the
spool is truncated once everything in it is stored. `depth` (lines waiting) feeds
`etalon_spool_depth`.

`SpoolingWriter` is what the daemon calls per probe: it writes to the store, and while the spool is
not empty (or the write fails because the database is down) it appends to the spool instead, so
traces reach the database in the order they finished.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from monitor import trace as trace_codec
from monitor.metrics.score import ScoreRecord
from monitor.store.ledger import RoundRef
from monitor.store.rows import check_storable
from monitor.store.store import Store, is_unavailable
from monitor.trace import Trace

SPOOL_FILE = "spool.jsonl"
REJECTED_FILE = "rejected.jsonl"


@dataclass(frozen=True, slots=True)
class SpooledTrace:
    trace: Trace
    round: RoundRef | None
    end: int
    """Byte offset just past this line."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """An append-only JSONL file plus the offset replayed so far (`<file>.offset`)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / SPOOL_FILE
        self._offset_path = directory / (SPOOL_FILE + ".offset")
        self.rejected_path = directory / REJECTED_FILE
        self.rejected = 0
        """Traces set aside by this process because the database refused them."""
        self._drop_torn_tail()
        self._depth = self._count_lines(self.offset)

    def _drop_torn_tail(self) -> None:
        """Cut half a line left by a crash mid-append (never acknowledged) so appends stay lines."""
        try:
            f = self.path.open("r+b")
        except FileNotFoundError:
            return
        with f:
            end = f.seek(0, os.SEEK_END)
            position = end
            while position > 0:
                step = min(64 * 1024, position)
                f.seek(position - step)
                block = f.read(step)
                newline = block.rfind(b"\n")
                if newline >= 0:
                    position = position - step + newline + 1
                    break
                position -= step
            if position != end:
                f.truncate(position)
                os.fsync(f.fileno())

    def _count_lines(self, start: int) -> int:
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return 0
        with f:
            f.seek(start)
            return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))

    @property
    def depth(self) -> int:
        """Traces waiting to be replayed."""
        return self._depth

    @property
    def offset(self) -> int:
        try:
            return int(self._offset_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def append(self, trace: Trace, round_ref: RoundRef | None = None) -> None:
        """Append and fsync one trace; when this returns, the trace survives a crash."""
        record: dict[str, Any] = {
            "round": None
            if round_ref is None
            else [round_ref.cycle_id, round_ref.round_index, round_ref.target],
            "trace": trace_codec.to_dict(trace),
        }
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        created = not self.path.exists()
        with self.path.open("ab") as f:
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if created:
            _fsync_dir(self.path.parent)
        self._depth += 1

    def _read(self, start: int, limit: int | None = None) -> list[SpooledTrace]:
        out: list[SpooledTrace] = []
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return out
        with f:
            f.seek(start)
            position = start
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a torn last line (crash mid-append): never acknowledged, ignore
                position += len(raw)
                record = json.loads(raw)
                ref = record["round"]
                out.append(
                    SpooledTrace(
                        trace=trace_codec.decode(json.dumps(record["trace"])),
                        round=None if ref is None else RoundRef(ref[0], ref[1], ref[2]),
                        end=position,
                    )
                )
                if limit is not None and len(out) >= limit:
                    break
        return out

    def pending(self, limit: int | None = None) -> list[SpooledTrace]:
        """The oldest traces not yet replayed, in the order they were appended."""
        return self._read(self.offset, limit)

    def commit(self, end: int, count: int) -> None:
        """Mark everything before byte `end` as stored; empty the spool when nothing is left."""
        self._depth -= count
        size = self.path.stat().st_size if self.path.exists() else 0
        if end >= size:
            with self.path.open("r+b") as f:
                f.truncate(0)
                os.fsync(f.fileno())
            self._offset_path.unlink(missing_ok=True)
            self._depth = 0
            return
        tmp = self._offset_path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(str(end))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self._offset_path)
        _fsync_dir(self.path.parent)

    def _reject(self, item: SpooledTrace, reason: str) -> None:
        """Keep a trace the database refuses (not an outage) aside, so it cannot block the rest."""
        line = json.dumps(
            {"reason": reason, "trace": trace_codec.to_dict(item.trace)}, ensure_ascii=False
        )
        with self.rejected_path.open("ab") as f:
            f.write((line + "\n").encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        self.rejected += 1

    async def replay(self, store: Store, batch: int = 200) -> int:
        """Ingest every waiting trace in order; returns how many were stored.

        Stops (raising) when the database is unreachable. A trace the database rejects for its
        content goes to `rejected_path` with the reason, and the replay continues.
        """
        replayed = 0
        while True:
            items = self.pending(batch)
            if not items:
                return replayed
            for item in items:
                try:
                    await store.ingest(item.trace, round=item.round)
                    replayed += 1
                except Exception as e:
                    if is_unavailable(e):
                        raise
                    self._reject(item, type(e).__name__)
                self.commit(item.end, 1)


class WriteResult(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    SPOOLED = "spooled"


class SpoolingWriter:
    """Per-probe writes that survive database outages without loss, duplication or reordering.

    `on_write_error` is called once per failed database write (drives
    `etalon_db_write_errors_total`); `depth` is the spool depth (`etalon_spool_depth`). Writes
    drain the spool as they come; when probes are rare the daemon should also call `drain()`
    periodically (e.g. every 10 s while `depth` > 0) so the backlog reaches the database promptly.

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
    ) -> None:
        self.store = store
        self.spool = spool
        self.write_errors = 0
        self._on_write_error = on_write_error
        self._ready = ready
        self._lock = asyncio.Lock()

    @property
    def depth(self) -> int:
        return self.spool.depth

    def _failed(self, exc: BaseException) -> None:
        self.write_errors += 1
        if self._on_write_error is not None:
            self._on_write_error(exc)

    async def write(
        self, trace: Trace, round_ref: RoundRef | None = None, *, score: ScoreRecord | None = None
    ) -> WriteResult:
        """Store the trace, or spool it when the database is down or older traces still wait.

        `score` (the caller's record of the trace) is stored as is. The spool keeps only the trace:
        a spooled trace is rescored when it is replayed (same definitions, same numbers; the one
        scoring pass then runs twice for that probe).
        """
        check_storable(trace)  # an unstorable trace must never enter the spool
        if self.spool.depth:
            self.spool.append(trace, round_ref)
            await self.drain()
            return WriteResult.SPOOLED
        if not await self._may_write():
            self.spool.append(trace, round_ref)
            return WriteResult.SPOOLED
        try:
            inserted = await self.store.ingest(trace, round=round_ref, score=score)
        except Exception as e:
            if not is_unavailable(e):
                raise
            self._failed(e)
            self.spool.append(trace, round_ref)
            return WriteResult.SPOOLED
        return WriteResult.STORED if inserted else WriteResult.DUPLICATE

    async def drain(self) -> int:
        """Replay the spool if the database is back; returns traces replayed (0 when still down)."""
        if self._lock.locked():
            return 0  # another task is draining; it will pick up what was just appended
        async with self._lock:
            if not await self._may_write():
                return 0
            try:
                return await self.spool.replay(self.store)
            except Exception as e:
                if not is_unavailable(e):
                    raise
                self._failed(e)
                return 0

    async def _may_write(self) -> bool:
        """False (a failed write, counted) while `ready` says the database cannot take traces."""
        if self._ready is None or await self._ready():
            return True
        self._failed(ConnectionError("database unreachable (round journal not reconciled)"))
        return False
