"""A compressed 24-hour soak: the daemon as a process, 24 rounds in minutes, 20 targets, faults on.

Three processes: the simulated vendors (four servers: `fast`, `chunky`, `stally` and a `fast` one
that injects every fault at random), the daemon (`etalon-monitor run`, as deployed) and this
script, which watches. The database is a private embedded PostgreSQL in a temporary directory.
After each round the script records, for the daemon process:

- RSS (VmRSS from /proc, plus its probe workers' from /metrics) and its growth since the first
  round;
- event-loop lag p99 from the daemon's own `etalon_event_loop_lag_seconds` histogram (the bucket
  bound the round's 99th-percentile sample fell in; samples every `loop_lag_sample_s`);
- the worst per-probe loop lag (`client.loop_lag_max_ns`, p99 over the round's probes);
- probe timing error: for every ok probe, each inter-chunk gap as stamped by the prober minus the
  same gap in the simulator's send log (both CLOCK_MONOTONIC), |error| p50/p99;
- the database size (`pg_database_size`).

Optionally `/metrics` is scraped at a fixed rate throughout (`--scrape-rps`), as a Prometheus
under load would (see `benchmarks/scrape_load.py`).

    .venv/bin/python benchmarks/soak.py [--rounds 24] [--every 12] [--targets 20] [--scrape-rps 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import yaml
from sqlalchemy import text

from monitor.store import Store
from monitor.store.embedded import EmbeddedPostgres

PROFILES = ("fast", "chunky", "stally", "faulty")
SIM_SERVER = """
import asyncio, sys
from monitor.sim import start_simulator
from monitor.sim.faults import Fault
from monitor.sim.profiles import PRESETS

async def main():
    sims = []
    for name in sys.argv[1:]:
        if name == "faulty":
            profile = PRESETS["fast"].with_(
                name="faulty", fault_rates={f.value: 0.02 for f in Fault if f.value != "never_end"}
            )
        else:
            profile = PRESETS[name]
        sims.append(await start_simulator("127.0.0.1", 0, profile, seed=len(sims)))
    print(" ".join(s.base_url for s in sims), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@dataclass
class RoundStats:
    index: int
    probes: int = 0
    ok: int = 0
    rss_mib: float = 0.0
    lag_p99_ms: float = 0.0
    probe_lag_p99_ms: float = 0.0
    err_p50_ms: float = 0.0
    err_p99_ms: float = 0.0
    gaps: int = 0
    db_mib: float = 0.0


@dataclass
class Soak:
    rounds: list[RoundStats] = field(default_factory=list)
    scrapes: int = 0
    scrape_errors: int = 0
    scrape_p99_ms: float = 0.0
    wall_s: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    gap_errors_ms: list[float] = field(default_factory=list)
    """Every measured gap error of the run (pooled over rounds)."""
    loop_lag_p99_ms: float = 0.0
    """From the daemon's histogram over the whole run (bucket bound)."""


def start_sims() -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SIM_SERVER, *PROFILES], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    urls = proc.stdout.readline().split()
    if len(urls) != len(PROFILES):
        proc.kill()
        raise SystemExit("the simulators did not start")
    return proc, dict(zip(PROFILES, urls, strict=True))


def write_config(path: Path, url: str, sims: dict[str, str], args: argparse.Namespace) -> None:
    targets: dict[str, Any] = {}
    for i in range(args.targets):
        profile = PROFILES[i % len(PROFILES)]
        targets[f"t{i:02d}-{profile}"] = {
            "provider": "simulator",
            "api": "anthropic" if i % 3 == 2 else "openai-chat",
            "base_url": sims[profile],
            "model": f"sim-{profile}",
            "workloads": {"prompt_tokens": [128, 1024], "max_tokens": 48},
            "concurrency": 2,
            "timeouts": {"first_byte_s": 5, "idle_s": 2, "total_s": 8},
        }
    config = {
        "region": "soak",
        "data_dir": str(path.parent / "data"),
        "database": {"url": url},
        "exporter": {"listen": "127.0.0.1:0", "refresh_s": 5, "loop_lag_sample_s": 0.05},
        "schedule": {
            "every": f"{args.every}s",
            "rounds_per_cycle": args.rounds,
            "cycles": 1,
            "jitter_s": 0.5,
        },
        "targets": targets,
    }
    path.write_text(yaml.safe_dump(config))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_WORKER_RSS = re.compile(r"^etalon_probe_worker_rss_bytes\{[^}]*\} (\S+)$", re.M)
