"""llama-cpp-python's streaming quirks, each shown on the wire, then in what the prober made of it.

Facts (llama-cpp-python 0.3.36, `--chat_format gemma`):
- the first event is a role-only delta (`{"role": "assistant"}`, no content), sent right before the
  first token's event; it carries no token;
- each content event carries one token, and no `usage` is ever sent, even when asked for with
  `stream_options.include_usage`, so the prober counts with the tokenizer;
- `: ping` comments come every 15 s while a request waits for its first token, so the first byte
  is not the first token;
- a second request arriving while a stream is in flight cuts that stream short: `[DONE]`, no
  finish chunk, and the response's chunked body is never terminated;
- a prompt longer than the context, streamed, gets 200 with an empty event stream.
"""

from __future__ import annotations

import asyncio
import math
import re
import time

import aiohttp
import pytest

from monitor.config import Timeouts
from monitor.metrics.analysis import analyze
from monitor.probe.prompts import make_prompt
from monitor.trace import Outcome, TokenCountSource
from tests.fixtures.llama import N_CTX, GemmaTokenizer, RunningServer
from tests.integration.real_engine.engine import (
    chat_body,
    first_read_with,
    llama_target,
    probe_once,
    raw_stream,
    tap,
)

pytestmark = pytest.mark.real_engine

PING_INTERVAL_S = 15.0
"""sse-starlette's default, which llama-cpp-python's server keeps."""
HOLD_S = 28.0
"""How long the blocking request should keep the model busy, by the short-context decode rate.
Decoding slows as the context grows (24-54 s measured for a 24 s target), and nearly twice the ping
interval leaves room for the shared CPU speeding up after calibration."""
REQUEST_STARTED = re.compile(r"Llama\.generate: \d+ prefix-match hit")
EVAL_PER_TOKEN = re.compile(r"_print:\s+eval time =.*\(\s*([\d.]+) ms per token")
"""The engine's decode line (`llama_perf_context_print:        eval time = ... ms per token`), not
the `prompt eval time` line before it."""


