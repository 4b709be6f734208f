"""PromQL checks shared by the rule and dashboard tests: parse with the real promtool, and list the
metric names an expression reads so they can be held against docs/prometheus-metrics.md.

promtool has no "parse this expression" command, but `promtool check rules` parses every `expr`,
so expressions are wrapped as recording rules in a temporary file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "docs" / "prometheus-metrics.md"
RULES_DIR = ROOT / "prometheus" / "rules"

# Series Prometheus itself provides, which dashboards and alerts may read.
BUILTIN_SERIES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})

_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
        "atan2",
    }
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:.])\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def promtool() -> str:
    """Path of the promtool binary (Debian package `prometheus`)."""
    path = shutil.which("promtool")
    if path is None:
        raise RuntimeError("promtool not found: apt-get install --no-install-recommends prometheus")
    return path


def metric_names(expr: str) -> set[str]:
    """Metric names read by `expr`: identifiers that are neither functions, keywords nor labels."""
    text = _STRING.sub('""', expr)
    text = _GROUPING.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group(0)
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    # A bare `{__name__=...}` selector has no identifier; such exprs are not used here.
    return names


def contract_metric_names(doc: Path = CONTRACT) -> set[str]:
    """Series names the exporter promises: table names, plus the series a histogram exposes."""
    names: set[str] = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`etalon_"):
            continue
        name = cells[0].strip("`")
        names.add(name)
        if cells[1] == "histogram":
            names.update({f"{name}_bucket", f"{name}_count", f"{name}_sum"})
    return names


def recording_rule_names(rules_dir: Path = RULES_DIR) -> set[str]:
    names: set[str] = set()
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names.update(r["record"] for r in group["rules"] if "record" in r)
    return names


def rule_exprs(rules_dir: Path = RULES_DIR) -> dict[str, str]:
    """Every rule's expression keyed by its record or alert name."""
    out: dict[str, str] = {}
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                out[rule.get("record") or rule["alert"]] = rule["expr"]
    return out


def unknown_metrics(exprs: Iterable[str]) -> dict[str, set[str]]:
    """Per expression, the names it reads that are in neither the contract nor the rules."""
    allowed = contract_metric_names() | recording_rule_names() | BUILTIN_SERIES
    bad = {}
    for expr in exprs:
        unknown = metric_names(expr) - allowed
        if unknown:
            bad[expr] = unknown
    return bad


def parse_errors(exprs: Sequence[str], workdir: Path) -> str:
    """promtool's complaint about any of `exprs` ('' when all parse)."""
    rules = {
        "groups": [
            {
                "name": "lint",
                "rules": [{"record": f"lint:expr_{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    path = workdir / "lint-rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    done = subprocess.run(
        [promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr
