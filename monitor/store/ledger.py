"""The round ledger in PostgreSQL: `LedgerQueries`, mixed into `Store`, implements
`monitor.ledger.RoundLedger` (the vocabulary and the exactly-once rules are described there).

`claim_round` is an `INSERT ... ON CONFLICT DO NOTHING`, so of two schedulers (or a restarted one)
only the first claim wins. A round left `running` by a crash stays claimed; the scheduler decides
what to do with it (`rounds()` lists it with its status).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.ledger import Cycle, RoundKey, RoundRecord, RoundStatus
from monitor.store.boundary import guarded
from monitor.store.schema import cycles, rounds


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
    """`monitor.ledger.RoundLedger` over an engine; `Store` mixes it in."""

    engine: AsyncEngine

    @guarded
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

    @guarded
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

    @guarded
    async def finish_cycle(self, cycle_id: int, finished_at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(cycles).where(cycles.c.id == cycle_id).values(finished_at=finished_at)
            )

    @guarded
    async def claim_round(self, key: RoundKey, started_at: datetime) -> bool:
        """Record the round as running; False when it was already claimed (do not run it)."""
        query = (
            pg_insert(rounds)
            .values(
                cycle_id=key.cycle_id,
                round_index=key.round_index,
                target=key.target,
                status=RoundStatus.RUNNING.value,
                started_at=started_at,
            )
            .on_conflict_do_nothing(index_elements=["cycle_id", "round_index", "target"])
            .returning(rounds.c.id)
        )
        async with self.engine.begin() as conn:
            return (await conn.execute(query)).first() is not None

    @guarded
    async def finish_round(
        self, key: RoundKey, finished_at: datetime, status: RoundStatus = RoundStatus.COMPLETED
    ) -> None:
        where = and_(
            rounds.c.cycle_id == key.cycle_id,
            rounds.c.round_index == key.round_index,
            rounds.c.target == key.target,
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(rounds).where(where).values(status=status.value, finished_at=finished_at)
            )
            if result.rowcount == 0:
                raise LookupError(f"{key} was never claimed")

    @guarded
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
                RoundKey(r["cycle_id"], r["round_index"], r["target"]),
                RoundStatus(r["status"]),
                r["started_at"],
                r["finished_at"],
                r["probes"],
            )
            for r in rows
        ]
