"""Round bookkeeping that survives a database outage: a local journal, reconciled when it is back.

The ledger lives in the database, but a leader that loses only its database must keep probing (the
probes themselves go to the spool). `JournaledLedger` wraps the database ledger: every call goes
to the database while it answers and keeps a small cache of the current cycle and its rounds; when
the database is unreachable (`is_unavailable`), claims and finishes are answered from the cache
and appended (fsync'd) to `journal.jsonl` in the data directory. When the database answers again,
`reconcile()` replays the journal in order (claims are `ON CONFLICT DO NOTHING`, finishes are
updates; a replay interrupted by another outage resumes after the ops already applied) and
empties it. Every
ledger call reconciles first, so the database never sees a finish before its claim; the daemon
also holds spooled traces back until the journal is empty, so a trace never counts into a round
row that does not exist yet.

Limits (deliberate): a *new* cycle cannot be started offline (its id comes from the database), so
when a cycle ends during an outage the next fires are missed rounds until the database returns.
And an offline claim is only as exclusive as this daemon's lead: see `monitor.daemon` on network
partitions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from monitor.schedule.ledger import CycleInfo, RoundInfo, RoundLedger, RoundState

log = logging.getLogger(__name__)

JOURNAL_FILE: Final = "journal.jsonl"


@dataclass(frozen=True, slots=True)
class LocalRound:
    round_index: int
    target: str
    status: str


class JournaledLedger:
    """A `RoundLedger` that keeps working (within the current cycle) while the database is down."""

    def __init__(
        self,
        inner: RoundLedger,
        directory: Path,
        is_unavailable: Callable[[BaseException], bool],
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._inner = inner
        self.path = directory / JOURNAL_FILE
        self._unavailable = is_unavailable
        self._lock = asyncio.Lock()
        self._cycle: CycleInfo | None = None
        self._rounds: dict[tuple[int, str], str] = {}
        """(round_index, target) → status, for `_cycle`."""
        self._foreign: set[tuple[int, int, str]] = set()
        """Rounds whose offline claim lost to another daemon's (their finishes are not replayed)."""
        self.offline_ops = 0
        """Ledger changes this process recorded in the journal (for logs and tests)."""

    # ----------------------------------------------------------------- journal

    @property
    def pending(self) -> bool:
        """True while the journal holds changes the database has not seen."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def _append(self, op: dict[str, Any]) -> None:
        line = json.dumps(op, separators=(",", ":")) + "\n"
        with self.path.open("ab") as f:
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())
        self.offline_ops += 1

    def _ops(self) -> list[dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        # a torn last line (crash mid-append) was never acknowledged: ignore it
        complete = raw[: raw.rfind(b"\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    async def reconcile(self) -> bool:
        """Replay the journal into the database; True when nothing is left to replay.

        Returns False (keeping the journal) while the database is unreachable. How many ops
        were applied is kept in a side file, so an interrupted replay resumes after them: a
        claim that the database then refuses was made by another daemon (a partition, or a
        standby that took over), and this daemon's finishes of that round are dropped rather
        than overwrite the other daemon's record.
        """
        if not self.pending:
            return True
        async with self._lock:
            ops = self._ops()
            done = self._applied()
            try:
                for i in range(done, len(ops)):
                    await self._apply(ops[i])
                    self._set_applied(i + 1)
            except Exception as e:
                if not self._unavailable(e):
                    raise
                return False
            with self.path.open("r+b") as f:
                f.truncate(0)
                os.fsync(f.fileno())
            self._offset_path.unlink(missing_ok=True)
            self._foreign.clear()
            log.warning(
                "ledger: %d change(s) made during the outage written to the database",
                len(ops) - done,
            )
            return True

    @property
    def _offset_path(self) -> Path:
        return self.path.with_name(self.path.name + ".applied")

    def _applied(self) -> int:
        try:
            return int(self._offset_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def _set_applied(self, count: int) -> None:
        tmp = self._offset_path.with_suffix(".tmp")
        tmp.write_text(str(count))
        tmp.replace(self._offset_path)

    async def _apply(self, op: dict[str, Any]) -> None:
        kind = op["op"]
        at = datetime.fromisoformat(op["at"])
        key = (op["cycle"], op.get("index", -1), op.get("target", ""))
        if kind == "claim":
            if not await self._inner.claim_round(op["cycle"], op["index"], at, op["target"]):
                self._foreign.add(key)
                log.error(
                    "ledger: round %d (%s) of cycle %d was also run by another daemon during the "
                    "outage; its record is kept",
                    op["index"],
                    op["target"] or "all",
                    op["cycle"],
                )
        elif kind == "finish":
            if key in self._foreign:
                return
            await self._inner.finish_round(op["cycle"], op["index"], at, op["target"], op["status"])
        elif kind == "finish_cycle":
            await self._inner.finish_cycle(op["cycle"], at)
        else:  # pragma: no cover - only this module writes the journal
            raise ValueError(f"unknown journal op {kind!r}")

    async def _online(self) -> bool:
        """Reconcile first; False when the database is still unreachable (work offline)."""
        return await self.reconcile()

    def _remember(self, cycle: CycleInfo | None, rows: list[RoundInfo] | None = None) -> None:
        if cycle is None or self._cycle is None or cycle.id != self._cycle.id:
            self._rounds = {}
        self._cycle = cycle
        if rows is not None:
            self._rounds = {(r.round_index, r.target): r.status for r in rows}

    # ----------------------------------------------------------------- RoundLedger

    async def current_cycle(self, region: str) -> CycleInfo | None:
        try:
            if await self._online():
                cycle = await self._inner.current_cycle(region)
                self._remember(cycle)
                return cycle
        except Exception as e:
            if not self._unavailable(e) or self._cycle is None:
                raise
        if self._cycle is None:
            raise ConnectionError("database unreachable and no cycle known")
        return self._cycle

    async def start_cycle(
        self, region: str, rounds_planned: int, started_at: datetime
    ) -> CycleInfo:
        # a cycle's id comes from the database: no new cycle while it is unreachable
        if not await self._online():
            raise ConnectionError("database unreachable: cannot start a new cycle")
        cycle = await self._inner.start_cycle(region, rounds_planned, started_at)
        self._remember(cycle, [])
        return cycle

    async def finish_cycle(self, cycle_id: int, finished_at: datetime) -> None:
        try:
            if await self._online():
                await self._inner.finish_cycle(cycle_id, finished_at)
                self._forget(cycle_id)
                return
        except Exception as e:
            if not self._unavailable(e):
                raise
        self._append({"op": "finish_cycle", "cycle": cycle_id, "at": finished_at.isoformat()})
        self._forget(cycle_id)

    def _forget(self, cycle_id: int) -> None:
        if self._cycle is not None and self._cycle.id == cycle_id:
            self._cycle = None
            self._rounds = {}

    async def claim_round(
        self, cycle_id: int, round_index: int, started_at: datetime, target: str
    ) -> bool:
        try:
            if await self._online():
                claimed = await self._inner.claim_round(cycle_id, round_index, started_at, target)
                if claimed and self._cycle is not None and self._cycle.id == cycle_id:
                    self._rounds[(round_index, target)] = RoundState.RUNNING
                return claimed
        except Exception as e:
            if not self._unavailable(e):
                raise
        if self._cycle is None or self._cycle.id != cycle_id:
            raise ConnectionError("database unreachable: round of an unknown cycle")
        if (round_index, target) in self._rounds:
            return False
        self._append(
            {
                "op": "claim",
                "cycle": cycle_id,
                "index": round_index,
                "target": target,
                "at": started_at.isoformat(),
            }
        )
        self._rounds[(round_index, target)] = RoundState.RUNNING
        return True

    async def finish_round(
        self, cycle_id: int, round_index: int, finished_at: datetime, target: str, status: str
    ) -> None:
        try:
            if await self._online():
                await self._inner.finish_round(cycle_id, round_index, finished_at, target, status)
                self._note(cycle_id, round_index, target, status)
                return
        except Exception as e:
            if not self._unavailable(e):
                raise
        self._append(
            {
                "op": "finish",
                "cycle": cycle_id,
                "index": round_index,
                "target": target,
                "status": status,
                "at": finished_at.isoformat(),
            }
        )
        self._note(cycle_id, round_index, target, status)

    def _note(self, cycle_id: int, round_index: int, target: str, status: str) -> None:
        if self._cycle is not None and self._cycle.id == cycle_id:
            self._rounds[(round_index, target)] = status

    async def rounds(self, cycle_id: int) -> list[RoundInfo]:
        try:
            if await self._online():
                rows = await self._inner.rounds(cycle_id)
                if self._cycle is not None and self._cycle.id == cycle_id:
                    self._remember(self._cycle, rows)
                return rows
        except Exception as e:
            if not self._unavailable(e):
                raise
        if self._cycle is None or self._cycle.id != cycle_id:
            raise ConnectionError("database unreachable: rounds of an unknown cycle")
        return [LocalRound(i, t, s) for (i, t), s in sorted(self._rounds.items())]
