"""Many probes of one target: each prompt length, `requests` times, at most `concurrency` at once.

Prompts are built before the first request so that generating a long prompt never runs while other
streams are being read. Used by `etalon-monitor probe`; the daemon schedules its own rounds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from monitor.config import Target
from monitor.probe.client import Prober
from monitor.probe.looplag import LoopLagMonitor
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import Tokenizer
from monitor.trace import Trace


async def run_batch(
    target: Target,
    *,
    name: str,
    prompt_tokens: Sequence[int],
    max_tokens: int,
    requests: int,
    concurrency: int,
    tokenizer: Tokenizer,
    seed: int = 0,
    on_trace: Callable[[Trace], None] | None = None,
    environ: Mapping[str, str] | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> list[Trace]:
    """Traces in job order: for each repetition, each prompt length."""
    jobs = [
        (p, make_prompt(p, tokenizer, seed=seed * 1_000_003 + i * 7919 + p))
        for i in range(requests)
        for p in prompt_tokens
    ]
    lag = LoopLagMonitor()
    lag.start()
    gate = asyncio.Semaphore(concurrency)
    try:
        async with make_session(concurrency) as session:
            prober = Prober(session, tokenizer, lag_monitor=lag, environ=environ)

            async def one(prompt_len: int, index: int) -> Trace:
                async with gate:
                    trace = await prober.probe(
                        target,
                        jobs[index][1],
                        target_name=name,
                        max_tokens=max_tokens,
                        extra_headers=extra_headers,
                    )
                if on_trace is not None:
                    on_trace(trace)
                return trace

            return list(await asyncio.gather(*(one(p, i) for i, (p, _) in enumerate(jobs))))
    finally:
        await lag.stop()
