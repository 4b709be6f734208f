"""Round bookkeeping that survives a database outage: a local journal, reconciled when it is back.

The ledger lives in the database, but a leader that loses only its database must keep probing (the
probes themselves go to the spool). `JournaledLedger` wraps the database ledger: every call goes
to the database while it answers and keeps a small cache of the current cycle and its rounds; when
the database is unavailable (`StoreUnavailable`), claims and finishes are answered from the cache
and appended to `journal.jsonl` in the data directory (a `monitor.durable.AppendLog`: fsync'd in a
worker thread, torn and corrupt lines cut or quarantined). When the database answers again,
`reconcile()` replays the journal in order (claims are `ON CONFLICT DO NOTHING`, finishes are
updates; a replay interrupted by another outage resumes after the ops already applied) and
empties it. Every ledger call reconciles first, so the database never sees a finish before its
claim; the daemon also holds spooled traces back until the journal is empty, so a trace never
counts into a round row that does not exist yet.

A full disk is not an outage: a finish the journal cannot write is kept in memory and replayed
with the rest (so the round still finishes once the database answers), while a claim that
cannot be written fails the round (`LogWriteError`), since an unrecorded claim is no claim. A
claim replayed twice (its replay's offset could not be saved) is recognised as this daemon's own
by its start time, never taken for another daemon's.

Limits (deliberate): a *new* cycle cannot be started offline (its id comes from the database), so
when a cycle ends during an outage the next fires are missed rounds until the database returns.
And an offline claim is only as exclusive as this daemon's lead: see `monitor.daemon` on network
partitions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from monitor.durable import AppendLog, LogWriteError, encode
from monitor.ledger import Cycle, RoundKey, RoundLedger, RoundRecord, RoundStatus, StoreUnavailable

log = logging.getLogger(__name__)

JOURNAL_FILE: Final = "journal.jsonl"
REPLAY_BATCH: Final = 100


def _key(op: dict[str, Any]) -> RoundKey:
    return RoundKey(int(op["cycle"]), int(op["index"]), str(op["target"]))


class JournaledLedger:
    """A `RoundLedger` that keeps working (within the current cycle) while the database is down."""

    def __init__(self, inner: RoundLedger, directory: Path) -> None:
        self._inner = inner
        self._log = AppendLog(directory / JOURNAL_FILE)
        self.path = self._log.path
        self._lock = asyncio.Lock()
        self._unwritten: list[dict[str, Any]] = []
        """Finishes the disk refused, in order, after everything in the file."""
        self._cycle: Cycle | None = None
        self._rounds: dict[RoundKey, RoundRecord] = {}
        """The rounds of `_cycle` as last seen (database) or changed (offline)."""
        self._foreign: set[RoundKey] = set()
        """Rounds whose offline claim lost to another daemon's (their finishes are not replayed)."""
        self.offline_ops = 0
        """Ledger changes this process recorded offline (for logs and tests)."""
        self.disk_error: str | None = None
        """Why the journal could not be written, until a write or a full replay succeeds."""

    # ----------------------------------------------------------------- journal

    @property
    def pending(self) -> bool:
        """True while the journal holds changes the database has not seen."""
        return self._log.pending or bool(self._unwritten)

    async def _append(self, op: dict[str, Any], *, must_persist: bool) -> None:
        """Journal one op (after any the disk refused before, to keep their order)."""
        async with self._lock:
            try:
                await asyncio.to_thread(self._log.append, [*self._unwritten, op])
            except LogWriteError as e:
                self.disk_error = str(e)
                if must_persist:
                    raise
                log.error("ledger: %s; change kept in memory until it can be replayed", e)
                self._unwritten.append(op)
            else:
                self._unwritten.clear()
                self.disk_error = None
            self.offline_ops += 1

    async def reconcile(self) -> bool:
        """Replay the journal into the database; True when nothing is left to replay.

        Returns False (keeping the journal) while the database is unavailable. The log keeps the
        offset replayed so far, so an interrupted replay resumes after the ops already applied: a
        claim that the database then refuses, and whose row does not carry this claim's start,
        was made by another daemon (a partition, or a standby that took over), and this daemon's
        finishes of that round are dropped rather than overwrite the other daemon's record.
        """
        if not self.pending:
            return True
        async with self._lock:
            applied = 0
            try:
                while entries := await asyncio.to_thread(self._log.read, REPLAY_BATCH):
                    for entry in entries:
                        if await self._apply_or_quarantine(entry.record, entry.start):
                            applied += 1
                        await asyncio.to_thread(self._log.commit, entry.end)
                while self._unwritten:
                    await self._apply(self._unwritten[0])
                    self._unwritten.pop(0)
                    applied += 1
            except StoreUnavailable:
                return False
            self._foreign.clear()
            self.disk_error = None
            log.warning(
                "ledger: %d change(s) made during the outage written to the database", applied
            )
            return True

    async def close(self) -> None:
        """At shutdown: changes held in memory go to the journal if the disk takes them now
        (the next start replays them); otherwise they are lost, and logged as such."""
        async with self._lock:
            if not self._unwritten:
                return
            try:
                await asyncio.to_thread(self._log.append, self._unwritten)
            except LogWriteError as e:
                log.error(
                    "ledger: %d change(s) lost at shutdown (%s); those rounds stay running until "
                    "the next start marks them failed",
                    len(self._unwritten),
                    e,
                )
            self._unwritten.clear()

    async def _apply_or_quarantine(self, op: dict[str, Any], start: int) -> bool:
        try:
            await self._apply(op)
        except (KeyError, TypeError, ValueError) as e:
            await asyncio.to_thread(
                self._log.quarantine, encode(op), start, f"not a journal op: {e!r}"
            )
            return False
        return True

    async def _apply(self, op: dict[str, Any]) -> None:
        kind = op["op"]
        at = datetime.fromisoformat(op["at"])
        if kind == "finish_cycle":
            await self._inner.finish_cycle(int(op["cycle"]), at)
            return
        key = _key(op)
        if kind == "claim":
            if not await self._inner.claim_round(key, at) and not await self._ours(key, at):
                self._foreign.add(key)
                log.error(
                    "ledger: %s was also run by another daemon during the outage; its record is "
                    "kept",
                    key,
                )
        elif kind == "finish":
            if key in self._foreign:
                return
            try:
                await self._inner.finish_round(key, at, RoundStatus(op["status"]))
            except LookupError:
                log.error("ledger: finish of %s replayed, but it was never claimed", key)
        else:
            raise ValueError(f"unknown journal op {kind!r}")

    async def _ours(self, key: RoundKey, started_at: datetime) -> bool:
        """The claim is already in the database with this start: this daemon's own, replayed
        again because the offset past it was not saved."""
        for r in await self._inner.rounds(key.cycle_id):
            if r.key == key:
                return r.started_at == started_at
        return False

    def _remember(self, cycle: Cycle | None, rows: list[RoundRecord] | None = None) -> None:
        if cycle is None or self._cycle is None or cycle.id != self._cycle.id:
            self._rounds = {}
        self._cycle = cycle
        if rows is not None:
            self._rounds = {r.key: r for r in rows}

    def _knows(self, cycle_id: int) -> bool:
        return self._cycle is not None and self._cycle.id == cycle_id

    # ----------------------------------------------------------------- RoundLedger

    async def current_cycle(self, region: str) -> Cycle | None:
        try:
            if await self.reconcile():
                cycle = await self._inner.current_cycle(region)
                self._remember(cycle)
                return cycle
        except StoreUnavailable:
            if self._cycle is None:
                raise
        if self._cycle is None:
            raise StoreUnavailable("no cycle known while the database is unavailable")
        return self._cycle

    async def start_cycle(self, region: str, rounds_planned: int, started_at: datetime) -> Cycle:
        # a cycle's id comes from the database: no new cycle while it is unavailable
        if not await self.reconcile():
            raise StoreUnavailable("a new cycle needs the database")
        cycle = await self._inner.start_cycle(region, rounds_planned, started_at)
        self._remember(cycle, [])
        return cycle

    async def finish_cycle(self, cycle_id: int, finished_at: datetime) -> None:
        try:
            if await self.reconcile():
                await self._inner.finish_cycle(cycle_id, finished_at)
                self._forget(cycle_id)
                return
        except StoreUnavailable:
            pass
        op = {"op": "finish_cycle", "cycle": cycle_id, "at": finished_at.isoformat()}
        await self._append(op, must_persist=False)
        self._forget(cycle_id)

    def _forget(self, cycle_id: int) -> None:
        if self._knows(cycle_id):
            self._cycle = None
            self._rounds = {}

    async def claim_round(self, key: RoundKey, started_at: datetime) -> bool:
        try:
            if await self.reconcile():
                claimed = await self._inner.claim_round(key, started_at)
                if claimed and self._knows(key.cycle_id):
                    self._rounds[key] = RoundRecord(key, RoundStatus.RUNNING, started_at)
                return claimed
        except StoreUnavailable:
            pass
        if not self._knows(key.cycle_id):
            raise StoreUnavailable(f"{key} is of a cycle not known offline")
        if key in self._rounds:
            return False
        op = {
            "op": "claim",
            "cycle": key.cycle_id,
            "index": key.round_index,
            "target": key.target,
            "at": started_at.isoformat(),
        }
        await self._append(op, must_persist=True)
        self._rounds[key] = RoundRecord(key, RoundStatus.RUNNING, started_at)
        return True

    async def finish_round(self, key: RoundKey, finished_at: datetime, status: RoundStatus) -> None:
        try:
            if await self.reconcile():
                await self._inner.finish_round(key, finished_at, status)
                self._note(key, finished_at, status)
                return
        except StoreUnavailable:
            pass
        op = {
            "op": "finish",
            "cycle": key.cycle_id,
            "index": key.round_index,
            "target": key.target,
            "status": status.value,
            "at": finished_at.isoformat(),
        }
        await self._append(op, must_persist=False)
        self._note(key, finished_at, status)

    def _note(self, key: RoundKey, finished_at: datetime, status: RoundStatus) -> None:
        if self._knows(key.cycle_id):
            known = self._rounds.get(key)
            started = known.started_at if known is not None else finished_at
            self._rounds[key] = RoundRecord(key, status, started, finished_at)

    async def rounds(self, cycle_id: int) -> list[RoundRecord]:
        try:
            if await self.reconcile():
                rows = await self._inner.rounds(cycle_id)
                if self._cycle is not None and self._cycle.id == cycle_id:
                    self._remember(self._cycle, rows)
                return rows
        except StoreUnavailable:
            pass
        if not self._knows(cycle_id):
            raise StoreUnavailable(f"rounds of cycle {cycle_id} are not known offline")
        return [self._rounds[k] for k in sorted(self._rounds, key=dataclasses.astuple)]
