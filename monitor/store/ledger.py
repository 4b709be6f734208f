"""The round ledger: which cycles and rounds ran, so a restarted daemon resumes and no round runs
twice.

A cycle is `rounds_planned` rounds in one region; a round is claimed (a `running` row) before its
probes start and finished afterwards. The unique key `(cycle_id, round_index, target)` is what makes
a round run at most once: `claim_round` is an `INSERT ... ON CONFLICT DO NOTHING`, so of two
schedulers (or a restarted one) only the first claim wins. `target` is `""` for a round that covers
every target. A round left `running` by a crash stays claimed; the scheduler decides what to do
with it (`rounds()` lists it with its status).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store.schema import cycles, rounds


class RoundStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Cycle:
    id: int
    region: str
    rounds_planned: int
    config_hash: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class RoundRecord:
    cycle_id: int
    round_index: int
    target: str
    status: RoundStatus
    started_at: datetime
    finished_at: datetime | None
    probes: int


@dataclass(frozen=True, slots=True)
class RoundRef:
    """Which round a probe belongs to (passed to `Store.ingest`)."""

    cycle_id: int
    round_index: int
    target: str = ""


class RoundLedger(Protocol):
    """What the scheduler needs from the store (the `Store` implements it)."""

    async def current_cycle(self, region: str) -> Cycle | None: ...
    async def start_cycle(
        self, region: str, rounds_planned: int, started_at: datetime, config_hash: str = ""
    ) -> Cycle: ...
    async def finish_cycle(self, cycle_id: int, finished_at: datetime) -> None: ...
    async def claim_round(
        self, cycle_id: int, round_index: int, started_at: datetime, target: str = ""
    ) -> bool: ...
    async def finish_round(
        self,
        cycle_id: int,
        round_index: int,
        finished_at: datetime,
        target: str = "",
        status: RoundStatus = RoundStatus.COMPLETED,
    ) -> None: ...
    async def rounds(self, cycle_id: int) -> list[RoundRecord]: ...


def _cycle(row: object) -> Cycle:
    m = row._mapping  # type: ignore[attr-defined]
    return Cycle(
        m["id"],
        m["region"],
        m["rounds_planned"],
        m["config_hash"],
        m["started_at"],
        m["finished_at"],
    )


class LedgerQueries:
    """`RoundLedger` over an engine; `Store` mixes it in."""

    engine: AsyncEngine

    async def current_cycle(self, region: str) -> Cycle | None:
        """The region's newest cycle that is not finished, if any."""
        query = (
            select(cycles)
            .where(cycles.c.region == region, cycles.c.finished_at.is_(None))
            .order_by(cycles.c.started_at.desc(), cycles.c.id.desc())
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _cycle(row)

    async def start_cycle(
        self, region: str, rounds_planned: int, started_at: datetime, config_hash: str = ""
    ) -> Cycle:
        query = (
            insert(cycles)
            .values(
                region=region,
                rounds_planned=rounds_planned,
                started_at=started_at,
                config_hash=config_hash,
            )
            .returning(*cycles.c)
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(query)).one()
        return _cycle(row)

    async def finish_cycle(self, cycle_id: int, finished_at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(cycles).where(cycles.c.id == cycle_id).values(finished_at=finished_at)
            )

    async def claim_round(
        self, cycle_id: int, round_index: int, started_at: datetime, target: str = ""
    ) -> bool:
        """Record the round as running; False when it was already claimed (do not run it)."""
        query = (
            pg_insert(rounds)
            .values(
                cycle_id=cycle_id,
                round_index=round_index,
                target=target,
                status=RoundStatus.RUNNING.value,
                started_at=started_at,
            )
            .on_conflict_do_nothing(index_elements=["cycle_id", "round_index", "target"])
            .returning(rounds.c.id)
        )
        async with self.engine.begin() as conn:
            return (await conn.execute(query)).first() is not None

    async def finish_round(
        self,
        cycle_id: int,
        round_index: int,
        finished_at: datetime,
        target: str = "",
        status: RoundStatus = RoundStatus.COMPLETED,
    ) -> None:
        where = and_(
            rounds.c.cycle_id == cycle_id,
            rounds.c.round_index == round_index,
            rounds.c.target == target,
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(rounds).where(where).values(status=status.value, finished_at=finished_at)
            )
            if result.rowcount == 0:
                raise LookupError(f"round {round_index} of cycle {cycle_id} was never claimed")

    async def rounds(self, cycle_id: int) -> list[RoundRecord]:
        """Every claimed round of the cycle, by index."""
        query = (
            select(rounds)
            .where(rounds.c.cycle_id == cycle_id)
            .order_by(rounds.c.round_index, rounds.c.target)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            RoundRecord(
                r["cycle_id"],
                r["round_index"],
                r["target"],
                RoundStatus(r["status"]),
                r["started_at"],
                r["finished_at"],
                r["probes"],
            )
            for r in rows
        ]
