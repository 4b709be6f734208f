"""Which lag samples count for a probe: wake-ups inside its run, plus the one covering its end."""

from __future__ import annotations

from monitor.probe.looplag import LoopLagMonitor

MS = 1_000_000


def test_max_lag_over_the_probe_window() -> None:
    lag = LoopLagMonitor(interval_s=0.05)
    # (wake time, lag): probe runs from 1000 ms to 1100 ms; the interval is 50 ms
    for t_ms, lag_ms in [(900, 90), (1010, 3), (1060, 7), (1140, 5), (1200, 40)]:
        lag._samples.append((t_ms * MS, lag_ms * MS))
    # 900 is before the start; 1140 <= 1100 + 50 covers the end; 1200 is after it
    assert lag.max_lag_ns(1000 * MS, 1100 * MS) == 7 * MS
    assert lag.max_lag_ns(850 * MS, 1100 * MS) == 90 * MS
    assert lag.max_lag_ns(1150 * MS, 1160 * MS) == 40 * MS
    assert lag.max_lag_ns(5000 * MS, 6000 * MS) == 0
