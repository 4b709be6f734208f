"""PostgreSQL storage of probes: schema, ingest, bulk import/export, retention, the round ledger,
the embedded server and the durable spool. Other packages use `Store` (see `monitor.store.store`);
a database that cannot be reached raises `StoreUnavailable` from it. The round vocabulary
(`RoundKey`, `RoundStatus`, `Cycle`, ...) is `monitor.ledger`'s.
"""

from monitor.ledger import StoreUnavailable
from monitor.store.rows import UnstorableTraceError
from monitor.store.schema import METRIC_DEFINITIONS_VERSION
from monitor.store.store import Store
from monitor.store.windows import DEFAULT_WINDOWS, WindowSummary

__all__ = [
    "DEFAULT_WINDOWS",
    "METRIC_DEFINITIONS_VERSION",
    "Store",
    "StoreUnavailable",
    "UnstorableTraceError",
    "WindowSummary",
]