_LAG_BUCKET = re.compile(r'^etalon_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)
_ROUNDS_DONE = re.compile(r'^etalon_rounds_total\{[^}]*status="completed"[^}]*\} (\S+)$', re.M)


def workers_rss_mib(exposition: str) -> float:
    """The probe workers' RSS (`monitor.plane`) as the daemon exports it, summed."""
    return sum(float(v) for v in _WORKER_RSS.findall(exposition)) / 2**20


def lag_buckets(exposition: str) -> dict[float, float]:
    """The loop-lag histogram's cumulative buckets (a regex: parsing the whole exposition would
    cost this watcher, on the same few CPUs, more than the daemon spends serving it)."""
    return {float(le): float(v) for le, v in _LAG_BUCKET.findall(exposition)}


def bucket_p99(before: dict[float, float], after: dict[float, float]) -> float:
    """The upper bound of the bucket holding the 99th percentile of the samples in between."""
    delta = {le: after.get(le, 0.0) - before.get(le, 0.0) for le in sorted(after)}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return float("nan")
    for le, count in delta.items():
        if count >= 0.99 * total:
            return le
    return float("inf")


async def scrape_loop(url: str, rps: float, soak: Soak, latencies: list[float]) -> None:
    """Scrape at a fixed rate (requests are started on schedule, not after the previous one)."""
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            t0 = time.perf_counter()
            try:
                async with session.get(url) as r:
                    await r.read()
                    if r.status != 200:
                        soak.scrape_errors += 1
            except aiohttp.ClientError:
                soak.scrape_errors += 1
            latencies.append(time.perf_counter() - t0)
            soak.scrapes += 1

        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        k = 0
        try:
            while True:
                k += 1
                await asyncio.sleep(max(start + k / rps - time.perf_counter(), 0))
                task = asyncio.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()


async def sim_logs(sims: dict[str, str]) -> dict[tuple[str, str], list[int]]:
    """(base_url, request id) → content send times."""
    out: dict[tuple[str, str], list[int]] = {}
    async with aiohttp.ClientSession() as session:
        for base in sims.values():
            async with session.get(base.removesuffix("/v1") + "/_sim/log") as r:
                doc = await r.json()
            for req in doc["requests"]:
                out[(base, req["id"])] = [s[0] for s in req["sends"] if s[1] == "content"]
    return out


async def per_round_probes(
    store: Store, sims: dict[str, str], config: dict[str, Any]
) -> dict[int, dict[str, Any]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT probe_id, round_index FROM probes"))
        round_of = {str(p): int(r) for p, r in rows}
    logs = await sim_logs(sims)
    stats: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"probes": 0, "ok": 0, "errors": [], "lags": []}
    )
    outcomes: dict[str, int] = defaultdict(int)
    for trace in await store.traces():
        s = stats[round_of[trace.probe_id]]
        s["probes"] += 1
        outcomes[trace.outcome.value] += 1
        lag = trace.client.get("loop_lag_max_ns")
        if lag is not None:
            s["lags"].append(lag / 1e6)
        if trace.outcome.value != "ok":
            continue
        s["ok"] += 1
        base = config["targets"][trace.target]["base_url"]
        rid = ((trace.meta or {}).get("headers") or {}).get("x-request-id", "")
        sends = logs.get((base, rid), [])
        recv = [c.t_ns for c in trace.content_chunks]
        if len(sends) != len(recv) or len(recv) < 2:
            continue
        err = np.abs(np.diff(np.asarray(recv)) - np.diff(np.asarray(sends))) / 1e6
        s["errors"].extend(err.tolist())
    stats[-1]["outcomes"] = dict(outcomes)
    return stats


