"""The prober against llama.cpp at three prompt lengths: ok, plausible TTFT that grows, sane decode.

One probe per length (the CPU is shared). Prompts are exact under Gemma's own tokenizer, so the
lengths are what the model prefills (plus the chat template's few tokens).
"""

from __future__ import annotations

import asyncio

import pytest

from monitor.metrics.analysis import analyze
from monitor.probe.prompts import make_prompt
from monitor.trace import ChunkKind, Outcome, TokenCountSource, Trace
from tests.fixtures.llama import GemmaTokenizer, RunningServer
from tests.integration.real_engine.engine import MAX_TOKENS, llama_target, probe_once

pytestmark = pytest.mark.real_engine

LENGTHS = (64, 512, 2000)


@pytest.fixture(scope="module")
def traces(llama_server: RunningServer, gemma_tokenizer: GemmaTokenizer) -> dict[int, Trace]:
    """One probe per length, shared by the module's checks (its own loop: module scope)."""
    target = llama_target(llama_server.api_url)

    async def run() -> dict[int, Trace]:
        out: dict[int, Trace] = {}
        for n in LENGTHS:
            prompt = make_prompt(n, gemma_tokenizer, seed=n)
            assert gemma_tokenizer.count(prompt.text) == n
            out[n] = await probe_once(target, prompt, gemma_tokenizer)
        return out

    return asyncio.run(run())


def test_every_length_succeeds_with_exactly_max_tokens(traces: dict[int, Trace]) -> None:
    for n, trace in traces.items():
        assert trace.outcome is Outcome.OK, (n, trace.error)
        assert trace.http_status == 200
        assert trace.requested_prompt_tokens == n
        # min_tokens = max_tokens, so the server stops on the length limit
        assert trace.finish_reason == "length"
        assert trace.output_tokens == MAX_TOKENS
        assert all(c.kind is ChunkKind.CONTENT for c in trace.chunks)


def test_one_token_per_chunk_counted_by_the_tokenizer(traces: dict[int, Trace]) -> None:
    """No usage and no token ids in llama-cpp-python's stream: counts come from the tokenizer, and
    every chunk carries exactly one token (MAX_TOKENS chunks of 1)."""
    for trace in traces.values():
        assert trace.usage is None
        assert trace.prompt_tokens is None
        assert trace.token_count_source is TokenCountSource.TOKENIZER
        assert [c.tokens for c in trace.chunks] == [1] * MAX_TOKENS


def test_ttft_is_plausible_and_grows_with_prompt_length(traces: dict[int, Trace]) -> None:
    ttft = {n: analyze([t]).requests[0].ttft_s for n, t in traces.items()}
    for n, value in ttft.items():
        # above the loopback round trip, below the 60 s first-byte timeout
        assert value is not None and 0.002 < value < 60, (n, value)
    t64, t512, t2000 = (ttft[n] for n in LENGTHS)
    assert t64 is not None and t512 is not None and t2000 is not None
    assert t64 < t512 < t2000
    # prefill work is at least linear in the prompt: 2000 tokens cost well over twice 512's
    # minus the fixed overhead that the 64-token probe shows
    assert t2000 - t64 > 2 * (t512 - t64)


def test_decode_rate_is_plausible(traces: dict[int, Trace]) -> None:
    for n, trace in traces.items():
        tpot = analyze([trace]).requests[0].tpot_s
        assert tpot is not None
        rate = 1 / tpot
        # a 270M model on CPU: faster than a person reads, slower than a memory-bound ceiling
        assert 5 < rate < 5000, (n, rate)
