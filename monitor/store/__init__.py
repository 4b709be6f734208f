"""PostgreSQL storage of probes: schema, ingest, bulk import/export, retention, the round ledger,
the embedded server and the durable spool. Other packages use `Store` (see `monitor.store.store`).
"""

from monitor.store.ledger import Cycle, RoundLedger, RoundRecord, RoundRef, RoundStatus
from monitor.store.rows import UnstorableTraceError
from monitor.store.schema import METRIC_DEFINITIONS_VERSION
from monitor.store.store import Store, is_unavailable
from monitor.store.windows import DEFAULT_WINDOWS, WindowSummary

__all__ = [
    "DEFAULT_WINDOWS",
    "METRIC_DEFINITIONS_VERSION",
    "Cycle",
    "RoundLedger",
    "RoundRecord",
    "RoundRef",
    "RoundStatus",
    "Store",
    "UnstorableTraceError",
    "WindowSummary",
    "is_unavailable",
]
