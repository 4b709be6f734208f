"""Peak memory of the prober against a hostile vendor: what one enormous stream costs.

The issue that set the byte budget measured, before it: one 100 MB event cost 2.4 GB RSS, a
300 MB event 6.9 GB, a 200 MB stream of small events 1.6 GB. This runs the same cases against the
hostile vendor of the tests (`tests/fixtures/hostile.py`, started as its own process so its memory
is not counted), each case in a fresh prober process, several streams at once where asked, and
reports the prober's peak RSS (`ru_maxrss`) above its baseline after imports.

    .venv/bin/python benchmarks/hostile_memory.py                  # the issue's cases + 8 at once
    .venv/bin/python benchmarks/hostile_memory.py --roomy          # limits at their config maximum

`--roomy` raises `limits` to what config allows at most (1 GiB per probe, 256 MiB per event), to
show what the defaults (8 MiB, 1 MiB, 65 536 events) save.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 1_000_000
CASES: tuple[tuple[str, str, int, int], ...] = (
    # label, hostile case, size in bytes, concurrent streams
    ("one 100 MB event", "one-event", 100 * MB, 1),
    ("one 300 MB event", "one-event", 300 * MB, 1),
    ("200 MB of small events", "small-events", 200 * MB, 1),
    ("8 x one 100 MB event at once", "one-event", 100 * MB, 8),
    ("8 x 200 MB of small events at once", "small-events", 200 * MB, 8),
)
ROOMY = {"max_bytes": 1 << 30, "max_event_bytes": 256 << 20, "max_events": 10_000_000}


def rss_mb() -> float:
    """Peak RSS of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


async def child(url: str, streams: int, roomy: bool) -> dict[str, Any]:
    """One prober process: `streams` probes of `url` at once; its memory is the measurement."""
    from monitor.config import Target  # noqa: PLC0415
    from monitor.probe.client import Prober  # noqa: PLC0415
    from monitor.probe.prompts import make_prompt  # noqa: PLC0415
    from monitor.probe.session import make_session  # noqa: PLC0415
    from monitor.probe.tokens import BuiltinTokenizer  # noqa: PLC0415

    tok = BuiltinTokenizer()
    target = Target(
        provider="openai-compatible",
        api="openai-chat",
        base_url=url,
        model="m",
        timeouts={"total_s": 600, "idle_s": 120},
        limits=ROOMY if roomy else {},
    )
    prompt = make_prompt(16, tok)
    baseline = current_rss_mb()
    started = time.perf_counter()
    async with make_session(streams) as session:
        prober = Prober(session, tok, environ={})
        traces = await asyncio.gather(
            *(prober.probe(target, prompt, max_tokens=4) for _ in range(streams))
        )
    return {
        "baseline_mb": round(baseline, 1),
        "peak_mb": round(rss_mb(), 1),
        "seconds": round(time.perf_counter() - started, 2),
        "outcomes": sorted({t.outcome.value for t in traces}),
        "bytes_read": max(t.client.get("bytes", 0) for t in traces),
        "text_kept": max(sum(len(c.text or "") for c in t.chunks) for t in traces),
    }


def run_case(url: str, streams: int, roomy: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", url, "--streams", str(streams)]
    if roomy:
        cmd.append("--roomy")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--streams", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--roomy", action="store_true", help="limits at their config maximum")
    parser.add_argument("--only", action="append", help="run only the case with this label")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.streams, args.roomy))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.hostile", str(port_file)], cwd=ROOT
        )
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the hostile vendor did not start")
                time.sleep(0.05)
            port = int(port_file.read_text())
            limits = "roomy (1 GiB, 256 MiB/event)" if args.roomy else "default"
            print(f"limits: {limits}", flush=True)
            columns = ("case", "outcome", "read per stream", "text kept", "peak RSS", "over", "s")
            print("| " + " | ".join(columns) + " |")
            print("|" + "---|" * len(columns))
            for label, case, size, streams in CASES:
                if args.only and label not in args.only:
                    continue
                url = f"http://127.0.0.1:{port}/{case}/{size}/v1"
                r = run_case(url, streams, args.roomy)
                cells = (
                    label,
                    ", ".join(r["outcomes"]),
                    f"{r['bytes_read'] / (1 << 20):.1f} MiB",
                    f"{r['text_kept'] / (1 << 20):.2f} MiB",
                    f"{r['peak_mb']:.0f} MB",
                    f"{r['peak_mb'] - r['baseline_mb']:.0f} MB",
                    str(r["seconds"]),
                )
                print("| " + " | ".join(cells) + " |", flush=True)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
