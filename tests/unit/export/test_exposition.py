"""`/metrics` rendering: off the event loop, one rendering shared by scrapes within `max_age_s`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.export.app import Exposition


class CountingCollector(Collector):
    """Counts how often the registry is rendered."""

    def __init__(self) -> None:
        self.renders = 0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.renders += 1
        yield GaugeMetricFamily("renders", "Renders so far.", value=self.renders)


async def test_scrapes_within_max_age_share_one_rendering() -> None:
    now = [100.0]
    registry = CollectorRegistry()
    counter = Counter("probes", "Probes.", registry=registry)
    counting = CountingCollector()
    registry.register(counting)
    exposition = Exposition(registry, max_age_s=1.0, clock=lambda: now[0])

    bodies = await asyncio.gather(*(exposition.render("") for _ in range(10)))
    assert counting.renders == 1  # ten concurrent scrapes, one rendering
    assert {b for b, _ in bodies} == {bodies[0][0]}
    assert b"probes_total 0.0" in bodies[0][0]
    assert bodies[0][1].startswith("text/plain")

    counter.inc()
    now[0] += 0.5
    body, _ = await exposition.render("")
    assert b"probes_total 0.0" in body and counting.renders == 1  # still the cached one
    now[0] += 0.6
    body, _ = await exposition.render("")
    assert b"probes_total 1.0" in body and counting.renders == 2


async def test_each_format_is_rendered_and_cached_on_its_own() -> None:
    registry = CollectorRegistry()
    counting = CountingCollector()
    registry.register(counting)
    exposition = Exposition(registry, clock=lambda: 0.0)
    text_body, text_type = await exposition.render("text/plain")
    om_body, om_type = await exposition.render("application/openmetrics-text")
    assert text_type.startswith("text/plain")
    assert om_type.startswith("application/openmetrics-text")
    assert om_body.endswith(b"# EOF\n") and not text_body.endswith(b"# EOF\n")
    assert counting.renders == 2
