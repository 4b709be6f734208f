"""One probe: send the request, stamp every network read, and always return a `Trace`.

The read loop does four cheap things per read: stamp `perf_counter_ns()`, append `(t, bytes)`, note
the time for the idle watchdog, and hand the stream (once) to a low-priority parse queue. SSE
framing and JSON run there in small slices (see `assemble`); token counts and the outcome are
settled after the stream ended. Each way a vendor can fail maps to one `Outcome`; nothing a vendor
sends raises out of `probe()`. The API key goes into one request header and nowhere else; error
reasons are short, built from exception class names and vendor error types, scrubbed of the key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp

from monitor.config import Target
from monitor.metrics.prefill import DEFAULT_COEFFICIENTS, PrefillModel
from monitor.probe.assemble import ParseQueue, StreamAssembler, StreamFacts
from monitor.probe.headers import kept_headers, retry_after_s
from monitor.probe.looplag import LoopLagMonitor
from monitor.probe.prompts import Prompt
from monitor.probe.tokens import Tokenizer
from monitor.probe.watchdog import Watchdog
from monitor.probe.wire import WIRES, short
from monitor.trace import MAX_CHUNK_TOKENS, Deadlines, Outcome, Trace

ERROR_BODY_LIMIT = 16_384
log = logging.getLogger(__name__)


def deadlines_for(target: Target, prompt_tokens: int) -> Deadlines:
    """The target's deadlines, with the prefill model evaluated at the actual prompt length."""
    d = target.deadlines
    if d.prefill_s is not None:
        prefill = d.prefill_s
    else:
        model = PrefillModel(
            coefficients=d.prefill_coefficients or DEFAULT_COEFFICIENTS, slack_s=d.prefill_slack_s
        )
        prefill = model.seconds(prompt_tokens)
    return Deadlines(prefill_s=prefill, decode_s=tuple(d.decode_s))


def _error_from_body(status: int, body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        obj = json.loads(text)
    except ValueError:
        return f"HTTP {status}" + (f": {short(text, 80)}" if text.strip() else "")
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict):
        kind = err.get("type") or err.get("code") or "error"
        return short(f"HTTP {status}: {kind}: {err.get('message', '')}")
    if isinstance(err, str):
        return short(f"HTTP {status}: {err}")
    return f"HTTP {status}"


def _scrub(text: str | None, secret: str | None) -> str | None:
    if text is None or not secret:
        return text
    return text.replace(secret, "***")


