"""Faults the simulator can inject, chosen per request by header or by the profile's rates.

`X-Sim-Fault: <name>` picks one; `X-Sim-Fault-After: N` says after how many content chunks a
mid-stream fault strikes (default 3); `X-Sim-Delay-S` sets the slow-headers delay;
`X-Sim-Retry-After` the 429's `Retry-After`."""

from __future__ import annotations

import random
from collections.abc import Mapping
from enum import StrEnum


class Fault(StrEnum):
    RATE_LIMIT = "rate_limit"
    """429 with Retry-After and rate-limit headers."""
    SERVER_ERROR = "server_error"
    """500 with a JSON error body."""
    UNAVAILABLE = "unavailable"
    """503 with an HTML body, as a fronting proxy would send."""
    ERROR_EVENT = "error_event"
    """HTTP 200, some content, then the API's error event."""
    RESET = "reset"
    """Some content, then a TCP reset."""
    NO_TERMINATOR = "no_terminator"
    """A clean end of the body without `[DONE]` / `message_stop`."""
    GARBAGE = "garbage"
    """Non-SSE lines and a non-JSON data event mixed into an otherwise complete stream."""
    SLOW_HEADERS = "slow_headers"
    """The response headers come only after `X-Sim-Delay-S` seconds."""
    NEVER_END = "never_end"
    """Content keeps coming past max_tokens until the client gives up."""
    HANG = "hang"
    """Some content, then silence with the connection held open."""


HEADER = "X-Sim-Fault"


def choose_fault(
    headers: Mapping[str, str], rates: Mapping[str, float], rng: random.Random
) -> Fault | None:
    """Header first (unknown names raise ValueError), then each rate in name order."""
    named = headers.get(HEADER)
    if named:
        return Fault(named.strip().lower())
    for name in sorted(rates):
        if rng.random() < rates[name]:
            return Fault(name)
    return None
