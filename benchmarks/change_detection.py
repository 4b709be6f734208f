"""Change detection on labelled series: detection delay against shift size, and false alarms.

    .venv/bin/python benchmarks/change_detection.py [--steady-series 20] [--steady-length 500]
        [--step-series 30] [--seed 1] [--budget 0.5]

Series are probe histories of one (target, workload), scored exactly as the daemon stores them
(`monitor.store.summary.summarize`) and tested with the detector's defaults (`changes:` config
defaults, `monitor.detect.DetectorSettings()`). Sources:

- `sim:<profile>`: probes planned by the simulator (`monitor.sim.plan.make_plan`) for the `fast`,
  `chunky` and `stally` profiles at prompt length 1024 and 128 output tokens, at a fixed night hour
  (no daytime slow-down: a daily cycle is a real, recurring change and is not what is measured);
  failures drawn from the profile's fault rates.
- `traces`: probes resampled from the recorded reference traces (tests/data/reference): each probe
  takes one of the long traces, keeps its TTFT (times a 10 % log-normal spread) and draws its gaps
  from that trace's gaps with replacement.

Steady series give the false alarms per 1,000 probes per metric. Step series have 48 steady
probes then 48 whose decode gaps are all 1/(1 - drop) longer (the fluent rate 1/D* drops by
`drop`); delay = probes after the change up to and including the one that revealed it, for the
`d_star` series (a `worse` change found at or after the step; one found before counts as early).
Prints two markdown tables (the README's).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from monitor.detect import WATCHED, DetectorSettings, Direction, WatchedMetric, scan
from monitor.sim.plan import make_plan
from monitor.sim.profiles import PRESETS, Profile
from monitor.store.summary import summarize
from monitor.trace import Chunk, Deadlines, Trace

PROMPT = 1024
TOKENS = 128
NIGHT = 3
PRE = 48
POST = 48
DROPS = (0.1, 0.2, 0.3, 0.5)
REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference"
DEADLINES = Deadlines(prefill_s=None, decode_s=(0.025, 0.05, 0.1))

Row = dict[str, Any]
Source = Callable[[random.Random, int, int | None, float], list[Row]]
"""(rng, probes, first slowed probe or None, gap factor) → stored-probe rows."""


def _rows(traces: list[Trace | None]) -> list[Row]:
    ok = [t for t in traces if t is not None]
    summaries = iter(summarize(ok))
    out: list[Row] = []
    for t in traces:
        if t is None:
            out.append({"outcome": "rate_limited", "output_tokens": 0})
        else:
            out.append({"outcome": "ok", **next(summaries).columns()})
    return out


def _trace(i: int, ttft_s: float, gaps_s: list[float], tokens: list[int]) -> Trace:
    t = 0.0
    chunks = []
    for gap, k in zip([ttft_s, *gaps_s], tokens, strict=False):
        t += gap
        chunks.append(Chunk(t_ns=round(t * 1e9), tokens=k))
    return Trace(f"b{i}", tuple(chunks), PROMPT, deadlines=DEADLINES)


def sim_source(profile: Profile) -> Source:
    def make(rng: random.Random, n: int, step: int | None, factor: float) -> list[Row]:
        traces: list[Trace | None] = []
        faults = sum(profile.fault_rates.values())
        for i in range(n):
            if rng.random() < faults:
                traces.append(None)
                continue
            plan = make_plan(profile, rng, PROMPT, TOKENS, NIGHT)
            gaps = list(plan.gaps_s[1:])
            if step is not None and i >= step:
                gaps = [g * factor for g in gaps]
            traces.append(_trace(i, plan.ttft_s, gaps, list(plan.tokens)))
        return _rows(traces)

    return make


def trace_source() -> Source:
    data = json.loads((REFERENCE / "etalon_reference.json").read_text(encoding="utf-8"))
    templates = []
    for t in data["traces"]:
        if len(t["chunks"]) >= 64 and t["prompt_tokens"] <= 4096:
            times = [c[0] / 1e9 for c in t["chunks"]]
            tokens = [c[1] for c in t["chunks"]]
            templates.append((times[0], np.diff(times).tolist(), tokens))

    def make(rng: random.Random, n: int, step: int | None, factor: float) -> list[Row]:
        traces: list[Trace | None] = []
        for i in range(n):
            ttft, gaps, tokens = templates[rng.randrange(len(templates))]
            drawn = [gaps[rng.randrange(len(gaps))] for _ in gaps]
            if step is not None and i >= step:
                drawn = [g * factor for g in drawn]
            spread = math.exp(rng.gauss(0.0, 0.1))
            traces.append(_trace(i, ttft * spread, drawn, tokens))
        return _rows(traces)

    return make


def sources() -> dict[str, Source]:
    out = {f"sim:{name}": sim_source(PRESETS[name]) for name in ("fast", "chunky", "stally")}
    out["traces"] = trace_source()
    return out


def false_alarms(
    source: Source, series: int, length: int, seed: int, settings: DetectorSettings
) -> dict[str, tuple[int, int]]:
    """metric → (alarms, probes tested) over `series` steady series."""
    out = {m.name: (0, 0) for m in WATCHED}
    for s in range(series):
        rows = source(random.Random(seed * 1000 + s), length, None, 1.0)
        for m in WATCHED:
            values = [v for v in (m.value(r) for r in rows) if v is not None]
            alarms, probes = out[m.name]
            out[m.name] = (alarms + len(scan(values, m, settings)), probes + len(values))
    return out


def _first_worse(
    rows: list[Row], metric: WatchedMetric, settings: DetectorSettings
) -> tuple[int | None, bool]:
    """(delay of the first `worse` change at/after the step or None, any alarm before it)."""
    pairs = [(i, v) for i, v in enumerate(metric.value(r) for r in rows) if v is not None]
    index = [i for i, _ in pairs]
    found = scan([v for _, v in pairs], metric, settings)
    early = any(index[c.detected] < PRE for c in found)
    late = [
        index[c.detected] - PRE + 1
        for c in found
        if index[c.detected] >= PRE and c.finding.direction is Direction.WORSE
    ]
    return (min(late) if late else None), early


def delays(
    source: Source, drop: float, series: int, seed: int, settings: DetectorSettings
) -> tuple[list[int | None], list[int | None], int]:
    """Per series the delay of the first `worse` change at/after the step (None: missed), in
    the d_star series and in any watched series of the same probes; and how many series had an
    alarm (any metric) before the step."""
    d_star: list[int | None] = []
    anywhere: list[int | None] = []
    early = 0
    for s in range(series):
        rows = source(random.Random(seed * 7919 + s), PRE + POST, PRE, 1.0 / (1.0 - drop))
        results = {m.name: _first_worse(rows, m, settings) for m in WATCHED}
        d_star.append(results["d_star"][0])
        found = [d for d, _ in results.values() if d is not None]
        anywhere.append(min(found) if found else None)
        early += any(e for _, e in results.values())
    return d_star, anywhere, early


def _fmt_delay(values: list[int | None]) -> str:
    got = sorted(v for v in values if v is not None)
    if not got:
        return "none found"
    within = sum(1 for v in got if v <= 12) / len(values)
    median = got[len(got) // 2]
    p90 = got[min(len(got) - 1, math.ceil(0.9 * len(got)) - 1)]
    return f"{median} / {p90} ({within:.0%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steady-series", type=int, default=20)
    parser.add_argument("--steady-length", type=int, default=500)
    parser.add_argument("--step-series", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--budget",
        type=float,
        default=DetectorSettings().false_alarms_per_1000,
        help="false alarms per 1,000 probes (default: the detector's)",
    )
    args = parser.parse_args()
    settings = DetectorSettings(false_alarms_per_1000=args.budget)
    started = time.perf_counter()
    srcs = sources()

    header = "| source | " + " | ".join(f"{d:.0%} drop" for d in DROPS) + " |"
    rule = "|---|" + "---|" * len(DROPS)
    d_star_rows, any_rows = [], []
    early_total = 0
    for name, source in srcs.items():
        d_cells, any_cells = [], []
        for i, drop in enumerate(DROPS):
            got, anywhere, early = delays(source, drop, args.step_series, args.seed, settings)
            d_cells.append(_fmt_delay(got))
            any_cells.append(_fmt_delay(anywhere))
            if i == 0:  # the probes before the change are the same for every drop (same seeds)
                early_total += early
        d_star_rows.append(f"| {name} | " + " | ".join(d_cells) + " |")
        any_rows.append(f"| {name} | " + " | ".join(any_cells) + " |")
    print("Detection delay of a fluent-rate drop in probes after the change, median / p90")
    print("(share of series found within 12 probes). In the d_star series:\n")
    print("\n".join([header, rule, *d_star_rows]))
    print("\nIn any watched series of the same probes (first `worse` change):\n")
    print("\n".join([header, rule, *any_rows]))
    steady_before = len(srcs) * args.step_series
    print(
        f"\nSeries with an alarm (any metric) in their {PRE} probes before the change: "
        f"{early_total} of {steady_before}.",
        flush=True,
    )

    print("\nFalse alarms per 1,000 steady probes, per metric (alarms / probes tested):\n")
    print("| source | " + " | ".join(m.name for m in WATCHED) + " |")
    print("|---|" + "---|" * len(WATCHED))
    for name, source in srcs.items():
        fa = false_alarms(source, args.steady_series, args.steady_length, args.seed, settings)
        cells = [
            f"{1000 * a / p:.2f} ({a}/{p})" if p else "n/a"
            for a, p in (fa[m.name] for m in WATCHED)
        ]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
