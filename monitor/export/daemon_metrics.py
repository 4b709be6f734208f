"""The daemon's own health: build, event-loop lag, DB write errors, spool, scheduler, leadership."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from monitor.ledger import RoundStatus

LAG_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class DaemonMetrics:
    def __init__(self, registry: CollectorRegistry, version: str, region: str) -> None:
        self.region = region
        build = Gauge("etalon_build_info", "Build (value 1).", ("version",), registry=registry)
        build.labels(version).set(1)
        self.loop_lag = Histogram(
            "etalon_event_loop_lag_seconds",
            "Sampled event-loop lag.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.db_write_errors = Counter(
            "etalon_db_write_errors",
            "Failed writes (the trace went to the spool).",
            registry=registry,
        )
        self.spool_depth = Gauge(
            "etalon_spool_depth", "Traces waiting in the local spool.", registry=registry
        )
        self.spool_dropped = Counter(
            "etalon_spool_dropped",
            "Traces lost: neither the database nor the spool's disk took them, and the memory "
            "bound was reached.",
            registry=registry,
        )
        self.scheduler_lag = Gauge(
            "etalon_scheduler_lag_seconds",
            "How late the last round started.",
            registry=registry,
        )
        self._leader = Gauge(
            "etalon_leader",
            "1 on the active daemon, 0 on a standby.",
            ("region",),
            registry=registry,
        )
        self._rounds = Counter(
            "etalon_rounds", "Rounds run.", ("region", "status"), registry=registry
        )
        self._cycle_round = Gauge(
            "etalon_cycle_round",
            "Index of the current round in the cycle.",
            ("region",),
            registry=registry,
        )
        self._leader.labels(region).set(0)
        for status in (RoundStatus.COMPLETED, RoundStatus.SKIPPED):
            self._rounds.labels(region, status.value)

    def set_leader(self, leader: bool) -> None:
        self._leader.labels(self.region).set(1 if leader else 0)

    def round_done(self, index: int, status: RoundStatus) -> None:
        self._rounds.labels(self.region, status.value).inc()
        self._cycle_round.labels(self.region).set(index)

    def round_missed(self) -> None:
        """A fire that ran no round (the previous one overran, or it was too late)."""
        self._rounds.labels(self.region, RoundStatus.SKIPPED.value).inc()

    def round_started(self, index: int, late_s: float) -> None:
        self._cycle_round.labels(self.region).set(index)
        self.scheduler_lag.set(max(late_s, 0.0))
