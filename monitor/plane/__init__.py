"""The measurement plane: probe worker processes that only connect, send, stamp and frame.

The core process (schedule, store, scoring, export) hands each probe to a `Supervisor`, which sends
it as a `Job` to one of `probe.workers` worker processes (`monitor.plane.worker`) and gets a
`Trace` back (`monitor.plane.message`, schema `etalon-plane/1`). Reads are stamped on a loop and
under a GIL that nothing else uses, so ingest, scoring and /metrics cannot delay a stamp.
"""

from monitor.plane.message import SCHEMA, Job, MessageError
from monitor.plane.supervisor import Supervisor, lost_trace

__all__ = ["SCHEMA", "Job", "MessageError", "Supervisor", "lost_trace"]
