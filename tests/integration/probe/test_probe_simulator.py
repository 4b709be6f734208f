"""The prober against the real simulator over loopback: every wire format, every fault."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from monitor.config import Target
from monitor.metrics.analysis import analyze
from monitor.probe.client import Prober
from monitor.probe.prompts import make_prompt
from monitor.probe.tokens import BuiltinTokenizer
from monitor.sim import RunningSimulator, SimRequest
from monitor.sim.plan import Plan
from monitor.sim.profiles import PRESETS
from monitor.trace import FluidityScope, Outcome, TokenCountSource, Trace
from tests.fixtures.simulator import StartSimulator, simulator_target
from tests.integration.probe.conftest import RecordingClock

APIS = ["openai-chat", "openai-completions", "anthropic", "openai-responses", "gemini"]
FINISH = {
    "anthropic": "max_tokens",
    "openai-responses": "max_output_tokens",
    "gemini": "MAX_TOKENS",
}
TOK = BuiltinTokenizer()
FAST_TIMEOUTS = {"connect_s": 2, "first_byte_s": 0.3, "idle_s": 0.2, "total_s": 1.0}


def plan(request: SimRequest) -> Plan:
    assert request.plan is not None, "the simulator made no plan (an HTTP-level fault?)"
    return request.plan


async def probe(
    prober: Prober,
    sim: RunningSimulator,
    api: str,
    fault: str | None = None,
    *,
    max_tokens: int = 8,
    prompt_tokens: int = 64,
    **target_fields: object,
) -> Trace:
    target = simulator_target(sim, api, **target_fields)
    headers = {"X-Sim-Fault": fault} if fault else None
    return await prober.probe(
        target,
        make_prompt(prompt_tokens, TOK, seed=1),
        target_name="sim",
        max_tokens=max_tokens,
        extra_headers=headers,
    )


@pytest.mark.parametrize("api", APIS)
async def test_complete_stream_per_api(
    api: str, prober: Prober, simulator: RunningSimulator, clock: RecordingClock
) -> None:
    trace = await probe(prober, simulator, api, max_tokens=12, prompt_tokens=100)
    sent = simulator.requests[0]
    await asyncio.wait_for(sent.done.wait(), 5)
    assert trace.outcome is Outcome.OK, trace.error
    assert (trace.http_status, trace.error, trace.api, trace.target) == (200, None, api, "sim")
    # the simulator sends one token per chunk in the test profile: 12 chunks of 1, which the
    # stream's usage confirms (Gemini's cumulative usage counts each chunk itself)
    assert [c.tokens for c in trace.chunks] == [1] * 12
    assert trace.output_tokens == 12
    assert trace.token_count_source is (
        TokenCountSource.USAGE_CONTINUOUS if api == "gemini" else TokenCountSource.USAGE_TOTAL
    )
    assert "".join(c.text or "" for c in trace.chunks) == "".join(plan(sent).text)
    assert trace.prompt_tokens == trace.requested_prompt_tokens == sent.prompt_tokens == 100
    assert trace.finish_reason == FINISH.get(api, "length")
    # causality on one clock: each chunk is stamped after the simulator sent it
    t0 = clock.values[0]
    content = sent.content_sends
    assert len(content) == len(trace.chunks)
    for chunk, send in zip(trace.chunks, content, strict=True):
        assert t0 + chunk.t_ns >= send.t_ns
    phases = trace.phases_ns
    assert phases["sent"] <= phases["headers"] <= phases["first_event"]
    assert phases["first_event"] <= phases["first_token"] == trace.chunks[0].t_ns <= phases["end"]
    assert "loop_lag_max_ns" in trace.client
    assert trace.client["reads"] >= 1
    assert trace.meta is not None and trace.meta["headers"]["x-request-id"] == sent.id


FAULTS = [
    # fault, outcome, chunks kept, HTTP status, text in error
    ("rate_limit", Outcome.RATE_LIMITED, 0, 429, "rate_limit_error"),
    ("server_error", Outcome.HTTP_ERROR, 0, 500, "HTTP 500"),
    ("unavailable", Outcome.HTTP_ERROR, 0, 503, "HTTP 503"),
    ("error_event", Outcome.STREAM_ERROR, 3, 200, "error"),
    ("reset", Outcome.TRUNCATED, 3, 200, ""),
    ("no_terminator", Outcome.TRUNCATED, 8, 200, "without its terminator"),
    ("garbage", Outcome.PROTOCOL_ERROR, 8, 200, "unparseable"),
    ("slow_headers", Outcome.TIMEOUT, 0, None, "no first byte"),
    ("hang", Outcome.TIMEOUT, 3, 200, "idle timeout"),
]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(("fault", "outcome", "kept", "status", "text"), FAULTS)
async def test_fault_maps_to_outcome_and_keeps_partial_chunks(
    api: str,
    fault: str,
    outcome: Outcome,
    kept: int,
    status: int | None,
    text: str,
    prober: Prober,
    simulator: RunningSimulator,
) -> None:
    trace = await probe(prober, simulator, api, fault, timeouts=FAST_TIMEOUTS)
    assert trace.outcome is outcome, trace.error
    assert len(trace.chunks) == kept
    assert trace.http_status == status
    if (api, fault) == ("gemini", "error_event"):
        text = "UNAVAILABLE"  # Google's error object has a status, no type
    assert trace.error is not None and text in trace.error
    assert simulator.requests[0].fault is not None
    assert simulator.requests[0].fault.value == fault
    if kept:
        sent = simulator.requests[0].content_sends
        assert [c.text for c in trace.chunks] == list(plan(simulator.requests[0]).text[:kept])
        assert len(sent) >= kept


async def test_rate_limit_keeps_retry_after_and_headers(
    prober: Prober, simulator: RunningSimulator
) -> None:
    target = simulator_target(simulator)
    trace = await prober.probe(
        target,
        make_prompt(32, TOK, seed=1),
        max_tokens=4,
        extra_headers={"X-Sim-Fault": "rate_limit", "X-Sim-Retry-After": "17"},
    )
    assert trace.outcome is Outcome.RATE_LIMITED
    assert trace.meta is not None
    assert trace.meta["retry_after_s"] == 17.0
    assert trace.meta["headers"]["x-ratelimit-remaining-requests"] == "0"
    assert trace.meta["headers"]["retry-after"] == "17"


async def test_never_ending_stream_hits_total_timeout(
    prober: Prober, simulator: RunningSimulator
) -> None:
    timeouts = {**FAST_TIMEOUTS, "total_s": 0.4}
    trace = await probe(prober, simulator, "openai-chat", "never_end", timeouts=timeouts)
    assert trace.outcome is Outcome.TIMEOUT
    assert trace.error == "total timeout (0.4s)"
    # it kept streaming past max_tokens = 8, and the chunks were kept
    assert len(trace.chunks) > 8


async def test_connection_refused_is_connect_error(prober: Prober) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = Target(provider="simulator", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    trace = await prober.probe(target, make_prompt(16, TOK), max_tokens=4)
    assert trace.outcome is Outcome.CONNECT_ERROR
    assert trace.http_status is None
    assert trace.chunks == ()


async def test_multi_token_chunks_with_continuous_usage(
    prober: Prober, start_simulator_factory: StartSimulator
) -> None:
    sim = await start_simulator_factory(PRESETS["test"].with_(tokens_per_chunk=(2, 5)))
    trace = await probe(prober, sim, "openai-chat", max_tokens=40, provider="vllm")
    assert trace.outcome is Outcome.OK
    assert trace.token_count_source is TokenCountSource.USAGE_CONTINUOUS
    assert [c.tokens for c in trace.chunks] == list(plan(sim.requests[0]).tokens)
    assert trace.output_tokens == 40


async def test_token_ids_counted_when_sent(
    prober: Prober, start_simulator_factory: StartSimulator
) -> None:
    sim = await start_simulator_factory(
        PRESETS["test"].with_(tokens_per_chunk=(1, 3), send_token_ids=True)
    )
    trace = await probe(prober, sim, "openai-completions", max_tokens=20)
    assert trace.token_count_source is TokenCountSource.TOKEN_ID
    assert [c.tokens for c in trace.chunks] == list(plan(sim.requests[0]).tokens)


async def test_groq_server_timings_go_to_meta(
    prober: Prober, start_simulator_factory: StartSimulator
) -> None:
    sim = await start_simulator_factory(PRESETS["test"].with_(groq_timings=True))
    trace = await probe(prober, sim, "openai-chat", provider="groq", base_url=sim.base_url)
    assert trace.outcome is Outcome.OK
    assert trace.meta is not None
    timings = trace.meta["server_timings"]
    assert set(timings) == {"queue_time", "prompt_time", "completion_time", "total_time"}
    assert timings["prompt_time"] == pytest.approx(plan(sim.requests[0]).ttft_s)


async def test_deadlines_use_the_prefill_model_at_the_actual_prompt_length(
    prober: Prober, simulator: RunningSimulator
) -> None:
    deadlines = {
        "decode_s": [0.02, 0.04],
        "prefill_model": (0.1, 1e-4, 1e-8),
        "prefill_slack_s": 0.2,
    }
    trace = await probe(prober, simulator, "openai-chat", prompt_tokens=1000, deadlines=deadlines)
    assert trace.deadlines is not None
    # 0.1 + 1e-4·1000 + 1e-8·1000² + 0.2 = 0.1 + 0.1 + 0.01 + 0.2
    assert trace.deadlines.prefill_s == pytest.approx(0.41)
    assert trace.deadlines.decode_s == (0.02, 0.04)
    fixed = await probe(prober, simulator, "anthropic", deadlines={"prefill_s": 0.75})
    assert fixed.deadlines is not None and fixed.deadlines.prefill_s == 0.75


async def test_concurrent_probes_all_complete(prober: Prober, simulator: RunningSimulator) -> None:
    traces = await asyncio.gather(*(probe(prober, simulator, api) for api in APIS * 8))
    count = 8 * len(APIS)
    assert [t.outcome for t in traces] == [Outcome.OK] * count
    assert len({t.probe_id for t in traces}) == count
    assert len(simulator.requests) == count


async def test_the_targets_fluidity_scope_travels_with_the_trace(
    prober: Prober, simulator: RunningSimulator
) -> None:
    visible = await probe(prober, simulator, "gemini", fluidity_scope="visible")
    default = await probe(prober, simulator, "gemini")
    assert (visible.fluidity_scope, default.fluidity_scope) == (
        FluidityScope.VISIBLE,
        FluidityScope.ANSWER,
    )


REASONING_USAGE = {"openai-chat": 3, "openai-responses": 3, "gemini": 3}
"""Where the API reports reasoning tokens in usage (Anthropic bills them inside output_tokens)."""


@pytest.mark.parametrize("api", APIS)
async def test_reasoning_streams_as_reasoning_chunks_in_every_api(
    api: str, prober: Prober, start_simulator_factory: StartSimulator
) -> None:
    sim = await start_simulator_factory(PRESETS["test"].with_(reasoning_chunks=3))
    trace = await probe(prober, sim, api, max_tokens=10)
    assert trace.outcome is Outcome.OK, trace.error
    sent = plan(sim.requests[0])
    kinds = [c.kind.value for c in trace.chunks]
    assert [c.text for c in trace.chunks] == list(sent.text)
    if api == "openai-completions":  # no reasoning channel: everything is text
        assert kinds == ["content"] * 10 and trace.reasoning_tokens == 0
        return
    # 3 reasoning chunks of one token, then 7 answer chunks of one token (max_tokens 10)
    assert kinds == ["reasoning"] * 3 + ["content"] * 7
    assert (trace.reasoning_tokens, trace.output_tokens) == (3, 7)
    assert trace.usage is not None
    assert trace.usage.get("reasoning_tokens") == REASONING_USAGE.get(api)
    assert trace.usage["completion_tokens"] == 10
    # time to first answer token vs first token of any kind, and the scope that scores them
    answer = analyze([trace]).requests[0]
    visible = analyze([replace(trace, fluidity_scope=FluidityScope.VISIBLE)]).requests[0]
    # TTFT is the first token of any kind and TTFAT the first answer token, in either scope
    for scoped in (answer, visible):
        assert scoped.ttft_s == trace.chunks[0].t_ns / 1e9
        assert scoped.ttfat_s == trace.chunks[3].t_ns / 1e9
    assert (answer.output_tokens, visible.output_tokens) == (7, 10)
