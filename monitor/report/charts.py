"""The report's plots: which numbers go on which chart. Drawing is `svg`'s job."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.report.markup import Markup
from monitor.report.model import Cdf, TargetReport
from monitor.report.stalls import BINS
from monitor.report.svg import Axis, Box, Series, axis, bar_chart, box_chart, color, empty_chart
from monitor.report.svg import line_chart as draw_lines

CDF_CLIP = 0.99
"""CDF x-axes end at the largest p99 so one huge stall doesn't squash every curve."""
CDF_CLIP_INDEX = round(CDF_CLIP * 100)


def ttft_boxes(targets: Sequence[TargetReport]) -> Markup:
    title = "TTFT by prompt length (box p25\u2013p75, whiskers p5\u2013p95)"
    lengths = sorted({b.prompt_tokens for t in targets for b in t.ttft_by_prompt})
    highs = [b.p95 for t in targets for b in t.ttft_by_prompt if b.p95 is not None]
    if not highs:
        return empty_chart(title, "no successful probes")
    groups = []
    for length in lengths:
        boxes = []
        for i, t in enumerate(targets):
            for b in t.ttft_by_prompt:
                if b.prompt_tokens == length:
                    boxes.append(Box(t.target, color(i), b.p5, b.p25, b.p50, b.p75, b.p95))
        groups.append((f"{length} tokens", boxes))
    return box_chart(title, groups, axis(0.0, max(highs) * 1.1, "TTFT (s)"), "prompt length")


def fluidity_curve(targets: Sequence[TargetReport]) -> Markup:
    title = "P99 fluidity-index vs decode deadline (decode-only; dashed: 0.9)"
    series = [
        Series(
            t.target,
            color(i),
            [(p.decode_deadline_ms, p.p99_fluidity_index) for p in t.fluidity_curve],
        )
        for i, t in enumerate(targets)
    ]
    if not any(s.points for s in series):
        return empty_chart(title, "no successful probes")
    x = Axis(0, 100, "decode deadline D_d (ms)", (0, 20, 40, 60, 80, 100))
    y = Axis(0, 1, "P99 fluidity-index", (0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0))
    return draw_lines(title, series, x, y, reference_y=0.9)


def cdf_chart(title: str, label: str, cdfs: Sequence[tuple[str, Cdf]]) -> Markup:
    clip = [c.values_s[CDF_CLIP_INDEX] for _, c in cdfs if c.samples]
    if not clip:
        return empty_chart(title, "no samples")
    high_ms = max(max(clip) * 1e3 * 1.1, 1.0)
    series = [
        Series(
            name,
            color(i),
            [(v * 1e3, p) for v, p in zip(c.values_s, c.probabilities, strict=True)],
        )
        for i, (name, c) in enumerate(cdfs)
    ]
    y = Axis(0, 1, "cumulative share", (0, 0.25, 0.5, 0.75, 0.9, 1.0))
    return draw_lines(title, series, axis(0.0, high_ms, label), y)


def tbt_cdf(targets: Sequence[TargetReport]) -> Markup:
    return cdf_chart(
        "TBT CDF (token-weighted)",
        "time between tokens (ms)",
        [(t.target, t.tbt_cdf) for t in targets],
    )


def inter_chunk_cdf(targets: Sequence[TargetReport]) -> Markup:
    return cdf_chart(
        "Inter-chunk latency CDF",
        "time between content chunks (ms)",
        [(t.target, t.inter_chunk_cdf) for t in targets],
    )


def by_hour(targets: Sequence[TargetReport]) -> Markup:
    title = "Share of fluid probes by hour of day (UTC; dashed: 99 %, the SLO)"
    series = [
        Series(
            t.target,
            color(i),
            [(h.hour, h.share_fluid) for h in t.by_hour if h.share_fluid is not None],
        )
        for i, t in enumerate(targets)
    ]
    if not any(s.points for s in series):
        return empty_chart(title, "no successful probes")
    x = Axis(0, 23, "hour of day (UTC)", (0, 3, 6, 9, 12, 15, 18, 21, 23))
    y = Axis(0, 1, "share fluid", (0, 0.2, 0.4, 0.6, 0.8, 1.0))
    return draw_lines(title, series, x, y, reference_y=0.99, markers=True)


def stall_positions(targets: Sequence[TargetReport]) -> Markup:
    title = "Stall positions (stalls per 100 successful probes, by position in the response)"
    categories = [f"{10 * i}\u2013{10 * (i + 1)}%" for i in range(BINS)]
    series = []
    for i, t in enumerate(targets):
        per = 100 / t.stalls.requests if t.stalls.requests else 0.0
        series.append((t.target, color(i), [b * per for b in t.stalls.bins]))
    high = max((v for _, _, values in series for v in values), default=0.0)
    if high == 0:
        return empty_chart(title, "no stalls at the judged decode deadline")
    return bar_chart(
        title, categories, series, axis(0.0, high * 1.1, "stalls / 100 probes"), "position"
    )
