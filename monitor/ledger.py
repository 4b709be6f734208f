"""The round ledger's one vocabulary: key, status, cycle, round record, the protocol, its error.

Shared like `monitor.trace`: `schedule` uses a ledger (it never imports `store`), `store`
implements it (`Store` satisfies `RoundLedger` as it is), the daemon wires the two, and the
round journal wraps one ledger in another. A cycle is `rounds_planned` rounds in one region; a
round is claimed (a `running` row) before its probes start and finished afterwards. The key
`(cycle_id, round_index, target)` is what makes a round run at most once: of two claims only the
first wins. `target` is `ALL_TARGETS` for the round that covers every target.

Every ledger method raises `StoreUnavailable` when the database cannot be reached (as opposed to
a refused statement, which is a bug here): callers catch it by type and work offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

ALL_TARGETS: Final = ""
"""The `target` of the round row that covers every target (the exactly-once key)."""


class StoreUnavailable(Exception):  # noqa: N818 (the name the issue and the docs use)
    """The database cannot be reached (down, unreachable, out of space, connection lost).

    Raised at the store's boundary in place of the driver's connection-level errors, so nothing
    else needs to know the driver; `reason` is one line naming the failure, never a secret.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"database unavailable: {reason}")
        self.reason = reason


class RoundStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RoundKey:
    """One round row: a cycle's round, for one target or (`ALL_TARGETS`) for all of them.

    A probe carries the key of its target's row (`Store.ingest` counts it there)."""

    cycle_id: int
    round_index: int
    target: str = ALL_TARGETS

    def of(self, target: str) -> RoundKey:
        return RoundKey(self.cycle_id, self.round_index, target)


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
    key: RoundKey
    status: RoundStatus
    started_at: datetime
    finished_at: datetime | None = None
    probes: int = 0

    @property
    def round_index(self) -> int:
        return self.key.round_index

    @property
    def target(self) -> str:
        return self.key.target


class RoundLedger(Protocol):
    """What the scheduler needs from the database (the store implements it)."""

    async def current_cycle(self, region: str) -> Cycle | None:
        """The region's newest cycle that is not finished, if any."""
        ...

    async def start_cycle(
        self, region: str, rounds_planned: int, started_at: datetime
    ) -> Cycle: ...

    async def finish_cycle(self, cycle_id: int, finished_at: datetime) -> None: ...

    async def claim_round(self, key: RoundKey, started_at: datetime) -> bool:
        """Record the round as running; False when it was already claimed (do not run it)."""
        ...

    async def finish_round(
        self, key: RoundKey, finished_at: datetime, status: RoundStatus
    ) -> None: ...

    async def rounds(self, cycle_id: int) -> list[RoundRecord]:
        """Every claimed round of the cycle, by index and target."""
        ...
