"""Dashboard annotations read from PostgreSQL: the change points the daemon found.

Each change is drawn as a region from its change time (`at`, the first probe after it) to when it
was found (`detected_at`), red for `worse` and green for `better` (two annotation queries, since
one query has one colour), with the before/after estimates in the text. The SDK's annotation
target model only knows the built-in Grafana datasource, so the raw-SQL target is written here,
as `datasources.SqlQuery` does for panels.
"""

from __future__ import annotations

from typing import Any, Final

from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard

from etalon_dashboards.datasources import POSTGRES

WORSE_COLOR: Final = "red"
BETTER_COLOR: Final = "green"


def changes_sql(direction: str, where: str) -> str:
    """Grafana annotation columns: time, timeend, text, tags; `where` narrows the targets."""
    return f"""
SELECT c.at AS "time",
  c.detected_at AS "timeend",
  c.target || ' p' || c.workload || ': ' || c.metric || ' got ' || c.direction || ', '
    || round(c.before::numeric, 4) || ' [' || round(c.before_low::numeric, 4) || ', '
    || round(c.before_high::numeric, 4) || '] -> ' || round(c.after::numeric, 4) || ' ['
    || round(c.after_low::numeric, 4) || ', ' || round(c.after_high::numeric, 4) || ']'
    AS "text",
  'change,' || c.direction || ',' || c.metric || ',' || c.target AS "tags"
FROM change_points c
WHERE $__timeFilter(c.at) AND c.direction = '{direction}' AND {where}
ORDER BY 1
""".strip()


class _SqlAnnotationTarget(dashboard.AnnotationTarget):
    def __init__(self, raw_sql: str) -> None:
        super().__init__()
        self.raw_sql = raw_sql

    def to_json(self) -> dict[str, Any]:
        return {
            "editorMode": "code",
            "format": "table",
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": "Anno",
        }


class _Target(cogbuilder.Builder[dashboard.AnnotationTarget]):
    def __init__(self, raw_sql: str) -> None:
        self._target = _SqlAnnotationTarget(raw_sql)

    def build(self) -> dashboard.AnnotationTarget:
        return self._target


def change_annotations(where: str) -> list[cogbuilder.Builder[dashboard.AnnotationQuery]]:
    """The worse and better change annotations for targets matching `where` (SQL on `c`)."""
    out: list[cogbuilder.Builder[dashboard.AnnotationQuery]] = []
    for direction, color in (("worse", WORSE_COLOR), ("better", BETTER_COLOR)):
        out.append(
            dashboard_builder.AnnotationQuery()
            .name(f"Changes ({direction})")
            .datasource(POSTGRES)
            .enable(True)
            .icon_color(color)
            .target(_Target(changes_sql(direction, where)))
        )
    return out
