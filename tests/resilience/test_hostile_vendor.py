"""Hostile vendor output through the prober and into the store: huge events, bytes that are not
UTF-8, NUL characters, HTML where a stream should be.

A raw TCP server on 127.0.0.1 answers with fixed bytes (the simulator is too well-behaved).
(`tests/integration/probe/test_hostile_server.py` has broken HTTP framing; the simulator's
`unavailable` fault the 503 HTML page.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from monitor.config import Target
from monitor.probe.client import Prober
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import BuiltinTokenizer
from monitor.store import Store
from monitor.trace import Outcome, Trace

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
DONE = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
END = b"0\r\n\r\n"
HUGE = 8 << 20
"""An 8 MiB content event."""
ENDLESS_LINE = 40 << 20
"""A 40 MiB line that never ends (no line end at all)."""


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}".encode() + b"\r\n" + data + b"\r\n"


def event(content: bytes) -> bytes:
    return b'data: {"choices":[{"index":0,"delta":{"content":"' + content + b'"}}]}\n\n'


def stream(*contents: bytes) -> bytes:
    return HEAD + b"".join(chunk(event(c)) for c in contents) + chunk(DONE) + END


Serve = Callable[..., Awaitable[Trace]]
ROOMY = {"max_bytes": 64 << 20, "max_event_bytes": 64 << 20}
"""Limits above the defaults, for the cases that test what happens below a limit."""


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Answer one probe with `payload`, return the prober's trace."""
    servers: list[asyncio.Server] = []
    tok = BuiltinTokenizer()

    async def probe(payload: bytes, limits: dict[str, int] | None = None) -> Trace:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            with contextlib.suppress(ConnectionError):
                writer.write(payload)
                await writer.drain()
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = int(server.sockets[0].getsockname()[1])
        target = Target(
            provider="simulator",
            base_url=f"http://127.0.0.1:{port}/v1",
            model="m",
            timeouts={"total_s": 20},
            limits=limits or {},
        )
        async with make_session() as session:
            return await Prober(session, tok).probe(
                target, make_prompt(16, tok), max_tokens=4, target_name="hostile"
            )

    yield probe
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_a_huge_event_is_too_large_and_the_text_before_it_is_kept(serve: Serve) -> None:
    # 8 MiB in one event: past the default 1 MiB per event, reading stops there
    trace = await serve(stream(b"Hi", b"x" * HUGE, b" there"))
    assert trace.outcome is Outcome.TOO_LARGE
    assert trace.error == "an event longer than 1048576 characters; reading stopped"
    assert [c.text for c in trace.chunks] == ["Hi"]


async def test_a_huge_event_within_raised_limits_is_kept_stored_and_not_scored_as_ok(
    serve: Serve, store: Store
) -> None:
    trace = await serve(stream(b"Hi", b"x" * HUGE, b" there"), ROOMY)
    assert [len(c.text or "") for c in trace.chunks] == [2, HUGE, 6]
    # the builtin tokenizer counts 4 characters per token: 2 Mi tokens in one chunk, more than
    # a chunk's count can hold; the count is clamped and the probe flagged
    assert trace.outcome is Outcome.PROTOCOL_ERROR
    assert trace.error == f"a chunk of {HUGE // 4} tokens (counts above 32767 are clamped)"
    assert [c.tokens for c in trace.chunks] == [1, 32767, 2]
    assert await store.ingest(trace)
    (back,) = await store.traces()
    assert len(back.chunks[1].text or "") == HUGE


async def test_bytes_that_are_not_utf8_become_replacement_characters(
    serve: Serve, store: Store
) -> None:
    trace = await serve(stream(b"Hi", b"\xff\xfe bad", b" there"))
    assert trace.outcome is Outcome.OK
    assert [c.text for c in trace.chunks] == ["Hi", "\ufffd\ufffd bad", " there"]
    assert await store.ingest(trace)
    assert [c.text for c in (await store.traces())[0].chunks] == [c.text for c in trace.chunks]


async def test_a_nul_character_in_content_is_stored(serve: Serve, store: Store) -> None:
    # valid JSON, valid UTF-8, but PostgreSQL text cannot hold U+0000
    trace = await serve(stream(b"a\\u0000b", b" c"))
    assert trace.outcome is Outcome.OK
    assert await store.ingest(trace)
    (back,) = await store.traces()
    assert back.output_tokens == trace.output_tokens
    assert [len(c.text or "") for c in back.chunks] == [len(c.text or "") for c in trace.chunks]


async def test_html_with_status_200_is_a_protocol_error(serve: Serve) -> None:
    page = b"<html><body>Log in to continue</body></html>"
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(page)}\r\n\r\n"
    trace = await serve(head.encode() + page)
    assert trace.outcome is Outcome.PROTOCOL_ERROR
    assert trace.error == "not an event stream (text/html)"


async def test_html_inside_an_event_stream_is_truncated_not_ok(serve: Serve) -> None:
    trace = await serve(HEAD + chunk(b"<html><body>502 Bad Gateway</body></html>\n") + END)
    assert trace.outcome is Outcome.TRUNCATED
    assert trace.chunks == ()


async def test_an_endless_line_is_parsed_in_linear_time(serve: Serve) -> None:
    # 640 reads of 64 KiB without a line end: rescanning and copying the buffer on every read
    # (quadratic) would blow the 20 s total timeout; collected once, it ends as a truncated stream
    trace = await serve(HEAD + chunk(b"data: " + b"y" * ENDLESS_LINE) + END, ROOMY)
    assert trace.outcome is Outcome.TRUNCATED, trace.error
