"""The report as one self-contained HTML file: inline CSS and SVG, no scripts, no external URLs.

Every string reaches the page through `markup.tag`, which escapes it; vendor text (errors, model
names, output excerpts) is never trusted. The numbers are the `Report`'s, formatted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.metrics.catalogue import reported
from monitor.report import charts
from monitor.report.capacity import capacity_html
from monitor.report.markup import Child, Markup, join, raw_css, tag
from monitor.report.model import ChangeEntry, Comparison, Incident, Report, TargetReport

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24;
       margin: 24px auto; max-width: 1320px; padding: 0 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.meta { color: #57606a; margin: 0 0 12px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; vertical-align: top; }
th { background: #f6f8fa; text-align: left; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ok { color: #1a7f37; font-weight: 600; }
.bad { color: #cf222e; font-weight: 600; }
.muted { color: #57606a; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
ul.findings li { margin: 2px 0; }
svg.chart { border: 1px solid #d0d7de; background: #fff; max-width: 100%; height: auto; }
svg .title { font: 600 13px system-ui, sans-serif; fill: #1b1f24; }
svg .legend, svg .tick, svg .label { font: 11px system-ui, sans-serif; fill: #1b1f24; }
svg .ty { text-anchor: end; }
svg .tx { text-anchor: middle; }
svg .grid { stroke: #eaeef2; }
svg .axis { stroke: #57606a; }
svg .ref { stroke: #cf222e; stroke-dasharray: 4 3; }
code, .excerpt { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.excerpt { white-space: pre-wrap; word-break: break-word; max-width: 420px; display: block; }
dt { font-weight: 600; margin-top: 6px; }
dd { margin: 2px 0 0 16px; }
@page { size: A4 landscape; margin: 10mm; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
               svg.chart, table { break-inside: avoid; } }
"""

DASH = "—"
MAX_INCIDENTS = 100
"""Incidents listed in the HTML; a month of broken rounds belongs in the JSON, not on paper."""


def num(value: float | None, digits: int = 3, scale: float = 1.0, suffix: str = "") -> str:
    return DASH if value is None else f"{value * scale:,.{digits}f}{suffix}"


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f} %"


def ms(value: float | None) -> str:
    return num(value, 1, 1e3, " ms")


def money(value: float | None) -> str:
    if value is None:
        return DASH
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def seconds_range(span: tuple[float, float] | None) -> str:
    return DASH if span is None else f"{span[0]:.3f}\u2013{span[1]:.3f} s"


def when(value: datetime | None) -> str:
    return DASH if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


def rounds_held(t: TargetReport) -> str:
    c = t.round_compliance
    return f"{c.slo_met}/{c.judged} ({pct(c.share)})" if c.judged else DASH


def slo(met: bool | None) -> Markup:
    if met is None:
        return tag("span", "no data", class_="muted")
    return tag("span", "met", class_="ok") if met else tag("span", "broken", class_="bad")


def td(value: Child, numeric: bool = False) -> Markup:
    return tag("td", value, class_="num" if numeric else None)


def table(headers: Sequence[str], rows: Sequence[Sequence[Markup]]) -> Markup:
    return tag(
        "table",
        tag("thead", tag("tr", [tag("th", h) for h in headers])),
        tag("tbody", [tag("tr", row) for row in rows]),
    )


def _header(report: Report) -> Markup:
    w = report.window
    span = f"{when(w.since)} → {when(w.until)}"
    cycle = f" · cycle {w.cycle}" if w.cycle else ""
    return join(
        [
            tag("h1", report.title),
            tag(
                "p",
                f"Window {span}{cycle} · source {w.source} · generated {when(report.generated_at)}"
                f" · etalon-monitor {report.methodology.tool_version}",
                class_="meta",
            ),
        ]
    )


LATENCY_KEYS = tuple(k for m in reported() for k in m.report_fields())
LATENCY_HEADERS = tuple(
    f"{m.label} p{round(q * 100)}" for m in reported() for q in m.report_quantiles
)
"""The catalogue's report latencies, one column each (keys and headers aligned)."""


