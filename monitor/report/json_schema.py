"""JSON Schema (draft 2020-12) of `etalon-monitor report --format json` (`etalon-report/1`).

The contract machines can rely on: the keys the issue promises per target plus the sections every
report has. Per-target latency keys (`ttft_p50_s`, `ttfat_p90_s`, ...) are generated from the
metric catalogue. `etalon-monitor report --schema` prints it; the tests validate real reports
against it.
Additive changes (new keys) keep the format name; removing or retyping a key bumps it.
"""

from __future__ import annotations

from typing import Any, Final

from monitor.metrics.catalogue import reported
from monitor.report.model import FORMAT

_NUM: Final = {"type": "number"}
_OPT_NUM: Final = {"type": ["number", "null"]}
_OPT_BOOL: Final = {"type": ["boolean", "null"]}
_OPT_TIME: Final = {"type": ["string", "null"], "format": "date-time"}
_COUNT: Final = {"type": "integer", "minimum": 0}
_RATIO: Final = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_STRINGS: Final = {"type": "array", "items": {"type": "string"}}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


_CDF: Final = _object(
    {
        "samples": _COUNT,
        "probabilities": {"type": "array", "items": _NUM},
        "values_s": {"type": "array", "items": _NUM},
    }
)

_BOX: Final = _object(
    {
        "prompt_tokens": _COUNT,
        "probes": _COUNT,
        **{f"p{q}": _OPT_NUM for q in (5, 25, 50, 75, 90, 95, 99)},
    }
)

_COST: Final = _object(
    {
        "input_per_1m": _NUM,
        "output_per_1m": _NUM,
        "input_tokens": _COUNT,
        "output_tokens": _COUNT,
        "total": _NUM,
        "per_1m_tokens": _OPT_NUM,
        "per_1m_output_tokens": _OPT_NUM,
        "per_fluid_response": _OPT_NUM,
    }
)

_TARGET: Final = _object(
    {
        "target": {"type": "string"},
        "probes": _COUNT,
        "ok": _COUNT,
        "failed": _COUNT,
        "failures_by_outcome": {"type": "object", "additionalProperties": _COUNT},
        "top_errors": {
            "type": "array",
            "items": _object({"error": {"type": "string"}, "count": _COUNT}),
        },
        "share_fluid": _RATIO,
        "deadline_slo_met": _OPT_BOOL,
        "service_miss_rate": _RATIO,
        "p99_request_miss_rate": _RATIO,
        "round_compliance": _object(
            {"rounds": _COUNT, "judged": _COUNT, "slo_met": _COUNT, "share": _RATIO}
        ),
        "fluent_token_rate": _OPT_NUM,
        "tpot_rate": _OPT_NUM,
        "tail_tbt_rate": _OPT_NUM,
        **{key: _OPT_NUM for m in reported() for key in m.report_fields()},
        "tbt_s": _object({"p50": _OPT_NUM, "p90": _OPT_NUM, "p99": _OPT_NUM}),
        "decode_deadlines_s": {"type": "array", "items": _NUM},
        "ttft_by_prompt": {"type": "array", "items": _BOX},
        "cost": {"anyOf": [_COST, {"type": "null"}]},
        "fluidity_curve": {
            "type": "array",
            "items": _object({"decode_deadline_ms": _COUNT, "p99_fluidity_index": _RATIO}),
        },
        "tbt_cdf": _CDF,
        "inter_chunk_cdf": _CDF,
        "by_hour": {
            "type": "array",
            "items": _object(
                {
                    "hour": {"type": "integer", "minimum": 0, "maximum": 23},
                    "probes": _COUNT,
                    "ok": _COUNT,
                    "share_fluid": _RATIO,
                    "p99_request_miss_rate": _RATIO,
                    "deadline_slo_met": _OPT_BOOL,
                }
            ),
        },
        "stalls": _object(
            {
                "requests": _COUNT,
                "stalled_requests": _COUNT,
                "stalls": _COUNT,
                "late_first_token": _COUNT,
                "bins": {"type": "array", "items": _COUNT, "minItems": 10, "maxItems": 10},
                "missed": {"type": "array", "items": _COUNT, "minItems": 10, "maxItems": 10},
            }
        ),
    }
)

_COMPARISON: Final = _object(
    {
        "metric": {"enum": ["share_fluid", "fluent_token_rate", "tpot_rate", "ttft_p50_s"]},
        "a": {"type": "string"},
        "b": {"type": "string"},
        "value_a": _OPT_NUM,
        "value_b": _OPT_NUM,
        "difference": _OPT_NUM,
        "ci_low": _OPT_NUM,
        "ci_high": _OPT_NUM,
        "significant": _OPT_BOOL,
        "better": {"type": ["string", "null"]},
        "statement": {"type": "string"},
    }
)

_INCIDENT: Final = _object(
    {
        "target": {"type": "string"},
        "window": {"type": "string"},
        "started_at": _OPT_TIME,
        "ended_at": _OPT_TIME,
        "probes": _COUNT,
        "ok": _COUNT,
        "share_fluid": _RATIO,
        "p99_request_miss_rate": _RATIO,
        "reason": {"type": "string"},
        "worst_probes": {
            "type": "array",
            "items": _object(
                {
                    "probe_id": {"type": "string"},
                    "started_at": _OPT_TIME,
                    "outcome": {"type": "string"},
                    "fluidity_index": _RATIO,
                    "ttft_s": _OPT_NUM,
                    "error": {"type": ["string", "null"]},
                    "excerpt": {"type": ["string", "null"]},
                }
            ),
        },
    }
)

_CHANGE: Final = _object(
    {
        "target": {"type": "string"},
        "workload": _COUNT,
        "metric": {"type": "string"},
        "direction": {"enum": ["worse", "better"]},
        "at": {"type": "string", "format": "date-time"},
        "detected_at": {"type": "string", "format": "date-time"},
        "before": _NUM,
        "before_low": _NUM,
        "before_high": _NUM,
        "after": _NUM,
        "after_low": _NUM,
        "after_high": _NUM,
        "n_before": _COUNT,
        "n_after": _COUNT,
        "p_value": _OPT_NUM,
    }
)

REPORT_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "etalon-monitor vendor SLA review",
    **_object(
        {
            "format": {"const": FORMAT},
            "title": {"type": "string"},
            "generated_at": {"type": "string", "format": "date-time"},
            "window": _object(
                {
                    "since": _OPT_TIME,
                    "until": _OPT_TIME,
                    "cycle": {"type": ["string", "null"]},
                    "source": {"type": "string"},
                }
            ),
            "targets": {"type": "array", "items": _TARGET},
            "comparisons": {"type": "array", "items": _COMPARISON},
            "incidents": {"type": "array", "items": _INCIDENT},
            "changes": {"type": "array", "items": _CHANGE},
            "capacity": {
                "type": ["object", "null"],
                "properties": {"profiles": {"type": "array"}, "runs": {"type": "array"}},
            },
            "methodology": _object(
                {
                    "tool_version": {"type": "string"},
                    "definitions": {
                        "type": "array",
                        "items": _object({"term": {"type": "string"}, "text": {"type": "string"}}),
                    },
                    "completeness": {"type": "array", "items": {"type": "object"}},
                    "bootstrap_resamples": _COUNT,
                    "bootstrap_seed": {"type": "integer"},
                }
            ),
        }
    ),
}