async def sample(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as r:
        return await r.text()


def completed_rounds(exposition: str) -> int:
    return int(sum(float(v) for v in _ROUNDS_DONE.findall(exposition)))


async def soak(args: argparse.Namespace) -> Soak:
    result = Soak()
    work = Path(tempfile.mkdtemp(prefix="etalon-soak-"))
    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="etalon-soak-pg-")))
    sims_proc, sims = start_sims()
    daemon: asyncio.subprocess.Process | None = None
    try:
        url = await asyncio.to_thread(pg.start)
        config_path = work / "etalon.yaml"
        write_config(config_path, url, sims, args)
        config = yaml.safe_load(config_path.read_text())
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETALON_")}
        if args.debug_loop:
            env["PYTHONASYNCIODEBUG"] = "1"  # logs every callback that blocks the loop > 100 ms
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from monitor.cli import main; main()", "run",
            "--config", str(config_path), "--log-level", "warning",
            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env,
        )  # fmt: skip
        assert daemon.stderr is not None
        metrics_url = ""
        while not metrics_url:
            line = (await daemon.stderr.readline()).decode()
            if not line:
                raise SystemExit("the daemon exited before serving")
            if "serving metrics at " in line:
                metrics_url = line.split("serving metrics at ", 1)[1].split()[0]
        drain = asyncio.create_task(daemon.stderr.read())
        if args.debug_loop:
            drain.add_done_callback(lambda t: sys.stderr.write(t.result().decode(errors="replace")))
        store = await Store.open(url, pool_size=1)
        latencies: list[float] = []
        scraper = (
            asyncio.create_task(scrape_loop(metrics_url, args.scrape_rps, result, latencies))
            if args.scrape_rps > 0
            else None
        )
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            before = first = lag_buckets(await sample(session, metrics_url))
            done = 0
            while done < args.rounds:
                await asyncio.sleep(0.5)
                exposition = await sample(session, metrics_url)
                now_done = completed_rounds(exposition)
                if now_done == done:
                    continue
                after = lag_buckets(exposition)
                async with store.engine.connect() as conn:
                    size = (
                        await conn.execute(text("SELECT pg_database_size(current_database())"))
                    ).scalar_one()
                for index in range(done, now_done):
                    result.rounds.append(
                        RoundStats(
                            index,
                            rss_mib=rss_mib(daemon.pid) + workers_rss_mib(exposition),
                            lag_p99_ms=bucket_p99(before, after) * 1e3,
                            db_mib=size / 2**20,
                        )
                    )
                    print(
                        f"round {index:2d}: RSS {result.rounds[-1].rss_mib:.1f} MiB, "
                        f"DB {size / 2**20:.1f} MiB",
                        file=sys.stderr,
                        flush=True,
                    )
                before, done = after, now_done
            result.loop_lag_p99_ms = bucket_p99(first, before) * 1e3
        result.wall_s = time.perf_counter() - started
        if scraper is not None:
            scraper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scraper
            result.scrape_p99_ms = float(np.quantile(latencies, 0.99)) * 1e3 if latencies else 0
        await asyncio.sleep(1.0)  # the last round's probes reach the database
        stats = await per_round_probes(store, sims, config)
        result.outcomes = stats.pop(-1)["outcomes"]
        for r in result.rounds:
            s = stats.get(r.index)
            if s is None:
                continue
            r.probes, r.ok, r.gaps = s["probes"], s["ok"], len(s["errors"])
            result.gap_errors_ms.extend(s["errors"])
            if s["errors"]:
                r.err_p50_ms = float(np.quantile(s["errors"], 0.5))
                r.err_p99_ms = float(np.quantile(s["errors"], 0.99))
            if s["lags"]:
                r.probe_lag_p99_ms = float(np.quantile(s["lags"], 0.99))
        await store.close()
        daemon.terminate()
        await asyncio.wait_for(daemon.wait(), 30)
        await drain
    finally:
        if daemon is not None and daemon.returncode is None:
            daemon.kill()
        sims_proc.terminate()
        sims_proc.wait(10)
        await asyncio.to_thread(pg.destroy)
    return result


def table(result: Soak) -> str:
    rows = [
        "| round | probes | ok | RSS MiB | loop lag p99 ms | probe loop lag p99 ms "
        "| gap error p50 ms | gap error p99 ms | DB MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result.rounds:
        rows.append(
            f"| {r.index} | {r.probes} | {r.ok} | {r.rss_mib:.1f} | {r.lag_p99_ms:.0f} "
            f"| {r.probe_lag_p99_ms:.2f} | {r.err_p50_ms:.3f} | {r.err_p99_ms:.3f} "
            f"| {r.db_mib:.1f} |"
        )
    return "\n".join(rows)


def summary(result: Soak) -> str:
    rs = result.rounds
    if not rs:
        return "no rounds completed"
    steady = rs[min(2, len(rs) - 1)]  # after start-up allocations settle
    probes = sum(r.probes for r in rs)
    errors = [r.err_p99_ms for r in rs if r.gaps]
    lines = [
        f"{len(rs)} rounds in {result.wall_s:.0f} s, {probes} probes; outcomes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())),
        f"RSS: {rs[0].rss_mib:.1f} MiB after round 0, {steady.rss_mib:.1f} after round "
        f"{steady.index}, {rs[-1].rss_mib:.1f} at the end "
        f"({rs[-1].rss_mib - steady.rss_mib:+.1f} MiB over {len(rs) - 1 - steady.index} rounds)",
        f"gap error p99 per round: median {np.median(errors):.3f} ms, worst {max(errors):.3f} ms"
        if errors
        else "no gap errors measured",
        f"DB: {rs[0].db_mib:.1f} → {rs[-1].db_mib:.1f} MiB "
        f"({(rs[-1].db_mib - rs[0].db_mib) / max(len(rs) - 1, 1) * 1024:.0f} KiB per round)",
    ]
    if result.scrapes:
        lines.append(
            f"/metrics scrapes: {result.scrapes} ({result.scrapes / result.wall_s:.1f}/s), "
            f"{result.scrape_errors} failed, latency p99 {result.scrape_p99_ms:.1f} ms"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--every", type=float, default=12.0, help="round interval, seconds")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument(
        "--scrape-rps", type=float, default=0.0, help="scrape /metrics at this rate"
    )
    parser.add_argument(
        "--debug-loop", action="store_true", help="print the daemon's slow loop callbacks"
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    result = asyncio.run(soak(args))
    print(table(result))
    print()
    print(summary(result))
    print(f"\n{os.cpu_count()} CPUs; load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
