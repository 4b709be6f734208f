"""What the scheduler needs from the database: cycles and rounds, claimed at most once.

The store implements it (the daemon adapts `monitor.store.Store`); `schedule` never imports the
store. A round is claimed before its probes start; the claim is the exactly-once guarantee, so a
restarted daemon or a standby that took over can never run a round again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

ALL_TARGETS: Final = ""
"""The `target` of the round row that covers every target (the exactly-once key)."""


class RoundState:
    """Round statuses as the ledger stores them."""

    RUNNING: Final = "running"
    COMPLETED: Final = "completed"
    SKIPPED: Final = "skipped"
    FAILED: Final = "failed"


class CycleInfo(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def rounds_planned(self) -> int: ...
    @property
    def started_at(self) -> datetime: ...


class RoundInfo(Protocol):
    @property
    def round_index(self) -> int: ...
    @property
    def target(self) -> str: ...
    @property
    def status(self) -> str: ...


class RoundLedger(Protocol):
    async def current_cycle(self, region: str) -> CycleInfo | None: ...
    async def start_cycle(
        self, region: str, rounds_planned: int, started_at: datetime
    ) -> CycleInfo: ...
    async def finish_cycle(self, cycle_id: int, finished_at: datetime) -> None: ...
    async def claim_round(
        self, cycle_id: int, round_index: int, started_at: datetime, target: str
    ) -> bool: ...
    async def finish_round(
        self, cycle_id: int, round_index: int, finished_at: datetime, target: str, status: str
    ) -> None: ...
    async def rounds(self, cycle_id: int) -> list[RoundInfo]: ...
