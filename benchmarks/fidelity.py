"""Timestamp fidelity of the prober: measured inter-chunk gaps against the simulator's send log.

The simulator runs in its own process (pinned to CPU 1 when there are two) with the `bench` profile:
one token per chunk at exactly 50 chunks/s after a 20 ms TTFT. The client process is pinned to CPU 0
and runs on uvloop. For each concurrency C it opens C streams at once, twice: once with a bare
aiohttp reader (stamp `perf_counter_ns()` on each `iter_any()` read, nothing else) and once with the
real prober (`Prober.probe`, parsing, token counting, trace building). Both clocks are
CLOCK_MONOTONIC, so for consecutive content events i-1, i the gap error is

    (recv_i - recv_{i-1}) - (send_i - send_{i-1})

and we report |error| p50/p99/max, and the client CPU time (user + sys) per content chunk.

    .venv/bin/python benchmarks/fidelity.py [--concurrency 1,64,256,512] [--chunks 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np

from monitor.config import Target
from monitor.probe.client import Prober
from monitor.probe.eventloop import run
from monitor.probe.gcpolicy import settle_heap
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import BuiltinTokenizer

CHAT_PATH = "/chat/completions"


@dataclass
class Result:
    client: str
    concurrency: int
    chunks: int
    gaps: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_us_per_chunk: float
    wall_s: float
    failed: int


def start_simulator_process() -> tuple[subprocess.Popen[str], str]:
    def pin() -> None:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {1})

    proc = subprocess.Popen(
        [sys.executable, "-c", "from monitor.cli import main; main()", "simulate", "--port", "0",
         "--profile", "bench", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pin,  # noqa: PLW1509  (only sets CPU affinity)
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on " not in line:
        proc.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return proc, line.rsplit("listening on ", 1)[1].strip()


def body(prompt: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": "bench",
        "stream": True,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": prompt}],
        "stream_options": {"include_usage": True},
    }


async def bare_stream(
    session: aiohttp.ClientSession, url: str, payload: dict[str, Any]
) -> tuple[str, list[tuple[int, bytes]]]:
    reads: list[tuple[int, bytes]] = []
    append = reads.append
    clock = time.perf_counter_ns
    async with session.post(url, json=payload) as resp:
        request_id = resp.headers.get("x-request-id", "")
        async for data in resp.content.iter_any():
            append((clock(), data))
    return request_id, reads


def bare_event_times(reads: list[tuple[int, bytes]]) -> list[int]:
    """Every event (each ends in a blank line; the simulator's JSON has none inside) gets the
    stamp of the read that completed it."""
    times: list[int] = []
    pending = b""
    for t, data in reads:
        pending += data
        n = pending.count(b"\n\n")
        times.extend([t] * n)
        pending = pending[pending.rfind(b"\n\n") + 2 :] if n else pending
    return times


async def fetch_log(base_url: str) -> dict[str, list[list[Any]]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(base_url.removesuffix("/v1") + "/_sim/log") as resp,
    ):
        doc = await resp.json()
    return {r["id"]: r["sends"] for r in doc["requests"]}


def gap_errors_ms(recv: list[int], send: list[int]) -> list[float]:
    r = np.diff(np.asarray(recv, dtype=np.int64))
    s = np.diff(np.asarray(send, dtype=np.int64))
    return list(np.abs(r - s) / 1e6)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarize(
    client: str, concurrency: int, errors: list[float], chunks: int, cpu: float, wall: float,
    failed: int,
) -> Result:  # fmt: skip
    arr = np.asarray(errors) if errors else np.zeros(1)
    return Result(
        client, concurrency, chunks, len(errors),
        float(np.quantile(arr, 0.5)), float(np.quantile(arr, 0.99)), float(arr.max()),
        cpu / max(chunks, 1) * 1e6, wall, failed,
    )  # fmt: skip


async def run_bare(base_url: str, concurrency: int, chunks: int, prompt: str) -> Result:
    connector = aiohttp.TCPConnector(limit=0)
    headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        cpu0, wall0 = cpu_s(), time.perf_counter()
        results = await asyncio.gather(
            *(bare_stream(session, base_url + CHAT_PATH, body(prompt, chunks)) for _ in
              range(concurrency))
        )  # fmt: skip
        cpu, wall = cpu_s() - cpu0, time.perf_counter() - wall0
    log = await fetch_log(base_url)
    errors: list[float] = []
    total = 0
    failed = 0
    for request_id, reads in results:
        sends = log.get(request_id, [])
        times = bare_event_times(reads)
        if len(times) != len(sends):
            failed += 1
            continue
        content = [(t, s[0]) for t, s in zip(times, sends, strict=True) if s[1] == "content"]
        total += len(content)
        errors += gap_errors_ms([c[0] for c in content], [c[1] for c in content])
    return summarize("bare aiohttp", concurrency, errors, total, cpu, wall, failed)


async def run_prober(base_url: str, concurrency: int, chunks: int, prompt_tokens: int) -> Result:
    tok = BuiltinTokenizer()
    target = Target(provider="simulator", base_url=base_url, model="bench")
    prompts = [make_prompt(prompt_tokens, tok, seed=i) for i in range(concurrency)]
    async with make_session(concurrency) as session:
        prober = Prober(session, tok, clock=time.perf_counter_ns)
        # the prober stamps relative to its own t0; recover absolute times from the phases:
        # t0 is unknown, so compare gaps only (t0 cancels out of every difference)
        cpu0, wall0 = cpu_s(), time.perf_counter()
        traces = await asyncio.gather(
            *(prober.probe(target, p, max_tokens=chunks) for p in prompts)
        )
        cpu, wall = cpu_s() - cpu0, time.perf_counter() - wall0
    log = await fetch_log(base_url)
    errors: list[float] = []
    total = 0
    failed = 0
    for trace in traces:
        request_id = (trace.meta or {}).get("headers", {}).get("x-request-id", "")
        sends = [s[0] for s in log.get(request_id, []) if s[1] == "content"]
        if trace.outcome.value != "ok" or len(sends) != len(trace.chunks):
            failed += 1
            continue
        total += len(trace.chunks)
        errors += gap_errors_ms([c.t_ns for c in trace.chunks], sends)
    return summarize("prober", concurrency, errors, total, cpu, wall, failed)


async def main_async(args: argparse.Namespace, base_url: str) -> list[Result]:
    results: list[Result] = []
    prompt = make_prompt(args.prompt_tokens, BuiltinTokenizer(), seed=0).text
    for c in args.concurrency:
        for rep in range(args.repeat):
            for name in ("bare", "prober") if rep % 2 == 0 else ("prober", "bare"):
                if name == "bare":
                    r = await run_bare(base_url, c, args.chunks, prompt)
                else:
                    r = await run_prober(base_url, c, args.chunks, args.prompt_tokens)
                results.append(r)
                print(
                    f"C={c:4d} {r.client:13s} gaps={r.gaps:6d} |err| p50={r.p50_ms:.3f} "
                    f"p99={r.p99_ms:.3f} max={r.max_ms:.3f} ms  cpu={r.cpu_us_per_chunk:.1f} "
                    f"us/chunk  failed={r.failed}",
                    file=sys.stderr,
                    flush=True,
                )
                await asyncio.sleep(0.5)
    return results


def med(values: list[float]) -> float:
    return float(np.median(values))


def table(results: list[Result]) -> str:
    rows = ["| C | client | gaps | p50 ms | p99 ms | max ms | CPU µs/chunk | failed |",
            "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    groups: dict[tuple[int, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.concurrency, r.client), []).append(r)
    for (c, client), rs in groups.items():
        rows.append(
            f"| {c} | {client} | {sum(r.gaps for r in rs)} | {med([r.p50_ms for r in rs]):.3f} | "
            f"{med([r.p99_ms for r in rs]):.3f} | {max(r.max_ms for r in rs):.2f} | "
            f"{med([r.cpu_us_per_chunk for r in rs]):.1f} | {sum(r.failed for r in rs)} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 64, 256, 512]
    )
    parser.add_argument("--chunks", type=int, default=100, help="content chunks per stream")
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=1, help="runs per (C, client); medians")
    parser.add_argument("--json", dest="json_out", help="also write raw results here")
    args = parser.parse_args()
    sim, base_url = start_simulator_process()
    try:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {0})
        settle_heap()  # as `etalon-monitor probe` does; applies to both clients alike
        results = run(main_async(args, base_url))
    finally:
        sim.terminate()
        sim.wait(10)
    print(table(results))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nclient CPU 0, simulator CPU 1, {os.cpu_count()} CPUs, load average at the end: {load}"
    )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump([r.__dict__ for r in results], f, indent=2)


if __name__ == "__main__":
    main()
