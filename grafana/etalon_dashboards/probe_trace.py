"""Probe trace: one probe's token timeline against its deadlines (opened by `probe_id`)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from etalon_dashboards import sql, variables
from etalon_dashboards.datasources import Sql
from etalon_dashboards.links import TAG, TARGET_UID, TRACE_UID, etalon_dashboards
from etalon_dashboards.panels import table_panel, xy_panel


def build() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("etalon: probe trace")
        .uid(TRACE_UID)
        .description("One probe, chunk by chunk. Reached from exemplars and tables via probe_id.")
        .tags([TAG])
        .timezone("utc")
        .time("now-30d", "now")
        .editable()
        .link(etalon_dashboards())
        .link(
            dashboard.DashboardLink("Target drill-down")
            .url(f"/d/{TARGET_UID}")
            .keep_time(True)
            .include_vars(False)
        )
        .with_variable(variables.probe_id())
        .with_panel(
            table_panel(
                "Probe",
                [Sql("A", sql.PROBE_SUMMARY)],
                height=5,
                units={
                    "TTFT": "s",
                    "E2E": "s",
                    "prefill deadline": "s",
                    "decode deadline": "s",
                    "D*": "s",
                    "fluidity-index": "percentunit",
                },
            )
        )
        .with_panel(
            xy_panel(
                "Token timeline against the deadlines",
                [Sql("A", sql.TOKEN_TIMELINE)],
                unit="s",
                description="x: tokens received; y: when they arrived and the nominal deadline"
                " D_p + (n - 1) D_d. Points above the deadline line are late (the metric engine"
                " re-anchors the schedule after a late token).",
                span=24,
            )
        )
        .with_panel(
            table_panel(
                "Chunks",
                [Sql("A", sql.CHUNK_GAPS)],
                description="Gap since the previous chunk (first: TTFT) against its allowance.",
                height=12,
                units={"arrival": "s", "gap": "s", "allowance": "s"},
            )
        )
    )
