"""The measurement plane's health: per probe worker, loop lag, probes in flight, RSS, restarts.

`worker` is the worker's slot (`0` … `probe.workers - 1`); a replacement keeps its slot, so the
label set stays bounded however often workers are restarted.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from monitor.export.daemon_metrics import LAG_BUCKETS

RESTART_REASONS: Final = ("died", "stuck", "rss")
"""`died`: exited or was killed (kill -9, OOM); `stuck`: no heartbeat; `rss`: over its limit."""


class PlaneMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.loop_lag = Histogram(
            "etalon_probe_worker_loop_lag_seconds",
            "Worst event-loop lag of a probe worker per heartbeat (the loop that stamps reads).",
            ("worker",),
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "etalon_probe_worker_in_flight",
            "Probes dispatched to a worker and not yet returned (its queue depth).",
            ("worker",),
            registry=registry,
        )
        self.rss = Gauge(
            "etalon_probe_worker_rss_bytes",
            "Resident memory of a probe worker.",
            ("worker",),
            registry=registry,
        )
        self.pid = Gauge(
            "etalon_probe_worker_pid", "OS process id of a probe worker.", ("worker",),
            registry=registry,
        )  # fmt: skip
        self.restarts = Counter(
            "etalon_probe_worker_restarts",
            "Probe workers replaced, by reason (died, stuck, rss).",
            ("worker", "reason"),
            registry=registry,
        )

    def declare(self, workers: int) -> None:
        """Create every series at zero so dashboards and alerts see them before any event."""
        for index in range(workers):
            w = str(index)
            self.in_flight.labels(w).set(0)
            self.rss.labels(w)
            self.pid.labels(w)
            self.loop_lag.labels(w)
            for reason in RESTART_REASONS:
                self.restarts.labels(w, reason)
