"""A hostile vendor, case by case: each case's expected outcome and bound, and for every case the
probe is stored, its trace file reads back, and no piece of the key is anywhere in it.

The vendor is a real aiohttp server on loopback (`tests/fixtures/hostile.py`) that echoes the key
it was sent, redirects to a second server, sends absurd numbers and oversized streams. Every
case failed before the prober owned these costs (see the README's "Reliability: hostile
vendors"): the key went to the redirect target or survived a cut, a number crashed the probe or
its storage, or a stream was kept whole.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from monitor import trace as trace_codec
from monitor.config import Target
from monitor.probe.client import Prober
from monitor.probe.numbers import RETRY_AFTER_MAX_S
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import BuiltinTokenizer
from monitor.store import Store
from monitor.trace import Chunk, Outcome, Trace
from tests.fixtures.hostile import HostilePair

KEY = "sk-hostile-9c1e5b44d07f3a2d8e4b6a0f"
SECRETS = (KEY,)
DEFAULT_MAX_BYTES = 8 << 20
DEFAULT_MAX_EVENTS = 65536


def leaks(haystack: str) -> list[str]:
    """Every 8-character piece of a secret found in `haystack` (the scrubber's promise)."""
    return sorted(
        {s[i : i + 8] for s in SECRETS for i in range(len(s) - 7) if s[i : i + 8] in haystack}
    )


Check = Callable[[Trace, HostilePair], None]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    path: str
    arg: str | int
    outcome: Outcome
    check: Check
    api: str = "openai-chat"
    limits: dict[str, int] = field(default_factory=dict)


def meta(trace: Trace) -> dict[str, Any]:
    assert trace.meta is not None
    return dict(trace.meta)


def never_elsewhere(trace: Trace, pair: HostilePair) -> None:
    # the second origin was never contacted: neither the key nor the request went there
    assert pair.elsewhere.requests == []
    assert meta(trace)["redirect_host"] == f"127.0.0.1:{pair.elsewhere.port}"
    assert trace.chunks == ()


def error_is_scrubbed(trace: Trace, pair: HostilePair) -> None:
    assert trace.http_status == 401
    assert trace.error is not None and trace.error.startswith("HTTP 401: authentication_error")
    assert len(trace.error) <= 160


def headers_scrubbed(trace: Trace, pair: HostilePair) -> None:
    headers = meta(trace)["headers"]
    assert headers["x-request-id"] == "***"
    assert headers["x-ratelimit-limit-requests"] == "100;owner=***"
    assert headers["x-api-echo"] == "y" * 190 + "***"


def stream_scrubbed(trace: Trace, pair: HostilePair) -> None:
    texts = [c.text or "" for c in trace.chunks]
    # masked character for character across three chunks: lengths and boundaries as received
    assert "".join(texts) == "Your key is " + "*" * len(KEY) + " (echoed)"
    assert [len(t) for t in texts] == [12, 11, 11, 13, 9]
    assert meta(trace)["returned_model"] == "***"
    assert trace.finish_reason == "***"


def implausible(field_path: str, raw: str) -> Check:
    def check(trace: Trace, pair: HostilePair) -> None:
        assert meta(trace)["implausible"] == {field_path: raw}
        assert trace.usage is not None and trace.usage["prompt_tokens"] is None
        assert trace.error == f"implausible {field_path} (kept in meta.implausible)"
        assert trace.prompt_tokens is None

    return check


def groq_timings(trace: Trace, pair: HostilePair) -> None:
    m = meta(trace)
    assert m["server_timings"] == {"total_time": 0.5}
    assert m["implausible"] == {
        "server_timings.queue_time": "nan",
        "server_timings.prompt_time": "inf",
        "server_timings.completion_time": "-inf",
    }


def retry_after(seconds: float | None, raw: str) -> Check:
    def check(trace: Trace, pair: HostilePair) -> None:
        m = meta(trace)
        assert m.get("retry_after_s") == seconds
        assert m["implausible"] == {"retry-after": raw}

    return check


def kept_prefix(texts: list[str], reason: str) -> Check:
    def check(trace: Trace, pair: HostilePair) -> None:
        assert [c.text for c in trace.chunks] == texts
        assert trace.error == f"{reason}; reading stopped"
        assert trace.client["bytes"] <= DEFAULT_MAX_BYTES

    return check


def many_events(trace: Trace, pair: HostilePair) -> None:
    # the first 65536 events are kept (one `tok ` chunk each), nothing after them
    assert len(trace.chunks) == DEFAULT_MAX_EVENTS
    assert sum(len(c.text or "") for c in trace.chunks) == 4 * DEFAULT_MAX_EVENTS
    assert trace.error == f"more than {DEFAULT_MAX_EVENTS} events; reading stopped"


def byte_budget(trace: Trace, pair: HostilePair) -> None:
    assert trace.client["bytes"] == DEFAULT_MAX_BYTES
    assert [c.text for c in trace.chunks] == ["Hi"]
    assert trace.error == (
        f"response passed limits.max_bytes ({DEFAULT_MAX_BYTES} bytes); reading stopped"
    )


CASES = [
    Case("redirect 302 keeps x-api-key", "redirect", 302, Outcome.REDIRECTED, never_elsewhere,
         api="anthropic"),
    Case("redirect 307 keeps Authorization", "redirect", 307, Outcome.REDIRECTED,
         never_elsewhere),
    Case("key echoed in an error body is scrubbed before the cut", "echo-error", 88,
         Outcome.HTTP_ERROR, error_is_scrubbed, api="anthropic"),
    Case("key echoed in kept headers", "echo-headers", 0, Outcome.OK, headers_scrubbed),
    Case("key in SSE id, model, split content, finish reason", "echo-stream", 0, Outcome.OK,
         stream_scrubbed),
    Case("key and usage 2^31 in one stream", "echo-absurd", 0, Outcome.PROTOCOL_ERROR,
         implausible("usage.prompt_tokens", str(2**31))),
    Case("usage 2^31", "usage", "2e31", Outcome.PROTOCOL_ERROR,
         implausible("usage.prompt_tokens", str(2**31))),
    Case("usage 2^62", "usage", "e62", Outcome.PROTOCOL_ERROR,
         implausible("usage.prompt_tokens", str(2**62))),
    Case("usage of 4000 digits", "usage", "digits", Outcome.PROTOCOL_ERROR,
         implausible("usage.prompt_tokens", "999999999999…(4000 digits)")),
    Case("negative usage", "usage", "negative", Outcome.PROTOCOL_ERROR,
         implausible("usage.prompt_tokens", "-5")),
    Case("NaN and Infinity in x_groq timings", "groq-nan", 0, Outcome.OK, groq_timings),
    Case("Retry-After: nan", "retry-after", "nan", Outcome.RATE_LIMITED,
         retry_after(None, "nan")),
    Case("Retry-After: inf", "retry-after", "inf", Outcome.RATE_LIMITED,
         retry_after(RETRY_AFTER_MAX_S, "inf")),
    Case("Retry-After: 1e400", "retry-after", "huge", Outcome.RATE_LIMITED,
         retry_after(RETRY_AFTER_MAX_S, "1e400")),
    Case("Retry-After in year 9999", "retry-after", "year9999", Outcome.RATE_LIMITED,
         retry_after(RETRY_AFTER_MAX_S, "Fri, 31 Dec 9999 23:59:59 GMT")),
    Case("one 2 MiB event", "one-event", 2 << 20, Outcome.TOO_LARGE,
         kept_prefix(["Hi"], "an event longer than 1048576 characters")),
    Case("20 MiB of small events", "small-events", 20 << 20, Outcome.TOO_LARGE, many_events),
    Case("a 20 MiB event past the byte budget", "one-event", 20 << 20, Outcome.TOO_LARGE,
         byte_budget, limits={"max_event_bytes": 64 << 20}),
]  # fmt: skip


async def dump(store: Store) -> str:
    async with store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT row_to_json(p)::text FROM probes p"))
        return "\n".join(rows.scalars())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_vendor_case(case: Case, hostile: HostilePair, store: Store) -> None:
    target = Target(
        provider="openai-compatible",
        api=case.api,
        base_url=hostile.vendor.url(case.path, case.arg),
        model="m",
        api_key_env="HOSTILE_KEY",
        timeouts={"total_s": 20},
        limits=case.limits,
    )
    tok = BuiltinTokenizer()
    async with make_session() as session:
        prober = Prober(session, tok, environ={"HOSTILE_KEY": KEY})
        trace = await prober.probe(
            target, make_prompt(16, tok), max_tokens=4, target_name="hostile"
        )
    assert trace.outcome is case.outcome, trace.error
    case.check(trace, hostile)
    # the key reached the vendor (so an echo was possible) and nowhere else
    assert any(KEY in s.headers.values() or f"Bearer {KEY}" in s.headers.values()
               for s in hostile.vendor.requests)  # fmt: skip
    # never dropped: stored, and its trace file reads back as it was written
    assert await store.ingest(trace)
    (back,) = await store.traces()
    assert back.outcome is case.outcome
    line = trace_codec.encode(trace)
    assert trace_codec.decode(line).outcome is case.outcome
    assert leaks(line) == []
    assert leaks(await dump(store)) == []


async def test_a_row_the_database_refuses_is_not_in_the_error(store: Store) -> None:
    # bypassing the prober: a probe id PostgreSQL's text cannot hold (NUL), beside the key in
    # the text (numbers out of range no longer do: the trace codec conforms them first). The
    # driver's error once carried the whole row (and so the key) into the daemon's log line.
    trace = Trace(
        probe_id="refused\x00",
        chunks=(Chunk(1_000_000, 1, text=f"key {KEY}"),),
        prompt_tokens=16,
        max_tokens=256,
        started_at=datetime(2026, 11, 29, tzinfo=UTC),
        outcome=Outcome.OK,
    )
    with pytest.raises(DBAPIError) as caught:
        await store.ingest(trace)
    assert "NUL" in str(caught.value) or "0x00" in str(caught.value)
    assert leaks(str(caught.value)) == []
    assert leaks("".join(traceback.format_exception(caught.value))) == []
