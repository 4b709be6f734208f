"""The simulator's aiohttp server, its send log, and `start_simulator()` for in-process use.

APIs: OpenAI chat, completions and Responses (`/v1/responses`), Anthropic messages, Gemini
(`/v1/models/{model}:streamGenerateContent?alt=sse`, also under `/v1beta`, key in
`x-goog-api-key`).

Each request gets a `SimRequest` record holding what was asked, which fault struck and the
`perf_counter_ns()` stamp taken just before each event was handed to the socket: the ground truth
the prober's stamps are compared with (same clock in-process, and CLOCK_MONOTONIC across processes
on Linux). `done` is set when the response is over, however it ended, so tests wait on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from monitor.probe.tokens import BuiltinTokenizer
from monitor.sim.faults import Fault, choose_fault
from monitor.sim.frames import FRAMES, StreamInfo
from monitor.sim.plan import Plan, make_plan, rng_for
from monitor.sim.profiles import PRESETS, Profile, Switch

HANG_CAP_S = 300.0
"""Bounded even when nobody disconnects: the longest a hanging or never-ending response lasts."""


@dataclass(frozen=True, slots=True)
class Send:
    t_ns: int
    kind: str
    """open | reasoning | content | close | terminator | error | garbage."""
    tokens: int = 0


@dataclass(eq=False, slots=True)
class SimRequest:
    id: str
    api: str
    model: str
    prompt_tokens: int
    max_tokens: int
    fault: Fault | None
    received_ns: int
    authorized: bool
    path_qs: str = ""
    """The request's path and query, as received (tests check no key travels in the URL)."""
    status: int | None = None
    plan: Plan | None = None
    sends: list[Send] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def content_sends(self) -> list[Send]:
        return [s for s in self.sends if s.kind == "content"]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "api": self.api,
            "fault": self.fault.value if self.fault else None,
            "status": self.status,
            "prompt_tokens": self.prompt_tokens,
            "sends": [[s.t_ns, s.kind, s.tokens] for s in self.sends],
        }


def _texts(parts: object) -> list[str]:
    if not isinstance(parts, list):
        return []
    return [b["text"] for b in parts if isinstance(b, dict) and isinstance(b.get("text"), str)]


def _prompt_text(api: str, body: dict[str, Any]) -> str:
    if api == "openai-completions":
        prompt = body.get("prompt", "")
        return prompt if isinstance(prompt, str) else ""
    if api == "openai-responses" and isinstance(body.get("input"), str):
        return str(body["input"])
    if api == "gemini":
        contents = body.get("contents")
        if not isinstance(contents, list):
            return ""
        return "".join(t for c in contents if isinstance(c, dict) for t in _texts(c.get("parts")))
    parts: list[str] = []
    for message in body.get("input") or body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(_texts(content))
    return "".join(parts)


def _max_tokens(api: str, body: dict[str, Any]) -> object:
    if api == "openai-responses":
        return body.get("max_output_tokens")
    if api == "gemini":
        config = body.get("generationConfig")
        return config.get("maxOutputTokens") if isinstance(config, dict) else None
    return body.get("max_tokens")


def _json_error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"type": kind, "message": message}}, status=status, headers=headers
    )


class _DisconnectedError(Exception):
    """The client went away; the response is over."""


