"""One readable line per target and round: what an operator watching the log needs to see.

The daemon used to log "6 probes sent" per round, which says nothing about the result. This module
turns the round's score records into the few numbers that do: how many probes were ok, the median
TTFT, the share of fluid probes and the fluent token rate (`1 / Q_0.99(D*)`, docs/metrics.md).
Pure: the daemon collects the records, this module summarises and formats them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.metrics.quantiles import quantile
from monitor.metrics.rates import fluent_token_rate
from monitor.metrics.score import ScoreRecord
from monitor.metrics.units import NS_PER_S


@dataclass(frozen=True, slots=True)
class TargetRound:
    """A target's result in one round; None where no probe could give the number."""

    target: str
    ok: int
    failed: int
    ttft_p50_s: float | None
    share_fluid: float | None
    fluent_rate: float | None
    """Tokens per second: `1 / Q_0.99(D*)` over the round's scored probes."""

    def line(self) -> str:
        """`demo-fast: 3 ok, 1 failed, TTFT p50 0.214 s, 100% fluid, fluent 180 tok/s`."""
        parts = [f"{self.target}: {self.ok} ok, {self.failed} failed"]
        if self.ttft_p50_s is not None:
            parts.append(f"TTFT p50 {self.ttft_p50_s:.3f} s")
        if self.share_fluid is not None:
            parts.append(f"{self.share_fluid:.0%} fluid")
        if self.fluent_rate is not None:
            parts.append(f"fluent {self.fluent_rate:.0f} tok/s")
        return ", ".join(parts)


def summarize_round(target: str, probes: Sequence[tuple[bool, ScoreRecord]]) -> TargetRound:
    """`probes`: each probe's ok flag (outcome `ok`) with its score record."""
    records = [r for _, r in probes]
    ttfts = [r.ttft_ns for ok, r in probes if ok and r.ttft_ns is not None]
    scored = [r for r in records if r.fluid is not None]
    d_stars = [r.min_decode_deadline_ns for r in scored if r.min_decode_deadline_ns is not None]
    ok = sum(1 for flag, _ in probes if flag)
    p50 = quantile(ttfts, 0.5)
    return TargetRound(
        target=target,
        ok=ok,
        failed=len(probes) - ok,
        ttft_p50_s=None if p50 is None else p50 / NS_PER_S,
        share_fluid=sum(1 for r in scored if r.fluid) / len(scored) if scored else None,
        fluent_rate=fluent_token_rate(d_stars) if d_stars else None,
    )


class RoundResults:
    """Score records collected per round and target until the round's line is written.

    Keyed by round index: a region's rounds run one after another, so when a round ends, records
    of any other round are late leftovers (a probe that outlived its round) and are dropped rather
    than mixed into a later round with the same index.
    """

    def __init__(self) -> None:
        self._open: dict[int, dict[str, list[tuple[bool, ScoreRecord]]]] = {}

    def add(self, round_index: int, target: str, ok: bool, record: ScoreRecord) -> None:
        self._open.setdefault(round_index, {}).setdefault(target, []).append((ok, record))

    def pop(self, round_index: int) -> list[TargetRound]:
        """The round's summaries by target name; forgets every open round."""
        found = self._open.get(round_index, {})
        self._open.clear()
        return [summarize_round(name, found[name]) for name in sorted(found)]
