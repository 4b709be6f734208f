"""The report for machines: the same `Report` the HTML shows, as JSON (`etalon-report/1`).

Top level: `format`, `title`, `generated_at`, `window`, `targets` (one object per target, with at
least `target`, `probes`, `failed`, `share_fluid`, `deadline_slo_met`, `fluent_token_rate`,
`tpot_rate`, `tail_tbt_rate`, `ttft_p50_s`, `ttft_p90_s`, `ttft_p99_s`), `comparisons`,
`incidents`, `methodology`. Undefined values are `null`.
"""

from __future__ import annotations

import json

from monitor.report.model import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
