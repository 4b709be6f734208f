"""Which per-probe values are watched for changes, and which way is "worse" for each.

Each watched metric is declared once here: its name (the `metric` label and column value), how
its per-probe value is read from a stored probe's summary columns, which direction is a
degradation, and how its size is judged (`ratio` metrics by the ratio of medians, `share`
metrics, bounded in [0, 1], by the difference of means). A probe that failed has no latency or
fluidity value (it is left out of those series) but counts in `failure_rate` as 1.

TTFT is normalised for prompt length by the probe's prefill deadline `D_p(P)` (the project's
model of how TTFT grows with prompt length, design/metrics.md): the value is the share of its
prefill deadline the probe used, so probes of slightly different prompt lengths compare fairly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from monitor.metrics.catalogue import FIXED_TIERS_MS


class Scale(StrEnum):
    RATIO = "ratio"
    """Positive, unbounded (times): effect = median after / median before - 1."""
    SHARE = "share"
    """Bounded in [0, 1] (fractions): effect = mean after - mean before."""


Row = Mapping[str, Any]
"""A stored probe's columns (outcome and summary columns)."""


@dataclass(frozen=True, slots=True)
class WatchedMetric:
    name: str
    help: str
    higher_is_worse: bool
    scale: Scale
    value: Callable[[Row], float | None]
    unit: str = ""


def _ok(row: Row) -> bool:
    return bool(row["outcome"] == "ok" and row["output_tokens"])


def _column(name: str, factor: float = 1.0) -> Callable[[Row], float | None]:
    def read(row: Row) -> float | None:
        if not _ok(row):
            return None
        v = row[name]
        return None if v is None else float(v) * factor

    return read


def _ttft_norm(row: Row) -> float | None:
    if not _ok(row) or row["ttft_ns"] is None or not row["prefill_deadline_ns"]:
        return None
    return float(row["ttft_ns"]) / float(row["prefill_deadline_ns"])


def _failed(row: Row) -> float:
    return 0.0 if row["outcome"] == "ok" else 1.0


WATCHED: Final[tuple[WatchedMetric, ...]] = (
    WatchedMetric(
        "d_star",
        "D*, the smallest decode deadline the probe meets (1/D* is its fluent rate)",
        higher_is_worse=True,
        scale=Scale.RATIO,
        value=_column("min_decode_deadline_ns", 1e-9),
        unit="s",
    ),
    *(
        WatchedMetric(
            f"fluidity_{ms}ms",
            f"fluidity-index at the {ms} ms decode tier (with TTFT)",
            higher_is_worse=False,
            scale=Scale.SHARE,
            value=_column(f"fluidity_{ms}ms"),
        )
        for ms in FIXED_TIERS_MS
    ),
    WatchedMetric(
        "ttft_norm",
        "TTFT as a share of the probe's prefill deadline D_p(prompt length)",
        higher_is_worse=True,
        scale=Scale.RATIO,
        value=_ttft_norm,
    ),
    WatchedMetric(
        "tpot",
        "time per output token",
        higher_is_worse=True,
        scale=Scale.RATIO,
        value=_column("tpot_ns", 1e-9),
        unit="s",
    ),
    WatchedMetric(
        "failure_rate",
        "share of probes that did not end ok",
        higher_is_worse=True,
        scale=Scale.SHARE,
        value=_failed,
    ),
)
"""Every watched metric, in display order."""

BY_NAME: Final = {m.name: m for m in WATCHED}

ROW_COLUMNS: Final = (
    "outcome",
    "output_tokens",
    "min_decode_deadline_ns",
    "fluidity_25ms",
    "fluidity_50ms",
    "fluidity_100ms",
    "ttft_ns",
    "prefill_deadline_ns",
    "tpot_ns",
)
"""The probe columns the watched values are read from."""
