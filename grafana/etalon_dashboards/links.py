"""Dashboard UIDs and the links between dashboards (probe_id → probe trace)."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, DynamicConfigValue

FLEET_UID: Final = "etalon-fleet-overview"
TARGET_UID: Final = "etalon-target"
SLA_UID: Final = "etalon-sla-review"
TRACE_UID: Final = "etalon-probe-trace"
TAG: Final = "etalon"

PROBE_TRACE_URL: Final = f"/d/{TRACE_UID}/probe-trace?var-probe_id=${{__value.raw}}"
"""Opens one probe; `${__value.raw}` is the clicked cell (or exemplar label) value."""


def probe_id_links() -> list[DynamicConfigValue]:
    """Field-override properties that turn a `probe_id` column into a link to its trace."""
    return [
        DynamicConfigValue(
            id_val="links",
            value=[{"title": "Open probe trace", "url": PROBE_TRACE_URL, "targetBlank": False}],
        )
    ]


def etalon_dashboards() -> dashboard.DashboardLink:
    """The dropdown of all etalon dashboards, keeping time range and variables."""
    return (
        dashboard.DashboardLink("etalon dashboards")
        .type(DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
    )
