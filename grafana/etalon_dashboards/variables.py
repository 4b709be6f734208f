"""Template variables shared by the dashboards.

PromQL panels use them as regex matchers (`target=~"$target"`); SQL panels as quoted lists
(`target IN ($target)`), which is why multi-value variables used in SQL have no custom all-value.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import VariableRefresh, VariableSort

from etalon_dashboards.datasources import POSTGRES, PROMETHEUS


def _prom_query(name: str, label: str, query: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def provider() -> dashboard.QueryVariable:
    return (
        _prom_query("provider", "Provider", "label_values(etalon_target_info, provider)")
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def region() -> dashboard.QueryVariable:
    return (
        _prom_query("region", "Region", "label_values(etalon_target_info, region)")
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def targets() -> dashboard.QueryVariable:
    """Several targets (fleet view), filtered by provider and region."""
    return (
        _prom_query(
            "target",
            "Target",
            'label_values(etalon_target_info{provider=~"$provider", region=~"$region"}, target)',
        )
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def one_target() -> dashboard.QueryVariable:
    return _prom_query("target", "Target", "label_values(etalon_target_info, target)")


def workload() -> dashboard.QueryVariable:
    """Prompt-length profiles of the chosen target (`p256`, ...); used in PromQL and SQL."""
    return (
        _prom_query(
            "workload", "Workload", 'label_values(etalon_probes_total{target="$target"}, workload)'
        )
        .multi(True)
        .include_all(True)
    )


def sql_targets() -> dashboard.QueryVariable:
    """Targets known to the database (the SLA review reads only PostgreSQL)."""
    return (
        dashboard.QueryVariable("target")
        .label("Target")
        .datasource(POSTGRES)
        .query("SELECT DISTINCT name FROM targets ORDER BY 1")
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(True)
        .include_all(True)
    )


def probe_id() -> dashboard.TextBoxVariable:
    return dashboard.TextBoxVariable("probe_id").label("Probe id")
