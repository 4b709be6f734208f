"""APScheduler triggers from the config: a fixed-phase interval or a UTC crontab.

The interval is anchored at a fixed instant, so its phase survives restarts (without an anchor,
APScheduler starts counting at process start and an hourly probe drifts with every deploy).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Schedule

ANCHOR: Final = datetime(2026, 1, 1, tzinfo=UTC)


def round_trigger(schedule: Schedule) -> BaseTrigger:
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=UTC)
    every = schedule.every_s
    assert every is not None
    return IntervalTrigger(seconds=every, start_date=ANCHOR, timezone=UTC)


def interval_s(schedule: Schedule, now: datetime) -> float:
    """The round interval: configured, or for cron the gap between its next two fire times."""
    every = schedule.every_s
    if every is not None:
        return every
    trigger = round_trigger(schedule)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1))
    return float((second - first).total_seconds())
