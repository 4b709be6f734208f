"""Response headers worth keeping, chosen by allowlist so no credential-bearing header is stored,
and the vendor's `Retry-After`, capped (`numbers.RETRY_AFTER_MAX_S`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

from monitor.probe.numbers import capped_retry_after, raw_text

_PREFIXES: Final = ("x-ratelimit-", "anthropic-ratelimit-", "x-api-", "x-tokenlimit-")
_NAMES: Final = frozenset(
    {
        "retry-after",
        "retry-after-ms",
        "x-request-id",
        "request-id",
        "openai-processing-ms",
        "x-together-traceid",
        "x-ratelimit-over-limit",
        "content-type",
    }
)
VALUE_CHARS: Final = 200
"""A kept header value is cut to this many characters, after secrets were scrubbed from it."""
MAX_KEPT: Final = 64
"""At most this many headers are kept (a vendor can send thousands of `x-api-*`)."""


def kept_headers(
    headers: Mapping[str, str], scrub: Callable[[str], str] | None = None
) -> dict[str, str]:
    """Allowlisted headers, values scrubbed (before they are cut: a cut key is still a key)."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if low in _NAMES or low.startswith(_PREFIXES):
            if len(out) >= MAX_KEPT:
                break
            clean = scrub(value) if scrub is not None else value
            out[(scrub(low) if scrub is not None else low)[:VALUE_CHARS]] = clean[:VALUE_CHARS]
    return out


@dataclass(frozen=True, slots=True)
class RetryAfter:
    seconds: float | None
    refused: str | None = None
    """The raw header value when it was unreadable as a number, not a number, or capped."""


def _seconds(raw: str, scale: float, now: datetime | None) -> RetryAfter | None:
    try:
        value = float(raw) * scale
    except ValueError:
        if scale != 1.0:
            return None
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        value = (when - (now or datetime.now(UTC))).total_seconds()
    seconds, refused = capped_retry_after(value)
    return RetryAfter(seconds, raw_text(raw) if refused else None)


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> RetryAfter:
    """`retry-after-ms`, else `retry-after` as seconds (integer or float) or an HTTP date;
    `nan` counts as absent, `inf` or more than an hour is capped at an hour."""
    low = {k.lower(): v for k, v in headers.items()}
    ms = low.get("retry-after-ms")
    if ms is not None:
        parsed = _seconds(ms, 0.001, now)
        if parsed is not None:
            return parsed
    raw = low.get("retry-after")
    if raw is None:
        return RetryAfter(None)
    return _seconds(raw, 1.0, now) or RetryAfter(None)


def retry_after_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    return parse_retry_after(headers, now).seconds
