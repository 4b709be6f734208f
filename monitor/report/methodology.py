"""The methodology section: how every number was computed, what was judged against what, and how
complete the data is. A vendor disputing a number should find the rule here, not in the code.

The definitions restate design/metrics.md (the metric engine's contract) in a sentence each.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from monitor.config import Target
from monitor.report.distributions import prompt_length
from monitor.report.model import Completeness, Definition
from monitor.report.scoring import ScoredTarget

DEFINITIONS = (
    Definition(
        "Judged deadlines",
        "Each probe is judged at the first decode deadline tier (D_d) and the prefill deadline "
        "(D_p) stored with it when it ran; probes without stored deadlines use the engine's "
        "defaults (25 ms; D_p(P) = 0.02 + 5e-5·P + 2e-9·P² + 0.3 s).",
    ),
    Definition(
        "Fluidity-index",
        "The first token is due at D_p, every later token D_d after the previous deadline; time "
        "saved carries over as slack; a late token misses every deadline period that passed and "
        "re-anchors the schedule. Fluidity-index = met / (met + missed). Integer-nanosecond "
        "arithmetic; a tie is on time.",
    ),
    Definition(
        "Fluid probe / share fluid",
        "A probe is fluid when its miss rate is at most 10 % (fluidity-index ≥ 0.9). Only scored "
        "probes (ok, at least one answer token) have a fluidity-index: a failed probe is never "
        "fluid. Share fluid is the fraction of scored probes that are fluid; failures are "
        "reported apart (probes, failed, failures by outcome) and do not count against the "
        "deadline SLO.",
    ),
    Definition(
        "Deadline SLO",
        "Holds when the 99th percentile of per-probe miss rates is at most 0.1, i.e. 99 % of "
        "successful probes are fluid (the Etalon paper's criterion).",
    ),
    Definition(
        "Minimum decode deadline D*",
        "The smallest D_d, in whole microseconds, at which a probe's decode-only miss rate is at "
        "most 10 %. Probes with fewer than two tokens have none.",
    ),
    Definition(
        "Fluent token rate",
        "1 / Q0.99(D*) over successful probes: the token rate 99 % of users experience fluently. "
        "Shown beside the TPOT-based rate 1 / mean(TPOT) and the tail-TBT rate 1 / Q0.99(TBT), "
        "which averages and chunking flatter.",
    ),
    Definition(
        "TTFT, TTFAT, TBT, inter-chunk latency",
        "TTFT: arrival of the first generated token of any kind (reasoning included). TTFAT: "
        "arrival of the first answer (non-reasoning) token, the token deadlines are judged "
        "from; equal to TTFT when the model streams no reasoning. TBT: gaps between "
        "consecutive tokens, zeros inside multi-token chunks included. Inter-chunk latency: "
        "gaps between content chunks (how often the screen refreshes). Percentiles are exact "
        "linear quantiles of the samples.",
    ),
    Definition(
        "Fluidity curve",
        "For D_d = 1…100 ms, one minus the 99th percentile of per-probe decode-only miss rates.",
    ),
    Definition(
        "Stall",
        "A chunk whose first token is late in the decode-only walk at the judged D_d; its position "
        "is its token index as a share of the response length.",
    ),
    Definition(
        "Incident",
        "A round (or a UTC clock hour when rounds are unknown) in which a target's deadline SLO "
        "failed, or which had probes but no successful one.",
    ),
    Definition(
        "Cost",
        "Configured price per 1M input and output tokens times the billed tokens (the server's "
        "usage when given). Probes that produced nothing are not billed. Cost per fluid response "
        "is the whole bill divided by the fluid responses.",
    ),
    Definition(
        "Comparisons",
        "Differences between targets with percentile-bootstrap 95 % confidence intervals "
        "(probes resampled per target); significant when the interval excludes zero.",
    ),
    Definition(
        "Failures",
        "Probes that did not end ok (rate limited, HTTP error, timeout, connect, stream or "
        "protocol error, truncated) are counted as failed and excluded from the latency metrics.",
    ),
)


def tool_version() -> str:
    try:
        return version("etalon-monitor")
    except PackageNotFoundError:
        return "unknown"


def completeness(
    s: ScoredTarget, rounds: int, target: Target | None, rounds_planned: int | None
) -> Completeness:
    """Probes seen against probes planned: rounds x prompt lengths x repetitions.

    Rounds planned come from the cycle when known, else (no cycle, or a continuous one that plans
    0 rounds) the rounds that were seen.
    """
    expected = None
    if target is not None:
        per_round = len(target.workloads.prompt_tokens) * target.workloads.repetitions
        expected = per_round * (rounds_planned or rounds)
    times = [t.started_at for t in s.traces if t.started_at is not None]
    lengths = sorted({prompt_length(s, r) for r in range(len(s.traces))})
    probes = len(s.traces)
    return Completeness(
        target=s.name,
        probes=probes,
        ok=int(s.ok.sum()),
        rounds=rounds,
        expected_probes=expected,
        completeness=probes / expected if expected else None,
        first_probe=min(times) if times else None,
        last_probe=max(times) if times else None,
        prompt_lengths=tuple(lengths),
    )
