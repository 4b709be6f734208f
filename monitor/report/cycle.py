"""The cycle over time: fluidity by hour of day, and incidents (rounds that broke the SLO).

Both judge a subset of a target's probes exactly as the summary judges all of them: the engine's
`slo_view` over the `ok` probes' with-TTFT counts. A round (or, when the probes' rounds are unknown,
a UTC clock hour) is an incident when its SLO fails, or when it had probes but none succeeded. Each
incident names its worst probes (failed first, then the lowest fluidity-index) so a reviewer can
pull their traces with `etalon-monitor export`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from monitor.metrics.arrays import BoolArray
from monitor.metrics.batch import DeadlineCounts
from monitor.metrics.slo import SloView, slo_view
from monitor.report.model import HourStats, Incident, RoundCompliance, WorstProbe
from monitor.report.scoring import ScoredTarget

WORST = 3
EXCERPT_CHARS = 80


def _view(s: ScoredTarget, rows: BoolArray) -> SloView:
    sel = rows & s.scored
    return slo_view(DeadlineCounts(met=s.counts.met[sel], missed=s.counts.missed[sel]))


def by_hour(s: ScoredTarget) -> tuple[HourStats, ...]:
    hours = np.array(
        [-1 if t.started_at is None else t.started_at.hour for t in s.traces], dtype=np.int64
    )
    out = []
    for hour in range(24):
        rows = hours == hour
        if not rows.any():
            continue
        view = _view(s, rows)
        out.append(
            HourStats(
                hour=hour,
                probes=int(rows.sum()),
                ok=int((rows & s.ok).sum()),
                share_fluid=view.share_fluid,
                p99_request_miss_rate=view.p99_request_miss_rate,
                deadline_slo_met=view.deadline_slo_met,
            )
        )
    return tuple(out)


def excerpt(s: ScoredTarget, r: int) -> str | None:
    text = "".join(c.text or "" for c in s.traces[r].content_chunks)
    if not text:
        return None
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def worst_probes(s: ScoredTarget, rows: BoolArray) -> tuple[WorstProbe, ...]:
    """Unscored probes (failed, or no answer) first, then non-fluid ones by fluidity-index;
    fluid probes are not "worst"."""
    bad = rows & ~s.fluid
    candidates = [int(r) for r in np.nonzero(bad)[0]]
    candidates.sort(
        key=lambda r: (bool(s.scored[r]), bool(s.ok[r]), np.nan_to_num(s.fluidity_index[r]), r)
    )
    out = []
    for r in candidates[:WORST]:
        t = s.traces[r]
        row = s.analysis.requests[r]
        out.append(
            WorstProbe(
                probe_id=t.probe_id,
                started_at=t.started_at,
                outcome=t.outcome.value,
                fluidity_index=row.fluidity_index,
                ttft_s=row.ttft_s,
                error=t.error,
                excerpt=excerpt(s, r),
            )
        )
    return tuple(out)


def hour_window(t: datetime | None) -> str:
    if t is None:
        return "unknown time"
    return t.strftime("%Y-%m-%d %H:00Z")


@dataclass(frozen=True, slots=True)
class RoundView:
    label: str
    rows: BoolArray
    members: list[int]
    view: SloView


def rounds(s: ScoredTarget, round_of: Mapping[str, str] | None = None) -> list[RoundView]:
    """The target's probes grouped by round, each judged like the whole window.

    `round_of` maps probe ids to round labels; probes it doesn't know fall in their UTC hour.
    """
    labels = round_of or {}
    windows: dict[str, list[int]] = {}
    for r, t in enumerate(s.traces):
        label = labels.get(t.probe_id) or hour_window(t.started_at)
        windows.setdefault(label, []).append(r)
    out = []
    for label, members in windows.items():
        rows = np.zeros(len(s.traces), dtype=np.bool_)
        rows[members] = True
        out.append(RoundView(label, rows, members, _view(s, rows)))
    return out


def compliance(views: list[RoundView]) -> RoundCompliance:
    """Rounds in which the SLO held, over the rounds that had a successful probe to judge."""
    judged = [v for v in views if v.view.deadline_slo_met is not None]
    met = sum(1 for v in judged if v.view.deadline_slo_met)
    return RoundCompliance(
        rounds=len(views),
        judged=len(judged),
        slo_met=met,
        share=met / len(judged) if judged else None,
    )


def incidents(s: ScoredTarget, views: list[RoundView]) -> tuple[Incident, ...]:
    """Rounds of this target whose SLO broke (or that had no successful probe), in time order."""
    out = []
    for v in views:
        if v.view.deadline_slo_met is None:
            reason = "no successful probe"
        elif not v.view.deadline_slo_met:
            p99 = v.view.p99_request_miss_rate or 0.0
            reason = f"deadline SLO broken: p99 miss rate {p99:.3f} > 0.1"
        else:
            continue
        times = [t for r in v.members if (t := s.traces[r].started_at) is not None]
        out.append(
            Incident(
                target=s.name,
                window=v.label,
                started_at=min(times) if times else None,
                ended_at=max(times) if times else None,
                probes=len(v.members),
                ok=int((v.rows & s.ok).sum()),
                share_fluid=v.view.share_fluid,
                p99_request_miss_rate=v.view.p99_request_miss_rate,
                reason=reason,
                worst_probes=worst_probes(s, v.rows),
            )
        )
    out.sort(key=lambda i: (i.started_at is None, i.started_at or datetime.min, i.window))
    return tuple(out)
