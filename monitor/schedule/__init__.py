"""When probes run: cycles of rounds, one active scheduler per region, back-off after 429s.

Imports neither `store` nor `export`: the daemon hands in a probe function, sinks for finished and
skipped probes, a `monitor.ledger.RoundLedger` (the store) and a `RoundObserver` (the exporter's
self-metrics).
"""

from monitor.schedule.backoff import Backoff, retry_after_s
from monitor.schedule.journal import JournaledLedger
from monitor.schedule.leader import AdvisoryLeader, lock_key
from monitor.schedule.plan import ProbeJob, TargetPlan, plan_round, probes_per_round
from monitor.schedule.rounds import ProbeFn, RoundResult, RoundRunner, SkipSink, TraceSink
from monitor.schedule.scheduler import RoundObserver, RoundScheduler

__all__ = [
    "AdvisoryLeader",
    "Backoff",
    "JournaledLedger",
    "ProbeFn",
    "ProbeJob",
    "RoundObserver",
    "RoundResult",
    "RoundRunner",
    "RoundScheduler",
    "SkipSink",
    "TargetPlan",
    "TraceSink",
    "lock_key",
    "plan_round",
    "probes_per_round",
    "retry_after_s",
]
