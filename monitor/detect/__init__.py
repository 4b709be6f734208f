"""Change detection: did a vendor's per-probe behaviour shift, when, which way, and by how much.

`series` declares the watched metrics, `rank_cpm` the test (pure numpy), `estimate` the
before/after summaries, `detector` the per-probe step and the scan over history, `watch` runs it
in the daemon after each stored probe. docs/change-detection.md gives the method and assumptions.
"""

from monitor.detect.detector import DetectorSettings, Direction, Finding, Located, scan, step
from monitor.detect.series import BY_NAME, WATCHED, WatchedMetric

__all__ = [
    "BY_NAME",
    "WATCHED",
    "DetectorSettings",
    "Direction",
    "Finding",
    "Located",
    "WatchedMetric",
    "scan",
    "step",
]
