"""Does the daemon time chunks as well as the one-shot prober? The same workload through both.

A loopback vendor that logs its own send times (the simulator, `bench` profile: one token per
chunk at exactly 20 ms after a 20 ms TTFT; its own process, pinned to CPU 1 on two cores, from
`benchmarks/fidelity.py`) serves both clients in the same run:

- **daemon**: `etalon-monitor run` as deployed (core process + its probe worker processes), 16
  targets x 4 concurrent streams of 100 chunks, all 64 streams starting together every `--every`
  seconds for `--rounds` rounds (about 40 s), PostgreSQL storage (a private embedded server),
  window refresh every 2 s, and `/metrics` scraped twice a second throughout (the scraper of
  `benchmarks/soak.py`).
- **one-shot**: `etalon-monitor probe` with `--concurrency 64 --requests 64`, the same streams,
  `--oneshot-batches` times, before the daemon starts.

For every ok probe, each inter-chunk gap as stamped minus the same gap in the vendor's send log
(both CLOCK_MONOTONIC) is the gap error; the table gives its |p50|, p99 and max per client and
repeat. Target on a quiet machine: daemon p99 <= 1.5 x one-shot p99, or <= 1 ms.

    .venv/bin/python benchmarks/daemon_fidelity.py [--repeats 3] [--rounds 8] [--every 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import fidelity  # benchmarks/ is the script's directory
import numpy as np
import soak
import yaml

from monitor import trace as trace_codec
from monitor.store import Store
from monitor.store.embedded import EmbeddedPostgres
from monitor.trace import Trace

CLI = [sys.executable, "-c", "from monitor.cli import main; main()"]
TARGETS = 16
STREAMS = 4
CHUNKS = 100
PROMPT_TOKENS = 32


@dataclass
class Run:
    client: str
    repeat: int
    probes: int
    ok: int
    gaps: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def gap_errors(traces: list[Trace], sends: dict[str, list[list[Any]]]) -> tuple[int, list[float]]:
    """(ok probes, every gap error in ms) of traces matched to the vendor's log by request id."""
    ok = 0
    errors: list[float] = []
    for t in traces:
        if t.outcome.value != "ok":
            continue
        rid = ((t.meta or {}).get("headers") or {}).get("x-request-id", "")
        content = [s[0] for s in sends.get(rid, []) if s[1] == "content"]
        recv = [c.t_ns for c in t.content_chunks]
        if len(content) != len(recv) or len(recv) < 2:
            continue
        ok += 1
        errors += fidelity.gap_errors_ms(recv, content)
    return ok, errors


def summarize(client: str, repeat: int, traces: list[Trace], sends: dict[str, Any]) -> Run:
    ok, errors = gap_errors(traces, sends)
    arr = np.asarray(errors or [float("nan")])
    return Run(
        client, repeat, len(traces), ok, len(errors),
        float(np.quantile(arr, 0.5)), float(np.quantile(arr, 0.99)), float(arr.max()),
    )  # fmt: skip


