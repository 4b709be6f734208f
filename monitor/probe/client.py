"""One probe: send the request, stamp every network read, and always return a `Trace`.

The read loop does five cheap things per read: stamp `perf_counter_ns()`, count the bytes against
the target's budget, append `(t, bytes)`, note the time for the idle watchdog, and hand the stream
(once) to a low-priority parse queue. SSE framing and JSON run there in small slices (see
`assemble`); token counts and the outcome are settled after the stream ended. Each way a vendor
can fail maps to one `Outcome`; nothing a vendor sends raises out of `probe()`.

What a vendor may cost is decided here: bytes, events and event size (`Target.limits`; past one
the probe ends as `too_large` with what came before it), time (the watchdog), numbers (`numbers`).
Redirects are never followed (`redirected`): the key would go to whatever host the vendor names.
The API key goes into one request header and nowhere else; everything the vendor sent that is
kept (error bodies, header values, ids, model names, text) passes the `Scrubber` first, before
anything is cut short.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from monitor.config import Target
from monitor.metrics.prefill import DEFAULT_COEFFICIENTS, PrefillModel
from monitor.probe.assemble import ParseQueue, StreamAssembler, StreamFacts
from monitor.probe.headers import kept_headers, parse_retry_after
from monitor.probe.looplag import LoopLagMonitor
from monitor.probe.outcome import StreamEnd, classify_outcome
from monitor.probe.prompts import Prompt
from monitor.probe.tokens import Tokenizer
from monitor.probe.watchdog import Watchdog
from monitor.probe.wire import WIRES, short
from monitor.secrets import Scrubber, strip_userinfo
from monitor.trace import MAX_CHUNK_TOKENS, Chunk, Deadlines, Outcome, Trace

ERROR_BODY_LIMIT = 16_384
SCRUB_ON_LOOP_CHARS = 65_536
"""Chunk text longer than this (far beyond a normal answer) is scrubbed in a worker thread."""
VENDOR_STRING_CHARS = 200
"""Ids, model names and finish reasons from the vendor are kept up to this length (scrubbed
first)."""
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


def _error_from_body(status: int, body: bytes, scrubber: Scrubber) -> str:
    text = scrubber.scrub(body.decode("utf-8", errors="replace"))  # before anything is cut
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


def _host_of(location: str) -> str:
    """The host a redirect names (never its path, query or userinfo: they may carry secrets)."""
    try:
        url = URL(location)
        host = url.host
        if not host:
            return "a relative URL"
        return f"{host}:{url.explicit_port}" if url.explicit_port else host
    except (ValueError, TypeError):
        return "an unreadable URL"


def _vendor_string(text: str | None, scrubber: Scrubber) -> str | None:
    return None if text is None else short(scrubber.scrub(text), VENDOR_STRING_CHARS)


def _scrubbed_chunks(chunks: Sequence[Chunk], scrubber: Scrubber) -> Sequence[Chunk]:
    """Chunk texts with secrets masked character for character, across chunk boundaries."""
    if not scrubber or all(c.text is None for c in chunks):
        return chunks
    texts = [c.text or "" for c in chunks]
    masked = scrubber.mask_in_place(texts)
    if masked is texts:
        return chunks
    return tuple(
        c if c.text is None or c.text == m else replace(c, text=m)
        for c, m in zip(chunks, masked, strict=True)
    )


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
        scrubber: Scrubber | None = None,
    ) -> None:
        """`scrubber`: every configured secret (the daemon's); each probe adds its own key."""
        self._session = session
        self._tokenizer = tokenizer
        self._lag = lag_monitor
        self._clock = clock
        self._wall = wall_clock
        self._environ = environ
        self._keep_text = keep_text
        self._parse_queue = ParseQueue(clock=clock)
        self._scrubber = scrubber or Scrubber()
        self._scrubbers: dict[tuple[str | None, ...], Scrubber] = {}

    def _scrubber_for(self, *secrets: str | None) -> Scrubber:
        found = self._scrubbers.get(secrets)
        if found is None:
            if len(self._scrubbers) > 64:
                self._scrubbers.clear()
            found = self._scrubbers[secrets] = self._scrubber.adding(*secrets)
        return found

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
        # credentials in a base_url never reach aiohttp (beside an Authorization header it
        # refuses the request, which read as the vendor's protocol error): they go as Basic auth
        # unless the key already uses Authorization, and the scrubber knows the password
        base_url, user, password = strip_userinfo(target.resolved_base_url or "")
        if user is not None and not any(k.lower() == "authorization" for k in headers):
            pair = f"{user}:{password or ''}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        scrubber = self._scrubber_for(secret, password)
        url = f"{base_url}{request.path}"
        limits = target.limits
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
            fluidity_scope=target.fluidity_scope,
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
        assembler = StreamAssembler(
            t0,
            wire,
            self._tokenizer,
            keep_text=self._keep_text,
            max_events=limits.max_events,
            max_event_chars=limits.max_event_bytes,
        )
        redirect_host: str | None = None
        refused: dict[str, str] = {}
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=target.timeouts.connect_s, sock_read=None
        )
        watchdog.arm()
        try:
            async with self._session.post(
                url,
                json=request.body,
                headers=headers,
                timeout=timeout,
                trace_request_ctx=phases,
                allow_redirects=False,
            ) as resp:
                phases["headers"] = clock()
                status = resp.status
                resp_headers = kept_headers(resp.headers, scrubber.scrub)
                content_type = scrubber.scrub(resp.headers.get("Content-Type", ""))
                if 300 <= status < 400:
                    redirect_host = _host_of(resp.headers.get("Location", ""))
                    failure = (
                        Outcome.REDIRECTED,
                        f"HTTP {status}: redirected to {redirect_host}; not followed",
                    )
                elif status != 200:
                    parsed = parse_retry_after(resp.headers)
                    retry_after = parsed.seconds
                    if parsed.refused is not None:
                        refused["retry-after"] = parsed.refused
                    body = await resp.content.read(ERROR_BODY_LIMIT)
                    reason = _error_from_body(status, body, scrubber)
                    outcome = Outcome.RATE_LIMITED if status == 429 else Outcome.HTTP_ERROR
                    failure = (outcome, reason)
                else:
                    # per read: stamp, count, keep, feed the watchdog, queue parsing; no more
                    stamp = assembler.times.append
                    keep = assembler.datas.append
                    submit = self._parse_queue.submit
                    budget = limits.max_bytes
                    received = 0
                    async for data in resp.content.iter_any():
                        t = clock()
                        received += len(data)
                        if received > budget:
                            over = received - budget
                            if over < len(data):
                                stamp(t)
                                keep(data[: len(data) - over])
                            failure = (
                                Outcome.TOO_LARGE,
                                f"response passed limits.max_bytes ({budget} bytes); "
                                "reading stopped",
                            )
                            break
                        stamp(t)
                        keep(data)
                        watchdog.last_read_ns = t
                        if assembler.stop:
                            break
                        if not assembler.scheduled:
                            submit(assembler)
                    if failure is not None or assembler.stop:
                        resp.close()  # stop the transfer; the connection is not reused
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
        if scrubber and facts.text_chars > SCRUB_ON_LOOP_CHARS:
            # a long text (a hostile stream, up to limits.max_bytes) is scrubbed off the loop
            # that stamps other probes' reads
            facts.chunks = list(await asyncio.to_thread(_scrubbed_chunks, facts.chunks, scrubber))
        else:
            facts.chunks = list(_scrubbed_chunks(facts.chunks, scrubber))
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
            scrubber,
            url,
            redirect_host,
            refused,
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
        scrubber: Scrubber,
        url: str,
        redirect_host: str | None,
        refused: dict[str, str],
    ) -> Trace:
        implausible = {**refused, **facts.implausible}
        chunks = tuple(facts.chunks)  # scrubbed by `probe()`
        biggest = max((c.tokens for c in chunks), default=0)
        outcome, error = classify_outcome(
            StreamEnd(
                failure=failure,
                too_large=facts.too_large,
                stream_error=facts.error,
                terminal=facts.terminal,
                finish_reason=facts.finish_reason,
                events=facts.events,
                malformed=facts.malformed,
                malformed_reason=facts.malformed_reason,
                content_type=content_type,
                implausible_usage=tuple(
                    sorted(k for k in facts.implausible if k.startswith("usage."))
                ),
                biggest_chunk=biggest,
            )
        )
        if biggest > MAX_CHUNK_TOKENS:
            # a vendor's nonsense (one event of megabytes): kept, clamped, and not scored as ok
            chunks = tuple(replace(c, tokens=min(c.tokens, MAX_CHUNK_TOKENS)) for c in chunks)
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
            meta["request_id"] = _vendor_string(facts.request_id, scrubber)
        if facts.model and facts.model != target.model:
            meta["returned_model"] = _vendor_string(facts.model, scrubber)
        if facts.keepalives:
            meta["keepalives"] = facts.keepalives
        if redirect_host is not None:
            meta["redirect_host"] = _vendor_string(redirect_host, scrubber)
        if implausible:
            meta["implausible"] = implausible
        if meta and scrubber:
            meta = scrubber.scrub_data(meta)
        return replace(
            base,
            started_at=started_at,
            prompt_tokens=prompt_tokens,
            outcome=outcome,
            http_status=status,
            error=None if error is None else short(scrubber.scrub(error)),
            finish_reason=_vendor_string(facts.finish_reason, scrubber),
            phases_ns=rel,
            chunks=chunks,
            token_count_source=facts.source,
            usage=usage,
            client=client,
            deadlines=deadlines_for(target, prompt_tokens or prompt.tokens),
            meta=meta or None,
        )
