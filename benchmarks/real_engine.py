"""The monitor's TTFT/TPOT against llama.cpp's own server-side timings, on a real model.

    bash scripts/install-llama.sh --cpp-server      # once: builds llama-server from the sdist
    .venv/bin/python benchmarks/real_engine.py [--lengths 64 512 2000] [--repeats 3] [--tokens 64]

Starts the C++ `llama-server` (built from the llama.cpp tree inside llama-cpp-python's sdist) with
Gemma 3 270M on loopback, probes it with the real prober through a loopback relay that keeps the
raw bytes, and reads the `timings` object llama-server puts on its last chunk:
`prompt_ms` (prefill of the uncached prompt tokens) and `predicted_per_token_ms` (decode). The
monitor's TTFT should be `prompt_ms` plus the HTTP and first-token overhead (a few ms); its TPOT
(`(t_last - t_first) / (n - 1)`) should be close to `predicted_per_token_ms`.

Prints one row per prompt length with medians over the repeats, and the worst ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import Target, Workload
from monitor.metrics.analysis import analyze
from monitor.probe.client import Prober
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.trace import Outcome
from tests.fixtures.llama import (
    MODEL_ALIAS,
    N_CTX,
    GemmaTokenizer,
    LlamaInstall,
    RunningServer,
    free_port,
    install_llama,
    start_process,
)
from tests.integration.real_engine.engine import tap

CPP_READY = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True, slots=True)
class Sample:
    prompt_tokens: int
    ttft_ms: float
    tpot_ms: float
    prompt_ms: float
    predicted_per_token_ms: float
    prompt_n: int
    cache_n: int


def start_cpp_server(install: LlamaInstall, threads: int) -> RunningServer:
    assert install.cpp_server is not None
    port = free_port()
    command = [
        str(install.cpp_server),
        "--model",
        str(install.model),
        "--alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ctx-size",
        str(N_CTX),
        "--no-jinja",  # with jinja on, "gemma" is taken as a literal template, not the built-in
        "--chat-template",
        "gemma",
        "--threads",
        str(threads),
        "--threads-batch",
        str(threads),
        "--parallel",
        "1",
        "--no-webui",
    ]
    return start_process(command, port, install, CPP_READY)


def last_timings(raw: bytes) -> dict[str, Any]:
    found: dict[str, Any] | None = None
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if line.startswith("data: {") and '"timings"' in line:
            found = json.loads(line[len("data: ") :])["timings"]
    if found is None:
        raise RuntimeError("llama-server sent no timings")
    return found


async def measure(
    server: RunningServer, tokenizer: GemmaTokenizer, lengths: list[int], repeats: int, tokens: int
) -> list[Sample]:
    port = int(server.base_url.rsplit(":", 1)[1])
    samples: list[Sample] = []
    async with make_session(4) as session:
        prober = Prober(session, tokenizer)
        # warm-up, not counted: the first requests after start-up run several times slower
        warm = Target(provider="openai-compatible", base_url=server.api_url, model=MODEL_ALIAS)
        for seed in range(2):
            await prober.probe(warm, make_prompt(64, tokenizer, seed=seed), max_tokens=8)
        for n in lengths:
            for r in range(repeats):
                prompt = make_prompt(n, tokenizer, seed=1000 * n + r)
                async with tap(port) as relay:
                    target = Target(
                        provider="openai-compatible",
                        base_url=f"http://127.0.0.1:{relay.port}/v1",
                        model=MODEL_ALIAS,
                        params={"min_tokens": tokens, "ignore_eos": True},
                        workloads=Workload(prompt_tokens=[n], max_tokens=tokens),
                    )
                    trace = await prober.probe(target, prompt, target_name="llama-server")
                    raw = bytes(relay.seen)
                if trace.outcome is not Outcome.OK:
                    raise RuntimeError(f"probe failed: {trace.outcome} {trace.error}")
                metrics = analyze([trace]).requests[0]
                assert metrics.ttft_s is not None and metrics.tpot_s is not None
                timings = last_timings(raw)
                if int(timings["prompt_n"]) + int(timings.get("cache_n", 0)) < n:
                    raise RuntimeError(f"llama-server prefilled fewer tokens than sent: {timings}")
                samples.append(
                    Sample(
                        n,
                        metrics.ttft_s * 1e3,
                        metrics.tpot_s * 1e3,
                        float(timings["prompt_ms"]),
                        float(timings["predicted_per_token_ms"]),
                        int(timings["prompt_n"]),
                        int(timings.get("cache_n", 0)),
                    )
                )
    return samples


def report(samples: list[Sample]) -> None:
    print(
        "| prompt tokens | server prompt_n (cached) | monitor TTFT ms | server prompt_ms "
        "| TTFT - prompt_ms | monitor TPOT ms | server predicted_per_token_ms | TPOT ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for n in sorted({s.prompt_tokens for s in samples}):
        rows = [s for s in samples if s.prompt_tokens == n]
        ttft = statistics.median(s.ttft_ms for s in rows)
        prompt_ms = statistics.median(s.prompt_ms for s in rows)
        tpot = statistics.median(s.tpot_ms for s in rows)
        per_token = statistics.median(s.predicted_per_token_ms for s in rows)
        ratio = tpot / per_token
        worst = max(worst, abs(ratio - 1))
        print(
            f"| {n} | {statistics.median(s.prompt_n for s in rows):.0f} "
            f"({max(s.cache_n for s in rows)}) | {ttft:.1f} | {prompt_ms:.1f} "
            f"| {ttft - prompt_ms:+.1f} | {tpot:.2f} | {per_token:.2f} | {ratio:.3f} |"
        )
    print(f"worst TPOT disagreement: {worst * 100:.1f} %  ({len(samples)} probes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 512, 2000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per probe")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    install = install_llama(cpp_server=True)
    server = start_cpp_server(install, args.threads)
    tokenizer = GemmaTokenizer(install)
    try:
        samples = asyncio.run(measure(server, tokenizer, args.lengths, args.repeats, args.tokens))
    finally:
        tokenizer.close()
        server.stop()
    report(samples)


if __name__ == "__main__":
    main()
