"""Pure metric functions (design/metrics.md): integer nanoseconds in, no I/O.

Single-request functions take plain sequences and return `None` when a value is undefined; bulk
functions take a `ChunkMatrix` and are vectorised across requests with numpy.
"""

from monitor.metrics.analysis import AnalysisOptions, RequestMetrics, Summary, analyze
from monitor.metrics.batch import ChunkMatrix, DeadlineCounts, score
from monitor.metrics.fluidity import DeadlineScore, fluidity, fluidity_decode_only
from monitor.metrics.min_deadline import min_decode_deadline_ns, min_decode_deadlines_ns
from monitor.metrics.prefill import PrefillModel, fit_prefill_model
from monitor.metrics.score import ScoreRecord, score_traces

__all__ = [
    "AnalysisOptions",
    "ChunkMatrix",
    "DeadlineCounts",
    "DeadlineScore",
    "PrefillModel",
    "RequestMetrics",
    "ScoreRecord",
    "Summary",
    "analyze",
    "fit_prefill_model",
    "fluidity",
    "fluidity_decode_only",
    "min_decode_deadline_ns",
    "min_decode_deadlines_ns",
    "score",
    "score_traces",
]
