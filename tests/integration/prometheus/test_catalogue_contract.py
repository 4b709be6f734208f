"""Every family the metric catalogue generates is in the exporter contract (and exported)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from monitor.export.probes import ProbeMetrics
from monitor.metrics.catalogue import histograms, windowed
from tests.integration.prometheus.promql_lint import contract_metric_names


def test_catalogue_families_are_in_the_contract_and_on_a_fresh_registry() -> None:
    contract = contract_metric_names()
    registry = CollectorRegistry()
    ProbeMetrics(registry).declare("t", "p", "m", "r", [256])
    exposed = {s.name for family in registry.collect() for s in family.samples}
    for metric in histograms():
        assert metric.histogram in contract, metric.name
        assert f"{metric.histogram}_count" in exposed, metric.name
    for metric in windowed():
        assert metric.window_family in contract, metric.name
