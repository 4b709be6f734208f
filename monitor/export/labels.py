"""Label names and values shared by every exported series (bounded: never a probe id)."""

from __future__ import annotations

from typing import Final

TARGET_LABELS: Final = ("target", "provider", "model", "region")
PROBE_LABELS: Final = (*TARGET_LABELS, "workload")
OUTCOMES: Final = (
    "ok",
    "rate_limited",
    "http_error",
    "timeout",
    "connect_error",
    "stream_error",
    "truncated",
    "protocol_error",
    "redirected",
    "too_large",
    "worker_lost",
    "skipped",
)
"""Every `outcome` label value: the trace outcomes plus `skipped` (not run: target backed off)."""


def workload_label(prompt_tokens: int | None) -> str:
    """The requested prompt length as `p<tokens>` (`p256`); `p0` when the trace did not say."""
    return f"p{prompt_tokens or 0}"
