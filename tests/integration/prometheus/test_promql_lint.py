"""The metric-name extractor and the promtool parse check must catch what they are meant to."""

from pathlib import Path

from tests.integration.prometheus.promql_lint import (
    contract_metric_names,
    metric_names,
    parse_errors,
    unknown_metrics,
)


def test_metric_names_skip_functions_labels_and_keywords() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, target) (increase(etalon_x_bucket{le="0.9",'
        'target=~"$target"}[6h]))) > on (target) group_left () max by (target) (etalon_slo)'
        " and etalon_y offset 1h unless ALERTS"
    )
    assert metric_names(expr) == {"etalon_x_bucket", "etalon_slo", "etalon_y", "ALERTS"}


def test_metric_names_include_recording_rule_names() -> None:
    assert metric_names("target:etalon_deadline_slo:burn_rate6h > 6") == {
        "target:etalon_deadline_slo:burn_rate6h"
    }


def test_contract_expands_histograms_and_keeps_counters() -> None:
    names = contract_metric_names()
    assert "etalon_time_to_first_token_seconds_bucket" in names
    assert "etalon_fluidity_index_count" in names
    assert "etalon_probes_total" in names
    assert "etalon_window_fluid_ratio" in names
    # A gauge has no _bucket series.
    assert "etalon_spool_depth_bucket" not in names


def test_unknown_metric_is_reported() -> None:
    assert unknown_metrics(["rate(etalon_made_up_total[1h])", "etalon_spool_depth"]) == {
        "rate(etalon_made_up_total[1h])": {"etalon_made_up_total"}
    }


def test_parse_errors_names_the_broken_expression(tmp_path: Path) -> None:
    assert parse_errors(["sum(etalon_spool_depth)"], tmp_path) == ""
    message = parse_errors(["sum(etalon_spool_depth"], tmp_path)
    assert "unclosed left parenthesis" in message
