"""Rolling-window series (1h, 24h, 7d) from an immutable snapshot; `collect()` only reads it.

A refresh task in the daemon rebuilds the snapshot from the store every few seconds and swaps it
in whole; a scrape never queries and never awaits. Families are built fresh on every `collect()`,
so a target that left the snapshot leaves `/metrics` at once (Prometheus marks it stale).
Quantile-labelled families are typed `summary`: Prometheus' lint rejects a `quantile` label on a
gauge. `etalon_window_fluidity_index{quantile="0.99"}` is the paper's P99: the 1st percentile of
the index (the worst 1 %), as the contract says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.export.labels import TARGET_LABELS, workload_label
from monitor.metrics.catalogue import windowed

WINDOW_LABELS = (*TARGET_LABELS, "workload", "window")


class WindowRow(Protocol):
    """One (target, workload, window) summary; the store's `WindowSummary` has this shape.

    `None` means "no sample in the window" and the series is left out.
    """

    @property
    def target(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def workload(self) -> int | None: ...
    @property
    def window(self) -> str: ...
    @property
    def probes(self) -> int: ...
    @property
    def success_ratio(self) -> float: ...
    @property
    def fluidity_p50(self) -> float | None: ...
    @property
    def fluidity_p01(self) -> float | None: ...
    @property
    def fluid_ratio(self) -> float | None: ...
    @property
    def deadline_slo_met(self) -> bool | None: ...
    @property
    def fluent_token_rate(self) -> float | None: ...
    @property
    def tpot_token_rate(self) -> float | None: ...
    @property
    def quantiles(self) -> Mapping[str, Sequence[float | None]]:
        """Catalogue metric name → exact percentiles at its `window_quantiles` (seconds)."""
        ...


@dataclass(frozen=True, slots=True)
class WindowSnapshot:
    taken_at: float | None = None
    """Unix time the snapshot was built; None before the first refresh."""
    rows: Sequence[WindowRow] = field(default_factory=tuple)


def _labels(row: WindowRow) -> list[str]:
    return [
        row.target,
        row.provider,
        row.model,
        row.region,
        workload_label(row.workload),
        row.window,
    ]


class _Family:
    """A gauge family filled from one attribute of each row; None values are left out."""

    def __init__(self, name: str, doc: str, value: Callable[[WindowRow], float | None]) -> None:
        self.name, self.doc, self.value = name, doc, value

    def build(self, rows: Sequence[WindowRow]) -> GaugeMetricFamily:
        g = GaugeMetricFamily(self.name, self.doc, labels=WINDOW_LABELS)
        for row in rows:
            v = self.value(row)
            if v is not None:
                g.add_metric(_labels(row), float(v))
        return g


def _slo(row: WindowRow) -> float | None:
    return None if row.deadline_slo_met is None else float(row.deadline_slo_met)


_GAUGES = (
    _Family("etalon_window_probes", "Probes in the window (all outcomes).", lambda r: r.probes),
    _Family(
        "etalon_window_probe_success_ratio",
        "Share of ok probes in the window.",
        lambda r: r.success_ratio,
    ),
    _Family(
        "etalon_window_fluid_ratio",
        "Share of ok probes with fluidity-index >= 0.9.",
        lambda r: r.fluid_ratio,
    ),
    _Family(
        "etalon_window_deadline_slo_met",
        "1 when Q0.99(per-probe miss rate) <= 0.1, else 0.",
        _slo,
    ),
    _Family(
        "etalon_window_fluent_token_rate",
        "Fluent token generation rate, tokens/s: 1 / Q0.99(D*).",
        lambda r: r.fluent_token_rate,
    ),
    _Family(
        "etalon_window_tpot_token_rate",
        "TPOT-based token rate, tokens/s: 1 / mean(TPOT).",
        lambda r: r.tpot_token_rate,
    ),
)


def _quantiles(
    name: str,
    doc: str,
    rows: Sequence[WindowRow],
    points: Sequence[tuple[str, Callable[[WindowRow], float | None]]],
) -> Metric:
    m = Metric(name, doc, "summary")
    for row in rows:
        labels = dict(zip(WINDOW_LABELS, _labels(row), strict=True))
        for quantile, value in points:
            v = value(row)
            if v is not None:
                m.add_sample(name, {**labels, "quantile": quantile}, float(v))
    return m


def _point(name: str, i: int) -> Callable[[WindowRow], float | None]:
    def value(row: WindowRow) -> float | None:
        values = row.quantiles.get(name)
        return None if values is None else values[i]

    return value


class WindowCollector(Collector):
    def __init__(self, snapshot: Callable[[], WindowSnapshot]) -> None:
        self._snapshot = snapshot

    def describe(self) -> list[Metric]:
        # Registration must not call `collect()` (it would read a snapshot not built yet).
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        rows = snap.rows
        for family in _GAUGES:
            yield family.build(rows)
        yield _quantiles(
            "etalon_window_fluidity_index",
            "Per-probe fluidity-index; quantile 0.99 is the paper's P99 (the worst 1 %).",
            rows,
            (("0.5", lambda r: r.fluidity_p50), ("0.99", lambda r: r.fluidity_p01)),
        )
        for m in windowed():
            assert m.window_family is not None
            yield _quantiles(
                m.window_family,
                f"Exact percentiles over the window's ok probes. {m.help}",
                rows,
                [(f"{q:g}", _point(m.name, i)) for i, q in enumerate(m.window_quantiles)],
            )
        if snap.taken_at is not None:
            yield GaugeMetricFamily(
                "etalon_window_snapshot_timestamp_seconds",
                "When the window snapshot was taken.",
                value=snap.taken_at,
            )
