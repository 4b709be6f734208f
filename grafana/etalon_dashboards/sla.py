"""SLA review from PostgreSQL: exact percentiles and deadline-SLO compliance per target.

Everything here is computed from the stored probes, not from Prometheus histograms, so the
numbers are exact and reach back as far as the retention (default 400 days).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from etalon_dashboards import sql, variables
from etalon_dashboards.annotations import change_annotations
from etalon_dashboards.datasources import Sql
from etalon_dashboards.links import SLA_UID, TAG, etalon_dashboards
from etalon_dashboards.panels import row, table_panel, time_series

_UNITS = {
    "success": "percentunit",
    "fluid share": "percentunit",
    "fluidity P99": "percentunit",
    "miss rate Q99": "percentunit",
    "TTFT p50": "s",
    "TTFT p90": "s",
    "TTFT p99": "s",
}


def build() -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard("etalon: SLA review")
        .uid(SLA_UID)
        .description("Exact, database-backed SLA numbers per target: 24 h, 7 d and 30 d.")
        .tags([TAG])
        .timezone("utc")
        .time("now-30d", "now")
        .editable()
        .link(etalon_dashboards())
        .with_variable(variables.sql_targets())
        .annotations(change_annotations("c.target IN ($target)"))
    )
    for i, (label, interval) in enumerate(sql.SLA_WINDOWS):
        board = board.with_panel(
            table_panel(
                f"Last {label}: percentiles and deadline-SLO compliance",
                [Sql(chr(ord("A") + i), sql.sla_summary(interval))],
                description="Fixed window ending now (independent of the time picker). Deadline"
                " SLO met: the 99th percentile of the per-probe miss rate is at most 10 %.",
                units=_UNITS,
            )
        )
    return (
        board.with_row(row("Over the selected time range"))
        .with_panel(
            time_series(
                "Daily share of fluid probes",
                [Sql("A", sql.DAILY_FLUID_SHARE, "time_series")],
                unit="percentunit",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            time_series(
                "Failures per hour by outcome",
                [Sql("A", sql.FAILURES_OVER_TIME, "time_series")],
                unit="short",
                min_value=0,
            )
        )
        .with_panel(
            table_panel(
                "Failures by outcome",
                [Sql("A", sql.FAILURES_BY_OUTCOME)],
                description="probe_id is the latest failure of that kind; click it for the trace.",
                span=12,
            )
        )
        .with_panel(
            table_panel(
                "Least fluid ok probes",
                [Sql("A", sql.WORST_PROBES)],
                span=12,
                units={"TTFT": "s", "fluidity-index": "percentunit"},
            )
        )
    )
