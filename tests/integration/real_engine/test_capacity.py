"""`etalon-monitor capacity` against llama.cpp (llama-cpp-python's server, Gemma 3 270M on CPU).

The session's shared server cuts a stream short when the next request arrives
(`interrupt_requests`, its default), which suits one-at-a-time probing but not load. This module
starts its own server with `--interrupt_requests False`: one slot behind a lock, so requests
queue, and without bound once they arrive faster than one per isolated service time `S` (the
end-to-end time of a request alone, measured first).

The search must find a positive deadline-SLO capacity, and none above the point where queueing
breaks the deadlines. With evenly spaced arrivals at `q > 1/S`, request `k` of a step waits
`k·(S - 1/q)`; a request may wait `D_p - TTFT` (the prefill slack) and no more (8 tokens: one
miss is already over 10 %). The SLO here is the 0.9-quantile over 20 requests (rank 17.1), so it
must fail once `17.1·(S - 1/q) > D_p - TTFT`, i.e. above `q_max = 1 / (S - (D_p - TTFT) / 17.1)`,
a little above `1/S` because a finite step only sees a finite queue. Deadlines are loose against
the isolated timings (a shared 2-core CPU), and the 0.9-quantile tolerates two slow requests.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from monitor.metrics.analysis import analyze
from monitor.probe.prompts import make_prompt
from monitor.trace import Outcome
from tests.fixtures.llama import (
    MODEL_ALIAS,
    READY_LINE,
    GemmaTokenizer,
    LlamaInstall,
    RunningServer,
    free_port,
    python_server_command,
    start_process,
    warm_up,
)
from tests.integration.real_engine.engine import llama_target, probe_once

pytestmark = pytest.mark.real_engine

PROMPT_TOKENS = 64
MAX_TOKENS = 8
REQUESTS = 20


@pytest.fixture(scope="module")
def queueing_server(llama_install: LlamaInstall) -> Iterator[RunningServer]:
    port = free_port()
    command = python_server_command(llama_install, port, max(os.cpu_count() or 1, 1))
    server = start_process(
        [*command, "--interrupt_requests", "False"], port, llama_install, READY_LINE
    )
    try:
        warm_up(server)
        yield server
    finally:
        server.stop()


async def isolated(server: RunningServer, tokenizer: GemmaTokenizer) -> tuple[float, float, float]:
    """(service time S, TTFT, TPOT): the best of three requests alone."""
    target = llama_target(server.api_url, max_tokens=MAX_TOKENS)
    e2e, ttft, tpot = [], [], []
    for i in range(3):
        prompt = make_prompt(PROMPT_TOKENS, tokenizer, seed=i)
        trace = await probe_once(target, prompt, tokenizer)
        assert trace.outcome is Outcome.OK, trace.error
        row = analyze([trace]).requests[0]
        assert row.ttft_s is not None and row.tpot_s is not None
        e2e.append(trace.content_chunks[-1].t_ns / 1e9)
        ttft.append(row.ttft_s)
        tpot.append(row.tpot_s)
    return min(e2e), min(ttft), min(tpot)


def test_deadline_capacity_is_positive_and_below_the_queueing_point(
    queueing_server: RunningServer, gemma_tokenizer: GemmaTokenizer, tmp_path: Path
) -> None:
    llama_server = queueing_server
    service, ttft, tpot = asyncio.run(isolated(llama_server, gemma_tokenizer))
    # deadlines a lone request meets with room on a shared CPU
    prefill_deadline = 2 * ttft + 0.3
    decode_deadline = max(4 * tpot, 0.1)
    config = tmp_path / "etalon.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "targets": {
                    "llama": {
                        "provider": "openai-compatible",
                        "base_url": llama_server.api_url,
                        "model": MODEL_ALIAS,
                        "params": {"min_tokens": MAX_TOKENS},
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    saturation = 1.0 / service
    q_max = 1.0 / (service - (prefill_deadline - ttft) / (0.9 * (REQUESTS - 1)))
    args = [
        "capacity", "--target", "llama", "--config", str(config),
        "--prompt-tokens", str(PROMPT_TOKENS), "--max-tokens", str(MAX_TOKENS),
        "--slo", "deadline", "--percentile", "0.9",
        "--prefill-deadline", f"{prefill_deadline:.4f}",
        "--decode-deadline", f"{decode_deadline:.4f}", "--arrivals", "uniform",
        "--requests-per-step", str(REQUESTS), "--start-qps", f"{0.5 * saturation:.2f}",
        "--max-qps", f"{4 * saturation:.2f}", "--granularity", "20", "--max-steps", "5",
        "--drain", "30", "--max-client-lag", "0.25", "--no-store", "--json",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "from monitor.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    cap = doc["capacity"]["deadline"]
    steps = {s["qps"]: s for s in doc["steps"]}
    context = (service, q_max, cap, {q: s["slos"]["deadline"] for q, s in steps.items()})
    assert cap["capacity_qps"] > 0, context
    assert cap["capacity_qps"] <= q_max, context
    assert cap["lowest_failing_qps"] is not None, context
    # every step's achieved rate is the asked one: the client kept up
    for s in doc["steps"]:
        assert s["client"]["ok"], s
