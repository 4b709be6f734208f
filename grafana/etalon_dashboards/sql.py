"""SQL of the PostgreSQL panels, against the `probes` table of `monitor/store/schema.py`.

Conventions: `workload` is stored as the prompt length (integer) and shown as `p<tokens>` like the
Prometheus label; `$__timeFilter(col)` is Grafana's time-range macro; `$target`, `$workload` are
multi-value variables that Grafana expands to quoted lists; `$probe_id` is a text box. Scored
values only count `ok` probes, like `analyze` and the exporter's rolling windows.
"""

from __future__ import annotations

from typing import Final

SLA_WINDOWS: Final = (("24 h", "24 hours"), ("7 d", "7 days"), ("30 d", "30 days"))

_WORKLOAD = "'p' || p.workload"
_SCORED = "p.outcome = 'ok' AND p.output_tokens > 0"
"""The failed-probe rule (docs/metrics.md): fluidity is judged over scored probes only. Failed
probes have NULL scores since definitions version 2; the filter also ignores older rows' scores."""


def sla_summary(interval: str) -> str:
    """Exact percentiles and deadline-SLO compliance per target and workload over a fixed window.

    `fluidity P99` is the paper's P99: the 1st percentile of the per-probe index. The deadline SLO
    holds when the 99th percentile of the per-probe miss rate is at most 10 %.
    """
    return f"""
SELECT p.target AS "target",
  {_WORKLOAD} AS "workload",
  count(*) AS "probes",
  count(*) FILTER (WHERE p.outcome = 'ok') AS "ok",
  avg((p.outcome = 'ok')::int) AS "success",
  avg(p.fluid::int) FILTER (WHERE {_SCORED}) AS "fluid share",
  percentile_cont(0.01) WITHIN GROUP (ORDER BY p.fluidity_index)
    FILTER (WHERE {_SCORED}) AS "fluidity P99",
  percentile_cont(0.99) WITHIN GROUP (ORDER BY 1.0 - p.fluidity_index)
    FILTER (WHERE {_SCORED}) AS "miss rate Q99",
  percentile_cont(0.99) WITHIN GROUP (ORDER BY 1.0 - p.fluidity_index)
    FILTER (WHERE {_SCORED}) <= 0.1 AS "deadline SLO met",
  percentile_cont(0.5) WITHIN GROUP (ORDER BY p.ttft_ns)
    FILTER (WHERE p.outcome = 'ok' AND p.output_tokens > 0) / 1e9 AS "TTFT p50",
  percentile_cont(0.9) WITHIN GROUP (ORDER BY p.ttft_ns)
    FILTER (WHERE p.outcome = 'ok' AND p.output_tokens > 0) / 1e9 AS "TTFT p90",
  percentile_cont(0.99) WITHIN GROUP (ORDER BY p.ttft_ns)
    FILTER (WHERE p.outcome = 'ok' AND p.output_tokens > 0) / 1e9 AS "TTFT p99"
FROM probes p
WHERE p.started_at >= now() - interval '{interval}' AND p.target IN ($target)
GROUP BY p.target, p.workload
ORDER BY p.target, p.workload
"""


DAILY_FLUID_SHARE: Final = f"""
SELECT date_trunc('day', p.started_at) AS "time",
  p.target AS "metric",
  avg(p.fluid::int) AS "value"
FROM probes p
WHERE $__timeFilter(p.started_at) AND {_SCORED} AND p.target IN ($target)
GROUP BY 1, 2
ORDER BY 1
"""

FAILURES_BY_OUTCOME: Final = """
SELECT p.target AS "target",
  p.outcome AS "outcome",
  count(*) AS "probes",
  max(p.started_at) AS "last seen",
  (array_agg(p.probe_id ORDER BY p.started_at DESC))[1] AS "probe_id"
FROM probes p
WHERE $__timeFilter(p.started_at) AND p.outcome <> 'ok' AND p.target IN ($target)
GROUP BY p.target, p.outcome
ORDER BY 3 DESC
"""

FAILURES_OVER_TIME: Final = """
SELECT date_trunc('hour', p.started_at) AS "time",
  p.outcome AS "metric",
  count(*) AS "value"
FROM probes p
WHERE $__timeFilter(p.started_at) AND p.outcome <> 'ok' AND p.target IN ($target)
GROUP BY 1, 2
ORDER BY 1
"""

WORST_PROBES: Final = f"""
SELECT p.probe_id AS "probe_id",
  p.started_at AS "started",
  p.target AS "target",
  {_WORKLOAD} AS "workload",
  p.fluidity_index AS "fluidity-index",
  p.missed_deadlines AS "missed",
  p.ttft_ns / 1e9 AS "TTFT"
FROM probes p
WHERE $__timeFilter(p.started_at) AND {_SCORED} AND p.target IN ($target)
ORDER BY p.fluidity_index, p.started_at DESC
LIMIT 20
"""

# --- target drill-down (single $target, multi $workload) -------------------------------------

_ONE_TARGET = f"p.target = '$target' AND {_WORKLOAD} IN ($workload)"

TOKENS_PER_CHUNK: Final = f"""
SELECT date_trunc('hour', p.started_at) AS "time",
  {_WORKLOAD} AS "metric",
  avg(p.tokens_per_chunk) AS "value"
FROM probes p
WHERE $__timeFilter(p.started_at) AND p.outcome = 'ok' AND {_ONE_TARGET}
GROUP BY 1, 2
ORDER BY 1
"""

