"""Every PromQL expression of every dashboard parses (real promtool) and reads only metrics of the
contract (docs/prometheus-metrics.md) or recording rules defined in prometheus/rules/."""

from __future__ import annotations

from pathlib import Path

from tests.integration.prometheus.promql_lint import metric_names, parse_errors, unknown_metrics
from tests.unit.grafana.dashboard_files import (
    concrete_promql,
    label_values_selector,
    promql_queries,
    variable_queries,
)


def _all_exprs() -> list[str]:
    panel_exprs = [concrete_promql(q.text) for q in promql_queries()]
    var_exprs = [
        concrete_promql(label_values_selector(q)) for _, q in variable_queries("prometheus")
    ]
    return panel_exprs + var_exprs


def test_dashboards_have_promql_panels_and_variables() -> None:
    assert len(promql_queries()) >= 30
    assert len(variable_queries("prometheus")) >= 4


def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    assert parse_errors(_all_exprs(), tmp_path) == ""


def test_the_parse_check_would_catch_a_broken_panel(tmp_path: Path) -> None:
    broken = _all_exprs()[0].replace(")", "", 1)
    assert parse_errors([broken], tmp_path) != ""


def test_dashboards_read_only_contract_metrics_and_recording_rules() -> None:
    assert unknown_metrics(_all_exprs()) == {}


def test_the_dashboards_use_the_slo_recording_rules() -> None:
    names = set().union(*(metric_names(e) for e in _all_exprs()))
    assert "target:etalon_deadline_slo:burn_rate6h" in names
    assert "target_workload:etalon_fluid:ratio6h" in names
