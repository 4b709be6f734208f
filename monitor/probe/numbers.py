"""Which numbers a vendor may send: anything else is flagged, never trusted and never fatal.

A vendor's usage counts, server timings and `Retry-After` feed token accounting, deadlines, the
store's integer columns and the back-off. Out of range, each is handled here, in the prober,
before the trace leaves it, so everything downstream (store, exporter, `analyze`, the trace
file) only ever sees numbers it can hold:

- a usage count must be an integer in `0..MAX_TOKEN_COUNT`; anything else becomes `null` and the
  probe, if it was `ok`, becomes `protocol_error` (its token accounting cannot be trusted);
- a server timing must be a finite number of at most `MAX_TIMING_S` in magnitude; anything else is
  dropped (timings are informational; the outcome stands);
- `Retry-After` (seconds, milliseconds or an HTTP date) is capped at `RETRY_AFTER_MAX_S`, and
  `nan` or an unreadable value counts as absent (the configured default back-off applies).

What was refused is kept, cut to `RAW_CHARS`, in `meta.implausible` (field path → raw value), so a
stored probe says what the vendor sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

MAX_TOKEN_COUNT: Final = 100_000_000
"""Ten times the longest context any vendor offers (10M tokens): beyond it a count is nonsense.
It also keeps every derived number in range: the default prefill model at 10^8 tokens gives
2e-9·10^16 s = 2·10^7 s = 2·10^16 ns, far below int64's 9.2·10^18."""
MAX_TIMING_S: Final = 1e6
"""Eleven days: no server timing of one request is longer."""
RETRY_AFTER_MAX_S: Final = 3600.0
"""The longest back-off a vendor can impose: one hour. Real vendors ask for seconds to a minute;
an hour keeps a runaway value (`inf`, `1e308`, a date in year 9999) from skipping a target for the
rest of the process, while still honouring any plausible request."""
RAW_CHARS: Final = 40
MAX_TIMINGS: Final = 32
"""Server-timing fields kept per probe (Groq sends 4)."""
MAX_KEY_CHARS: Final = 64


def raw_text(value: object) -> str:
    """A bounded rendering of a refused value (a 4000-digit integer is not stored whole)."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(abs(value))
        if len(digits) > RAW_CHARS:
            sign = "-" if value < 0 else ""
            return f"{sign}{digits[:12]}…({len(digits)} digits)"
        return str(value)
    text = repr(value) if isinstance(value, float) else str(value)
    return text if len(text) <= RAW_CHARS else text[: RAW_CHARS - 1] + "…"


def plausible_count(value: int | None) -> bool:
    return value is None or 0 <= value <= MAX_TOKEN_COUNT


def checked_usage(usage: Mapping[str, int | None], flags: dict[str, str]) -> dict[str, int | None]:
    """`usage` with every implausible count replaced by None (and noted in `flags`)."""
    out: dict[str, int | None] = {}
    for key, value in usage.items():
        if plausible_count(value):
            out[key] = value
        else:
            flags[f"usage.{key}"[:MAX_KEY_CHARS]] = raw_text(value)
            out[key] = None
    return out


def checked_timings(timings: Mapping[str, Any], flags: dict[str, str]) -> dict[str, Any]:
    """Finite timings within `MAX_TIMING_S`, at most `MAX_TIMINGS` of them."""
    out: dict[str, Any] = {}
    for key, value in timings.items():
        name = str(key)[:MAX_KEY_CHARS]
        finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
        if finite and abs(value) <= MAX_TIMING_S and len(out) < MAX_TIMINGS:
            out[name] = value
        elif len(flags) < MAX_TIMINGS:
            flags[f"server_timings.{name}"] = raw_text(value)
    return out


def capped_retry_after(seconds: float) -> tuple[float | None, bool]:
    """(seconds to back off, whether the vendor's value was refused or capped)."""
    if math.isnan(seconds):
        return None, True
    if seconds <= 0:
        return 0.0, False
    if seconds > RETRY_AFTER_MAX_S:
        return RETRY_AFTER_MAX_S, True
    return seconds, False