STALLS_BY_POSITION: Final = f"""
WITH chunks AS (
  SELECT c.i, cardinality(p.chunk_t_ns) AS n, c.tokens, p.decode_deadline_ns,
    c.t - lag(c.t) OVER (PARTITION BY p.probe_id, p.started_at ORDER BY c.i) AS gap_ns
  FROM probes p,
    unnest(p.chunk_t_ns, p.chunk_tokens) WITH ORDINALITY AS c(t, tokens, i)
  WHERE $__timeFilter(p.started_at) AND p.outcome = 'ok' AND {_ONE_TARGET}
    AND coalesce(p.chunk_kinds[c.i], 0) = 0
)
SELECT (width_bucket(i::float8 / n, 0, 1.000001, 10) * 10)::text || ' %' AS "position",
  count(*) FILTER (WHERE gap_ns > decode_deadline_ns * tokens) AS "stalls",
  count(*) AS "chunks"
FROM chunks
WHERE gap_ns IS NOT NULL
GROUP BY width_bucket(i::float8 / n, 0, 1.000001, 10)
ORDER BY width_bucket(i::float8 / n, 0, 1.000001, 10)
"""
"""A stall: a chunk that took longer than the decode deadline times the tokens it carried."""


def hour_of_day_fluidity() -> str:
    """Mean fluidity-index per day (x) and UTC hour (one column per hour: heatmap rows)."""
    hours = ",\n".join(
        f"  avg(p.fluidity_index) FILTER (WHERE extract(hour FROM p.started_at AT TIME ZONE 'UTC')"
        f' = {h}) AS "{h:02d}"'
        for h in range(24)
    )
    return f"""
SELECT date_trunc('day', p.started_at) AS "time",
{hours}
FROM probes p
WHERE $__timeFilter(p.started_at) AND {_SCORED} AND {_ONE_TARGET}
GROUP BY 1
ORDER BY 1
"""


TARGET_WORST_PROBES: Final = f"""
SELECT p.probe_id AS "probe_id",
  p.started_at AS "started",
  {_WORKLOAD} AS "workload",
  p.outcome AS "outcome",
  p.fluidity_index AS "fluidity-index",
  p.ttft_ns / 1e9 AS "TTFT",
  p.ttfat_ns / 1e9 AS "TTFAT"
FROM probes p
WHERE $__timeFilter(p.started_at) AND {_ONE_TARGET}
ORDER BY p.fluid IS NOT NULL, p.outcome = 'ok', p.fluidity_index, p.started_at DESC
LIMIT 20
"""

# --- probe trace (one $probe_id) ---------------------------------------------------------------

PROBE_SUMMARY: Final = f"""
SELECT p.probe_id AS "probe_id",
  p.started_at AS "started",
  p.target AS "target",
  p.provider AS "provider",
  p.model AS "model",
  p.region AS "region",
  {_WORKLOAD} AS "workload",
  p.outcome AS "outcome",
  p.http_status AS "HTTP",
  p.error AS "error",
  p.output_tokens AS "tokens",
  p.ttft_ns / 1e9 AS "TTFT",
  p.ttfat_ns / 1e9 AS "TTFAT",
  p.e2e_ns / 1e9 AS "E2E",
  p.fluidity_index AS "fluidity-index",
  p.fluid AS "fluid",
  p.missed_deadlines AS "missed",
  p.total_deadlines AS "deadlines",
  p.prefill_deadline_ns / 1e9 AS "prefill deadline",
  p.decode_deadline_ns / 1e9 AS "decode deadline",
  p.min_decode_deadline_ns / 1e9 AS "D*"
FROM probes p
WHERE p.probe_id = '$probe_id'
"""

_CONTENT_CHUNKS = """
  FROM probes p,
    unnest(p.chunk_t_ns, p.chunk_tokens) WITH ORDINALITY AS c(t, tokens, i)
  WHERE p.probe_id = '$probe_id' AND coalesce(p.chunk_kinds[c.i], 0) = 0
"""

TOKEN_TIMELINE: Final = f"""
WITH chunks AS (
  SELECT c.i, c.t, p.prefill_deadline_ns, p.decode_deadline_ns,
    sum(c.tokens) OVER (ORDER BY c.i) AS received
  {_CONTENT_CHUNKS.strip()}
)
SELECT received AS "tokens received",
  t / 1e9 AS "arrival",
  (prefill_deadline_ns + (received - 1) * decode_deadline_ns) / 1e9 AS "nominal deadline"
FROM chunks
ORDER BY i
"""
"""Tokens received (x) against arrival time and the nominal schedule D_p + (n - 1) * D_d (y).

The metric engine re-anchors the schedule at a late token; the nominal line shows where the
stream would have to be without that allowance."""

CHUNK_GAPS: Final = f"""
WITH chunks AS (
  SELECT row_number() OVER (ORDER BY c.i) AS k, c.t, c.tokens,
    p.prefill_deadline_ns, p.decode_deadline_ns,
    c.t - lag(c.t, 1, 0::bigint) OVER (ORDER BY c.i) AS gap_ns
  {_CONTENT_CHUNKS.strip()}
)
SELECT k AS "chunk",
  t / 1e9 AS "arrival",
  tokens AS "tokens",
  gap_ns / 1e9 AS "gap",
  CASE WHEN k = 1 THEN prefill_deadline_ns
    ELSE decode_deadline_ns * tokens END / 1e9 AS "allowance",
  gap_ns > CASE WHEN k = 1 THEN prefill_deadline_ns
    ELSE decode_deadline_ns * tokens END AS "late"
FROM chunks
ORDER BY k
"""
"""Every content chunk: its gap to the previous one (the first: TTFT) against its allowance
(prefill deadline for the first chunk, decode deadline times its tokens after that)."""
