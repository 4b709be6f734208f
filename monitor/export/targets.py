"""Configured targets and their objectives, so alert rules compare against config, not constants.

Built from the `Settings` the daemon runs with; a target removed from config disappears from
`/metrics` after a restart (families are rebuilt per `collect()`).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.config import Settings, Target
from monitor.export.labels import workload_label
from monitor.metrics.prefill import DEFAULT_COEFFICIENTS, PrefillModel


def ttft_objective_s(target: Target, prompt_tokens: int) -> float:
    """The prefill deadline for a prompt length: fixed, else the target's (or default) model."""
    d = target.deadlines
    if d.prefill_s is not None:
        return d.prefill_s
    model = PrefillModel(
        coefficients=d.prefill_coefficients or DEFAULT_COEFFICIENTS, slack_s=d.prefill_slack_s
    )
    return model.seconds(prompt_tokens)


class TargetCollector(Collector):
    def __init__(self, settings: Settings, interval_s: float | None) -> None:
        self._settings = settings
        self._interval_s = interval_s

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        s = self._settings
        info = GaugeMetricFamily(
            "etalon_target_info",
            "Configured targets (value 1).",
            labels=("target", "provider", "model", "region", "api"),
        )
        fluid = GaugeMetricFamily(
            "etalon_target_slo_fluid_ratio",
            "Objective: share of probes that must be fluid.",
            labels=("target", "region"),
        )
        ttft = GaugeMetricFamily(
            "etalon_target_slo_ttft_seconds",
            "TTFT objective per workload (the prefill deadline).",
            labels=("target", "region", "workload"),
        )
        interval = GaugeMetricFamily(
            "etalon_target_probe_interval_seconds",
            "Configured round interval.",
            labels=("target", "region"),
        )
        for name, target in sorted(s.targets.items()):
            if not target.enabled:
                continue
            region = s.target_region(name)
            info.add_metric([name, target.provider, target.model, region, target.resolved_api], 1.0)
            fluid.add_metric([name, region], target.slo.fluid_ratio)
            for p in target.workloads.prompt_tokens:
                ttft.add_metric([name, region, workload_label(p)], ttft_objective_s(target, p))
            if self._interval_s is not None:
                interval.add_metric([name, region], self._interval_s)
        yield from (info, fluid, ttft, interval)
