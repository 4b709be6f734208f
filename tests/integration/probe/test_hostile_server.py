"""Whatever bytes a vendor sends back, the prober returns a trace with an outcome.

A raw TCP server on 127.0.0.1 answers each request with a fixed byte string (things the simulator,
being a well-behaved HTTP server, can't produce).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from monitor.config import Target
from monitor.probe.client import Prober
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import BuiltinTokenizer
from monitor.trace import Outcome, Trace

SSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
CASES = {
    "garbage status line": (b"garbage garbage\r\n\r\n", Outcome.PROTOCOL_ERROR),
    "bad chunk size": (
        SSE + b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\ndata: x\r\n",
        Outcome.PROTOCOL_ERROR,
    ),
    "closed before headers": (b"", Outcome.CONNECT_ERROR),
    "JSON instead of a stream": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        Outcome.PROTOCOL_ERROR,
    ),
    "70 kB header": (
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
        Outcome.PROTOCOL_ERROR,
    ),
    "body shorter than Content-Length": (
        SSE + b"Content-Length: 100\r\n\r\ndata: [DONE]\n\n",
        Outcome.TRUNCATED,
    ),
    "binary junk, then close": (SSE + b"\r\n\xff\xfe\x00data: \xff\n\n", Outcome.TRUNCATED),
}
HOLD_OPEN = b"\n\n\r\n"
"""A payload ending like this is left open after sending: the body's last chunk never comes."""

StartServer = Callable[[bytes], Awaitable[int]]


@pytest.fixture
async def raw_server() -> AsyncIterator[StartServer]:
    servers: list[asyncio.Server] = []

    async def start(payload: bytes) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(payload)
            await writer.drain()
            if payload.endswith(HOLD_OPEN):
                await reader.read()  # until the client gives up and closes
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_complete_stream_left_open_is_ok_after_the_idle_timeout(
    raw_server: StartServer,
) -> None:
    """A server that sends `[DONE]` but never ends the chunked body: the probe waits for the idle
    timeout, but the stream was complete, so the outcome is ok, not timeout."""
    events = (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    body = f"{len(events):x}".encode() + b"\r\n" + events + b"\r\n"
    port = await raw_server(SSE + b"Transfer-Encoding: chunked\r\n\r\n" + body)
    target = Target(
        provider="simulator",
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        timeouts={"idle_s": 0.2, "total_s": 5},
    )
    tok = BuiltinTokenizer()
    async with make_session() as session:
        trace = await Prober(session, tok).probe(target, make_prompt(16, tok), max_tokens=4)
    assert trace.outcome is Outcome.OK
    assert [c.text for c in trace.chunks] == ["Hi"]
    assert trace.finish_reason == "stop"


async def _probe_chunked(raw_server: StartServer, events: bytes) -> Trace:
    body = f"{len(events):x}".encode() + b"\r\n" + events + b"\r\n0\r\n\r\n"
    port = await raw_server(SSE + b"Transfer-Encoding: chunked\r\n\r\n" + body)
    target = Target(provider="simulator", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    tok = BuiltinTokenizer()
    async with make_session() as session:
        return await Prober(session, tok).probe(target, make_prompt(16, tok), max_tokens=4)


async def test_done_without_finish_reason_is_truncated(raw_server: StartServer) -> None:
    """Regression: llama.cpp ends a preempted stream with `[DONE]` and no finish chunk; counting
    it `ok` would score a cut-short answer as a complete one (fluidity and E2E too good)."""
    trace = await _probe_chunked(
        raw_server,
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n',
    )
    assert trace.outcome is Outcome.TRUNCATED
    assert trace.error == "stream ended without a finish reason"
    assert [c.text for c in trace.chunks] == ["Hi"]


async def test_empty_event_stream_is_named(raw_server: StartServer) -> None:
    """llama.cpp answers an over-long prompt with 200 and an empty stream: say so."""
    trace = await _probe_chunked(raw_server, b": keep-alive\n\n")
    assert trace.outcome is Outcome.TRUNCATED
    assert trace.error == "empty event stream"


@pytest.mark.parametrize("case", sorted(CASES))
async def test_hostile_response_becomes_an_outcome(case: str, raw_server: StartServer) -> None:
    payload, outcome = CASES[case]
    port = await raw_server(payload)
    target = Target(
        provider="simulator",
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        timeouts={"total_s": 5},
    )
    tok = BuiltinTokenizer()
    async with make_session() as session:
        trace = await Prober(session, tok).probe(target, make_prompt(16, tok), max_tokens=4)
    assert trace.outcome is outcome
    assert trace.error
