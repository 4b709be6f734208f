"""The outcome precedence table: one row per way a stream can end, and what it is called."""

import pytest

from monitor.probe.outcome import StreamEnd, classify_outcome
from monitor.trace import MAX_CHUNK_TOKENS, Outcome

CLEAN = StreamEnd(terminal=True, finish_reason="stop", events=5, content_type="text/event-stream")
TIMEOUT = (Outcome.TIMEOUT, "idle 30 s")
RESET = (Outcome.STREAM_ERROR, "connection reset")

CASES: dict[str, tuple[StreamEnd, Outcome, str | None]] = {
    "a clean stream": (CLEAN, Outcome.OK, None),
    "a limit beats everything the stream said": (
        StreamEnd(too_large="event over 1 MiB", stream_error="overloaded", terminal=True),
        Outcome.TOO_LARGE,
        "event over 1 MiB; reading stopped",
    ),
    "a timeout after a complete stream is no failure": (
        StreamEnd(failure=TIMEOUT, terminal=True, finish_reason="stop", events=5),
        Outcome.OK,
        None,
    ),
    "a timeout mid-stream": (
        StreamEnd(failure=TIMEOUT, events=5, content_type="text/event-stream"),
        Outcome.TIMEOUT,
        "idle 30 s",
    ),
    "the vendor's error event beats the transport failure": (
        StreamEnd(failure=RESET, stream_error="server_error: boom", events=3),
        Outcome.STREAM_ERROR,
        "server_error: boom",
    ),
    "an HTTP failure": (
        StreamEnd(failure=(Outcome.RATE_LIMITED, "HTTP 429")),
        Outcome.RATE_LIMITED,
        "HTTP 429",
    ),
    "unparseable events": (
        StreamEnd(terminal=True, finish_reason="stop", events=4, malformed=2, malformed_reason="x"),
        Outcome.PROTOCOL_ERROR,
        "2 unparseable event(s): x",
    ),
    "not an event stream": (
        StreamEnd(content_type="text/html"),
        Outcome.PROTOCOL_ERROR,
        "not an event stream (text/html)",
    ),
    "an empty event stream": (
        StreamEnd(content_type="text/event-stream"),
        Outcome.TRUNCATED,
        "empty event stream",
    ),
    "no terminator": (
        StreamEnd(events=4, content_type="text/event-stream"),
        Outcome.TRUNCATED,
        "stream ended without its terminator",
    ),
    "a terminator without a finish reason": (
        StreamEnd(terminal=True, events=4, content_type="text/event-stream"),
        Outcome.TRUNCATED,
        "stream ended without a finish reason",
    ),
    "implausible usage in a clean stream": (
        StreamEnd(
            terminal=True,
            finish_reason="stop",
            events=5,
            content_type="text/event-stream",
            implausible_usage=("usage.completion_tokens",),
        ),
        Outcome.PROTOCOL_ERROR,
        "implausible usage.completion_tokens (kept in meta.implausible)",
    ),
    "a chunk claiming more tokens than a smallint": (
        StreamEnd(
            terminal=True,
            finish_reason="stop",
            events=5,
            content_type="text/event-stream",
            biggest_chunk=MAX_CHUNK_TOKENS + 1,
        ),
        Outcome.PROTOCOL_ERROR,
        f"a chunk of {MAX_CHUNK_TOKENS + 1} tokens (counts above {MAX_CHUNK_TOKENS} are clamped)",
    ),
    "implausible numbers do not hide an earlier failure": (
        StreamEnd(failure=RESET, implausible_usage=("usage.prompt_tokens",), biggest_chunk=10**6),
        Outcome.STREAM_ERROR,
        "connection reset",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_outcome_precedence(case: str) -> None:
    end, outcome, error = CASES[case]
    assert classify_outcome(end) == (outcome, error)
