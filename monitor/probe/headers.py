"""Response headers worth keeping, chosen by allowlist so no credential-bearing header is stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

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


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if low in _NAMES or low.startswith(_PREFIXES):
            out[low] = value[:200]
    return out


def retry_after_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """`retry-after-ms`, else `retry-after` as seconds (integer or float) or an HTTP date."""
    low = {k.lower(): v for k, v in headers.items()}
    ms = low.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = low.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
