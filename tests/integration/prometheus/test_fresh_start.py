"""Ratios stay within [0, 1] right after a daemon starts (real promtool, real exporter series).

`prometheus/tests/fresh_start_test.yml` is generated here (regenerate with
`python -m tests.integration.prometheus.test_fresh_start`); a test fails when the committed file
differs from what a fresh `ProbeMetrics` gives, and promtool runs it with the other rule tests.
The input series are not hand-written: they are what a fresh `ProbeMetrics` exposes after the
daemon's `declare`, then after each probe it observes (scored by the one scoring pass), sampled
once a minute as Prometheus would scrape them. Timeline (minutes): 0 start; 3 a non-fluid ok
probe; 6 a 429; 9 a fluid ok probe. Before the fix the fluidity histogram appeared only at its first
observation, so `increase()` missed that probe and the non-fluid share after a start exceeded 1
(2.33 in production, a burn rate of 232).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from monitor.export.probes import ProbeMetrics
from monitor.metrics.score import score_traces
from monitor.trace import Outcome, Trace
from tests.integration.prometheus.promql_lint import RULES_DIR, promtool
from tests.unit.export.conftest import probe_trace

MINUTES = 130
EXTRA = {"job": "etalon-monitor", "instance": "monitor:9464"}
SERIES_FAMILIES = (
    "etalon_probes_total",
    "etalon_nonfluid_probes_total",
    "etalon_fluidity_index_bucket",
    "etalon_fluidity_index_count",
    "etalon_time_to_first_token_seconds_bucket",
    "etalon_time_to_first_token_seconds_count",
)
"""The counters and histogram series the ratio rules read."""

# D_p 100 ms, D_d 25 ms: tokens at 90, 110, 160, 170 ms → 3 met, 1 missed → 0.75, not fluid
NONFLUID = probe_trace([(90, 1), (110, 1), (160, 1), (170, 1)], probe_id="p-slow")
LIMITED = probe_trace([], probe_id="p-429", outcome=Outcome.RATE_LIMITED)
FLUID = probe_trace([(90, 1), (110, 1), (130, 1), (150, 1)], probe_id="p-fine")
PROBES_AT = {3: NONFLUID, 6: LIMITED, 9: FLUID}

Key = tuple[str, tuple[tuple[str, str], ...]]


def _snapshot(registry: CollectorRegistry) -> dict[Key, float]:
    out = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name in SERIES_FAMILIES:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _series_text(key: Key) -> str:
    name, labels = key
    body = ",".join(f'{k}="{v}"' for k, v in (*labels, *EXTRA.items()))
    return f"{name}{{{body}}}"


def fresh_daemon_series() -> dict[Key, list[float]]:
    """Per series, its value at each minute (a series absent from a scrape would be missing)."""
    registry = CollectorRegistry()
    metrics = ProbeMetrics(registry)
    metrics.declare("sim-a", "simulator", "sim-fast", "lab", [256])
    observe: Callable[[Trace], None] = lambda t: metrics.observe(t, score_traces([t])[0])  # noqa: E731
    history: dict[Key, list[float]] = {}
    for minute in range(MINUTES):
        if minute in PROBES_AT:
            observe(PROBES_AT[minute])
        for key, value in _snapshot(registry).items():
            history.setdefault(key, [])
            assert len(history[key]) == minute, f"{key} appeared after the start"
            history[key].append(value)
    return history


def _values(values: list[float]) -> str:
    """promtool's notation, runs folded: `0x2 1` is 0, 0, 0, 1."""
    out: list[str] = []
    run = 0
    for i, v in enumerate(values):
        if i + 1 < len(values) and values[i + 1] == v:
            run += 1
            continue
        out.append(f"{v:g}x{run}" if run else f"{v:g}")
        run = 0
    return " ".join(out)


def _rule_test(history: dict[Key, list[float]]) -> dict[str, Any]:
    labels = 'target="sim-a",provider="simulator",model="sim-fast",region="lab"'
    series = [{"series": _series_text(k), "values": _values(v)} for k, v in history.items()]
    series.append(
        {
            "series": f'etalon_target_slo_fluid_ratio{{target="sim-a",region="lab",{_extra()}}}',
            "values": _values([0.99] * MINUTES),
        }
    )

    def at(minute: int, expr: str, value: float, with_labels: str = labels) -> dict[str, Any]:
        if ":" in expr and " " not in expr:  # a recorded series keeps its name
            with_labels = f'__name__="{expr}",{with_labels}'
        return {
            "expr": expr,
            "eval_time": f"{minute}m",
            "exp_samples": [{"labels": f"{{{with_labels}}}", "value": value}],
        }

    bounded = (
        "(target:etalon_nonfluid_probes:ratio2h >= bool 0)"
        " * (target:etalon_nonfluid_probes:ratio2h <= bool 1)"
        " * on (target, region) group_left () (target:etalon_deadline_slo:burn_rate2h <= bool 100)"
    )
    workload = f'{labels},workload="p256"'
    return {
        "rule_files": [f"../rules/{p.name}" for p in sorted(RULES_DIR.glob("*.yml"))],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    # right after the first (non-fluid) probe: 1 of 1, not 2 of 1
                    at(4, "target:etalon_nonfluid_probes:ratio2h", 1),
                    at(4, bounded, 1),
                    at(4, "target_workload:etalon_fluid:ratio6h", 0, workload),
                    # the 429 changes neither side of the ratio: a failure is not scored
                    at(7, "target:etalon_nonfluid_probes:ratio2h", 1),
                    at(7, "target_workload:etalon_probe_success:ratio6h", 0.5, workload),
                    # then a fluid probe: 1 of 2
                    at(10, "target:etalon_nonfluid_probes:ratio2h", 0.5),
                    at(10, bounded, 1),
                    at(10, "target_workload:etalon_fluid:ratio6h", 0.5, workload),
                    # the TTFT quantile rule sees the first probe too (two ok probes, both in
                    # the 0.1 s bucket: p90 interpolates to 0.05 + 0.9 * 0.05)
                    at(
                        10,
                        "target_workload:etalon_time_to_first_token_seconds:p90_6h",
                        0.095,
                        workload,
                    ),
                ],
            }
        ],
    }


def _extra() -> str:
    return ",".join(f'{k}="{v}"' for k, v in EXTRA.items())


def test_every_ratio_series_exists_from_the_start() -> None:
    history = fresh_daemon_series()
    names = {name for name, _ in history}
    assert names == set(SERIES_FAMILIES)
    assert all(values[0] == 0 for values in history.values())


HEADER = """\
# GENERATED by tests/integration/prometheus/test_fresh_start.py from a fresh daemon's real series
# (python -m tests.integration.prometheus.test_fresh_start); do not edit by hand.
# Minute 0: the daemon starts and declares its series at zero; 3: a non-fluid ok probe; 6: a 429;
# 9: a fluid ok probe. The non-fluid ratio and the burn rate stay in bounds from the first probe.
"""
COMMITTED = RULES_DIR.parent / "tests" / "fresh_start_test.yml"


def render() -> str:
    return HEADER + yaml.safe_dump(_rule_test(fresh_daemon_series()), sort_keys=False, width=200)


def test_committed_rule_test_is_what_a_fresh_daemon_exposes() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render()


def test_ratios_stay_within_bounds_right_after_a_start() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", str(COMMITTED)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


if __name__ == "__main__":
    COMMITTED.write_text(render(), encoding="utf-8")
