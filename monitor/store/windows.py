"""Rolling-window summaries for the exporter: exact percentiles over the stored summary columns.

One query groups the probes of the last 7 days by (target, provider, model, region, workload) and
window; `percentile_cont` is the same linear interpolation as numpy's default quantile, so these
numbers equal what `monitor.metrics` computes over the same probes (docs/prometheus-metrics.md,
"Rolling windows"). Deadline metrics are over scored probes (ok, with an answer), latencies over
ok probes, as in `analyze`; the latency percentiles are the metric catalogue's windowed metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.metrics.catalogue import windowed
from monitor.metrics.slo import FLUID_MISS_RATE
from monitor.metrics.units import NS_PER_S

DEFAULT_WINDOWS: Final[Mapping[str, timedelta]] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """One (target, provider, model, region, workload, window) row of the exporter's snapshot.

    `workload` is the requested prompt length (None when the trace did not say). `None` values mean
    "no sample" (e.g. no ok probe in the window).
    """

    target: str
    provider: str
    model: str
    region: str
    workload: int | None
    window: str
    probes: int
    ok: int
    success_ratio: float
    fluidity_p50: float | None
    fluidity_p01: float | None
    """The 1st percentile of the per-probe index: the paper's "P99" (exported as quantile 0.99)."""
    fluid_ratio: float | None
    p99_miss_rate: float | None
    deadline_slo_met: bool | None
    fluent_token_rate: float | None
    """Tokens/s, 1 / Q0.99(D*) over ok probes that have a D*."""
    tpot_token_rate: float | None
    """Tokens/s, 1 / mean(TPOT) over ok probes with at least two tokens."""
    quantiles: Mapping[str, tuple[float | None, ...]]
    """Exact percentiles (seconds) of each windowed catalogue metric, by its name, at its
    `window_quantiles` (`monitor.metrics.catalogue.windowed`)."""


SCORED = "p.outcome = 'ok' AND p.output_tokens > 0"
"""The failed-probe rule in SQL: deadline metrics are over scored probes only (rows of an older
definitions version may still hold a score for an unscored probe; this filter ignores it)."""


def _catalogue_percentiles() -> str:
    parts = []
    for m in windowed():
        points = ", ".join(repr(float(q)) for q in m.window_quantiles)
        parts.append(
            f"percentile_cont(ARRAY[{points}]) WITHIN GROUP (ORDER BY p.{m.name})"
            f" FILTER (WHERE p.outcome = 'ok' AND p.{m.name} IS NOT NULL) AS q_{m.name}"
        )
    return "".join(f",\n      {part}" for part in parts)


_QUERY = text(
    f"""
    WITH w(name, span) AS (SELECT * FROM unnest(CAST(:names AS text[]), CAST(:spans AS interval[])))
    SELECT p.target, p.provider, p.model, p.region, p.workload, w.name AS window,
      count(*) AS probes,
      count(*) FILTER (WHERE p.outcome = 'ok') AS ok,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY p.fluidity_index)
        FILTER (WHERE {SCORED}) AS fluidity_p50,
      percentile_cont(0.01) WITHIN GROUP (ORDER BY p.fluidity_index)
        FILTER (WHERE {SCORED}) AS fluidity_p01,
      avg(p.fluid::int) FILTER (WHERE {SCORED}) AS fluid_ratio,
      percentile_cont(0.99) WITHIN GROUP (ORDER BY 1.0 - p.fluidity_index)
        FILTER (WHERE {SCORED}) AS p99_miss_rate,
      percentile_cont(0.99) WITHIN GROUP (ORDER BY p.min_decode_deadline_ns)
        FILTER (WHERE {SCORED} AND p.min_decode_deadline_ns > 0) AS d_star_p99_ns,
      avg(p.tpot_ns) FILTER (WHERE p.outcome = 'ok') AS tpot_mean_ns{_catalogue_percentiles()}
    FROM probes p JOIN w ON p.started_at >= CAST(:now AS timestamptz) - w.span
    WHERE p.started_at >= CAST(:oldest AS timestamptz) AND p.started_at < CAST(:now AS timestamptz)
    GROUP BY p.target, p.provider, p.model, p.region, p.workload, w.name
    ORDER BY p.target, p.region, p.workload, w.name
    """
)


def _inverse(ns: float | None) -> float | None:
    return NS_PER_S / ns if ns else None


def _seconds(values: list[float | None] | None, size: int) -> tuple[float | None, ...]:
    if values is None:
        return (None,) * size
    return tuple(None if v is None else v / NS_PER_S for v in values)


def _row(r: Mapping[Any, Any]) -> WindowSummary:
    p99_miss = r["p99_miss_rate"]
    return WindowSummary(
        target=r["target"],
        provider=r["provider"],
        model=r["model"],
        region=r["region"],
        workload=r["workload"],
        window=r["window"],
        probes=r["probes"],
        ok=r["ok"],
        success_ratio=r["ok"] / r["probes"],
        fluidity_p50=r["fluidity_p50"],
        fluidity_p01=r["fluidity_p01"],
        fluid_ratio=None if r["fluid_ratio"] is None else float(r["fluid_ratio"]),
        p99_miss_rate=p99_miss,
        deadline_slo_met=None if p99_miss is None else p99_miss <= FLUID_MISS_RATE,
        fluent_token_rate=_inverse(r["d_star_p99_ns"]),
        tpot_token_rate=_inverse(r["tpot_mean_ns"]),
        quantiles={m.name: _seconds(r[f"q_{m.name}"], len(m.window_quantiles)) for m in windowed()},
    )


async def window_summaries(
    engine: AsyncEngine, now: datetime, windows: Mapping[str, timedelta] = DEFAULT_WINDOWS
) -> list[WindowSummary]:
    """Summaries of the probes started in `[now - span, now)` for each named window."""
    if not windows:
        return []
    params = {
        "names": list(windows),
        "spans": list(windows.values()),
        "now": now,
        "oldest": now - max(windows.values()),
    }
    async with engine.connect() as conn:
        rows = (await conn.execute(_QUERY, params)).mappings().all()
    return [_row(r) for r in rows]
