"""Self-metrics: leader state, rounds and loop lag on a fresh registry."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from monitor.export.daemon_metrics import DaemonMetrics
from monitor.ledger import RoundStatus
from monitor.probe.looplag import LoopLagMonitor


def test_leader_rounds_and_build_info() -> None:
    registry = CollectorRegistry()
    m = DaemonMetrics(registry, version="1.2.3", region="lab")
    get = registry.get_sample_value
    assert get("etalon_build_info", {"version": "1.2.3"}) == 1
    assert get("etalon_leader", {"region": "lab"}) == 0
    assert get("etalon_rounds_total", {"region": "lab", "status": "skipped"}) == 0
    m.set_leader(True)
    m.round_started(2, late_s=0.5)
    m.round_done(2, RoundStatus.COMPLETED)
    assert get("etalon_leader", {"region": "lab"}) == 1
    assert get("etalon_cycle_round", {"region": "lab"}) == 2
    assert get("etalon_scheduler_lag_seconds") == 0.5
    assert get("etalon_rounds_total", {"region": "lab", "status": "completed"}) == 1


async def test_loop_lag_sampler_records_a_blocked_loop() -> None:
    registry = CollectorRegistry()
    m = DaemonMetrics(registry, version="0", region="lab")
    # a zero-length sleep that returned 1.3 s later: 1.3 s of lag; afterwards the clock stands still
    ticks = iter([0, 1_300_000_000])
    done = asyncio.Event()

    def clock() -> int:
        try:
            return next(ticks)
        except StopIteration:
            done.set()
            return 10**12

    lag = LoopLagMonitor(0.0, clock=clock, on_sample=m.loop_lag.observe)
    lag.start()
    await asyncio.wait_for(done.wait(), 5)
    await lag.stop()
    assert registry.get_sample_value("etalon_event_loop_lag_seconds_sum") == 1.3
    below_1s = registry.get_sample_value("etalon_event_loop_lag_seconds_bucket", {"le": "1.0"})
    total = registry.get_sample_value("etalon_event_loop_lag_seconds_count")
    assert total is not None and below_1s == total - 1  # exactly one sample above 1 s
