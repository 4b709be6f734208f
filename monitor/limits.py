"""The ranges every number the monitor accepts is held to: config, command line and trace files.

One declaration per bound, read by `config` (errors naming the key), the CLI (usage errors) and the
trace codec (line errors), so a value one of them accepts is never one another one crashes on.
The bounds are wide enough for any real vendor and narrow enough that the arithmetic on them
(nanosecond deadlines in int64, deadline counts, partition dates) cannot overflow or spin.
"""

from __future__ import annotations

from typing import Final

INT16_MAX: Final = 2**15 - 1
INT32_MAX: Final = 2**31 - 1
INT64_MAX: Final = 2**63 - 1
"""PostgreSQL `smallint`, `integer` and `bigint`: the store's columns."""

PROMPT_TOKENS_MIN: Final = 16
PROMPT_TOKENS_MAX: Final = 200_000
"""Prompt lengths a workload (or `probe --prompt-tokens`) may ask for."""
MAX_TOKENS_MAX: Final = 32_768
"""The longest answer a probe may ask for."""
REPETITIONS_MAX: Final = 100
"""Probes per prompt length per round (or per `probe` run)."""

DECODE_DEADLINE_MIN_S: Final = 0.001
DECODE_DEADLINE_MAX_S: Final = 60.0
"""Per-token deadlines: below 1 ms a 5-minute answer would mean 300 000 deadlines per probe and
nothing real streams that fast; above a minute every stream is fluid."""
PREFILL_DEADLINE_MIN_S: Final = 0.001
PREFILL_DEADLINE_MAX_S: Final = 3600.0
"""First-token deadlines, fixed or given by the prefill model at any allowed prompt length."""
TIMEOUT_MAX_S: Final = 86_400.0
"""Connect, first-byte, idle and total timeouts; slacks, jitters and grace periods."""

EVERY_MIN_S: Final = 1.0
EVERY_MAX_S: Final = 366 * 86_400.0
"""The round interval: a round shorter than a second is a busy loop, not a schedule."""
RETENTION_DAYS_MAX: Final = 36_500
"""A century of probes; beyond it the oldest partition date leaves the calendar."""

TRACE_SPAN_MAX_NS: Final = 7 * 86_400 * 1_000_000_000
"""The latest chunk time a trace may hold (a week after the request; timeouts stop at a day), so
deadline counts (span / 1 ms) fit the store's `integer` columns."""

YEAR_MIN: Final = 1970
YEAR_MAX: Final = 9998
"""Probe start times (`started_at`): the store partitions by UTC day and names the next day."""
