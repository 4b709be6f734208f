"""llama.cpp reuses the KV cache of the longest common token prefix with the previous prompt, so a
repeated prompt skips its prefill. The prober's unique nonce at the head of every prompt must keep
repeated probes of one workload from measuring that cache instead of the prefill.

The engine says what it reused: llama-cpp-python logs `Llama.generate: N prefix-match hit,
remaining M prompt tokens to eval` per request, which is checked next to the TTFTs.
"""

from __future__ import annotations

import re

import pytest

from monitor.metrics.analysis import analyze
from monitor.probe.prompts import Prompt, make_prompt
from monitor.trace import Outcome
from tests.fixtures.llama import GemmaTokenizer, RunningServer
from tests.integration.real_engine.engine import llama_target, probe_once

pytestmark = pytest.mark.real_engine

PROMPT_TOKENS = 512
PREFIX_LINE = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens")


async def probe_and_reuse(
    server: RunningServer, tokenizer: GemmaTokenizer, prompt: Prompt
) -> tuple[float, int, int]:
    """TTFT of one probe, and the (reused, evaluated) prompt tokens the engine logged for it.

    The engine logs the line only when it reuses something; no line means nothing was reused and
    the whole prompt (the user message plus the chat template) was evaluated.
    """
    before = len(server.log.snapshot())
    trace = await probe_once(llama_target(server.api_url), prompt, tokenizer)
    assert trace.outcome is Outcome.OK, trace.error
    ttft = analyze([trace]).requests[0].ttft_s
    assert ttft is not None
    # requests are serialised by the server and the line is logged before the first token
    lines = [m for line in server.log.snapshot()[before:] if (m := PREFIX_LINE.search(line))]
    assert len(lines) <= 1, lines
    if not lines:
        return ttft, 0, prompt.tokens
    return ttft, int(lines[0][1]), int(lines[0][2])


async def test_repeated_probes_of_one_workload_do_not_hit_the_prompt_cache(
    llama_server: RunningServer, gemma_tokenizer: GemmaTokenizer
) -> None:
    # one workload, repeated: same length and same prose (seed), a fresh nonce each time, exactly
    # as the scheduler repeats a workload
    prompts = [make_prompt(PROMPT_TOKENS, gemma_tokenizer, seed=7) for _ in range(3)]
    assert len({p.nonce for p in prompts}) == 3
    runs = [await probe_and_reuse(llama_server, gemma_tokenizer, p) for p in prompts]
    for _, reused, evaluated in runs:
        # only the chat template's head and the nonce's "[" are shared with the previous prompt
        assert reused <= 8
        assert evaluated >= PROMPT_TOKENS

    # Control: the very same prompt again is served from the cache (the check above can fail) and
    # its TTFT collapses (~25x measured); the fresh-nonce repetitions stay far above that.
    again, reused, evaluated = await probe_and_reuse(llama_server, gemma_tokenizer, prompts[-1])
    assert reused >= PROMPT_TOKENS and evaluated <= 1
    times = [t for t, _, _ in runs]
    assert min(times) > 4 * again, (times, again)
