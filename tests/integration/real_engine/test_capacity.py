"""`etalon-monitor capacity` against llama.cpp (llama-cpp-python's server, Gemma 3 270M on CPU).

This server runs one request at a time (its single slot is behind a lock), so it queues without
bound once requests arrive faster than one per isolated service time `S` (the end-to-end time of
a request alone). The search must find a positive deadline-SLO capacity below `1/S`: below it
nothing queues and the deadlines (set from the isolated timings) hold; above it the queue grows
by `S - 1/q` per request. The margin of 10 % above `1/S` covers what a 12-request step can't
see (at `q` just over `1/S` the queue grows slowly) and the search's 20 % granularity.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.metrics.analysis import analyze
from monitor.probe.prompts import make_prompt
from monitor.trace import Outcome
from tests.fixtures.llama import MODEL_ALIAS, GemmaTokenizer, RunningServer
from tests.integration.real_engine.engine import llama_target, probe_once

pytestmark = pytest.mark.real_engine

PROMPT_TOKENS = 64
MAX_TOKENS = 8


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
    llama_server: RunningServer, gemma_tokenizer: GemmaTokenizer, tmp_path: Path
) -> None:
    service, ttft, tpot = asyncio.run(isolated(llama_server, gemma_tokenizer))
    # deadlines a lone request meets with room: twice its TTFT, three times its TPOT
    prefill_deadline = 2 * ttft + 0.05
    decode_deadline = max(3 * tpot, 0.025)
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
    args = [
        "capacity", "--target", "llama", "--config", str(config),
        "--prompt-tokens", str(PROMPT_TOKENS), "--max-tokens", str(MAX_TOKENS),
        "--slo", "deadline", "--prefill-deadline", f"{prefill_deadline:.4f}",
        "--decode-deadline", f"{decode_deadline:.4f}", "--arrivals", "uniform",
        "--requests-per-step", "12", "--start-qps", f"{0.5 * saturation:.2f}",
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
    context = (service, cap, {q: s["slos"]["deadline"] for q, s in steps.items()})
    assert cap["capacity_qps"] > 0, context
    assert cap["capacity_qps"] < 1.1 * saturation, context
    assert cap["lowest_failing_qps"] is not None, context
    # every step's achieved rate is the asked one: the client kept up
    for s in doc["steps"]:
        assert s["client"]["ok"], s
