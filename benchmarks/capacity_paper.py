"""The Etalon paper's Fig. 6a, qualitatively: three SLOs rank two schedulers differently.

Two simulated engines (`monitor.sim.batching`), each in its own process, serve long prompts
(uniform 4,000-12,000 tokens, 100-300 output tokens, like arxiv-summarization): `whole` prefills a
prompt in one step and stalls running decodes (vLLM before chunked prefill), `chunked` splits it
into 512-token chunks that share steps with the decodes (Sarathi-Serve). The cost model is
Llama-3-8B-on-an-H100-like: a 12 ms memory-bound step floor, 50 µs per prefill token, 50 µs per
decoding request, 3e-9 s of attention per (token x context). Time is compressed `--time-scale`
times; QPS below are in engine time (measured QPS / scale), thresholds are engine-time values.

For each engine the benchmark profiles prefill (isolated requests over 1k-12k tokens, minimum
TTFT, quadratic fit; `D_p` = fit + 0.3 s slack), then runs the capacity search with all three SLOs
judged on the same requests: deadline (99 % of requests miss at most 10 % of deadlines at `D_d` =
25 ms), tail TBT (p99 <= 35 ms), TTFT p90 <= 2 s with TPOT p90 <= 30 ms.

Two modes share the engine's scheduler, the seeded workload (`monitor.capacity.run.step_plan`),
the SLO verdicts and the search:

- `replay` (default): the engine runs in virtual time (`monitor.sim.batching.replay`); exact,
  seconds to run, the same on any machine.
- `http`: each engine is served over SSE in its own process and measured by the real client
  (`monitor.capacity.run.search_capacity`). Time compression makes `D_d` 25 ms / scale, so this
  needs a quiet machine: the client's loop lag must stay well below `D_d` (it is reported).

    .venv/bin/python benchmarks/capacity_paper.py [--mode replay|http] [--time-scale 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from monitor.capacity.profile import run_profile
from monitor.capacity.replay import replay_profile, replay_search
from monitor.capacity.run import CapacityOptions, search_capacity
from monitor.capacity.search import SearchConfig
from monitor.capacity.slo import SLO_NAMES, SloThresholds
from monitor.capacity.workload import parse_lengths
from monitor.config import Target
from monitor.metrics.prefill import PrefillModel
from monitor.probe.tokens import BuiltinTokenizer
from monitor.sim.batching import EngineModel

ENGINE: dict[str, float] = {
    "overhead_s": 0.012,
    "per_token_s": 5e-5,
    "per_decode_s": 5e-5,
    "attention_s": 3e-9,
}
LENGTHS = "uniform:4000-12000,100-300"
SLACK_S = 0.3
THRESHOLDS = SloThresholds(decode_s=0.025, tbt_s=0.035, ttft_s=2.0, tpot_s=0.03)
PROFILE_LENGTHS = (1024, 2048, 4096, 8192, 12288)


def start_engine(variant: str, scale: float) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "monitor.sim.batching", "--variant", variant]
    args += ["--time-scale", str(scale), "--max-batch", "128"]
    for name, value in ENGINE.items():
        args += ["--" + name.replace("_", "-"), str(value)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.rsplit(" ", 1)[-1].strip()


def scaled(t: SloThresholds, k: float) -> SloThresholds:
    return SloThresholds(
        decode_s=t.decode_s / k,
        miss_rate=t.miss_rate,
        percentile=t.percentile,
        tbt_s=t.tbt_s / k,
        ttft_s=t.ttft_s / k,
        tpot_s=t.tpot_s / k,
    )


async def one(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    k = args.time_scale
    proc, base_url = start_engine(variant, k)
    try:
        target = Target(
            provider="openai-compatible", api="openai-chat", base_url=base_url, model=variant
        )
        tokenizer = BuiltinTokenizer()
        profile, _ = await run_profile(
            target, tokenizer, name=variant, lengths=PROFILE_LENGTHS, repeats=3, max_tokens=4
        )
        prefill = PrefillModel(coefficients=profile.coefficients, slack_s=SLACK_S / k)
        options = CapacityOptions(
            lengths=parse_lengths(LENGTHS, 1, 1),
            thresholds=scaled(THRESHOLDS, k),
            search=SearchConfig(
                start_qps=0.5 * k,
                max_qps=16 * k,
                granularity=args.granularity / 100,
                max_steps=args.max_steps,
            ),
            requests_per_step=args.requests_per_step,
            seed=args.seed,
            drain_s=120 / k,
            max_client_lag_s=args.max_client_lag,
        )
        started = time.monotonic()

        def show(step: Any) -> None:
            marks = " ".join(f"{s}={'pass' if step.passed(s) else 'FAIL'}" for s in SLO_NAMES)
            print(
                f"  {variant}: {step.qps / k:.3f} QPS (achieved {(step.achieved_qps or 0) / k:.3f})"
                f" {marks} lag {step.loop_lag_max_s * 1000:.1f} ms",
                file=sys.stderr,
                flush=True,
            )

        result = await search_capacity(
            target, options, prefill, tokenizer, name=variant, on_step=show
        )
        doc = result.to_json()
        return {
            "variant": variant,
            "capacity_qps": {
                s: (None if c is None else round(c / k, 3)) for s, c in doc["capacity_qps"].items()
            },
            "status": {s: c["status"] for s, c in doc["capacity"].items()},
            "client_limited_at_qps": doc["client_limited_at_qps"],
            "profile_coefficients_engine_time": [
                profile.coefficients[0] * k,
                profile.coefficients[1] * k,
                profile.coefficients[2] * k,
            ],
            "steps": len(doc["steps"]),
            "wall_s": round(time.monotonic() - started, 1),
        }
    finally:
        proc.terminate()
        proc.wait(10)


def replay_one(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Profile and search in engine time: no transport, no clock but the engine's own."""
    model = EngineModel(variant=variant, max_batch=128, **ENGINE)
    coefficients = replay_profile(model, PROFILE_LENGTHS)
    options = CapacityOptions(
        lengths=parse_lengths(LENGTHS, 1, 1),
        thresholds=THRESHOLDS,
        search=SearchConfig(
            start_qps=0.5, max_qps=16, granularity=args.granularity / 100, max_steps=args.max_steps
        ),
        requests_per_step=args.requests_per_step,
        seed=args.seed,
    )
    started = time.monotonic()

    def show(qps: float, verdicts: dict[str, Any]) -> None:
        marks = " ".join(f"{n}={'pass' if v.passed else 'FAIL'}" for n, v in verdicts.items())
        print(f"  {variant}: {qps:.3f} QPS {marks}", file=sys.stderr, flush=True)

    found = replay_search(
        model, options, PrefillModel(coefficients=coefficients, slack_s=SLACK_S), show
    )
    return {
        "variant": variant,
        "capacity_qps": found.capacity_qps,
        "status": found.status,
        "client_limited_at_qps": None,
        "profile_coefficients_engine_time": list(coefficients),
        "steps": len(found.steps),
        "wall_s": round(time.monotonic() - started, 1),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| engine | deadline (fluidity) | tail TBT p99 | TTFT p90 + TPOT p90 |",
        "|---|---|---|---|",
    ]
    names = {"whole": "whole prefill (vLLM-like)", "chunked": "chunked prefill (Sarathi-like)"}
    for r in rows:
        cells = []
        for s in SLO_NAMES:
            c = r["capacity_qps"][s]
            mark = "≥ " if r["status"][s] in ("at_least", "unresolved") else ""
            cells.append("—" if c is None else f"{mark}{c:.2f} QPS")
        lines.append(f"| {names[r['variant']]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("replay", "http"), default="replay")
    parser.add_argument("--time-scale", type=float, default=10.0, help="http mode only")
    parser.add_argument("--requests-per-step", type=int, default=100)
    parser.add_argument("--max-steps", type=int, default=14)
    parser.add_argument("--granularity", type=float, default=5.0, help="percent")
    parser.add_argument("--max-client-lag", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.mode == "replay":
        rows = [replay_one(v, args) for v in ("whole", "chunked")]
    else:
        rows = [asyncio.run(one(v, args)) for v in ("whole", "chunked")]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(rows))
        for r in rows:
            print(
                f"{r['variant']}: {r['steps']} steps in {r['wall_s']} s; client limited at "
                f"{r['client_limited_at_qps']}; "
                f"D_p fit (engine s) {r['profile_coefficients_engine_time']}"
            )


if __name__ == "__main__":
    main()