class Simulator:
    """Request handling and the send log; serve it with `start_simulator()` or `app()`."""

    def __init__(
        self,
        profile: Profile | str = "fast",
        seed: int = 0,
        *,
        api_key: str | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        switch: Switch | None = None,
    ) -> None:
        self.profile = PRESETS[profile] if isinstance(profile, str) else profile
        self.switch = switch
        """When set, requests after `switch.after_requests` get `switch.profile`."""
        self.seed = seed
        self.api_key = api_key
        self._clock = clock
        self._wall = wall_clock
        self._tokenizer = BuiltinTokenizer()
        self.requests: list[SimRequest] = []
        self._arrived = asyncio.Condition()
        self._counter = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/models/{action}", self._gemini)
        app.router.add_post("/v1beta/models/{action}", self._gemini)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/_sim/log", self._log)
        return app

    async def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[SimRequest]:
        """Wait until `count` requests have arrived; returns them in arrival order."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.requests) >= count), timeout
            )
        return self.requests[:count]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai-chat")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai-completions")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "anthropic")

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai-responses")

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        _model, _, method = request.match_info["action"].partition(":")
        if method != "streamGenerateContent":
            return _json_error(404, "not_found", "only streamGenerateContent is simulated")
        if request.query.get("alt") != "sse":
            # the real endpoint then streams one JSON array, which no SSE reader can use
            return _json_error(400, "invalid_request_error", "only alt=sse is simulated")
        return await self._handle(request, "gemini")

    async def _models(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": "sim-model", "object": "model"}]}
        )

    async def _log(self, _request: web.Request) -> web.Response:
        return web.json_response({"requests": [r.to_json() for r in self.requests]})

    def _authorized(self, request: web.Request, api: str) -> bool:
        if self.api_key is None:
            return True
        if api == "anthropic":
            return request.headers.get("x-api-key") == self.api_key
        if api == "gemini":
            return request.headers.get("x-goog-api-key") == self.api_key
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _handle(self, request: web.Request, api: str) -> web.StreamResponse:
        received = self._clock()
        loop_start = asyncio.get_running_loop().time()
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _json_error(400, "invalid_request_error", "body is not JSON")
        streaming = api == "gemini" or (isinstance(body, dict) and body.get("stream"))
        if not isinstance(body, dict) or not streaming:
            return _json_error(400, "invalid_request_error", "only stream=true is simulated")
        self._counter += 1
        if self.switch is not None and self._counter > self.switch.after_requests:
            self.profile = self.switch.profile
        request_id = f"sim-{self._counter}"
        text = _prompt_text(api, body)
        prompt_tokens = self._tokenizer.count(text)
        raw_max = _max_tokens(api, body)
        max_tokens = raw_max if isinstance(raw_max, int) and raw_max > 0 else 16
        rng = rng_for(self.seed, api, text, max_tokens)
        try:
            fault = choose_fault(request.headers, self.profile.fault_rates, rng)
        except ValueError:
            return _json_error(400, "invalid_request_error", "unknown X-Sim-Fault")
        record = SimRequest(
            id=request_id,
            api=api,
            model=str(body.get("model", "")),
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            fault=fault,
            received_ns=received,
            authorized=self._authorized(request, api),
            path_qs=request.path_qs,
        )
        async with self._arrived:
            self.requests.append(record)
            self._arrived.notify_all()
        try:
            return await self._respond(request, record, body, rng, loop_start)
        finally:
            record.done.set()

    async def _respond(
        self,
        request: web.Request,
        record: SimRequest,
        body: dict[str, Any],
        rng: Any,
        loop_start: float,
    ) -> web.StreamResponse:
        headers = request.headers
        if not record.authorized:
            record.status = 401
            # like some vendors, echo what was presented: the prober must scrub it
            presented = (
                headers.get("x-api-key")
                or headers.get("x-goog-api-key")
                or headers.get("Authorization")
                or ""
            )
            presented = presented.removeprefix("Bearer ")
            return _json_error(401, "authentication_error", f"Incorrect API key: {presented}")
        fault = record.fault
        if fault is Fault.RATE_LIMIT:
            record.status = 429
            retry = headers.get("X-Sim-Retry-After", "2")
            return _json_error(
                429,
                "rate_limit_error",
                "Rate limit reached for requests",
                {
                    "Retry-After": retry,
                    "x-ratelimit-limit-requests": "60",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": f"{retry}s",
                    "x-request-id": record.id,
                },
            )
        if fault is Fault.SERVER_ERROR:
            record.status = 500
            return _json_error(500, "server_error", "The server had an error")
        if fault is Fault.UNAVAILABLE:
            record.status = 503
            return web.Response(
                status=503,
                text="<html><body><h1>503 Service Unavailable</h1></body></html>",
                content_type="text/html",
            )
        if fault is Fault.SLOW_HEADERS:
            try:
                delay = min(float(headers.get("X-Sim-Delay-S", "5")), HANG_CAP_S)
            except ValueError:
                delay = 5.0
            await asyncio.sleep(delay)
        hour = self._wall().hour
        plan = make_plan(self.profile, rng, record.prompt_tokens, record.max_tokens, hour)
        record.plan = plan
        raw_options = body.get("stream_options")
        options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
        info = StreamInfo(
            request_id=record.id,
            model=record.model,
            prompt_tokens=record.prompt_tokens,
            # Responses and Gemini always report usage
            include_usage=bool(options.get("include_usage"))
            or record.api in ("openai-responses", "gemini"),
            continuous_usage=bool(options.get("continuous_usage_stats")),
            token_ids=self.profile.send_token_ids,
            reasoning_chunks=self.profile.reasoning_chunks,
        )
        resp = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "x-request-id": record.id,
                "x-ratelimit-remaining-requests": "59",
            },
        )
        await resp.prepare(request)
        record.status = 200
        with contextlib.suppress(_DisconnectedError, ConnectionError):  # the client went away
            await self._stream(request, resp, record, info, plan, loop_start)
        return resp

    async def _stream(
        self,
        request: web.Request,
        resp: web.StreamResponse,
        record: SimRequest,
        info: StreamInfo,
        plan: Plan,
        loop_start: float,
    ) -> None:
        headers = request.headers
        fault = record.fault
        after_raw = headers.get("X-Sim-Fault-After", "3")
        after = int(after_raw) if after_raw.isdigit() else 3
        frames = FRAMES[record.api]
        clock = self._clock
        loop = asyncio.get_running_loop()

        async def send(data: bytes, kind: str, tokens: int = 0) -> None:
            if request.transport is None or request.transport.is_closing():
                raise _DisconnectedError
            record.sends.append(Send(clock(), kind, tokens))
            await resp.write(data)

        for data in frames.opening(info):
            await send(data, "open")
        due = loop_start
        so_far = 0
        per_token = 1.0 / self.profile.decode_tps
        for i, (gap, k, text) in enumerate(zip(plan.gaps_s, plan.tokens, plan.text, strict=True)):
            due += gap
            await asyncio.sleep(max(due - loop.time(), 0.0))
            if i == after:
                if fault is Fault.ERROR_EVENT:
                    await send(frames.error(info), "error")
                    await resp.write_eof()
                    return
                if fault is Fault.RESET:
                    self._reset(request)
                    return
                if fault is Fault.HANG:
                    await self._hold(request)
                    return
                if fault is Fault.GARBAGE:
                    await send(b"this line is not server-sent events\n\n", "garbage")
                    await send(b"data: {not json at all\n\n", "garbage")
            so_far += k
            if i < info.reasoning_chunks:
                info.reasoning_sent += k
                thought = frames.reasoning(info, text, k, so_far)
                if thought is not None:
                    await send(thought, "reasoning", k)
                    continue
                info.reasoning_sent -= k  # no reasoning channel: it goes out as text
            await send(frames.content(info, text, k, so_far), "content", k)
        if fault is Fault.NEVER_END:
            deadline = loop.time() + HANG_CAP_S
            while loop.time() < deadline:
                due += per_token
                await asyncio.sleep(max(due - loop.time(), 0.0))
                so_far += 1
                await send(frames.content(info, " and", 1, so_far), "content", 1)
        timings = None
        if self.profile.groq_timings:
            timings = {
                "queue_time": 0.0,
                "prompt_time": plan.ttft_s,
                "completion_time": sum(plan.gaps_s[1:]),
                "total_time": sum(plan.gaps_s),
            }
        for data in frames.closing(info, so_far, timings):
            await send(data, "close")
        if fault is not Fault.NO_TERMINATOR:
            await send(frames.terminator(info), "terminator")
        await resp.write_eof()

    @staticmethod
    def _reset(request: web.Request) -> None:
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    @staticmethod
    async def _hold(request: web.Request) -> None:
        deadline = asyncio.get_running_loop().time() + HANG_CAP_S
        while asyncio.get_running_loop().time() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.02)


@dataclass(slots=True)
class RunningSimulator:
    """A simulator serving on a real socket; `base_url` ends in `/v1`."""

    sim: Simulator
    runner: web.AppRunner
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[SimRequest]:
        return self.sim.requests

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    profile: Profile | str = "fast",
    seed: int = 0,
    *,
    api_key: str | None = None,
    wall_clock: Callable[[], datetime] | None = None,
    switch: Switch | None = None,
) -> RunningSimulator:
    """Serve a simulator on host:port (0 picks a free port); `await sim.stop()` when done."""
    kwargs: dict[str, Any] = {}
    if wall_clock is not None:
        kwargs["wall_clock"] = wall_clock
    sim = Simulator(profile, seed, api_key=api_key, switch=switch, **kwargs)
    runner = web.AppRunner(
        sim.app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.5
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return RunningSimulator(sim, runner, host, int(bound[1]))


def log_json(sim: Simulator) -> str:
    return json.dumps({"requests": [r.to_json() for r in sim.requests]})
