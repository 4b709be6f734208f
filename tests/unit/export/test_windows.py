"""The window collector reads a hand-made snapshot; a target gone from the snapshot is gone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from prometheus_client import CollectorRegistry

from monitor.export.windows import WindowCollector, WindowSnapshot


@dataclass(frozen=True)
class Row:
    target: str = "sim-a"
    provider: str = "simulator"
    model: str = "sim-fast"
    region: str = "lab"
    workload: int | None = 256
    window: str = "1h"
    probes: int = 4
    success_ratio: float = 0.75
    fluidity_p50: float | None = 0.95
    fluidity_p01: float | None = 0.6
    fluid_ratio: float | None = 2 / 3
    deadline_slo_met: bool | None = False
    fluent_token_rate: float | None = 31.25
    tpot_token_rate: float | None = 50.0
    quantiles: Mapping[str, tuple[float | None, ...]] = field(
        default_factory=lambda: {"ttft_ns": (0.2, 0.35, 0.4), "ttfat_ns": (0.3, 0.45, 0.5)}
    )


LABELS = {
    "target": "sim-a",
    "provider": "simulator",
    "model": "sim-fast",
    "region": "lab",
    "workload": "p256",
    "window": "1h",
}


class Holder:
    """What the daemon's refresh task does: swap a whole snapshot in."""

    def __init__(self, snap: WindowSnapshot) -> None:
        self.snap = snap

    def __call__(self) -> WindowSnapshot:
        return self.snap


def test_snapshot_values_are_exported_exactly() -> None:
    registry = CollectorRegistry()
    registry.register(WindowCollector(Holder(WindowSnapshot(1795000000.0, (Row(),)))))
    get = registry.get_sample_value
    assert get("etalon_window_probes", LABELS) == 4
    assert get("etalon_window_probe_success_ratio", LABELS) == 0.75
    assert get("etalon_window_fluid_ratio", LABELS) == 2 / 3
    assert get("etalon_window_deadline_slo_met", LABELS) == 0
    assert get("etalon_window_fluent_token_rate", LABELS) == 31.25
    assert get("etalon_window_tpot_token_rate", LABELS) == 50.0
    assert get("etalon_window_fluidity_index", {**LABELS, "quantile": "0.5"}) == 0.95
    # quantile 0.99 is the paper's P99: the 1st percentile of the index
    assert get("etalon_window_fluidity_index", {**LABELS, "quantile": "0.99"}) == 0.6
    assert get("etalon_window_time_to_first_token_seconds", {**LABELS, "quantile": "0.9"}) == 0.35
    answer = "etalon_window_time_to_first_answer_token_seconds"
    assert get(answer, {**LABELS, "quantile": "0.99"}) == 0.5
    assert get("etalon_window_snapshot_timestamp_seconds") == 1795000000.0


def test_missing_values_are_left_out() -> None:
    registry = CollectorRegistry()
    row = Row(
        success_ratio=0.0,
        fluidity_p50=None,
        fluid_ratio=None,
        deadline_slo_met=None,
        quantiles={"ttft_ns": (None, 0.35, 0.4)},
    )
    registry.register(WindowCollector(Holder(WindowSnapshot(1.0, (row,)))))
    get = registry.get_sample_value
    assert get("etalon_window_probe_success_ratio", LABELS) == 0.0
    assert get("etalon_window_fluid_ratio", LABELS) is None
    assert get("etalon_window_deadline_slo_met", LABELS) is None
    assert get("etalon_window_fluidity_index", {**LABELS, "quantile": "0.5"}) is None
    assert get("etalon_window_fluidity_index", {**LABELS, "quantile": "0.99"}) == 0.6
    ttft = "etalon_window_time_to_first_token_seconds"
    assert get(ttft, {**LABELS, "quantile": "0.5"}) is None
    assert get(ttft, {**LABELS, "quantile": "0.9"}) == 0.35
    # a metric the row has no percentiles for is left out too
    assert (
        get("etalon_window_time_to_first_answer_token_seconds", {**LABELS, "quantile": "0.5"})
        is None
    )


def test_dropped_target_disappears_on_next_scrape() -> None:
    holder = Holder(WindowSnapshot(1.0, (Row(), Row(target="sim-b"))))
    registry = CollectorRegistry()
    registry.register(WindowCollector(holder))
    b = {**LABELS, "target": "sim-b"}
    assert registry.get_sample_value("etalon_window_probes", b) == 4
    holder.snap = WindowSnapshot(2.0, (replace(Row(), probes=5),))
    assert registry.get_sample_value("etalon_window_probes", b) is None
    assert registry.get_sample_value("etalon_window_probes", LABELS) == 5
    assert registry.get_sample_value("etalon_window_snapshot_timestamp_seconds") == 2.0


def test_before_the_first_refresh_there_is_no_timestamp() -> None:
    registry = CollectorRegistry()
    registry.register(WindowCollector(Holder(WindowSnapshot())))
    assert registry.get_sample_value("etalon_window_snapshot_timestamp_seconds") is None


def test_workload_none_is_p0() -> None:
    registry = CollectorRegistry()
    registry.register(WindowCollector(Holder(WindowSnapshot(1.0, (Row(workload=None),)))))
    assert registry.get_sample_value("etalon_window_probes", {**LABELS, "workload": "p0"}) == 4
