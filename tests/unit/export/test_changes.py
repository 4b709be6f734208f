"""The change collector exports each tally exactly; tallies gone from the snapshot are gone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from monitor.export.changes import ChangeCollector


@dataclass(frozen=True)
class Tally:
    target: str = "sim-a"
    workload: int = 256
    metric: str = "d_star"
    direction: str = "worse"
    count: int = 2
    last_at: datetime = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    last_detected_at: datetime = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


LABELS = {"target": "sim-a", "workload": "p256", "metric": "d_star", "direction": "worse"}


def test_tallies_are_exported_exactly() -> None:
    held = [Tally(), Tally(metric="tpot", direction="better", count=1)]
    registry = CollectorRegistry()
    registry.register(ChangeCollector(lambda: held))
    get = registry.get_sample_value
    assert get("etalon_change_points_total", LABELS) == 2
    assert (
        get("etalon_change_points_total", {**LABELS, "metric": "tpot", "direction": "better"}) == 1
    )
    # 2026-11-29T10:00Z = 1795946400 (20786 days · 86400 + 10 · 3600)
    assert get("etalon_change_point_last_timestamp_seconds", LABELS) == 1795946400.0
    assert get("etalon_change_point_last_detected_timestamp_seconds", LABELS) == 1795960800.0
    held.clear()
    assert get("etalon_change_points_total", LABELS) is None
