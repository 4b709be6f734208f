"""Pinned datasource references and query builders.

Every panel and every query names its datasource by a fixed UID that
`grafana/provisioning/datasources/etalon.yaml` provisions, so the dashboards work as soon as
Grafana starts, with no import step and no `${DS_...}` placeholders.
"""

from __future__ import annotations

from typing import Any, Final

from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

PROMETHEUS_UID: Final = "etalon-prometheus"
POSTGRES_UID: Final = "etalon-postgres"
POSTGRES_TYPE: Final = "grafana-postgresql-datasource"

PROMETHEUS: Final = DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)
POSTGRES: Final = DataSourceRef(type_val=POSTGRES_TYPE, uid=POSTGRES_UID)


def promql(
    ref_id: str,
    expr: str,
    legend: str = "",
    *,
    instant: bool = False,
    heatmap: bool = False,
    exemplar: bool = False,
) -> prometheus.Dataquery:
    """A PromQL target on the pinned Prometheus datasource."""
    query = prometheus.Dataquery().ref_id(ref_id).expr(expr).datasource(PROMETHEUS)
    if legend:
        query = query.legend_format(legend)
    query = query.instant().format(PromQueryFormat.TABLE) if instant else query.range()
    if heatmap:
        query = query.format(PromQueryFormat.HEATMAP)
    if exemplar:
        query = query.exemplar(True)
    return query


class SqlQuery(cogvariants.Dataquery):
    """A raw-SQL target of Grafana's PostgreSQL datasource (the SDK ships no model for it)."""

    def __init__(self, ref_id: str, raw_sql: str, fmt: str) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.fmt = fmt

    def to_json(self) -> dict[str, Any]:
        return {
            "datasource": POSTGRES.to_json(),
            "editorMode": "code",
            "format": self.fmt,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class Sql(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder for `SqlQuery`; `fmt` is `table` or `time_series` (columns time, metric, value)."""

    def __init__(self, ref_id: str, raw_sql: str, fmt: str = "table") -> None:
        if fmt not in {"table", "time_series"}:
            raise ValueError(f"unknown SQL result format {fmt!r}")
        self._query = SqlQuery(ref_id, raw_sql.strip(), fmt)

    def build(self) -> cogvariants.Dataquery:
        return self._query
