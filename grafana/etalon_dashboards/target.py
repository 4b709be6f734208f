"""Target drill-down: one target's latency distributions, stalls and daily pattern."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from etalon_dashboards import sql, variables
from etalon_dashboards.annotations import change_annotations
from etalon_dashboards.datasources import Sql, promql
from etalon_dashboards.links import TAG, TARGET_UID, etalon_dashboards
from etalon_dashboards.panels import bar_panel, heatmap_panel, row, table_panel, time_series

SEL = 'target="$target", workload=~"$workload"'


def build() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("etalon: target drill-down")
        .uid(TARGET_UID)
        .description(
            "One target: TTFT and TTFAT by prompt length, gaps between chunks, stalls, daily"
            " pattern."
        )
        .tags([TAG])
        .timezone("utc")
        .time("now-7d", "now")
        .refresh("5m")
        .editable()
        .link(etalon_dashboards())
        .with_variable(variables.one_target())
        .with_variable(variables.workload())
        .annotations(
            change_annotations("c.target = '$target' AND ('p' || c.workload) IN ($workload)")
        )
        .with_row(row("Time to first token"))
        .with_panel(
            time_series(
                "TTFT by prompt length (6 h, exemplars open the probe)",
                [
                    promql(
                        "A",
                        "histogram_quantile(0.5, sum by (le, workload)"
                        f" (increase(etalon_time_to_first_token_seconds_bucket{{{SEL}}}[6h])))",
                        "{{workload}} p50",
                        exemplar=True,
                    ),
                    promql(
                        "B",
                        "histogram_quantile(0.9, sum by (le, workload)"
                        f" (increase(etalon_time_to_first_token_seconds_bucket{{{SEL}}}[6h])))",
                        "{{workload}} p90",
                    ),
                    promql(
                        "C",
                        f"max by (workload) (etalon_target_slo_ttft_seconds{{{SEL}}})",
                        "{{workload}} objective",
                    ),
                ],
                unit="s",
                description="Exemplar dots carry probe_id; click one to open its token timeline.",
                span=16,
            )
        )
        .with_panel(
            table_panel(
                "Exact TTFT percentiles (store, 24 h)",
                [
                    promql(
                        "A",
                        f'etalon_window_time_to_first_token_seconds{{window="24h", {SEL}}}',
                        instant=True,
                    )
                ],
                span=8,
                units={"Value": "s"},
            )
        )
        .with_row(row("Time to first answer token"))
        .with_panel(
            time_series(
                "First answer token vs first token (6 h, exemplars open the probe)",
                [
                    promql(
                        "A",
                        "histogram_quantile(0.5, sum by (le, workload) (increase("
                        f"etalon_time_to_first_answer_token_seconds_bucket{{{SEL}}}[6h])))",
                        "{{workload}} TTFAT p50",
                        exemplar=True,
                    ),
                    promql(
                        "B",
                        "histogram_quantile(0.9, sum by (le, workload) (increase("
                        f"etalon_time_to_first_answer_token_seconds_bucket{{{SEL}}}[6h])))",
                        "{{workload}} TTFAT p90",
                    ),
                    promql(
                        "C",
                        "histogram_quantile(0.5, sum by (le, workload)"
                        f" (increase(etalon_time_to_first_token_seconds_bucket{{{SEL}}}[6h])))",
                        "{{workload}} TTFT p50",
                    ),
                ],
                unit="s",
                description=(
                    "TTFAT: the first answer (non-reasoning) token; TTFT: the first token of any"
                    " kind. They coincide unless the model streams reasoning first; the gap is"
                    " the time spent thinking. Ok probes only."
                ),
                span=16,
            )
        )
        .with_panel(
            table_panel(
                "Exact TTFAT percentiles (store, 24 h)",
                [
                    promql(
                        "A",
                        f'etalon_window_time_to_first_answer_token_seconds{{window="24h", {SEL}}}',
                        instant=True,
                    )
                ],
                span=8,
                units={"Value": "s"},
            )
        )
        .with_row(row("Between tokens"))
        .with_panel(
            heatmap_panel(
                "Inter-chunk latency",
                [
                    promql(
                        "A",
                        "sum by (le) (increase(etalon_inter_chunk_latency_seconds_bucket"
                        f"{{{SEL}}}[$__interval]))",
                        "{{le}}",
                        heatmap=True,
                    )
                ],
                unit="s",
                interval="1h",
                description="Every gap between content chunks, per hour.",
            )
        )
        .with_panel(
            heatmap_panel(
                "Time between tokens (token-weighted)",
                [
                    promql(
                        "A",
                        "sum by (le) (increase(etalon_time_between_tokens_seconds_bucket"
                        f"{{{SEL}}}[$__interval]))",
                        "{{le}}",
                        heatmap=True,
                    )
                ],
                unit="s",
                interval="1h",
                description="Zeros inside multi-token chunks included, as in the fluidity-index.",
            )
        )
        .with_panel(
            time_series(
                "TBT and TPOT percentiles (6 h)",
                [
                    promql(
                        "A",
                        "histogram_quantile(0.99, sum by (le, workload)"
                        f" (increase(etalon_time_between_tokens_seconds_bucket{{{SEL}}}[6h])))",
                        "{{workload}} TBT p99",
                    ),
                    promql(
                        "B",
                        "histogram_quantile(0.5, sum by (le, workload)"
                        f" (increase(etalon_time_per_output_token_seconds_bucket{{{SEL}}}[6h])))",
                        "{{workload}} TPOT p50",
                    ),
                    promql(
                        "C",
                        "histogram_quantile(0.99, sum by (le, workload)"
                        f" (increase(etalon_min_decode_deadline_seconds_bucket{{{SEL}}}[6h])))",
                        "{{workload}} D* p99",
                    ),
                ],
                unit="s",
            )
        )
        .with_panel(
            time_series(
                "Tokens per chunk",
                [Sql("A", sql.TOKENS_PER_CHUNK, "time_series")],
                unit="short",
                description="Mean content tokens per chunk of ok probes, per hour (PostgreSQL).",
            )
        )
        .with_row(row("Stalls and daily pattern"))
        .with_panel(
            bar_panel(
                "Stalls by position in the stream",
                [Sql("A", sql.STALLS_BY_POSITION)],
                x_field="position",
                unit="short",
                description="Chunks later than the decode deadline times their tokens, by where"
                " they came in the stream (deciles of the chunk index).",
            )
        )
        .with_panel(
            heatmap_panel(
                "Fluidity-index by hour of day (UTC)",
                [Sql("A", sql.hour_of_day_fluidity(), "time_series")],
                unit="short",
                description="Mean fluidity-index of scored probes (ok, with an answer) per day"
                " and UTC hour; failed probes have no index.",
            )
        )
        .with_panel(
            table_panel(
                "Worst probes",
                [Sql("A", sql.TARGET_WORST_PROBES)],
                description="Unscored probes first (failed: no fluidity-index), then the lowest"
                " fluidity-index; click probe_id.",
                units={"TTFT": "s", "TTFAT": "s", "fluidity-index": "percentunit"},
            )
        )
        .with_panel(
            time_series(
                "Output tokens per hour",
                [
                    promql(
                        "A",
                        f"sum by (workload) (increase(etalon_output_tokens_total{{{SEL}}}[1h]))",
                        "{{workload}}",
                    ),
                    promql(
                        "B",
                        "sum by (workload) (increase(etalon_token_count_mismatch_total"
                        f"{{{SEL}}}[1h]))",
                        "{{workload}} count mismatches",
                    ),
                ],
                unit="short",
                min_value=0,
                span=24,
            )
        )
    )