def _summary(targets: Sequence[TargetReport]) -> Markup:
    headers = [
        "target",
        "model",
        "probes",
        "failed",
        "share fluid",
        "deadline SLO",
        "SLO held in rounds",
        "p99 miss rate",
        "fluent rate",
        "TPOT rate",
        "tail-TBT rate",
        *LATENCY_HEADERS,
        "cost / 1M tokens",
        "cost / fluid response",
    ]
    rows = [
        [
            td(tag("strong", t.target)),
            td(", ".join(t.models) or DASH),
            td(t.probes, True),
            td(t.failed, True),
            td(pct(t.share_fluid), True),
            td(slo(t.deadline_slo_met)),
            td(rounds_held(t), True),
            td(num(t.p99_request_miss_rate), True),
            td(num(t.fluent_token_rate, 1, suffix=" tok/s"), True),
            td(num(t.tpot_rate, 1, suffix=" tok/s"), True),
            td(num(t.tail_tbt_rate, 1, suffix=" tok/s"), True),
            *(td(ms(t.latency[key]), True) for key in LATENCY_KEYS),
            td(money(None if t.cost is None else t.cost.per_1m_tokens), True),
            td(money(None if t.cost is None else t.cost.per_fluid_response), True),
        ]
        for t in targets
    ]
    deadlines = [
        f"{t.target}: D_d {', '.join(f'{d * 1e3:g} ms' for d in t.decode_deadlines_s)}"
        for t in targets
    ]
    return join(
        [
            tag("h2", "Summary"),
            table(headers, rows),
            tag(
                "p",
                "Judged at the first decode tier stored with each probe (",
                "; ".join(deadlines),
                "). Rates in tokens per second; the fluent rate is what 99 % of users get "
                "without stalls, the TPOT-based rate what an average suggests.",
                class_="muted",
            ),
        ]
    )


def _finding(t: TargetReport, incidents: int) -> Markup:
    parts: list[Child] = [tag("strong", t.target), ": deadline SLO "]
    parts.append(slo(t.deadline_slo_met))
    if t.round_compliance.judged:
        parts.append(f", held in {rounds_held(t)} rounds")
    if t.share_fluid is not None:
        parts.append(f"; {pct(t.share_fluid)} of successful probes fluid")
    if t.fluent_token_rate and t.tpot_rate:
        share = t.fluent_token_rate / t.tpot_rate
        parts.append(
            f"; fluent rate {t.fluent_token_rate:,.1f} tok/s is {share * 100:.0f} % of the "
            f"TPOT-based {t.tpot_rate:,.1f} tok/s"
        )
    parts.append(f"; {t.failed} of {t.probes} probes failed ({pct(t.failed / t.probes)})")
    parts.append(f"; {incidents} incident(s).")
    return tag("li", parts)


def _findings(report: Report) -> Markup:
    items = [
        _finding(t, sum(1 for i in report.incidents if i.target == t.target))
        for t in report.targets
    ]
    significant = sum(1 for c in report.comparisons if c.significant)
    items.append(
        tag(
            "li",
            f"{significant} of {len(report.comparisons)} pairwise differences are significant "
            "at 95 % (see Comparisons).",
        )
    )
    return join([tag("h2", "Findings"), tag("ul", items, class_="findings")])


def _failures(targets: Sequence[TargetReport]) -> Markup:
    rows = []
    for t in targets:
        outcomes = ", ".join(f"{o}: {n}" for o, n in t.failures_by_outcome.items()) or "none"
        errors = [tag("div", f"{e.count}\u00d7 ", tag("code", e.error)) for e in t.top_errors]
        rows.append(
            [
                td(t.target),
                td(t.probes, True),
                td(t.failed, True),
                td(pct(t.failed / t.probes if t.probes else None), True),
                td(outcomes),
                td(errors or DASH),
            ]
        )
    return join(
        [
            tag("h2", "Failures"),
            table(["target", "probes", "failed", "failure rate", "by outcome", "top errors"], rows),
        ]
    )


def _ttft(targets: Sequence[TargetReport]) -> Markup:
    rows = [
        [
            td(t.target),
            td(b.prompt_tokens, True),
            td(b.probes, True),
            td(ms(b.p50), True),
            td(ms(b.p90), True),
            td(ms(b.p99), True),
        ]
        for t in targets
        for b in t.ttft_by_prompt
    ]
    return join(
        [
            tag("h2", "Time to first token"),
            tag(
                "div",
                table(["target", "prompt tokens", "probes", "p50", "p90", "p99"], rows),
                charts.ttft_boxes(targets),
                class_="charts",
            ),
        ]
    )


