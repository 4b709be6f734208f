"""Does scraping `/metrics` at 50 requests/s degrade the probes' timing fidelity?

Runs the soak set-up (`benchmarks/soak.py`: the daemon as a process, 20 targets on simulated
vendors with faults on, a private PostgreSQL) twice with the same rounds: once unscraped, once
with `/metrics` fetched at a fixed 50 requests/s throughout (each request started on schedule,
not after the previous one returned). Compared: the probes' inter-chunk gap error against the
simulator's send log (pooled over every ok probe), the daemon's event-loop lag p99, and how the
scrapes fared.

    .venv/bin/python benchmarks/scrape_load.py [--rounds 6] [--every 10] [--rps 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os

import numpy as np
import soak  # benchmarks/ is the script's directory


def row(name: str, result: soak.Soak) -> str:
    errors = np.asarray(result.gap_errors_ms or [float("nan")])
    scrapes = (
        f"{result.scrapes} ({result.scrapes / result.wall_s:.1f}/s), {result.scrape_errors} "
        f"failed, p99 {result.scrape_p99_ms:.1f} ms"
        if result.scrapes
        else "none"
    )
    probes = sum(r.probes for r in result.rounds)
    return (
        f"| {name} | {probes} | {len(errors)} | {np.quantile(errors, 0.5):.3f} "
        f"| {np.quantile(errors, 0.99):.3f} | {errors.max():.1f} | {result.loop_lag_p99_ms:.0f} "
        f"| {scrapes} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--rps", type=float, default=50.0)
    args = parser.parse_args()
    base = ["--rounds", str(args.rounds), "--every", str(args.every)]
    base += ["--targets", str(args.targets)]
    quiet = asyncio.run(soak.soak(soak.parse_args(base)))
    loaded = asyncio.run(soak.soak(soak.parse_args([*base, "--scrape-rps", str(args.rps)])))
    print(
        "| /metrics load | probes | gaps | gap error p50 ms | p99 ms | max ms "
        "| loop lag p99 ms | scrapes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(row("none", quiet))
    print(row(f"{args.rps:g} req/s", loaded))
    print(f"\n{os.cpu_count()} CPUs; load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