def port_of(server: RunningServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


async def test_role_chunk_first_one_token_per_event_and_no_usage(
    llama_server: RunningServer, gemma_tokenizer: GemmaTokenizer
) -> None:
    prompt = make_prompt(64, gemma_tokenizer, seed=21)
    body = chat_body(prompt.text, 6)
    body["stream_options"] = {"include_usage": True}
    raw = await raw_stream(llama_server.api_url, body)
    assert raw.status == 200
    objects = [obj for _, obj in raw.data_objects()]
    deltas = [obj["choices"][0]["delta"] for obj in objects]
    # role-only first event, no token in it; then one event per token; then the finish event
    assert deltas[0].get("role") == "assistant" and deltas[0].get("content") is None
    texts = [d["content"] for d in deltas[1:] if d.get("content")]
    assert len(texts) == 6
    assert [gemma_tokenizer.count(t) for t in texts] == [1] * 6
    assert objects[-1]["choices"][0]["finish_reason"] == "length"
    assert not any("usage" in obj for obj in objects)
    assert raw.events()[-1][1] == "data: [DONE]"

    trace = await probe_once(
        llama_target(llama_server.api_url, max_tokens=6), prompt, gemma_tokenizer
    )
    assert trace.outcome is Outcome.OK, trace.error
    # the role event is an event but not a token: 6 content chunks, first token not before it
    assert [c.tokens for c in trace.chunks] == [1] * 6
    assert trace.phases_ns["first_event"] <= trace.phases_ns["first_token"]
    assert trace.usage is None and trace.token_count_source is TokenCountSource.TOKENIZER


async def test_pings_while_waiting_make_first_byte_differ_from_first_token(
    llama_server: RunningServer, gemma_tokenizer: GemmaTokenizer
) -> None:
    """A streamed probe queued behind a long non-streamed request (which nothing interrupts) waits
    past the ping interval, as a long prefill would, and its first bytes are `: ping` comments."""
    short = make_prompt(64, gemma_tokenizer, seed=31)
    log_start = len(llama_server.log.snapshot())
    calibration = await probe_once(llama_target(llama_server.api_url), short, gemma_tokenizer)
    tpot = analyze([calibration]).requests[0].tpot_s
    assert calibration.outcome is Outcome.OK and tpot is not None
    # the faster of the client's and the engine's own per-token time, so the hold is not short
    line = await asyncio.to_thread(llama_server.log.wait_for, EVAL_PER_TOKEN, log_start, 30.0)
    match = EVAL_PER_TOKEN.search(line)
    assert match is not None
    per_token_s = min(tpot, float(match[1]) / 1e3)
    hold_tokens = min(math.ceil(HOLD_S / per_token_s), N_CTX - 200)

    log_start = len(llama_server.log.snapshot())
    hold_body = chat_body(make_prompt(64, gemma_tokenizer, seed=32).text, hold_tokens, stream=False)
    async with aiohttp.ClientSession() as session:
        hold = asyncio.create_task(
            session.post(f"{llama_server.api_url}/chat/completions", json=hold_body)
        )
        # the engine has started the blocking request (and holds the model) once it logs it
        await asyncio.to_thread(llama_server.log.wait_for, REQUEST_STARTED, log_start, 60.0)
        async with tap(port_of(llama_server)) as relay:
            target = llama_target(
                f"http://127.0.0.1:{relay.port}/v1",
                timeouts=Timeouts(first_byte_s=120.0, idle_s=120.0, total_s=300.0),
            )
            sent = time.perf_counter()
            trace = await probe_once(
                target, make_prompt(64, gemma_tokenizer, seed=33), gemma_tokenizer
            )
            reads = list(relay.reads)
        async with await hold as held:
            assert held.status == 200

    assert trace.outcome is Outcome.OK, trace.error
    assert trace.meta is not None and trace.meta.get("keepalives", 0) >= 1
    first_ping = first_read_with(reads, b": ping") - sent
    first_token = first_read_with(reads, b'"content"') - sent
    assert PING_INTERVAL_S * 0.9 < first_ping < first_token
    # the prober's TTFT is the first token, not the first byte
    assert trace.phases_ns["first_token"] / 1e9 > first_ping
    ttft = analyze([trace]).requests[0].ttft_s
    assert ttft is not None and ttft > first_ping


async def test_second_request_cuts_the_first_stream_short(
    llama_server: RunningServer, gemma_tokenizer: GemmaTokenizer
) -> None:
    max_tokens = 64
    async with tap(port_of(llama_server)) as relay:
        # act once the first stream has delivered three tokens
        streaming = relay.when(lambda seen: seen.count(b'"content"') >= 3)
        target = llama_target(f"http://127.0.0.1:{relay.port}/v1", max_tokens=max_tokens)
        first = asyncio.create_task(
            probe_once(target, make_prompt(64, gemma_tokenizer, seed=41), gemma_tokenizer)
        )
        await asyncio.wait_for(streaming.wait(), 120)
        second = await raw_stream(
            llama_server.api_url, chat_body(make_prompt(64, gemma_tokenizer, seed=42).text, 4)
        )
        trace = await first
        seen = bytes(relay.seen)

    # the wire: [DONE] without any finish chunk, and the chunked body left unterminated
    assert b"data: [DONE]" in seen
    assert re.search(rb'"finish_reason": "[a-z]', seen) is None
    assert not seen.endswith(b"0\r\n\r\n")
    # the interrupting request itself runs to its end
    assert second.status == 200
    assert second.data_objects()[-1][1]["choices"][0]["finish_reason"] == "length"
    # the prober: cut short, so truncated, with the tokens it got and no finish reason
    assert trace.outcome is Outcome.TRUNCATED, trace.error
    assert trace.finish_reason is None
    assert 3 <= trace.output_tokens < max_tokens


async def test_overlong_prompt_streams_200_with_an_empty_body(
    llama_server: RunningServer, gemma_tokenizer: GemmaTokenizer
) -> None:
    prompt = make_prompt(N_CTX + 100, gemma_tokenizer, seed=51)
    raw = await raw_stream(llama_server.api_url, chat_body(prompt.text, 8))
    assert raw.status == 200
    assert raw.content_type.startswith("text/event-stream")
    assert raw.body == b""

    trace = await probe_once(llama_target(llama_server.api_url), prompt, gemma_tokenizer)
    assert trace.http_status == 200
    assert trace.outcome is Outcome.TRUNCATED
    assert trace.error == "empty event stream"
    assert trace.chunks == ()
    assert trace.client is not None and trace.client["bytes"] == 0
