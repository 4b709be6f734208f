"""Cycles of rounds on APScheduler 3.11: one round job per region, rebuilt from config at start.

Round bookkeeping lives in the ledger (the database), not in APScheduler (whose job store is
memory): at each fire the scheduler reads the region's open cycle, takes the next round index
after the highest one claimed, and claims it before any probe is sent. So a restarted daemon (or a
standby that took over) continues the cycle with the next round, and a round never runs twice;
rounds left `running` by a crash are marked `failed`, not re-run. Rounds missed while no daemon ran
are not lost: the cycle is counted in rounds, so it simply ends later.

Job defaults: `coalesce=True` (after a stall, one catch-up run, not a burst), `max_instances=1`
(a round that overruns its interval makes the next fire a skipped round, counted), and a generous
`misfire_grace_time` (the 3.x default of 1 s would drop rounds on any loop stall).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Settings
from monitor.durable import LogWriteError
from monitor.ledger import Cycle, RoundKey, RoundLedger, RoundStatus, StoreUnavailable
from monitor.schedule.plan import TargetPlan, default_spread_s, plan_round
from monitor.schedule.rounds import RoundRunner, TargetResult
from monitor.schedule.triggers import interval_s, round_trigger

log = logging.getLogger(__name__)

JOB_ID: Final = "round"


class RoundObserver(Protocol):
    """Told about rounds (the exporter's self-metrics implement it)."""

    def round_started(self, index: int, late_s: float) -> None: ...
    def round_done(self, index: int, status: RoundStatus) -> None: ...
    def round_missed(self) -> None: ...


class RoundScheduler:
    def __init__(
        self,
        settings: Settings,
        ledger: RoundLedger,
        runner: RoundRunner,
        observer: RoundObserver,
        *,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        cycles_done: int = 0,
    ) -> None:
        self._settings = settings
        self._ledger = ledger
        self._runner = runner
        self._observer = observer
        self._wall = wall
        self._rng = rng or random.Random()
        self._region = settings.region
        self._aps: AsyncIOScheduler | None = None
        self._scheduled: datetime | None = None
        self._current: asyncio.Task[object] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.cycles_done = cycles_done
        """Cycles completed by this daemon (carried over when it regains the lead)."""
        self.finished = asyncio.Event()
        """Set when `schedule.cycles` cycles have completed (no further rounds are started)."""

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Close what a dead leader left running, then start firing rounds."""
        await self._fail_stale_rounds()
        schedule = self._settings.schedule
        aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(max(schedule.misfire_grace_s, 1)),
            },
        )
        aps.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES)
        aps.add_listener(self._on_event, EVENT_JOB_MISSED)
        aps.add_job(self._fire, round_trigger(schedule), id=JOB_ID, replace_existing=True)
        aps.start()
        self._aps = aps
        job = aps.get_job(JOB_ID)
        log.info("first round at %s", job.next_run_time if job is not None else "?")

    async def stop(self, grace_s: float) -> None:
        """No new rounds; give the running one `grace_s` to finish, then cancel it."""
        aps, self._aps = self._aps, None
        if aps is not None and aps.running:
            aps.pause()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace_s)
        except TimeoutError:
            task = self._current
            if task is not None and not task.done():
                log.warning("round still running after %.1fs: cancelling its probes", grace_s)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({task})
        if aps is not None and aps.running:
            aps.shutdown(wait=False)

    def interval_s(self) -> float:
        return interval_s(self._settings.schedule, self._wall())

    # ----------------------------------------------------------------- events

    def _on_event(self, event: JobEvent) -> None:
        if event.job_id != JOB_ID:
            return
        if event.code == EVENT_JOB_SUBMITTED and isinstance(event, JobSubmissionEvent):
            self._scheduled = max(event.scheduled_run_times)
            self._idle.clear()
        elif event.code in (EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED):
            log.warning(
                "round not run (%s)",
                "overran" if event.code == EVENT_JOB_MAX_INSTANCES else "missed",
            )
            self._observer.round_missed()

    # ----------------------------------------------------------------- a round

    async def _fire(self) -> None:
        self._current = asyncio.current_task()
        self._idle.clear()
        try:
            await self._round(self._scheduled or self._wall())
        except (StoreUnavailable, LogWriteError) as e:
            # neither the database nor the journal can record the claim: the round does not run
            log.warning("round not run: %s", e)
            self._observer.round_missed()
        except Exception:
            log.exception("round not run (a bug)")
            self._observer.round_missed()
        finally:
            self._current = None
            self._idle.set()

    async def _open_cycle(self, at: datetime) -> tuple[Cycle, int] | None:
        """The cycle and round index to run next (a new cycle after a full one); None when
        `schedule.cycles` cycles are done."""
        planned = self._settings.schedule.rounds_per_cycle
        cycle = await self._ledger.current_cycle(self._region)
        if cycle is not None:
            rows = await self._ledger.rounds(cycle.id)
            index = max((r.round_index for r in rows), default=-1) + 1
            if not cycle.rounds_planned or index < cycle.rounds_planned:
                return cycle, index
            # every round claimed but the cycle not closed: its last round was interrupted
            await self._cycle_finished(cycle.id, at)
            if self.finished.is_set():
                return None
        cycle = await self._ledger.start_cycle(self._region, planned, at)
        log.info("cycle %d started: %s rounds", cycle.id, planned or "unlimited")
        return cycle, 0

    async def _round(self, scheduled: datetime) -> None:
        started = self._wall()
        opened = await self._open_cycle(scheduled)
        if opened is None:
            return
        cycle, index = opened
        key = RoundKey(cycle.id, index)
        if not await self._ledger.claim_round(key, started):
            log.warning("round %d of cycle %d was already claimed; not running it", index, cycle.id)
            return
        self._observer.round_started(index, (started - scheduled).total_seconds())
        spread = self._settings.schedule.spread_s
        if spread is None:
            spread = default_spread_s(self.interval_s())
        plans = plan_round(self._settings, key, spread, self._rng)
        claimed: set[str] = set()
        status = RoundStatus.FAILED
        try:
            for plan in plans:
                if await self._ledger.claim_round(key.of(plan.name), started):
                    claimed.add(plan.name)

            async def target_done(plan: TargetPlan, result: TargetResult) -> None:
                if plan.name in claimed:
                    claimed.discard(plan.name)
                    done = RoundStatus.SKIPPED if result.skipped else RoundStatus.COMPLETED
                    await self._ledger.finish_round(key.of(plan.name), self._wall(), done)

            result = await self._runner.run(plans, target_done)
            status = RoundStatus.COMPLETED
            log.debug(  # the daemon logs each target's result when the round is done
                "round %d of cycle %d: %d probes sent, %d skipped",
                index,
                cycle.id,
                result.sent,
                result.skipped,
            )
        finally:
            finished = self._wall()
            for name in sorted(claimed):
                await self._ledger.finish_round(key.of(name), finished, RoundStatus.FAILED)
            await self._ledger.finish_round(key, finished, status)
            self._observer.round_done(
                index, status if status == RoundStatus.COMPLETED else RoundStatus.SKIPPED
            )
        if cycle.rounds_planned and index + 1 >= cycle.rounds_planned:
            await self._cycle_finished(cycle.id, self._wall())

    async def _cycle_finished(self, cycle_id: int, at: datetime) -> None:
        await self._ledger.finish_cycle(cycle_id, at)
        self.cycles_done += 1
        log.info("cycle %d complete", cycle_id)
        limit = self._settings.schedule.cycles
        if limit and self.cycles_done >= limit:
            if self._aps is not None and self._aps.running:
                self._aps.pause()
            self.finished.set()

    async def _fail_stale_rounds(self) -> None:
        cycle = await self._ledger.current_cycle(self._region)
        if cycle is None:
            return
        now = self._wall()
        for r in await self._ledger.rounds(cycle.id):
            if r.status == RoundStatus.RUNNING:
                log.warning(
                    "round %d (%s) was interrupted; marking it failed",
                    r.round_index,
                    r.target or "all",
                )
                await self._ledger.finish_round(r.key, now, RoundStatus.FAILED)
