"""What the probes cost at the configured prices, and what a *fluid* answer costs.

A probe is billed for its prompt and completion tokens when the vendor returned any output (or a
usage block): the server's `usage` counts when present, else the prompt length and the counted
output tokens. Failed probes that produced nothing (rate limits, connect errors) cost nothing.
Cost per fluid response divides the whole bill by the fluid answers: failures and stalled answers
are overhead a buyer pays for too.

Example: 2 probes of 1000 prompt + 200 output tokens at $1 / $2 per 1M, one fluid:
2·(1000·1 + 200·2) / 1e6 = $0.0028 total; per 1M tokens 0.0028 / 2400 · 1e6 = $1.1667;
per fluid response $0.0028.
"""

from __future__ import annotations

from monitor.config import Pricing
from monitor.report.model import Cost
from monitor.report.scoring import ScoredTarget
from monitor.trace import Trace


def billed_tokens(t: Trace, prompt_tokens: int) -> tuple[int, int]:
    """(input, output) tokens a probe is billed for; (0, 0) when it produced nothing."""
    usage = t.usage or {}
    output = usage.get("completion_tokens")
    prompt = usage.get("prompt_tokens")
    if output is None:
        output = t.output_tokens
    if not output and t.usage is None:
        return 0, 0
    return (prompt if prompt is not None else prompt_tokens), output


def cost(s: ScoredTarget, price: Pricing | None) -> Cost | None:
    if price is None:
        return None
    input_tokens = output_tokens = 0
    for r, t in enumerate(s.traces):
        i, o = billed_tokens(t, int(s.table.prompt_tokens[r]))
        input_tokens += i
        output_tokens += o
    total = (input_tokens * price.input_per_1m + output_tokens * price.output_per_1m) / 1e6
    fluid = int((s.ok & s.fluid).sum())
    billed = input_tokens + output_tokens
    return Cost(
        input_per_1m=price.input_per_1m,
        output_per_1m=price.output_per_1m,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total=total,
        per_1m_tokens=total / billed * 1e6 if billed else None,
        per_1m_output_tokens=total / output_tokens * 1e6 if output_tokens else None,
        per_fluid_response=total / fluid if fluid else None,
    )
