"""What the real-engine tests share: a target for the llama server, one-shot probes, a raw SSE
reader that keeps every network read, and a loopback tap that reports what a stream has delivered.

The raw reader exists so each quirk is first shown on the wire, independently of the prober, and
only then checked against what the prober made of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from monitor.config import Target, Timeouts, Workload
from monitor.probe.client import Prober
from monitor.probe.prompts import Prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import Tokenizer
from monitor.trace import Trace
from tests.fixtures.llama import MODEL_ALIAS

MAX_TOKENS = 16
"""Short answers: enough gaps for a decode rate, few seconds of shared CPU per probe."""


def llama_target(
    api_url: str, *, max_tokens: int = MAX_TOKENS, timeouts: Timeouts | None = None
) -> Target:
    """The llama server as a generic OpenAI-compatible target.

    `min_tokens` (a llama-cpp-python extension) keeps the small base model from stopping early, so
    every probe yields exactly `max_tokens` tokens.
    """
    return Target(
        provider="openai-compatible",
        base_url=api_url,
        model=MODEL_ALIAS,
        params={"min_tokens": max_tokens},
        workloads=Workload(prompt_tokens=[64], max_tokens=max_tokens),
        timeouts=timeouts or Timeouts(),
    )


async def probe_once(target: Target, prompt: Prompt, tokenizer: Tokenizer) -> Trace:
    async with make_session(4) as session:
        return await Prober(session, tokenizer).probe(target, prompt, target_name="llama")


def chat_body(text: str, max_tokens: int, *, stream: bool = True) -> dict[str, Any]:
    return {
        "model": MODEL_ALIAS,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "min_tokens": max_tokens,
        "temperature": 0,
        "stream": stream,
    }


@dataclass(slots=True)
class RawStream:
    status: int
    content_type: str
    reads: list[tuple[float, bytes]] = field(default_factory=list)
    """(seconds since the request was sent, bytes) per network read."""

    @property
    def body(self) -> bytes:
        return b"".join(data for _, data in self.reads)

    def events(self) -> list[tuple[int, str]]:
        """(read index, line) for every non-empty SSE line; data and comment lines alike."""
        out: list[tuple[int, str]] = []
        for index, (_, data) in enumerate(self.reads):
            out.extend((index, line) for line in data.decode().splitlines() if line.strip())
        return out

    def data_objects(self) -> list[tuple[int, dict[str, Any]]]:
        return [
            (i, json.loads(line[len("data: ") :]))
            for i, line in self.events()
            if line.startswith("data: {")
        ]


async def raw_stream(api_url: str, body: dict[str, Any]) -> RawStream:
    """POST and keep every read with its time; reads are not merged or re-split."""
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(f"{api_url}/chat/completions", json=body) as resp,
    ):
        t0 = time.perf_counter()
        out = RawStream(resp.status, resp.headers.get("Content-Type", ""))
        with contextlib.suppress(aiohttp.ClientPayloadError):
            async for data in resp.content.iter_any():
                out.reads.append((time.perf_counter() - t0, data))
        return out


def first_read_with(reads: list[tuple[float, bytes]], needle: bytes) -> float:
    """Time of the first read containing `needle` (reads are whole SSE events on loopback)."""
    return next(t for t, data in reads if needle in data)


@dataclass(slots=True)
class Tap:
    """A loopback TCP relay in front of the server that watches the bytes coming back.

    `when(predicate)` gives an event set as soon as the server→client bytes seen so far satisfy the
    predicate, so a test can act at a precise point of a stream it does not read itself.
    """

    upstream_port: int
    port: int = 0
    seen: bytearray = field(default_factory=bytearray)
    reads: list[tuple[float, bytes]] = field(default_factory=list)
    """(perf_counter seconds, bytes) of every server→client read, HTTP framing included."""
    _watches: list[tuple[Callable[[bytes], bool], asyncio.Event]] = field(default_factory=list)

    def when(self, predicate: Callable[[bytes], bool]) -> asyncio.Event:
        event = asyncio.Event()
        self._watches.append((predicate, event))
        return event

    def _observe(self, data: bytes) -> None:
        self.reads.append((time.perf_counter(), data))
        self.seen.extend(data)
        snapshot = bytes(self.seen)
        for predicate, event in self._watches:
            if not event.is_set() and predicate(snapshot):
                event.set()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        observe: Callable[[bytes], None] | None,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if observe is not None:
                    observe(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(
            self._pump(client_r, server_w, None),
            self._pump(server_r, client_w, self._observe),
        )


@contextlib.asynccontextmanager
async def tap(upstream_port: int) -> AsyncIterator[Tap]:
    relay = Tap(upstream_port)
    server = await asyncio.start_server(relay._handle, "127.0.0.1", 0)
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
