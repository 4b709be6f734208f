"""The exporter app served on 127.0.0.1: content negotiation, health, promtool's lint."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from monitor.config import Settings
from monitor.export import (
    DaemonMetrics,
    ProbeMetrics,
    Readiness,
    TargetCollector,
    WindowCollector,
    WindowSnapshot,
    make_app,
)
from monitor.ledger import RoundStatus
from monitor.trace import Outcome
from tests.unit.export.conftest import observe, probe_trace
from tests.unit.export.test_windows import Row


class State:
    ready = Readiness(False, {"store": "down: connection refused"})


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    State.ready = Readiness(False, {"store": "down: connection refused"})
    registry = CollectorRegistry()
    probes = ProbeMetrics(registry)
    probes.declare("sim-a", "simulator", "sim-fast", "lab", [256])
    observe(probes, probe_trace([(90, 1), (110, 1), (160, 1), (170, 1)], probe_id="p-ok"))
    observe(probes, probe_trace([(90, 1)], probe_id="p-bad", outcome=Outcome.TIMEOUT))
    probes.skipped("sim-a", "simulator", "sim-fast", "lab", 256)
    DaemonMetrics(registry, version="0.1.0", region="lab").round_done(1, RoundStatus.COMPLETED)
    settings = Settings(
        region="lab",
        targets={
            "sim-a": {
                "provider": "simulator",
                "base_url": "http://127.0.0.1:1/v1",
                "model": "sim-fast",
                "workloads": {"prompt_tokens": [256]},
            }
        },
    )
    registry.register(TargetCollector(settings, 10.0))
    snap = WindowSnapshot(1795000000.0, (Row(), Row(window="24h")))
    registry.register(WindowCollector(lambda: snap))
    runner = web.AppRunner(make_app(registry, lambda: State.ready), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def fetch(url: str, accept: str | None = None) -> tuple[int, str, str]:
    headers = {"Accept": accept} if accept else {}
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool missing: apt-get install prometheus (.ci/apt-packages)"
    return subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )


async def test_text_format_by_default_and_lint_clean(base_url: str) -> None:
    status, ctype, text = await fetch(f"{base_url}/metrics")
    assert status == 200
    assert ctype.startswith("text/plain")
    assert "# {probe_id=" not in text  # exemplars only in OpenMetrics
    assert 'etalon_probes_total{model="sim-fast"' in text
    result = promtool_check(text)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_openmetrics_when_asked_with_exemplars(base_url: str) -> None:
    status, ctype, text = await fetch(f"{base_url}/metrics", "application/openmetrics-text")
    assert status == 200
    assert ctype.startswith("application/openmetrics-text")
    assert '# {probe_id="p-ok"}' in text
    # promtool 2.42 lints only the text format; the OpenMetrics parser here is strict instead
    families = {f.name: f for f in text_string_to_metric_families(text)}
    ttft = families["etalon_time_to_first_token_seconds"]
    exemplars = [s.exemplar for s in ttft.samples if s.exemplar is not None]
    assert [e.labels for e in exemplars] == [{"probe_id": "p-ok"}]
    assert families["etalon_window_fluidity_index"].type == "summary"


async def test_health_and_readiness(base_url: str) -> None:
    assert (await fetch(f"{base_url}/healthz"))[0] == 200
    status, _, body = await fetch(f"{base_url}/readyz")
    assert status == 503
    assert "connection refused" in body
    State.ready = Readiness(True, {"store": "ok", "scheduler": "standby"})
    status, _, body = await fetch(f"{base_url}/readyz")
    assert status == 200
    assert '"scheduler": "standby"' in body
