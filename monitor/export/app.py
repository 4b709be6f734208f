"""The daemon's HTTP face: `/metrics` (text or OpenMetrics by `Accept`), `/healthz`, `/readyz`.

`/healthz` answers while the event loop runs (a wedged loop cannot answer at all); `/readyz` asks
the daemon whether it can do its job (store reachable, scheduler running or standing by) and says
why not, so an orchestrator routes scrapes only to a working instance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: Mapping[str, str] = field(default_factory=dict)
    """Check name → short state (`ok`, `standby`, `down: <reason>`); never a secret."""


def make_app(registry: CollectorRegistry, readiness: Callable[[], Readiness]) -> web.Application:
    app = web.Application()
    metrics = make_aiohttp_handler(registry, disable_compression=True)

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
