"""The aiohttp session a prober uses: a pool wider than the concurrency and phase-timing hooks.

Phases come from aiohttp's tracing signals and are stamped with `perf_counter_ns()` into a
per-request dict passed as `trace_request_ctx`, so concurrent requests don't mix their phases.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import aiohttp


def _stamp(key: str) -> Any:
    async def hook(_session: aiohttp.ClientSession, ctx: SimpleNamespace, _params: object) -> None:
        phases = ctx.trace_request_ctx
        if isinstance(phases, dict):
            phases[key] = time.perf_counter_ns()

    return hook


def phase_trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_dns_resolvehost_start.append(_stamp("dns_start"))
    config.on_dns_resolvehost_end.append(_stamp("dns"))
    config.on_connection_create_start.append(_stamp("connect_start"))
    config.on_connection_create_end.append(_stamp("connect"))
    config.on_request_headers_sent.append(_stamp("sent"))
    return config


def make_session(concurrency: int = 64) -> aiohttp.ClientSession:
    """One long-lived session per prober; never retries, never decompresses (identity encoding)."""
    connector = aiohttp.TCPConnector(
        limit=max(concurrency * 2, 16), ttl_dns_cache=300, force_close=False
    )
    return aiohttp.ClientSession(
        connector=connector,
        trace_configs=[phase_trace_config()],
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=None),
        headers={"Accept": "text/event-stream", "Accept-Encoding": "identity"},
    )
