"""The metric catalogue: one declaration per per-probe metric, and everything built from it.

Each `Metric` names a field of the `ScoreRecord` (and the `probes` column of the same name), its
unit and help text, and where it appears: a Prometheus histogram observed once per scored probe,
exact window percentiles (`etalon_window_*{quantile}`), per-target report percentiles (the JSON
report's `<report>_p<q>_s` keys, its JSON schema and the HTML table). The exporter's families, the
summary columns, the window query, the report fields and the JSON schema are all generated from this
tuple, so adding a metric is: its computation in `score.py`, one declaration here, a migration, docs
and tests (docs/metrics.md, "Adding a metric").

The rule for failed probes lives in `score.py`: every score of a probe that is not `ok` is `None`,
so no view built from this catalogue can count a failure as fluid or fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

METRIC_DEFINITIONS_VERSION: Final = 2
"""Bump when a summary column's definition changes; `db recompute` then re-derives old rows.

2: scores are NULL for failed probes; TTFT is the first token of any kind; TTFAT added."""

FIXED_TIERS_MS: Final = (25, 50, 100)
"""Decode deadlines every probe is scored at, whatever its target's tiers (comparable history)."""

Unit = Literal["version", "count", "tokens", "tokens/chunk", "ns", "ratio", "bool"]
SqlType = Literal["smallint", "integer", "bigint", "float", "boolean"]

TTFT_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)
TPOT_BUCKETS: Final = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.2)
E2E_BUCKETS: Final = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120)
FLUIDITY_BUCKETS: Final = (0.1, 0.25, 0.5, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 1)
D_STAR_BUCKETS: Final = (*TPOT_BUCKETS, 0.25, 0.5, 1)
LATENCY_QUANTILES: Final = (0.5, 0.9, 0.99)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    """The `ScoreRecord` field and `probes` column."""
    unit: Unit
    help: str
    sql: SqlType
    nullable: bool = True
    exported_as: str | None = None
    """Prometheus base name without `etalon_`: the histogram is `etalon_<exported_as>`, the window
    percentiles `etalon_window_<exported_as>`. None: not exported per probe."""
    buckets: tuple[float, ...] = ()
    """Histogram buckets (in exported units: seconds for `ns`); empty: no histogram."""
    exemplar: bool = False
    """Observations carry the probe id, so a slow bucket links to its stored row."""
    window_quantiles: tuple[float, ...] = ()
    """Exact percentiles over each rolling window's scored probes (`etalon_window_*`)."""
    report: str | None = None
    """Report key: per target `<report>_p<q>_s` for each of `report_quantiles`."""
    report_quantiles: tuple[float, ...] = ()
    label: str = ""
    """Short name for table headers and dashboards (`TTFT`)."""

    @property
    def histogram(self) -> str | None:
        return (
            None if self.exported_as is None or not self.buckets else f"etalon_{self.exported_as}"
        )

    @property
    def window_family(self) -> str | None:
        if self.exported_as is None or not self.window_quantiles:
            return None
        return f"etalon_window_{self.exported_as}"

    @property
    def scale(self) -> float:
        """Factor from the stored value to the exported one (ns to seconds)."""
        return 1e-9 if self.unit == "ns" else 1.0

    def report_fields(self) -> tuple[str, ...]:
        if self.report is None:
            return ()
        return tuple(percentile_key(self.report, q) for q in self.report_quantiles)


def percentile_key(report: str, q: float) -> str:
    """`ttft`, 0.9 → `ttft_p90_s` (the JSON report's flat keys)."""
    return f"{report}_p{round(q * 100)}_s"


def _tier(ms: int, decode_only: bool) -> Metric:
    variant = "decode-only" if decode_only else "with-TTFT"
    return Metric(
        f"fluidity_decode_{ms}ms" if decode_only else f"fluidity_{ms}ms",
        "ratio",
        f"{variant} fluidity-index at a fixed {ms} ms decode deadline (comparable history).",
        "float",
    )


CATALOGUE: Final[tuple[Metric, ...]] = (
    Metric("metrics_version", "version", "Definitions the row was scored with.", "smallint", False),
    Metric("output_tokens", "tokens", "Answer (content) tokens received.", "integer", False),
    Metric("content_chunks", "count", "Answer chunks that carried tokens.", "integer", False),
    Metric("tokens_per_chunk", "tokens/chunk", "Answer tokens per answer chunk.", "float"),
    Metric(
        "ttft_ns",
        "ns",
        "Time to first token: the first generated token of any kind (reasoning or answer).",
        "bigint",
        exported_as="time_to_first_token_seconds",
        buckets=TTFT_BUCKETS,
        exemplar=True,
        window_quantiles=LATENCY_QUANTILES,
        report="ttft",
        report_quantiles=LATENCY_QUANTILES,
        label="TTFT",
    ),
    Metric(
        "ttfat_ns",
        "ns",
        "Time to first answer token: the first non-reasoning token (TTFT when nothing reasons).",
        "bigint",
        exported_as="time_to_first_answer_token_seconds",
        buckets=TTFT_BUCKETS,
        exemplar=True,
        window_quantiles=LATENCY_QUANTILES,
        report="ttfat",
        report_quantiles=LATENCY_QUANTILES,
        label="TTFAT",
    ),
    Metric(
        "tpot_ns",
        "ns",
        "Time per output token: (last - first answer token) / (n - 1), n >= 2.",
        "float",
        exported_as="time_per_output_token_seconds",
        buckets=TPOT_BUCKETS,
    ),
    Metric(
        "e2e_ns",
        "ns",
        "Time to the last answer token.",
        "bigint",
        exported_as="end_to_end_seconds",
        buckets=E2E_BUCKETS,
        exemplar=True,
    ),
    Metric("prefill_deadline_ns", "ns", "Prefill deadline judged at.", "bigint", False),
    Metric("decode_deadline_ns", "ns", "Decode deadline judged at.", "bigint", False),
    Metric(
        "fluidity_index",
        "ratio",
        "With-TTFT fluidity-index at the target's first decode tier.",
        "float",
        exported_as="fluidity_index",
        buckets=FLUIDITY_BUCKETS,
        exemplar=True,
    ),
    Metric("fluidity_index_decode", "ratio", "Decode-only fluidity-index.", "float"),
    Metric("missed_deadlines", "count", "With-TTFT deadlines missed.", "integer"),
    Metric("total_deadlines", "count", "With-TTFT deadlines judged (met + missed).", "integer"),
    Metric("fluid", "bool", "With-TTFT miss rate <= 10 % (decided in integers).", "boolean"),
    *(_tier(ms, False) for ms in FIXED_TIERS_MS),
    *(_tier(ms, True) for ms in FIXED_TIERS_MS),
    Metric(
        "min_decode_deadline_ns",
        "ns",
        "Smallest decode deadline the probe would have met (D*).",
        "bigint",
        exported_as="min_decode_deadline_seconds",
        buckets=D_STAR_BUCKETS,
    ),
)

BY_NAME: Final = {m.name: m for m in CATALOGUE}
COLUMNS: Final = tuple(m.name for m in CATALOGUE)
"""The `probes` summary columns, in order."""


def histograms() -> Sequence[Metric]:
    return tuple(m for m in CATALOGUE if m.histogram is not None)


def windowed() -> Sequence[Metric]:
    return tuple(m for m in CATALOGUE if m.window_family is not None)


def reported() -> Sequence[Metric]:
    return tuple(m for m in CATALOGUE if m.report is not None)
