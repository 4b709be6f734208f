"""Change-point series from the change detector's snapshot (built from the `change_points` table).

`etalon_change_points_total{target,workload,metric,direction}` counts the changes stored for a
series (it restarts lower only when `changes --recompute` rewrote the table);
`etalon_change_point_last_timestamp_seconds` is when the newest one happened (its first probe)
and `etalon_change_point_last_detected_timestamp_seconds` when it was found, which the alert
rule `EtalonDegradingChange` reads. Like the window collector, `collect()` only reads a snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.export.labels import workload_label

CHANGE_LABELS = ("target", "workload", "metric", "direction")


class Tally(Protocol):
    """One (target, workload, metric, direction) tally; the store's `ChangeTally` has this shape."""

    @property
    def target(self) -> str: ...
    @property
    def workload(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def last_at(self) -> datetime: ...
    @property
    def last_detected_at(self) -> datetime: ...


class ChangeCollector(Collector):
    def __init__(self, tallies: Callable[[], Sequence[Tally]]) -> None:
        self._tallies = tallies

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        rows = self._tallies()
        total = CounterMetricFamily(
            "etalon_change_points",
            "Changes found in per-probe series (docs/change-detection.md).",
            labels=CHANGE_LABELS,
        )
        last = GaugeMetricFamily(
            "etalon_change_point_last_timestamp_seconds",
            "When the newest change of the series happened (its first probe).",
            labels=CHANGE_LABELS,
        )
        detected = GaugeMetricFamily(
            "etalon_change_point_last_detected_timestamp_seconds",
            "When the newest change of the series was found (the probe that revealed it).",
            labels=CHANGE_LABELS,
        )
        for r in rows:
            labels = [r.target, workload_label(r.workload), r.metric, r.direction]
            total.add_metric(labels, float(r.count))
            last.add_metric(labels, r.last_at.timestamp())
            detected.add_metric(labels, r.last_detected_at.timestamp())
        yield total
        yield last
        yield detected
