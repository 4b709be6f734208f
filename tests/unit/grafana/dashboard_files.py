"""Read the generated dashboards and pull out their queries, for the lint and query tests.

Grafana variables are replaced by values a plain Prometheus or PostgreSQL accepts: regex matchers
on a variable match everything, `$target` in an exact matcher becomes a given target name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "grafana"
DASHBOARD_DIR = GRAFANA / "dashboards"
PINNED_UIDS = {
    "prometheus": "etalon-prometheus",
    "grafana-postgresql-datasource": "etalon-postgres",
}


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref_id: str
    datasource: dict[str, str]
    text: str
    fmt: str


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries() -> list[Query]:
    out = []
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                text = target.get("expr") or target.get("rawSql") or ""
                out.append(
                    Query(
                        dashboard=name,
                        panel=panel.get("title", ""),
                        ref_id=target.get("refId", ""),
                        datasource=target.get("datasource") or panel.get("datasource") or {},
                        text=text,
                        fmt=target.get("format", ""),
                    )
                )
    return out


def promql_queries() -> list[Query]:
    return [q for q in queries() if q.datasource.get("type") == "prometheus"]


def sql_queries() -> list[Query]:
    return [q for q in queries() if q.datasource.get("type") == "grafana-postgresql-datasource"]


def variable_queries(kind: str) -> list[tuple[str, str]]:
    """(dashboard, query) of the query variables on a datasource type."""
    out = []
    for name, board in dashboards().items():
        for var in board.get("templating", {}).get("list", []):
            if var.get("type") == "query" and var.get("datasource", {}).get("type") == kind:
                out.append((name, str(var["query"])))
    return out


_LABEL_VALUES = re.compile(r"^label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\)$")


def label_values_selector(query: str) -> str:
    """`label_values(sel, label)` → `sel`: the PromQL part of a Prometheus variable query."""
    match = _LABEL_VALUES.match(query.strip())
    if not match:
        raise ValueError(f"not a label_values() query: {query}")
    return match.group(1)


def concrete_promql(expr: str, target: str = "demo-fast", interval: str = "1h") -> str:
    """The expression Grafana would send with every variable at 'All' and `$target` = target."""
    text = re.sub(r'=~"\$[A-Za-z_]+"', '=~".*"', expr)
    text = text.replace('"$target"', f'"{target}"')
    text = text.replace("$__rate_interval", interval).replace("$__interval", interval)
    if "$" in text:
        raise ValueError(f"unsubstituted variable in {text}")
    return text
