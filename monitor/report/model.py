"""The report as data: every number any renderer shows, computed once.

Renderers (JSON, HTML, PDF) only format these records, so the JSON a machine reads and the HTML a
vendor manager reads cannot disagree. `to_json` gives plain JSON values (seconds, ratios 0-1,
tokens/s, US dollars); `None` is "undefined" (no data, no price), never zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.report.capacity import CapacitySection

FORMAT = "etalon-report/1"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        out: dict[str, Any] = {}
        for f in fields(value):
            if f.metadata.get("flatten"):
                out.update(_plain(getattr(value, f.name)))
            else:
                out[f.name] = _plain(getattr(value, f.name))
        return out
    return value


def to_plain(record: Any) -> Any:
    """A dataclass tree as JSON-ready dicts and lists (datetimes as ISO-8601 UTC with `Z`)."""
    return _plain(record)


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float | None
    p90: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class BoxStats:
    """TTFT at one prompt length: the box is p25-p75, whiskers p5-p95 (seconds)."""

    prompt_tokens: int
    probes: int
    p5: float | None
    p25: float | None
    p50: float | None
    p75: float | None
    p90: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class Cost:
    """Cost from the configured price per 1M input and output tokens (US dollars)."""

    input_per_1m: float
    output_per_1m: float
    input_tokens: int
    output_tokens: int
    total: float
    per_1m_tokens: float | None
    """Total cost over all billed tokens (input + output), per million."""
    per_1m_output_tokens: float | None
    per_fluid_response: float | None
    """Total cost divided by the number of fluid responses: what one good answer costs."""


@dataclass(frozen=True, slots=True)
class ErrorCount:
    error: str
    count: int


@dataclass(frozen=True, slots=True)
class CurvePoint:
    decode_deadline_ms: int
    p99_fluidity_index: float


@dataclass(frozen=True, slots=True)
class Cdf:
    """An empirical CDF as quantiles: `values_s[i]` is the `probabilities[i]` quantile."""

    samples: int
    probabilities: tuple[float, ...]
    values_s: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class HourStats:
    """Probes started in one UTC hour of the day, over the whole window."""

    hour: int
    probes: int
    ok: int
    share_fluid: float | None
    p99_request_miss_rate: float | None
    deadline_slo_met: bool | None


@dataclass(frozen=True, slots=True)
class StallPositions:
    """Where late tokens fall in a response (decode-only walk at the judged decode deadline).

    `bins[i]` counts stalls whose first late token sits in the i-th tenth of the response;
    `missed[i]` the deadlines they missed.
    """

    requests: int
    stalled_requests: int
    stalls: int
    late_first_token: int
    """Responses whose first token came after the prefill deadline."""
    bins: tuple[int, ...]
    missed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RoundCompliance:
    """Deadline-SLO compliance over the cycle: rounds in which the SLO held.

    A round with no successful probe is not judged (it is an incident of its own).
    """

    rounds: int
    judged: int
    slo_met: int
    share: float | None


@dataclass(frozen=True, slots=True)
class TargetReport:
    target: str
    providers: tuple[str, ...]
    models: tuple[str, ...]
    regions: tuple[str, ...]
    probes: int
    ok: int
    failed: int
    failures_by_outcome: dict[str, int]
    top_errors: tuple[ErrorCount, ...]
    share_fluid: float | None
    deadline_slo_met: bool | None
    service_miss_rate: float | None
    p99_request_miss_rate: float | None
    round_compliance: RoundCompliance
    fluent_token_rate: float | None
    tpot_rate: float | None
    tail_tbt_rate: float | None
    latency: dict[str, float | None] = field(metadata={"flatten": True})
    """Catalogue latencies (`monitor.metrics.catalogue.reported`), flat keys such as `ttft_p50_s`
    and `ttfat_p90_s`: in JSON they sit beside the other per-target keys."""
    tbt_s: Percentiles
    decode_deadlines_s: tuple[float, ...]
    prefill_deadline_range_s: tuple[float, float] | None
    ttft_by_prompt: tuple[BoxStats, ...]
    cost: Cost | None
    fluidity_curve: tuple[CurvePoint, ...]
    tbt_cdf: Cdf
    inter_chunk_cdf: Cdf
    by_hour: tuple[HourStats, ...]
    stalls: StallPositions


@dataclass(frozen=True, slots=True)
class Comparison:
    """`a - b` of one metric with its bootstrap 95 % confidence interval."""

    metric: str
    a: str
    b: str
    value_a: float | None
    value_b: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    significant: bool | None
    """The interval excludes zero; None when either side has too little data."""
    better: str | None
    """The target the significant difference favours."""
    statement: str


@dataclass(frozen=True, slots=True)
class WorstProbe:
    probe_id: str
    started_at: datetime | None
    outcome: str
    fluidity_index: float | None
    ttft_s: float | None
    error: str | None
    excerpt: str | None
    """The first characters of the output: vendor text, shown escaped."""


@dataclass(frozen=True, slots=True)
class Incident:
    """A round (or UTC hour when rounds are unknown) in which a target broke the deadline SLO."""

    target: str
    window: str
    started_at: datetime | None
    ended_at: datetime | None
    probes: int
    ok: int
    share_fluid: float | None
    p99_request_miss_rate: float | None
    reason: str
    worst_probes: tuple[WorstProbe, ...]


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """A change found in a per-probe series (docs/change-detection.md): when, which way, how much.

    `before`/`after` are medians (times, in the metric's unit) or means (shares) with ~95 %
    intervals; `at` is the first probe after the change, `detected_at` the probe revealing it.
    """

    target: str
    workload: int
    metric: str
    direction: str
    at: datetime
    detected_at: datetime
    before: float
    before_low: float
    before_high: float
    after: float
    after_low: float
    after_high: float
    n_before: int
    n_after: int
    p_value: float | None


@dataclass(frozen=True, slots=True)
class Definition:
    term: str
    text: str


@dataclass(frozen=True, slots=True)
class Completeness:
    target: str
    probes: int
    ok: int
    rounds: int
    expected_probes: int | None
    completeness: float | None
    """probes / expected_probes, when the schedule's workload is known."""
    first_probe: datetime | None
    last_probe: datetime | None
    prompt_lengths: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Methodology:
    tool_version: str
    definitions: tuple[Definition, ...]
    completeness: tuple[Completeness, ...]
    bootstrap_resamples: int
    bootstrap_seed: int


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime | None
    until: datetime | None
    cycle: str | None
    source: str


@dataclass(frozen=True, slots=True)
class Report:
    format: str
    title: str
    generated_at: datetime
    window: Window
    targets: tuple[TargetReport, ...]
    comparisons: tuple[Comparison, ...]
    incidents: tuple[Incident, ...]
    methodology: Methodology
    changes: tuple[ChangeEntry, ...] = ()
    """Changes found in the window's per-probe series, oldest first."""
    capacity: CapacitySection | None = None
    """Stored prefill profiles and capacity searches in the window (`monitor.report.capacity`)."""

    def to_json(self) -> dict[str, Any]:
        plain: dict[str, Any] = to_plain(self)
        return plain
