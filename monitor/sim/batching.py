"""A simulated self-hosted engine with continuous batching, for capacity search.

The vendor simulator (`monitor.sim.server`) gives every request its own timeline, so it never
saturates. This one has a single engine loop that runs *steps*, like vLLM or Sarathi-Serve: each
step processes the prefill tokens scheduled into it plus one token for each decoding request, and
takes (a roofline: reading the weights costs `overhead_s` whatever the batch, and a step stays
memory-bound until its tokens need more compute than that)

    step_s = (max(overhead_s, per_token_s·T) + per_decode_s·D
              + attention_s·Σ chunk·(ctx + chunk/2)) / time_scale

where `T` is all tokens in the step, `D` the decoding requests (each reads its own KV cache) and
the last term the quadratic attention cost of the prefill chunks (`ctx` tokens of the same prompt
already prefilled). Decodes sharing a step with a prefill chunk thus ride almost free, which is
why chunked prefill helps throughput. A request's first token leaves when its last prefill
chunk's step ends; every later token when a decode step that included it ends. Two schedulers:

- `whole` (vLLM-like, before chunked prefill): waiting prompts are prefilled whole, in steps of
  their own; running decodes stall for those steps.
- `chunked` (Sarathi-like): each step has a token budget (`chunk_tokens`); decodes go first, the
  rest of the budget takes the next prompt chunk. Decodes never stall for a whole prefill, but
  every step that carries a chunk is slower.

Isolated, a `P`-token prompt's TTFT is `per_token·P + attention·P²/2` once `per_token·P` exceeds
the overhead (chunked: the same while each chunk does): a quadratic in `P`, which
`etalon-monitor profile` recovers.

`time_scale` divides every duration, so tests run a minute of engine time in seconds. The server
speaks OpenAI chat/completions SSE with the vendor simulator's framing (`monitor.sim.frames`).
Run standalone: `python -m monitor.sim.batching --variant chunked --port 8001`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from aiohttp import web

from monitor.probe.tokens import BuiltinTokenizer
from monitor.sim.frames import FRAMES, StreamInfo
from monitor.sim.plan import WORDS

VARIANTS: Final = ("whole", "chunked")


@dataclass(frozen=True, slots=True)
class EngineModel:
    """Cost model and scheduler limits of the simulated engine (seconds before `time_scale`)."""

    variant: str = "whole"
    overhead_s: float = 0.010
    per_token_s: float = 5e-5
    per_decode_s: float = 2e-4
    attention_s: float = 2e-9
    chunk_tokens: int = 512
    """Token budget of a step in the chunked variant (Sarathi's `max_num_batched_tokens`)."""
    max_batch: int = 64
    """Most requests running (prefilling or decoding) at once; the rest wait in FIFO order."""
    max_prefill_tokens: int = 16_384
    """Whole variant: most prompt tokens in one prefill step (at least one prompt always fits)."""
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}")
        if self.time_scale <= 0 or self.chunk_tokens < 1 or self.max_batch < 1:
            raise ValueError("time_scale, chunk_tokens and max_batch must be positive")

    def step_s(self, chunks: list[tuple[int, int]], decodes: int) -> float:
        """Duration of one step: prefill `chunks` as (tokens, context before) plus `decodes`."""
        prefill = sum(n for n, _ in chunks)
        attention = sum(n * (ctx + n / 2.0) for n, ctx in chunks)
        raw = (
            max(self.overhead_s, self.per_token_s * (prefill + decodes))
            + self.per_decode_s * decodes
            + self.attention_s * attention
        )
        return raw / self.time_scale

    def isolated_ttft_s(self, prompt_tokens: int) -> float:
        """TTFT of a prompt alone on an idle engine (the prefill profile's ground truth)."""
        if self.variant == "whole":
            return self.step_s([(prompt_tokens, 0)], 0)
        total, done = 0.0, 0
        while done < prompt_tokens:
            n = min(self.chunk_tokens, prompt_tokens - done)
            total += self.step_s([(n, done)], 0)
            done += n
        return total

    def with_(self, **changes: Any) -> EngineModel:
        return replace(self, **changes)


@dataclass(eq=False, slots=True)
class EngineRequest:
    prompt_tokens: int
    max_tokens: int
    prefilled: int = 0
    emitted: int = 0
    tokens: asyncio.Queue[int | None] = field(default_factory=asyncio.Queue)
    """One item per token as its step ends; None when the request is over."""
    cancelled: bool = False