def _cost(targets: Sequence[TargetReport]) -> Markup:
    rows = [
        [
            td(t.target),
            td(money(t.cost.input_per_1m), True),
            td(money(t.cost.output_per_1m), True),
            td(f"{t.cost.input_tokens:,}", True),
            td(f"{t.cost.output_tokens:,}", True),
            td(money(t.cost.total), True),
            td(money(t.cost.per_1m_tokens), True),
            td(money(t.cost.per_1m_output_tokens), True),
            td(money(t.cost.per_fluid_response), True),
        ]
        for t in targets
        if t.cost is not None
    ]
    if not rows:
        return join(
            [tag("h2", "Cost"), tag("p", "No prices configured for these targets.", class_="muted")]
        )
    headers = [
        "target",
        "input / 1M",
        "output / 1M",
        "input tokens",
        "output tokens",
        "total",
        "per 1M tokens",
        "per 1M output tokens",
        "per fluid response",
    ]
    return join([tag("h2", "Cost"), table(headers, rows)])


def _fluidity(targets: Sequence[TargetReport]) -> Markup:
    stall_rows = [
        [
            td(t.target),
            td(t.stalls.requests, True),
            td(t.stalls.stalled_requests, True),
            td(t.stalls.stalls, True),
            td(sum(t.stalls.missed), True),
            td(t.stalls.late_first_token, True),
        ]
        for t in targets
    ]
    return join(
        [
            tag("h2", "Fluidity"),
            tag(
                "div",
                charts.fluidity_curve(targets),
                charts.by_hour(targets),
                charts.stall_positions(targets),
                class_="charts",
            ),
            table(
                [
                    "target",
                    "ok probes",
                    "probes with stalls",
                    "stalls",
                    "deadlines missed in stalls",
                    "late first token",
                ],
                stall_rows,
            ),
            tag("h2", "Token and chunk timing"),
            tag("div", charts.tbt_cdf(targets), charts.inter_chunk_cdf(targets), class_="charts"),
        ]
    )


def _comparisons(comparisons: Sequence[Comparison]) -> Markup:
    if not comparisons:
        return join(
            [
                tag("h2", "Comparisons"),
                tag("p", "A single target: nothing to compare.", class_="muted"),
            ]
        )
    rows = []
    for c in comparisons:
        if c.significant is None:
            verdict: Markup = tag("span", "undecided", class_="muted")
        elif c.significant:
            verdict = tag("span", f"significant, favours {c.better}", class_="ok")
        else:
            verdict = tag("span", "not significant", class_="muted")
        ci = DASH if c.ci_low is None else f"[{c.ci_low:+.4g}, {c.ci_high or 0.0:+.4g}]"
        rows.append(
            [
                td(c.metric),
                td(c.a),
                td(c.b),
                td(num(c.value_a, 4), True),
                td(num(c.value_b, 4), True),
                td(DASH if c.difference is None else f"{c.difference:+.4g}", True),
                td(ci, True),
                td(verdict),
            ]
        )
    significant = [tag("li", c.statement) for c in comparisons if c.significant]
    return join(
        [
            tag("h2", "Comparisons (bootstrap 95 % confidence intervals)"),
            table(
                ["metric", "target a", "target b", "a", "b", "a \u2212 b", "95 % CI", "verdict"],
                rows,
            ),
            tag("h3", "Significant differences"),
            tag("ul", significant) if significant else tag("p", "None.", class_="muted"),
        ]
    )


def _incidents(incidents: Sequence[Incident]) -> Markup:
    if not incidents:
        return join(
            [tag("h2", "Incidents"), tag("p", "The SLO held in every round.", class_="muted")]
        )
    rows = []
    for i in incidents[:MAX_INCIDENTS]:
        worst = [
            tag(
                "div",
                tag("code", w.probe_id),
                f" {w.outcome}",
                f" · fluidity {num(w.fluidity_index)}" if w.fluidity_index is not None else "",
                f" · TTFT {ms(w.ttft_s)}" if w.ttft_s is not None else "",
                tag("div", "error: ", tag("code", w.error)) if w.error else None,
                tag("span", w.excerpt, class_="excerpt") if w.excerpt else None,
            )
            for w in i.worst_probes
        ]
        rows.append(
            [
                td(i.target),
                td(i.window),
                td(i.probes, True),
                td(i.ok, True),
                td(pct(i.share_fluid), True),
                td(num(i.p99_request_miss_rate), True),
                td(i.reason),
                td(worst),
            ]
        )
    headers = ["target", "round", "probes", "ok", "share fluid", "p99 miss", "why", "worst probes"]
    return join(
        [
            tag("h2", f"Incidents ({len(incidents)})"),
            table(headers, rows),
            tag(
                "p",
                f"The first {MAX_INCIDENTS} are shown; the JSON report lists all {len(incidents)}.",
                class_="muted",
            )
            if len(incidents) > MAX_INCIDENTS
            else None,
            tag(
                "p",
                "Worst probes: failed first, then the lowest fluidity-index; each id is the "
                "probe's key in the store and in exported traces.",
                class_="muted",
            ),
        ]
    )


