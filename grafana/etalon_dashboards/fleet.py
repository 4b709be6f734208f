"""Fleet overview: every target's fluidity, latency, token rates and probe health at a glance."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from etalon_dashboards import variables
from etalon_dashboards.datasources import promql
from etalon_dashboards.links import FLEET_UID, TAG, etalon_dashboards
from etalon_dashboards.panels import row, stat_panel, table_panel, time_series

SEL = 'target=~"$target", region=~"$region", provider=~"$provider"'
SEL_SLO = 'target=~"$target", region=~"$region"'


def build() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("etalon: fleet overview")
        .uid(FLEET_UID)
        .description("Fluidity, latency and probe health of every monitored LLM endpoint.")
        .tags([TAG])
        .timezone("utc")
        .time("now-7d", "now")
        .refresh("5m")
        .editable()
        .link(etalon_dashboards())
        .with_variable(variables.provider())
        .with_variable(variables.region())
        .with_variable(variables.targets())
        .with_row(row("Fluidity"))
        .with_panel(
            time_series(
                "Share of fluid probes (24 h window, exact)",
                [
                    promql(
                        "A",
                        f'min by (target) (etalon_window_fluid_ratio{{window="24h", {SEL}}})',
                        "{{target}}",
                    ),
                    promql(
                        "B",
                        f"max by (target) (etalon_target_slo_fluid_ratio{{{SEL_SLO}}})",
                        "{{target}} objective",
                    ),
                ],
                unit="percentunit",
                description="Worst workload per target: share of ok probes with a fluidity-index"
                " of at least 0.9 (store snapshot), and the target's objective.",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            time_series(
                "Fluidity-index P99 (worst 1 %, 24 h window)",
                [
                    promql(
                        "A",
                        "min by (target) (etalon_window_fluidity_index"
                        f'{{quantile="0.99", window="24h", {SEL}}})',
                        "{{target}} P99",
                    ),
                    promql(
                        "B",
                        "min by (target) (etalon_window_fluidity_index"
                        f'{{quantile="0.5", window="24h", {SEL}}})',
                        "{{target}} median",
                    ),
                ],
                unit="percentunit",
                description="The paper's P99 is the 1st percentile of the per-probe index; 0.9 is"
                " the fluid line.",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            time_series(
                "Share of fluid probes (6 h, Prometheus histograms)",
                [
                    promql(
                        "A",
                        f"min by (target) (target_workload:etalon_fluid:ratio6h{{{SEL}}})",
                        "{{target}}",
                    )
                ],
                unit="percentunit",
                description="From the fluidity-index histogram (bucket le=0.9): a probe at exactly"
                " 0.9 counts as not fluid here.",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            time_series(
                "Deadline-SLO error-budget burn rate",
                [
                    promql(
                        "A",
                        f"max by (target) (target:etalon_deadline_slo:burn_rate6h{{{SEL}}})",
                        "{{target}} 6 h",
                    ),
                    promql(
                        "B",
                        f"max by (target) (target:etalon_deadline_slo:burn_rate3d{{{SEL}}})",
                        "{{target}} 3 d",
                    ),
                ],
                unit="short",
                description="1 spends the error budget exactly over the SLO period; the fast-burn"
                " page fires above 6 on both 6 h and 2 h.",
                min_value=0,
            )
        )
        .with_row(row("Latency and token rates"))
        .with_panel(
            time_series(
                "TTFT p50 and p99 (6 h)",
                [
                    promql(
                        "A",
                        f"target_workload:etalon_time_to_first_token_seconds:p50_6h{{{SEL}}}",
                        "{{target}} {{workload}} p50",
                    ),
                    promql(
                        "B",
                        f"target_workload:etalon_time_to_first_token_seconds:p99_6h{{{SEL}}}",
                        "{{target}} {{workload}} p99",
                    ),
                ],
                unit="s",
            )
        )
        .with_panel(
            time_series(
                "Fluent token rate vs TPOT-based rate (24 h window)",
                [
                    promql(
                        "A",
                        f'etalon_window_fluent_token_rate{{window="24h", {SEL}}}',
                        "{{target}} {{workload}} fluent",
                    ),
                    promql(
                        "B",
                        f'etalon_window_tpot_token_rate{{window="24h", {SEL}}}',
                        "{{target}} {{workload}} 1/TPOT",
                    ),
                ],
                unit="short",
                description="Tokens per second. Fluent: 1/Q0.99(D*), the rate the stream keeps up"
                " for 99 % of probes; 1/mean(TPOT) is the usual, flattering average.",
                min_value=0,
            )
        )
        .with_row(row("Probe health"))
        .with_panel(
            time_series(
                "Probe success (6 h)",
                [
                    promql(
                        "A",
                        f"target_workload:etalon_probe_success:ratio6h{{{SEL}}}",
                        "{{target}} {{workload}}",
                    )
                ],
                unit="percentunit",
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            time_series(
                "Probes by outcome (6 h)",
                [
                    promql(
                        "A",
                        f"sum by (target, outcome) (increase(etalon_probes_total{{{SEL}}}[6h]))",
                        "{{target}} {{outcome}}",
                    )
                ],
                unit="short",
                min_value=0,
            )
        )
        .with_panel(
            table_panel(
                "Time since the last probe",
                [
                    promql(
                        "A",
                        "time() - max by (target, workload)"
                        f" (etalon_last_probe_timestamp_seconds{{{SEL}}})",
                        instant=True,
                    )
                ],
                span=12,
                units={"Value": "s"},
            )
        )
        .with_panel(
            table_panel(
                "Active alerts",
                [
                    promql(
                        "A",
                        'ALERTS{alertstate="firing", alertname=~"Etalon.*"}',
                        instant=True,
                    )
                ],
                span=12,
            )
        )
        .with_panel(
            stat_panel(
                "Daemons up",
                [promql("A", 'sum(up{job="etalon-monitor"})', "up")],
                unit="short",
            )
        )
        .with_panel(
            stat_panel(
                "Spooled traces",
                [promql("A", "sum(etalon_spool_depth)", "spool")],
                unit="short",
                description="Traces waiting for the database; should be 0.",
            )
        )
        .with_panel(
            stat_panel(
                "Scheduler lag",
                [promql("A", "max(etalon_scheduler_lag_seconds)", "lag")],
                unit="s",
            )
        )
        .with_panel(
            stat_panel(
                "Configured targets",
                [promql("A", f"count(etalon_target_info{{{SEL}}})", "targets")],
                unit="short",
            )
        )
    )