class Engine:
    """The step loop. `submit()` queues a request; its tokens arrive on `request.tokens`."""

    def __init__(self, model: EngineModel) -> None:
        self.model = model
        self.waiting: deque[EngineRequest] = deque()
        self.running: list[EngineRequest] = []
        self.steps = 0
        self.busy_s = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="engine")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def submit(self, prompt_tokens: int, max_tokens: int) -> EngineRequest:
        req = engine_request(prompt_tokens, max_tokens)
        self.waiting.append(req)
        self._wake.set()
        return req

    def _admit(self) -> None:
        self.running = [r for r in self.running if not r.cancelled]
        while self.waiting and len(self.running) < self.model.max_batch:
            req = self.waiting.popleft()
            if not req.cancelled:
                self.running.append(req)

    def _schedule(self) -> tuple[list[tuple[EngineRequest, int]], list[EngineRequest]]:
        """This step's prefill chunks (request, tokens) and decoding requests."""
        m = self.model
        prefilling = [r for r in self.running if r.prefilled < r.prompt_tokens]
        decoding = [r for r in self.running if r.prefilled >= r.prompt_tokens]
        if m.variant == "whole":
            if not prefilling:
                return [], decoding
            chunks: list[tuple[EngineRequest, int]] = []
            budget = m.max_prefill_tokens
            for r in prefilling:
                need = r.prompt_tokens - r.prefilled
                if chunks and need > budget:
                    break
                chunks.append((r, need))
                budget -= need
            return chunks, []  # prefill-only step: decodes stall
        budget = max(m.chunk_tokens - len(decoding), 0)
        chunks = []
        for r in prefilling:
            if budget <= 0:
                break
            n = min(r.prompt_tokens - r.prefilled, budget)
            chunks.append((r, n))
            budget -= n
        return chunks, decoding

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            self._admit()
            if not self.running:
                self._wake.clear()
                await self._wake.wait()
                due = loop.time()
                continue
            chunks, decoding = self._schedule()
            dt = self.model.step_s([(n, r.prefilled) for r, n in chunks], len(decoding))
            due = max(due, loop.time() - dt) + dt  # a late loop catches up at most one step
            await asyncio.sleep(max(due - loop.time(), 0.0))
            self._finish_step(chunks, decoding, dt)

    def _finish_step(
        self, chunks: list[tuple[EngineRequest, int]], decoding: list[EngineRequest], dt: float
    ) -> None:
        self.steps += 1
        self.busy_s += dt
        for r, n in chunks:
            r.prefilled += n
            if r.prefilled >= r.prompt_tokens:
                self._emit(r)  # the prefill step yields the first token
        for r in decoding:
            self._emit(r)

    def _emit(self, r: EngineRequest) -> None:
        r.emitted += 1
        r.tokens.put_nowait(r.emitted)
        if r.emitted >= r.max_tokens:
            r.tokens.put_nowait(None)
            with contextlib.suppress(ValueError):
                self.running.remove(r)


