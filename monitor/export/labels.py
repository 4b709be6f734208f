"""Label names and values shared by every exported series (bounded: never a probe id)."""

from __future__ import annotations

from typing import Final

from monitor.trace import Outcome

TARGET_LABELS: Final = ("target", "provider", "model", "region")
PROBE_LABELS: Final = (*TARGET_LABELS, "workload")
SKIPPED: Final = "skipped"
OUTCOMES: Final = (*(o.value for o in Outcome), SKIPPED)
"""Every `outcome` label value: the trace outcomes plus `skipped` (not run: target backed off)."""


def workload_label(prompt_tokens: int | None) -> str:
    """The requested prompt length as `p<tokens>` (`p256`); `p0` when the trace did not say."""
    return f"p{prompt_tokens or 0}"
