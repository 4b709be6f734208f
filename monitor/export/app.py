"""The daemon's HTTP face: `/metrics` (text or OpenMetrics by `Accept`), `/healthz`, `/readyz`.

`/healthz` answers while the event loop runs (a wedged loop cannot answer at all); `/readyz` asks
the daemon whether it can do its job (store reachable, scheduler running or standing by) and says
why not, so an orchestrator routes scrapes only to a working instance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

MAX_AGE_S: Final = 1.0
"""How long one rendering of `/metrics` is served again (coalescing bursts of scrapes)."""


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: Mapping[str, str] = field(default_factory=dict)
    """Check name → short state (`ok`, `standby`, `down: <reason>`); never a secret."""


class Exposition:
    """Renders the registry in a worker thread, at most once per `max_age_s` per format.

    With twenty targets the exposition is close to a megabyte of text and takes about a tenth of
    a second of CPU to render: done on the event loop, every scrape would stall the probes' reads
    (their timestamps) that long, and a burst of scrapes would stall them for seconds. In a
    thread the loop keeps getting the interpreter at each switch interval; and scrapes arriving
    together, or within `max_age_s` of each other, share one rendering.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._max_age_s = max_age_s
        self._clock = clock
        self._cache: dict[str, tuple[float, bytes]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition for an `Accept` header, and its content type."""
        encoder, content_type = choose_encoder(accept)
        async with self._locks.setdefault(content_type, asyncio.Lock()):
            cached = self._cache.get(content_type)
            if cached is not None and self._clock() - cached[0] < self._max_age_s:
                return cached[1], content_type
            rendered_at = self._clock()
            body = await asyncio.to_thread(encoder, self._registry)
            self._cache[content_type] = (rendered_at, body)
            return body, content_type


def make_app(registry: CollectorRegistry, readiness: Callable[[], Readiness]) -> web.Application:
    app = web.Application()
    exposition = Exposition(registry)

    async def metrics(request: web.Request) -> web.Response:
        accept = ",".join(request.headers.getall(hdrs.ACCEPT, []))
        body, content_type = await exposition.render(accept)
        return web.Response(body=body, headers={hdrs.CONTENT_TYPE: content_type})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        state = readiness()
        body = {"ready": state.ready, "checks": dict(state.checks)}
        return web.json_response(body, status=200 if state.ready else 503)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