class Prober:
    """Probes targets over one shared session; holds no per-probe state."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokenizer: Tokenizer | None,
        *,
        lag_monitor: LoopLagMonitor | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        environ: Mapping[str, str] | None = None,
        keep_text: bool = True,
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._lag = lag_monitor
        self._clock = clock
        self._wall = wall_clock
        self._environ = environ
        self._keep_text = keep_text
        self._parse_queue = ParseQueue(clock=clock)

    async def probe(
        self,
        target: Target,
        prompt: Prompt,
        *,
        target_name: str = "",
        max_tokens: int | None = None,
        probe_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        region: str = "",
    ) -> Trace:
        max_tokens = max_tokens or target.workloads.max_tokens
        api = target.resolved_api
        wire = WIRES[api]
        request = wire.build_request(target, prompt, max_tokens)
        key = target.api_key(self._environ)
        secret = key.get_secret_value() if key is not None else None
        headers = dict(request.headers)
        if secret:
            headers.update(wire.auth_headers(secret))
        headers.update(extra_headers or {})
        url = f"{target.resolved_base_url}{request.path}"
        base = Trace(
            probe_id=probe_id or uuid.uuid4().hex,
            chunks=(),
            prompt_tokens=None,
            target=target_name,
            provider=target.provider,
            model=target.model,
            api=api,
            region=region or target.region or "",
            requested_prompt_tokens=prompt.tokens,
            max_tokens=max_tokens,
        )
        task = asyncio.current_task()
        assert task is not None, "probe() must run inside a task"
        phases: dict[str, int] = {}
        status: int | None = None
        resp_headers: dict[str, str] = {}
        retry_after: float | None = None
        failure: tuple[Outcome, str] | None = None
        content_type = ""
        started_at = self._wall()
        clock = self._clock
        t0 = clock()
        watchdog = Watchdog(task, t0, target.timeouts, clock)
        assembler = StreamAssembler(t0, wire, self._tokenizer, keep_text=self._keep_text)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=target.timeouts.connect_s, sock_read=None
        )
        watchdog.arm()
        try:
            async with self._session.post(
                url, json=request.body, headers=headers, timeout=timeout, trace_request_ctx=phases
            ) as resp:
                phases["headers"] = clock()
                status = resp.status
                resp_headers = kept_headers(resp.headers)
                content_type = resp.headers.get("Content-Type", "")
                if status != 200:
                    retry_after = retry_after_s(resp.headers)
                    body = await resp.content.read(ERROR_BODY_LIMIT)
                    reason = _error_from_body(status, body)
                    outcome = Outcome.RATE_LIMITED if status == 429 else Outcome.HTTP_ERROR
                    failure = (outcome, reason)
                else:
                    # per read: stamp, keep, feed the watchdog, queue parsing; nothing more
                    stamp = assembler.times.append
                    keep = assembler.datas.append
                    submit = self._parse_queue.submit
                    async for data in resp.content.iter_any():
                        t = clock()
                        stamp(t)
                        keep(data)
                        watchdog.last_read_ns = t
                        if not assembler.scheduled:
                            submit(assembler)
        except asyncio.CancelledError:
            if watchdog.fired is None:
                raise
            task.uncancel()
            failure = (Outcome.TIMEOUT, watchdog.fired)
        except aiohttp.ConnectionTimeoutError:
            failure = (Outcome.TIMEOUT, f"connect timeout ({target.timeouts.connect_s:g}s)")
        except aiohttp.ClientConnectorError as e:
            failure = (Outcome.CONNECT_ERROR, f"cannot connect: {type(e.os_error).__name__}")
        except aiohttp.ClientPayloadError as e:
            failure = (Outcome.TRUNCATED, f"payload incomplete: {type(e).__name__}")
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionError) as e:
            if status is None:
                failure = (
                    Outcome.CONNECT_ERROR,
                    f"connection lost before headers: {type(e).__name__}",
                )
            else:
                failure = (Outcome.TRUNCATED, f"connection lost mid-stream: {type(e).__name__}")
        except aiohttp.ClientResponseError as e:
            failure = (Outcome.PROTOCOL_ERROR, f"bad HTTP response: {type(e).__name__}")
        except aiohttp.ClientError as e:
            outcome = Outcome.CONNECT_ERROR if status is None else Outcome.TRUNCATED
            failure = (outcome, f"client error: {type(e).__name__}")
        except (ValueError, UnicodeError) as e:
            failure = (Outcome.PROTOCOL_ERROR, f"unreadable response: {type(e).__name__}")
        except Exception as e:  # a prober bug or an unforeseen library error: still one trace
            log.exception("probe of %s failed unexpectedly", target.model)
            failure = (Outcome.PROTOCOL_ERROR, f"unexpected {type(e).__name__}")
        finally:
            watchdog.disarm()
        t_end = clock()
        try:
            facts = await self._parse_queue.finish(assembler)
        except Exception:  # a parser bug: keep the trace, say so
            log.exception("parsing a stream from %s failed", target.model)
            facts = StreamFacts(malformed=1, malformed_reason="parser failed")
        return self._finish(
            base,
            started_at,
            t0,
            t_end,
            phases,
            status,
            failure,
            facts,
            resp_headers,
            retry_after,
            content_type,
            prompt,
            target,
            secret,
            url,
        )

    def _finish(
        self,
        base: Trace,
        started_at: datetime,
        t0: int,
        t_end: int,
        phases: dict[str, int],
        status: int | None,
        failure: tuple[Outcome, str] | None,
        facts: StreamFacts,
        resp_headers: dict[str, str],
        retry_after: float | None,
        content_type: str,
        prompt: Prompt,
        target: Target,
        secret: str | None,
        url: str,
    ) -> Trace:
        outcome, error = Outcome.OK, None
        if failure is not None and failure[0] is Outcome.TIMEOUT and facts.terminal:
            failure = None  # the stream was complete; the server only failed to close it
        if facts.error is not None:
            outcome, error = Outcome.STREAM_ERROR, facts.error
        elif failure is not None:
            outcome, error = failure
        elif facts.malformed:
            outcome, error = (
                Outcome.PROTOCOL_ERROR,
                f"{facts.malformed} unparseable event(s): {facts.malformed_reason}",
            )
        elif facts.events == 0 and "event-stream" not in content_type:
            outcome, error = (
                Outcome.PROTOCOL_ERROR,
                f"not an event stream ({short(content_type, 40) or 'no content type'})",
            )
        elif not facts.terminal:
            outcome, error = (
                Outcome.TRUNCATED,
                (
                    "empty event stream"
                    if facts.events == 0
                    else "stream ended without its terminator"
                ),
            )
        elif facts.finish_reason is None:
            # A server may close a stream early with a well-formed terminator (llama.cpp does when
            # a second request preempts the first); without a finish reason it is still cut short.
            outcome, error = Outcome.TRUNCATED, "stream ended without a finish reason"
        chunks = tuple(facts.chunks)
        biggest = max((c.tokens for c in chunks), default=0)
        if biggest > MAX_CHUNK_TOKENS:
            # a vendor's nonsense (one event of megabytes): kept, clamped, and not scored as ok
            chunks = tuple(replace(c, tokens=min(c.tokens, MAX_CHUNK_TOKENS)) for c in chunks)
            if outcome is Outcome.OK:
                outcome, error = (
                    Outcome.PROTOCOL_ERROR,
                    f"a chunk of {biggest} tokens (counts above {MAX_CHUNK_TOKENS} are clamped)",
                )
        rel = {k: max(v - t0, 0) for k, v in phases.items() if not k.endswith("_start")}
        if "connect" in rel and url.startswith("https"):
            rel["tls"] = rel["connect"]
        if facts.first_event_ns is not None:
            rel["first_event"] = facts.first_event_ns
        if facts.chunks:
            first_content = next((c.t_ns for c in facts.chunks if c.kind.value == "content"), None)
            if first_content is not None:
                rel["first_token"] = first_content
        rel["end"] = t_end - t0
        usage = facts.usage
        prompt_tokens = usage.get("prompt_tokens") if usage else None
        client: dict[str, int] = {"reads": facts.reads, "bytes": facts.bytes}
        if self._lag is not None:
            client["loop_lag_max_ns"] = self._lag.max_lag_ns(t0, t_end)
        meta: dict[str, Any] = {}
        if resp_headers:
            meta["headers"] = resp_headers
        if retry_after is not None:
            meta["retry_after_s"] = retry_after
        if facts.server_timings:
            meta["server_timings"] = facts.server_timings
        if facts.request_id:
            meta["request_id"] = facts.request_id
        if facts.model and facts.model != target.model:
            meta["returned_model"] = facts.model
        if facts.keepalives:
            meta["keepalives"] = facts.keepalives
        return replace(
            base,
            started_at=started_at,
            prompt_tokens=prompt_tokens,
            outcome=outcome,
            http_status=status,
            error=_scrub(error, secret),
            finish_reason=facts.finish_reason,
            phases_ns=rel,
            chunks=chunks,
            token_count_source=facts.source,
            usage=usage,
            client=client,
            deadlines=deadlines_for(target, prompt_tokens or prompt.tokens),
            meta=meta or None,
        )
