"""Prometheus metrics on the daemon's aiohttp app (docs/prometheus-metrics.md is the contract).

Per-probe histograms and counters are updated as each probe finishes (`ProbeMetrics`); rolling
windows come from an immutable snapshot a refresh task rebuilds from the store (`WindowCollector`,
never a query at scrape time); targets and SLOs from the config (`TargetCollector`); the
daemon's own health from `DaemonMetrics`. Every collector registers on a registry the daemon builds.
"""

from monitor.export.app import Readiness, make_app
from monitor.export.daemon_metrics import DaemonMetrics
from monitor.export.plane_metrics import PlaneMetrics
from monitor.export.probes import ProbeMetrics
from monitor.export.targets import TargetCollector
from monitor.export.windows import WindowCollector, WindowRow, WindowSnapshot

__all__ = [
    "DaemonMetrics",
    "PlaneMetrics",
    "ProbeMetrics",
    "Readiness",
    "TargetCollector",
    "WindowCollector",
    "WindowRow",
    "WindowSnapshot",
    "make_app",
]
