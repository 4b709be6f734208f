"""The Prometheus config, rules and their promtool unit tests, checked with the real promtool."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.prometheus.promql_lint import (
    ROOT,
    RULES_DIR,
    promtool,
    rule_exprs,
    unknown_metrics,
)

PROM_DIR = ROOT / "prometheus"
RULE_TESTS = sorted((PROM_DIR / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def _run(*args: str, cwd: Path = PROM_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _alerts() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            out.update({r["alert"]: r for r in group["rules"] if "alert" in r})
    return out


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.local.yml"])
def test_config_is_valid_and_loads_the_rules(config: str) -> None:
    done = _run(promtool(), "check", "config", config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(list(RULES_DIR.glob('*.yml')))} rule files found" in done.stdout


def test_local_config_is_the_compose_one_on_loopback() -> None:
    def load(name: str) -> str:
        return (RULES_DIR.parent / name).read_text(encoding="utf-8")

    compose = yaml.safe_load(load("prometheus.yml"))
    local = yaml.safe_load(
        load("prometheus.local.yml")
        .replace("127.0.0.1:9093", "alertmanager:9093")
        .replace("127.0.0.1:9464", "monitor:9464")
        .replace("127.0.0.1:9090", "localhost:9090")
    )
    assert local == compose


def test_rules_are_valid() -> None:
    files = [str(p) for p in sorted(RULES_DIR.glob("*.yml"))]
    done = _run(promtool(), "check", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(files)


def test_rule_unit_tests_exist() -> None:
    assert len(RULE_TESTS) >= 3


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_rule_unit_tests_pass(path: Path) -> None:
    done = _run(promtool(), "test", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = set(_alerts())
    assert alerts - firing == set(), "alerts without a firing case"
    assert alerts - silent == set(), "alerts without a case where they must stay silent"


def test_every_alert_has_runbook_annotations_and_a_severity() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOKS.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    for name, rule in _alerts().items():
        notes = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(notes), name
        page, _, anchor = notes["runbook_url"].partition("#")
        assert page == "docs/runbooks.md", name
        assert anchor in anchors, f"{name}: no heading for #{anchor} in docs/runbooks.md"
        assert rule["labels"]["severity"] in {"page", "warning"}, name


def test_rules_read_only_contract_metrics() -> None:
    assert unknown_metrics(rule_exprs().values()) == {}


def test_alertmanager_config_is_valid_and_routes_pages() -> None:
    done = _run("amtool", "check-config", "alertmanager.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    routed = _run(
        "amtool", "config", "routes", "test", "--config.file=alertmanager.yml", "severity=page"
    )
    assert routed.stdout.strip() == "etalon-pages", routed.stdout + routed.stderr
    routed = _run(
        "amtool", "config", "routes", "test", "--config.file=alertmanager.yml", "severity=warning"
    )
    assert routed.stdout.strip() == "etalon-warnings", routed.stdout + routed.stderr
