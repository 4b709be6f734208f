"""Inline SVG charts drawn from report numbers: line charts (curves, CDFs, hour of day), box plots
and grouped bars. No plotting library, no scripts, no external fonts, so a report opens offline
and prints the same everywhere. Every label goes through `markup.tag`, so it is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.report.markup import Markup, join, tag

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#000000")
"""Okabe-Ito colours: distinguishable with the common colour-vision deficiencies."""

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 40, 44


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    color: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Box:
    """One box: p25-p75 with the median, whiskers p5-p95 (any may be None when undefined)."""

    series: str
    color: str
    low: float | None
    q1: float | None
    median: float | None
    q3: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class Axis:
    low: float
    high: float
    label: str
    ticks: Sequence[float]
    fmt: str = "{:g}"

    def at(self, value: float, start: float, end: float) -> float:
        span = self.high - self.low or 1.0
        clipped = min(max(value, self.low), self.high)
        return start + (clipped - self.low) / span * (end - start)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round-number ticks covering [low, high] (1, 2, 5 x 10^k steps)."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def axis(low: float, high: float, label: str, fmt: str = "{:g}") -> Axis:
    if high <= low:
        high = low + 1.0
    ticks = nice_ticks(low, high)
    return Axis(low, max(high, ticks[-1]), label, ticks, fmt)


def _frame(title: str, x: Axis, y: Axis, legend: Sequence[tuple[str, str]]) -> list[Markup]:
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    parts = [
        tag("rect", x=0, y=0, width=WIDTH, height=HEIGHT, fill="#ffffff"),
        tag("text", title, x=LEFT, y=16, class_="title"),
    ]
    lx = LEFT
    for name, col in legend:
        parts.append(tag("rect", x=lx, y=24, width=10, height=10, fill=col))
        parts.append(tag("text", name, x=lx + 14, y=33, class_="legend"))
        lx += 24 + 7 * len(name)
    for t in y.ticks:
        py = y.at(t, y0, y1)
        parts.append(tag("line", x1=x0, x2=x1, y1=f"{py:.1f}", y2=f"{py:.1f}", class_="grid"))
        parts.append(tag("text", y.fmt.format(t), x=x0 - 6, y=f"{py + 4:.1f}", class_="tick ty"))
    for t in x.ticks:
        px = x.at(t, x0, x1)
        parts.append(tag("line", x1=f"{px:.1f}", x2=f"{px:.1f}", y1=y0, y2=y0 + 4, class_="axis"))
        parts.append(tag("text", x.fmt.format(t), x=f"{px:.1f}", y=y0 + 16, class_="tick tx"))
    parts.append(tag("line", x1=x0, x2=x1, y1=y0, y2=y0, class_="axis"))
    parts.append(tag("line", x1=x0, x2=x0, y1=y0, y2=y1, class_="axis"))
    parts.append(tag("text", x.label, x=(x0 + x1) / 2, y=HEIGHT - 8, class_="label tx"))
    parts.append(
        tag(
            "text",
            y.label,
            x=14,
            y=(y0 + y1) / 2,
            class_="label tx",
            transform=f"rotate(-90 14 {(y0 + y1) / 2:.1f})",
        )
    )
    return parts


def _svg(title: str, parts: list[Markup]) -> Markup:
    return tag(
        "svg",
        tag("title", title),
        join(parts),
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        width=WIDTH,
        height=HEIGHT,
        role="img",
        aria_label=title,
        class_="chart",
    )


def line_chart(
    title: str,
    series: Sequence[Series],
    x: Axis,
    y: Axis,
    *,
    reference_y: float | None = None,
    markers: bool = False,
) -> Markup:
    parts = _frame(title, x, y, [(s.name, s.color) for s in series])
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    if reference_y is not None:
        py = y.at(reference_y, y0, y1)
        parts.append(tag("line", x1=x0, x2=x1, y1=f"{py:.1f}", y2=f"{py:.1f}", class_="ref"))
    for s in series:
        if not s.points:
            continue
        coords = " ".join(f"{x.at(px, x0, x1):.1f},{y.at(py, y0, y1):.1f}" for px, py in s.points)
        parts.append(tag("polyline", points=coords, fill="none", stroke=s.color, stroke_width=2))
        if markers:
            for px, py in s.points:
                parts.append(
                    tag(
                        "circle",
                        cx=f"{x.at(px, x0, x1):.1f}",
                        cy=f"{y.at(py, y0, y1):.1f}",
                        r=3,
                        fill=s.color,
                    )
                )
    return _svg(title, parts)


def box_chart(
    title: str, groups: Sequence[tuple[str, Sequence[Box]]], y: Axis, x_label: str
) -> Markup:
    """One slot per group (e.g. a prompt length), one box per series inside it."""
    names: dict[str, str] = {}
    for _, boxes in groups:
        for b in boxes:
            names.setdefault(b.series, b.color)
    slots = max(len(groups), 1)
    x = Axis(0, slots, x_label, ())
    parts = _frame(title, x, y, list(names.items()))
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    slot_w = (x1 - x0) / slots
    for gi, (label, boxes) in enumerate(groups):
        cx = x0 + slot_w * (gi + 0.5)
        parts.append(tag("text", label, x=f"{cx:.1f}", y=y0 + 16, class_="tick tx"))
        width = min(36.0, slot_w * 0.8 / max(len(boxes), 1))
        start = cx - width * len(boxes) / 2
        for bi, b in enumerate(boxes):
            if b.q1 is None or b.q3 is None or b.median is None:
                continue
            bx = start + bi * width
            mid = bx + width / 2
            if b.low is not None and b.high is not None:
                parts.append(
                    tag(
                        "line",
                        x1=f"{mid:.1f}",
                        x2=f"{mid:.1f}",
                        y1=f"{y.at(b.low, y0, y1):.1f}",
                        y2=f"{y.at(b.high, y0, y1):.1f}",
                        stroke=b.color,
                    )
                )
            top, bottom = y.at(b.q3, y0, y1), y.at(b.q1, y0, y1)
            parts.append(
                tag(
                    "rect",
                    x=f"{bx + 2:.1f}",
                    y=f"{top:.1f}",
                    width=f"{width - 4:.1f}",
                    height=f"{max(bottom - top, 1):.1f}",
                    fill=b.color,
                    fill_opacity="0.35",
                    stroke=b.color,
                )
            )
            my = y.at(b.median, y0, y1)
            parts.append(
                tag(
                    "line",
                    x1=f"{bx + 2:.1f}",
                    x2=f"{bx + width - 2:.1f}",
                    y1=f"{my:.1f}",
                    y2=f"{my:.1f}",
                    stroke=b.color,
                    stroke_width=2,
                )
            )
    return _svg(title, parts)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    y: Axis,
    x_label: str,
) -> Markup:
    """Grouped bars: one group per category, one bar per series (name, colour, values)."""
    slots = max(len(categories), 1)
    x = Axis(0, slots, x_label, ())
    parts = _frame(title, x, y, [(name, col) for name, col, _ in series])
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    slot_w = (x1 - x0) / slots
    width = slot_w * 0.8 / max(len(series), 1)
    for ci, label in enumerate(categories):
        cx = x0 + slot_w * (ci + 0.5)
        parts.append(tag("text", label, x=f"{cx:.1f}", y=y0 + 16, class_="tick tx"))
        start = cx - width * len(series) / 2
        for si, (_, col, values) in enumerate(series):
            top = y.at(values[ci], y0, y1)
            parts.append(
                tag(
                    "rect",
                    x=f"{start + si * width:.1f}",
                    y=f"{top:.1f}",
                    width=f"{max(width - 1, 1):.1f}",
                    height=f"{y0 - top:.1f}",
                    fill=col,
                )
            )
    return _svg(title, parts)


def empty_chart(title: str, message: str) -> Markup:
    return _svg(
        title,
        [
            tag("rect", x=0, y=0, width=WIDTH, height=HEIGHT, fill="#ffffff"),
            tag("text", title, x=LEFT, y=16, class_="title"),
            tag("text", message, x=WIDTH / 2, y=HEIGHT / 2, class_="label tx"),
        ],
    )
