"""Summary columns of a probe row: its `ScoreRecord`, one column per field (the catalogue's order).

Nothing is computed here: ingest stores the record the one scoring pass made (the daemon's, handed
through the writer), or scores a batch with that same pass when none was given (imports, recompute,
a spool replay of a trace spooled without its record). A stored value therefore equals what
`etalon-monitor analyze` prints for the same trace.
"""

from __future__ import annotations

from typing import Final

from monitor.metrics.catalogue import COLUMNS
from monitor.metrics.score import ScoreRecord, score_traces

SUMMARY_COLUMNS: Final[tuple[str, ...]] = COLUMNS

__all__ = ["SUMMARY_COLUMNS", "ScoreRecord", "score_traces"]
