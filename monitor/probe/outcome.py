"""How a probe's outcome is decided: one pure function over how its stream ended.

A probe can go wrong in several ways at once (a limit hit while the vendor also sent an error
event, a timeout after a complete stream, nonsense token counts in an otherwise clean stream).
Which one names the probe is a policy; it lives here, in one place, with a table test
(`tests/unit/probe/test_outcome.py`), instead of in the prober's control flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.probe.wire import short
from monitor.trace import MAX_CHUNK_TOKENS, Outcome


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """What the prober knows when the stream is over."""

    failure: tuple[Outcome, str] | None = None
    """A transport or HTTP failure met while probing (timeout, reset, 4xx/5xx, redirect, ...)."""
    too_large: str | None = None
    """Why reading stopped at a limit (bytes, events, one event's size)."""
    stream_error: str | None = None
    """The vendor's own error event, in the stream."""
    terminal: bool = False
    """The protocol's end marker arrived."""
    finish_reason: str | None = None
    events: int = 0
    malformed: int = 0
    malformed_reason: str | None = None
    content_type: str = ""
    implausible_usage: tuple[str, ...] = ()
    """Usage fields the prober refused (`usage.completion_tokens`, ...)."""
    biggest_chunk: int = 0
    """The most tokens one chunk claimed."""


def classify_outcome(end: StreamEnd) -> tuple[Outcome, str | None]:
    """The probe's outcome and its error text, in this order of precedence:

    1. a limit (`too_large`) decides, whatever the stream said before it;
    2. a timeout after a complete stream is no failure (the server only failed to close it);
    3. the vendor's error event, then the transport/HTTP failure;
    4. unparseable events, then a body that is not an event stream;
    5. a stream without its terminator, or without a finish reason (cut short);
    6. an otherwise ok stream with implausible usage or a chunk claiming more tokens than the
       store can hold is a `protocol_error`: its numbers cannot be trusted.
    """
    failure = end.failure
    if end.too_large is not None and failure is None:
        failure = (Outcome.TOO_LARGE, f"{end.too_large}; reading stopped")
    if failure is not None and failure[0] is Outcome.TIMEOUT and end.terminal:
        failure = None
    outcome: Outcome
    error: str | None
    if failure is not None and failure[0] is Outcome.TOO_LARGE:
        outcome, error = failure
    elif end.stream_error is not None:
        outcome, error = Outcome.STREAM_ERROR, end.stream_error
    elif failure is not None:
        outcome, error = failure
    elif end.malformed:
        outcome = Outcome.PROTOCOL_ERROR
        error = f"{end.malformed} unparseable event(s): {end.malformed_reason}"
    elif end.events == 0 and "event-stream" not in end.content_type:
        outcome = Outcome.PROTOCOL_ERROR
        error = f"not an event stream ({short(end.content_type, 40) or 'no content type'})"
    elif not end.terminal:
        outcome = Outcome.TRUNCATED
        error = "empty event stream" if end.events == 0 else "stream ended without its terminator"
    elif end.finish_reason is None:
        # A server may close a stream early with a well-formed terminator (llama.cpp does when a
        # second request preempts the first); without a finish reason it is still cut short.
        outcome, error = Outcome.TRUNCATED, "stream ended without a finish reason"
    else:
        outcome, error = Outcome.OK, None
    if outcome is Outcome.OK and end.implausible_usage:
        outcome = Outcome.PROTOCOL_ERROR
        error = f"implausible {', '.join(end.implausible_usage)} (kept in meta.implausible)"
    if outcome is Outcome.OK and end.biggest_chunk > MAX_CHUNK_TOKENS:
        outcome = Outcome.PROTOCOL_ERROR
        error = (
            f"a chunk of {end.biggest_chunk} tokens (counts above {MAX_CHUNK_TOKENS} are clamped)"
        )
    return outcome, error