def _prompt_text(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    parts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
    return "".join(parts)


class BatchingServer:
    """OpenAI-compatible SSE in front of an `Engine`."""

    def __init__(self, model: EngineModel) -> None:
        self.engine = Engine(model)
        self._tokenizer = BuiltinTokenizer()
        self._counter = 0
        self.served = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _models(self, _request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "sim-engine"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai-chat")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai-completions")

    async def _handle(self, request: web.Request, api: str) -> web.StreamResponse:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        if not isinstance(body, dict) or not body.get("stream"):
            return web.json_response({"error": {"message": "only stream=true"}}, status=400)
        raw_max = body.get("max_tokens")
        max_tokens = raw_max if isinstance(raw_max, int) and 0 < raw_max <= 65_536 else 16
        prompt_tokens = self._tokenizer.count(_prompt_text(body))
        self._counter += 1
        options = body.get("stream_options")
        info = StreamInfo(
            request_id=f"eng-{self._counter}",
            model=str(body.get("model", "")),
            prompt_tokens=prompt_tokens,
            include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
            continuous_usage=False,
            token_ids=False,
        )
        frames = FRAMES[api]
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        req = self.engine.submit(prompt_tokens, max_tokens)
        try:
            for data in frames.opening(info):
                await resp.write(data)
            while (n := await req.tokens.get()) is not None:
                await resp.write(frames.content(info, WORDS[n % len(WORDS)], 1, n))
            for data in frames.closing(info, req.emitted, None):
                await resp.write(data)
            await resp.write(frames.terminator(info))
            await resp.write_eof()
            self.served += 1
        except (ConnectionError, asyncio.CancelledError):
            req.cancelled = True
            raise
        finally:
            req.cancelled = req.cancelled or req.emitted < req.max_tokens
        return resp


@dataclass(slots=True)
class RunningEngine:
    server: BatchingServer
    runner: web.AppRunner
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def stop(self) -> None:
        await self.server.engine.stop()
        await self.runner.cleanup()


async def start_engine(model: EngineModel, host: str = "127.0.0.1", port: int = 0) -> RunningEngine:
    """Serve a simulated engine on host:port (0 picks a free port); `await e.stop()` when done."""
    server = BatchingServer(model)
    server.engine.start()
    runner = web.AppRunner(
        server.app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.5
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return RunningEngine(server, runner, host, int(runner.addresses[0][1]))


def replay(
    model: EngineModel, arrivals_s: Sequence[float], shapes: Sequence[tuple[int, int]]
) -> list[list[float]]:
    """The engine in virtual time: each request's token times, seconds after its arrival.

    Runs the same scheduler and step costs as the served engine, without sockets or sleeping,
    so a capacity sweep over engine time is exact and machine-independent (the served engine
    adds only the transport). `shapes` are (prompt tokens, output tokens) per arrival.
    """
    engine = Engine(model)
    requests = [engine_request(p, o) for p, o in shapes]
    times: dict[int, list[float]] = {id(r): [] for r in requests}
    now, i, n = 0.0, 0, len(requests)
    while i < n or engine.running or engine.waiting:
        while i < n and arrivals_s[i] <= now:
            engine.waiting.append(requests[i])
            i += 1
        engine._admit()
        if not engine.running:
            now = arrivals_s[i]
            continue
        chunks, decoding = engine._schedule()
        dt = model.step_s([(k, r.prefilled) for r, k in chunks], len(decoding))
        before = {id(r): r.emitted for r, _ in chunks} | {id(r): r.emitted for r in decoding}
        now += dt
        engine._finish_step(chunks, decoding, dt)
        for r in [r for r, _ in chunks] + decoding:
            if r.emitted > before[id(r)]:
                times[id(r)].append(now)
    return [[t - arrivals_s[k] for t in times[id(r)]] for k, r in enumerate(requests)]


def engine_request(prompt_tokens: int, max_tokens: int) -> EngineRequest:
    return EngineRequest(max(prompt_tokens, 1), max(max_tokens, 1))


def saturation_qps(model: EngineModel, prompt_tokens: int, max_tokens: int) -> float:
    """Upper bound on sustainable QPS for one request shape: engine time per request at best.

    Every request needs its prefill (at least `per_token·P + attention·P²/2`) and `max_tokens - 1`
    decode slots (at least `per_token + per_decode` each); overheads are shared across a batch,
    so they are left out. Above `1 / that`, work arrives faster than any schedule can do it and
    queues grow without bound.
    """
    p = float(prompt_tokens)
    prefill = model.per_token_s * p + model.attention_s * p * p / 2.0
    decode = (max_tokens - 1) * (model.per_token_s + model.per_decode_s)
    return model.time_scale / (prefill + decode) if prefill + decode > 0 else math.inf


def main(argv: list[str] | None = None) -> None:
    """`python -m monitor.sim.batching`: serve until SIGINT/SIGTERM; prints the base URL."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=VARIANTS, default="whole")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--chunk-tokens", type=int, default=512)
    parser.add_argument("--max-batch", type=int, default=64)
    defaults = EngineModel()
    for name in ("overhead_s", "per_token_s", "per_decode_s", "attention_s"):
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=float, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    model = EngineModel(
        variant=args.variant,
        time_scale=args.time_scale,
        chunk_tokens=args.chunk_tokens,
        max_batch=args.max_batch,
        overhead_s=args.overhead_s,
        per_token_s=args.per_token_s,
        per_decode_s=args.per_decode_s,
        attention_s=args.attention_s,
    )

    async def serve() -> None:
        running = await start_engine(model, args.host, args.port)
        sys.stdout.write(f"engine ({args.variant}) listening on {running.base_url}\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await running.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