def oneshot(base_url: str, work: Path, batch: int) -> list[Trace]:
    out = work / f"oneshot-{batch}.jsonl"
    subprocess.run(
        [*CLI, "probe", "--provider", "simulator", "--base-url", base_url, "--model", "bench",
         "--prompt-tokens", str(PROMPT_TOKENS), "--max-tokens", str(CHUNKS),
         "--requests", str(TARGETS * STREAMS), "--concurrency", str(TARGETS * STREAMS),
         "--seed", str(batch), "--trace-out", str(out), "--json"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    with trace_codec.open_traces(out) as f:
        return list(trace_codec.iter_traces(f))


def write_config(path: Path, url: str, base_url: str, args: argparse.Namespace) -> None:
    targets = {
        f"t{i:02d}": {
            "provider": "simulator",
            "base_url": base_url,
            "model": "bench",
            "workloads": {
                "prompt_tokens": [PROMPT_TOKENS],
                "max_tokens": CHUNKS,
                "repetitions": STREAMS,
            },
            "concurrency": STREAMS,
        }
        for i in range(TARGETS)
    }
    config = {
        "region": "bench",
        "data_dir": str(path.parent / "data"),
        "database": {"url": url},
        "exporter": {"listen": "127.0.0.1:0", "refresh_s": 2},
        "schedule": {
            "every": f"{args.every}s",
            "rounds_per_cycle": args.rounds,
            "cycles": 1,
            "jitter_s": 0,
            "spread": "0s",
        },
        "targets": targets,
    }
    plane: dict[str, int] = {}
    if args.workers:
        plane["workers"] = args.workers
    if args.core_nice is not None:
        plane["core_nice"] = args.core_nice
    if plane:
        config["probe"] = plane
    path.write_text(yaml.safe_dump(config))


async def daemon(base_url: str, url: str, work: Path, args: argparse.Namespace) -> list[Trace]:
    config = work / "etalon.yaml"
    write_config(config, url, base_url, args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETALON_")}
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--config", str(config), "--log-level", "warning",
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        metrics_url = ""
        while not metrics_url:
            line = (await proc.stderr.readline()).decode()
            if not line:
                raise SystemExit("the daemon exited before serving")
            if "serving metrics at " in line:
                metrics_url = line.split("serving metrics at ", 1)[1].split()[0]
        drain = asyncio.create_task(proc.stderr.read())
        watch = soak.Soak()
        scraper = asyncio.create_task(soak.scrape_loop(metrics_url, 2.0, watch, []))
        async with aiohttp.ClientSession() as session:
            while soak.completed_rounds(await soak.sample(session, metrics_url)) < args.rounds:
                await asyncio.sleep(0.5)
        scraper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scraper
        await asyncio.sleep(1.0)  # the last round's probes reach the database
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 60)
        err = (await drain).decode(errors="replace")
        if err.strip():
            print(err[-2000:], file=sys.stderr)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    store = await Store.open(url, pool_size=1)
    try:
        return await store.traces()
    finally:
        await store.close()


async def one_repeat(
    repeat: int, base_url: str, pg: EmbeddedPostgres, args: argparse.Namespace
) -> list[Run]:
    work = Path(tempfile.mkdtemp(prefix="etalon-dfid-"))
    shot: list[Trace] = []
    for batch in range(args.oneshot_batches):
        shot += await asyncio.to_thread(oneshot, base_url, work, batch)
    url = await asyncio.to_thread(pg.start)
    try:
        traces = await daemon(base_url, url, work, args)
    finally:
        await asyncio.to_thread(pg.destroy)
    sends = await fidelity.fetch_log(base_url)
    runs = [
        summarize("one-shot probe", repeat, shot, sends),
        summarize("daemon", repeat, traces, sends),
    ]
    for r in runs:
        print(
            f"repeat {repeat}: {r.client:14s} probes={r.probes} ok={r.ok} gaps={r.gaps} "
            f"|err| p50={r.p50_ms:.3f} p99={r.p99_ms:.3f} max={r.max_ms:.2f} ms",
            file=sys.stderr,
            flush=True,
        )
    return runs


def table(runs: list[Run]) -> str:
    rows = [
        "| repeat | client | probes | ok | gaps | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        rows.append(
            f"| {r.repeat} | {r.client} | {r.probes} | {r.ok} | {r.gaps} | {r.p50_ms:.3f} "
            f"| {r.p99_ms:.3f} | {r.max_ms:.2f} |"
        )
    ratios = []
    for rep in sorted({r.repeat for r in runs}):
        by = {r.client: r for r in runs if r.repeat == rep}
        ratios.append(by["daemon"].p99_ms / by["one-shot probe"].p99_ms)
    rows.append("")
    rows.append("daemon p99 / one-shot p99 per repeat: " + ", ".join(f"{x:.2f}" for x in ratios))
    return "\n".join(rows)


async def main_async(args: argparse.Namespace) -> list[Run]:
    sim, base_url = fidelity.start_simulator_process()
    runs: list[Run] = []
    try:
        for repeat in range(1, args.repeats + 1):
            pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="etalon-dfid-pg-")))
            runs += await one_repeat(repeat, base_url, pg, args)
    finally:
        sim.terminate()
        sim.wait(10)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=8, help="daemon rounds per repeat")
    parser.add_argument("--every", type=int, default=5, help="seconds between daemon rounds")
    parser.add_argument("--oneshot-batches", type=int, default=3, help="64-stream batches")
    parser.add_argument("--workers", type=int, default=0, help="probe.workers (0: default)")
    parser.add_argument("--core-nice", type=int, default=None, help="probe.core_nice")
    args = parser.parse_args()
    started = time.perf_counter()
    runs = asyncio.run(main_async(args))
    print(table(runs))
    print(f"\n({time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