_TIME_METRICS = frozenset({"d_star", "tpot"})


def _change_value(metric: str, value: float) -> str:
    return ms(value) if metric in _TIME_METRICS else num(value)


def _changes(changes: Sequence[ChangeEntry]) -> Markup:
    """When a vendor changed and stayed changed (docs/change-detection.md)."""
    if not changes:
        return join(
            [
                tag("h2", "Changes"),
                tag("p", "No lasting change was found in this window.", class_="muted"),
            ]
        )
    rows = [
        [
            td(when(c.at)),
            td(c.target),
            td(f"p{c.workload}"),
            td(c.metric),
            td(tag("span", c.direction, class_="bad" if c.direction == "worse" else "ok")),
            td(
                f"{_change_value(c.metric, c.before)} "
                f"[{_change_value(c.metric, c.before_low)}, "
                f"{_change_value(c.metric, c.before_high)}]",
                True,
            ),
            td(
                f"{_change_value(c.metric, c.after)} "
                f"[{_change_value(c.metric, c.after_low)}, "
                f"{_change_value(c.metric, c.after_high)}]",
                True,
            ),
            td(f"{c.n_before} / {c.n_after}", True),
            td(when(c.detected_at)),
        ]
        for c in changes
    ]
    headers = [
        "from",
        "target",
        "workload",
        "metric",
        "direction",
        "before [95 %]",
        "after [95 %]",
        "probes before / after",
        "found",
    ]
    return join(
        [
            tag("h2", f"Changes ({len(changes)})"),
            table(headers, rows),
            tag(
                "p",
                "Shifts in per-probe series found by a rank change-point test (by default at a "
                "false-alarm budget of 0.5 per 1,000 probes per metric): medians (D*, TTFT share "
                "of its deadline, TPOT) or means (fluidity, failure rate) before and after, with "
                "95 % intervals. 'from' is the first probe after the change.",
                class_="muted",
            ),
        ]
    )


def _methodology(report: Report) -> Markup:
    m = report.methodology
    deadlines = [
        [
            td(t.target),
            td(", ".join(f"{d * 1e3:g} ms" for d in t.decode_deadlines_s) or DASH),
            td(seconds_range(t.prefill_deadline_range_s)),
        ]
        for t in report.targets
    ]
    complete = [
        [
            td(c.target),
            td(c.probes, True),
            td(c.ok, True),
            td(c.rounds, True),
            td(DASH if c.expected_probes is None else c.expected_probes, True),
            td(pct(c.completeness), True),
            td(when(c.first_probe)),
            td(when(c.last_probe)),
            td(", ".join(str(p) for p in c.prompt_lengths)),
        ]
        for c in m.completeness
    ]
    return join(
        [
            tag("h2", "Methodology"),
            tag("dl", [(tag("dt", d.term), tag("dd", d.text)) for d in m.definitions]),
            tag("h3", "Deadlines used"),
            table(["target", "decode deadline (D_d)", "prefill deadline (D_p) range"], deadlines),
            tag("h3", "Data completeness"),
            table(
                [
                    "target",
                    "probes",
                    "ok",
                    "rounds",
                    "expected",
                    "complete",
                    "first probe",
                    "last probe",
                    "prompt lengths",
                ],
                complete,
            ),
            tag(
                "p",
                f"etalon-monitor {m.tool_version}; bootstrap {m.bootstrap_resamples} resamples, "
                f"seed {m.bootstrap_seed}.",
                class_="muted",
            ),
        ]
    )


def render_html(report: Report) -> str:
    targets = report.targets
    body = (
        [
            _header(report),
            tag("p", "No probes in this window.", class_="muted"),
            capacity_html(report.capacity),
        ]
        if not targets
        else [
            _header(report),
            _findings(report),
            _summary(targets),
            _failures(targets),
            _ttft(targets),
            _cost(targets),
            _fluidity(targets),
            _comparisons(report.comparisons),
            _incidents(report.incidents),
            _changes(report.changes),
            capacity_html(report.capacity),
            _methodology(report),
        ]
    )
    doc = tag(
        "html",
        tag(
            "head",
            tag("meta", charset="utf-8"),
            tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
            tag("title", report.title),
            tag("style", raw_css(CSS)),
        ),
        tag("body", body),
        lang="en",
    )
    return "<!DOCTYPE html>\n" + doc.html + "\n"
