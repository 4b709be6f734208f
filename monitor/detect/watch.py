"""Running the detector on stored probes: live in the daemon, and over history for `--recompute`.

Both read the watched values back from the `probes` summary columns (never from a trace in
flight), so the daemon's stamping path pays nothing: it only calls `ChangeWatcher.notify` after a
probe is written, and a background task does the rest (a query, a few milliseconds of numpy in a
worker thread, an insert). The current segment of each (target, workload, metric) is every probe
after the probe that revealed that metric's last stored change, so a restarted daemon carries on
where it stopped, and a recompute over the same probes finds the same changes (`changes_in` is
`detector.scan`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.config import ChangeDetection
from monitor.detect.detector import DetectorSettings, Finding, scan, step
from monitor.detect.series import ROW_COLUMNS, WATCHED, WatchedMetric
from monitor.ledger import StoreUnavailable
from monitor.store.boundary import boundary
from monitor.store.changes import (
    ChangePoint,
    ChangeTally,
    SeriesKey,
    change_tallies,
    delete_changes,
    insert_changes,
    iter_series,
    last_change_times,
    series_rows,
)

log = logging.getLogger(__name__)

Rows = Sequence[Mapping[str, Any]]

ROWS_PER_VALUE = 4
"""Rows read per value wanted: failed probes have no latency value, so read some spare."""


def values_of(rows: Rows, metric: WatchedMetric) -> tuple[list[datetime], list[float]]:
    """(start times, values) of the probes that have a value for `metric`, in row order."""
    times: list[datetime] = []
    values: list[float] = []
    for row in rows:
        v = metric.value(row)
        if v is not None:
            times.append(row["started_at"])
            values.append(v)
    return times, values


def to_change_point(
    key: SeriesKey,
    region: str,
    finding: Finding,
    at: datetime,
    detected_at: datetime,
    recorded_at: datetime,
) -> ChangePoint:
    return ChangePoint(
        target=key.target,
        region=region,
        workload=key.workload,
        metric=finding.metric,
        direction=finding.direction.value,
        at=at,
        detected_at=detected_at,
        before=finding.before.value,
        before_low=finding.before.low,
        before_high=finding.before.high,
        after=finding.after.value,
        after_low=finding.after.low,
        after_high=finding.after.high,
        n_before=finding.before.n,
        n_after=finding.after.n,
        evidence=finding.evidence(),
        recorded_at=recorded_at,
    )


def changes_in(
    key: SeriesKey, rows: Rows, settings: DetectorSettings, recorded_at: datetime
) -> list[ChangePoint]:
    """Every change in a whole series' history (rows oldest first)."""
    if not rows:
        return []
    region = str(rows[-1]["region"])
    out: list[ChangePoint] = []
    for metric in WATCHED:
        times, values = values_of(rows, metric)
        for found in scan(values, metric, settings):
            out.append(
                to_change_point(
                    key, region, found.finding, times[found.at], times[found.detected], recorded_at
                )
            )
    return out


def newest_changes(
    key: SeriesKey,
    rows: Rows,
    segment_starts: Mapping[str, datetime],
    settings: DetectorSettings,
    recorded_at: datetime,
) -> list[ChangePoint]:
    """The step for the newest probe: each metric's segment tested once."""
    if not rows:
        return []
    region = str(rows[-1]["region"])
    out: list[ChangePoint] = []
    for metric in WATCHED:
        start = segment_starts.get(metric.name)
        segment = rows if start is None else [r for r in rows if r["started_at"] > start]
        times, values = values_of(segment, metric)
        times, values = times[-settings.window :], values[-settings.window :]
        found = step(values, metric, settings)
        if found is not None:
            out.append(
                to_change_point(key, region, found, times[found.split], times[-1], recorded_at)
            )
    return out


async def check_series(
    engine: AsyncEngine, key: SeriesKey, settings: DetectorSettings, now: datetime
) -> list[ChangePoint]:
    """Test a series' current segments and store what is found; returns the new change points."""
    starts = await last_change_times(engine, key)
    since = min(starts.values()) if len(starts) == len(WATCHED) else None
    rows = await series_rows(
        engine, key, ROW_COLUMNS, since=since, limit=settings.window * ROWS_PER_VALUE
    )
    found = await asyncio.to_thread(newest_changes, key, rows, starts, settings, now)
    await insert_changes(engine, found)
    return found


async def recompute(
    engine: AsyncEngine,
    settings: DetectorSettings,
    now: datetime,
    targets: Sequence[str] | None = None,
) -> int:
    """Replace the stored change points (of `targets`, or all) by a scan over all stored probes."""
    await delete_changes(engine, targets)
    stored = 0
    async for key, rows in iter_series(engine, ROW_COLUMNS, targets):
        points = await asyncio.to_thread(changes_in, key, rows, settings, now)
        stored += await insert_changes(engine, points)
    return stored


@dataclass(frozen=True, slots=True)
class ChangeSnapshot:
    """What /metrics shows about change points (rebuilt from the table after each change)."""

    tallies: Sequence[ChangeTally] = field(default_factory=tuple)


class ChangeWatcher:
    """The daemon's detector: `notify` after each stored probe; `run` is its background task."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: DetectorSettings,
        wall: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._wall = wall
        self._queue: asyncio.Queue[SeriesKey] = asyncio.Queue()
        self._pending: set[SeriesKey] = set()
        self._snapshot = ChangeSnapshot()
        self.found = 0
        """Change points found since start (tests wait on it)."""

    def snapshot(self) -> ChangeSnapshot:
        return self._snapshot

    def notify(self, target: str, workload: int | None) -> None:
        """A probe of this series was written: test it again (cheap; never blocks)."""
        key = SeriesKey(target, workload or 0)
        if key not in self._pending:
            self._pending.add(key)
            self._queue.put_nowait(key)

    async def refresh(self) -> None:
        self._snapshot = ChangeSnapshot(tuple(await change_tallies(self._engine)))

    async def run(self) -> None:
        try:
            with boundary():
                await self.refresh()
        except StoreUnavailable:
            pass  # the tallies come with the next change found
        except Exception:
            log.exception("change tallies failed (a bug)")
        while True:
            key = await self._queue.get()
            self._pending.discard(key)
            try:
                with boundary():
                    found = await check_series(self._engine, key, self._settings, self._wall())
                if found:
                    self.found += len(found)
                    for c in found:
                        log.info(
                            "change: %s/p%d %s got %s at %s (%.4g -> %.4g)",
                            c.target,
                            c.workload,
                            c.metric,
                            c.direction,
                            c.at.isoformat(),
                            c.before,
                            c.after,
                        )
                    with boundary():
                        await self.refresh()
            except StoreUnavailable:
                log.warning("change detection skipped for %s: database unavailable", key)
            except Exception:
                log.exception("change detection failed for %s (a bug)", key)


def settings_from(config: ChangeDetection) -> DetectorSettings:
    """The detector's settings from the `changes:` config section."""
    return DetectorSettings(
        false_alarms_per_1000=config.false_alarms_per_1000,
        window=config.window,
        min_before=config.min_before,
        min_after=config.min_after,
        min_relative_change=config.min_relative_change,
        min_share_change=config.min_share_change,
    )
