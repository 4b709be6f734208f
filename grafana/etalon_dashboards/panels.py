"""Panel factories with the defaults every etalon dashboard uses (pinned datasource, units)."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import (
    barchart,
    dashboard,
    heatmap,
    prometheus,
    stat,
    table,
    timeseries,
    xychart,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef, DynamicConfigValue
from grafana_foundation_sdk.models.xychart import SeriesMapping

from etalon_dashboards.datasources import POSTGRES, PROMETHEUS
from etalon_dashboards.links import probe_id_links

Query = cogbuilder.Builder[cogvariants.Dataquery]


def _datasource(queries: Sequence[Query]) -> DataSourceRef:
    return PROMETHEUS if all(isinstance(q, prometheus.Dataquery) for q in queries) else POSTGRES


def time_series(
    title: str,
    queries: Sequence[Query],
    *,
    unit: str,
    description: str = "",
    span: int = 12,
    height: int = 8,
    min_value: float | None = None,
    max_value: float | None = None,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource(queries))
        .targets(list(queries))
        .unit(unit)
        .span(span)
        .height(height)
    )
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    return panel


def stat_panel(
    title: str, queries: Sequence[Query], *, unit: str, description: str = "", span: int = 6
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource(queries))
        .targets(list(queries))
        .unit(unit)
        .span(span)
        .height(5)
    )


def table_panel(
    title: str,
    queries: Sequence[Query],
    *,
    description: str = "",
    span: int = 24,
    height: int = 8,
    units: dict[str, str] | None = None,
) -> table.Panel:
    """A table; a `probe_id` column, when present, links to the probe-trace dashboard."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource(queries))
        .targets(list(queries))
        .span(span)
        .height(height)
        .override_by_name("probe_id", probe_id_links())
    )
    for column, unit in (units or {}).items():
        panel = panel.override_by_name(column, [DynamicConfigValue(id_val="unit", value=unit)])
    return panel


def heatmap_panel(
    title: str,
    queries: Sequence[Query],
    *,
    unit: str,
    description: str = "",
    interval: str = "",
    span: int = 12,
) -> heatmap.Panel:
    """A heatmap of pre-bucketed data (Prometheus histogram buckets or one SQL column per row)."""
    panel = (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource(queries))
        .targets(list(queries))
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit(unit))
        .span(span)
        .height(8)
    )
    if interval:
        panel = panel.interval(interval)
    return panel


def xy_panel(
    title: str, queries: Sequence[Query], *, unit: str, description: str = "", span: int = 12
) -> xychart.Panel:
    """X/Y plot; with auto mapping the first numeric column is x, the others are series."""
    return (
        xychart.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource(queries))
        .targets(list(queries))
        .mapping(SeriesMapping.AUTO)
        .unit(unit)
        .span(span)
        .height(10)
    )


def bar_panel(
    title: str,
    queries: Sequence[Query],
    *,
    x_field: str,
    unit: str,
    description: str = "",
    span: int = 12,
) -> barchart.Panel:
    """Bars per category of a table result (`x_field` names the category column)."""
    return (
        barchart.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource(queries))
        .targets(list(queries))
        .x_field(x_field)
        .unit(unit)
        .span(span)
        .height(8)
    )


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)
