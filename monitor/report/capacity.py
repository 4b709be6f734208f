"""The report's capacity section: stored prefill profiles and capacity searches, as data and HTML.

Built from what `etalon-monitor profile` and `capacity` stored (not from probes), so it is
independent of the vendor review above it: `None` when the window holds neither. Each capacity
run is drawn as *SLO attainment against QPS*: per step and SLO, the measured value divided by
its limit (deadline: p99 miss rate ÷ 0.1; tail TBT: p99 ÷ limit; TTFT+TPOT: the worse of the two
ratios), so at or below 1 the SLO holds and every SLO shares one axis. Infinite values (requests
cut off) are drawn at the top of the axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from monitor.capacity.profile import PrefillProfile
from monitor.report.markup import Markup, join, tag
from monitor.report.svg import Axis, Series, color, line_chart, nice_ticks

SLOS: Final = ("deadline", "tbt", "ttft_tpot")
RATIO_CAP: Final = 3.0
"""Ratios above this (and infinite ones) are drawn at the cap."""


@dataclass(frozen=True, slots=True)
class ProfilePoint:
    prompt_tokens: int
    min_ttft_s: float
    fitted_s: float


@dataclass(frozen=True, slots=True)
class ProfileView:
    target: str
    model: str
    measured_at: datetime
    coefficients: tuple[float, float, float]
    rms_residual_s: float
    points: tuple[ProfilePoint, ...]


@dataclass(frozen=True, slots=True)
class StepView:
    qps: float
    achieved_qps: float | None
    passed: tuple[bool, ...]
    """Per SLO, in `SLOS` order."""
    ratio: tuple[float | None, ...]
    """Per SLO: measured ÷ limit (None: undefined; infinite ones become null in JSON)."""


@dataclass(frozen=True, slots=True)
class CapacityView:
    target: str
    model: str
    started_at: datetime
    slos: tuple[str, ...]
    capacity_qps: tuple[float | None, ...]
    status: tuple[str, ...]
    client_limited_at_qps: float | None
    steps: tuple[StepView, ...]


@dataclass(frozen=True, slots=True)
class CapacitySection:
    profiles: tuple[ProfileView, ...]
    runs: tuple[CapacityView, ...]


def _value(v: Any) -> float | None:
    if v is None:
        return None
    return float("inf") if v == "inf" else float(v)


def _ratio(slo: str, numbers: Mapping[str, Any], limits: Mapping[str, Any]) -> float | None:
    def r(key: str, limit_key: str) -> float | None:
        v, lim = _value(numbers.get(key)), limits.get(limit_key)
        if v is None or not lim:
            return None
        return v / float(lim)

    if slo == "deadline":
        return r("miss_rate_at_percentile", "deadline_miss_rate")
    if slo == "tbt":
        return r("tbt_s_at_percentile", "tbt_s")
    both = [x for x in (r("ttft_s_at_percentile", "ttft_s"), r("tpot_s_at_percentile", "tpot_s"))]
    return None if any(x is None for x in both) else max(x for x in both if x is not None)


def capacity_view(doc: Mapping[str, Any]) -> CapacityView:
    """One stored `capacity --json` document as report data."""
    limits = doc.get("thresholds", {})
    caps = doc.get("capacity", {})
    steps = tuple(
        StepView(
            qps=float(s["qps"]),
            achieved_qps=s.get("achieved_qps"),
            passed=tuple(bool(s["slos"][n]["passed"]) for n in SLOS),
            ratio=tuple(_ratio(n, s["slos"][n], limits) for n in SLOS),
        )
        for s in sorted(doc.get("steps", []), key=lambda s: float(s["qps"]))
    )
    return CapacityView(
        target=str(doc["target"]),
        model=str(doc["model"]),
        started_at=datetime.fromisoformat(doc["started_at"]),
        slos=SLOS,
        capacity_qps=tuple(caps.get(n, {}).get("capacity_qps") for n in SLOS),
        status=tuple(str(caps.get(n, {}).get("status", "")) for n in SLOS),
        client_limited_at_qps=doc.get("client_limited_at_qps"),
        steps=steps,
    )


def profile_view(p: PrefillProfile) -> ProfileView:
    return ProfileView(
        target=p.target,
        model=p.model,
        measured_at=p.measured_at,
        coefficients=p.coefficients,
        rms_residual_s=p.rms_residual_s,
        points=tuple(
            ProfilePoint(n, t, t - r)
            for n, t, r in zip(p.lengths, p.min_ttft_s, p.residuals_s, strict=True)
        ),
    )


def capacity_section(
    profiles: Sequence[PrefillProfile], documents: Sequence[Mapping[str, Any]]
) -> CapacitySection | None:
    if not profiles and not documents:
        return None
    return CapacitySection(
        profiles=tuple(profile_view(p) for p in profiles),
        runs=tuple(capacity_view(d) for d in documents),
    )


# ----------------------------------------------------------------------------- HTML


def _profile_chart(p: ProfileView) -> Markup:
    c0, c1, c2 = p.coefficients
    top = max(pt.prompt_tokens for pt in p.points)
    xs = [top * i / 40 for i in range(41)]
    fit = [(x, (c0 + c1 * x + c2 * x * x) * 1000) for x in xs]
    measured = [(float(pt.prompt_tokens), pt.min_ttft_s * 1000) for pt in p.points]
    high = max(y for _, y in [*fit, *measured]) or 1.0
    x = Axis(0, top, "prompt tokens P", nice_ticks(0, top))
    y = Axis(0, high * 1.05, "TTFT (ms)", nice_ticks(0, high * 1.05))
    return line_chart(
        f"Prefill profile of {p.target} ({p.measured_at:%Y-%m-%d %H:%M} UTC)",
        [Series("min TTFT", color(0), measured), Series("fit D_p(P)", color(1), fit)],
        x,
        y,
        markers=True,
    )


def _attainment_chart(run: CapacityView) -> Markup:
    series = []
    for i, slo in enumerate(run.slos):
        pts = [(s.qps, min(r, RATIO_CAP)) for s in run.steps if (r := s.ratio[i]) is not None]
        series.append(Series(slo, color(i), pts))
    top = max((s.qps for s in run.steps), default=1.0)
    x = Axis(0, top * 1.05, "QPS offered", nice_ticks(0, top * 1.05))
    y = Axis(0, RATIO_CAP, "measured ÷ limit (≤ 1 holds)", (0, 0.5, 1, 1.5, 2, 2.5, 3))
    title = f"SLO attainment vs QPS: {run.target} ({run.started_at:%Y-%m-%d %H:%M} UTC)"
    return line_chart(title, series, x, y, reference_y=1.0, markers=True)


def _cell(text: str, numeric: bool = False) -> Markup:
    return tag("td", text, class_="num" if numeric else None)


def _capacity_table(runs: Sequence[CapacityView]) -> Markup:
    head = tag("tr", [tag("th", h) for h in ("target", "started", *SLOS, "steps")])
    rows = []
    for r in runs:
        cells = [_cell(r.target), _cell(f"{r.started_at:%Y-%m-%d %H:%M}")]
        for cap, status in zip(r.capacity_qps, r.status, strict=True):
            if cap is None:
                text = "no capacity: client fell behind" if r.client_limited_at_qps else "—"
            else:
                text = f"{'≥ ' if status in ('at_least', 'unresolved') else ''}{cap:g} QPS"
            cells.append(_cell(text, True))
        cells.append(_cell(str(len(r.steps)), True))
        rows.append(tag("tr", cells))
    return tag("table", tag("thead", head), tag("tbody", rows))


def capacity_html(section: CapacitySection | None) -> Markup:
    if section is None:
        return join([])
    parts: list[Markup] = [tag("h2", "Capacity and prefill profiles")]
    if section.runs:
        parts.append(_capacity_table(section.runs))
        parts.append(tag("div", [_attainment_chart(r) for r in section.runs], class_="charts"))
    if section.profiles:
        parts.append(tag("div", [_profile_chart(p) for p in section.profiles], class_="charts"))
    return join(parts)
