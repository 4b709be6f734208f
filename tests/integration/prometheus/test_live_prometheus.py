"""End to end: the daemon's demo (simulated vendors) scraped by a real Prometheus (Debian package)
on loopback with the shipped rules. Every rule must evaluate cleanly and every recording rule and
dashboard query must return data; TTFT exemplars must carry probe_id.

One daemon and one Prometheus serve the whole module (they take a few probe rounds to fill).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.database import scratch_database
from tests.integration.prometheus.promql_lint import RULES_DIR, rule_exprs
from tests.unit.grafana.dashboard_files import (
    concrete_promql,
    label_values_selector,
    promql_queries,
    variable_queries,
)

DEMO_TARGET = "demo-fast"
# Panels whose query is empty by design while nothing is wrong (checked for success only).
EMPTY_WHEN_HEALTHY = {'ALERTS{alertstate="firing", alertname=~"Etalon.*"}'}
WAIT_S = 90.0


@dataclass
class Stack:
    prometheus_url: str
    metrics_url: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _query(base: str, expr: str) -> dict[str, Any]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        answer: dict[str, Any] = _get(url)
    except urllib.error.HTTPError as e:
        answer = json.loads(e.read())
    return answer


def _wait_for(what: str, check: Callable[[], bool], procs: list[subprocess.Popen[str]]) -> None:
    """Poll `check` until it holds; fail early if a process died, or after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{proc.args!r} exited with {proc.returncode} while waiting for {what}")
        try:
            if check():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.25)
    pytest.fail(f"timed out after {WAIT_S} s waiting for {what}")


def _stop(proc: subprocess.Popen[str], sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus = shutil.which("prometheus")
    assert prometheus, "apt-get install --no-install-recommends prometheus"
    work = tmp_path_factory.mktemp("live")
    exporter_port, prom_port = _free_port(), _free_port()
    metrics_url = f"http://127.0.0.1:{exporter_port}/metrics"
    prom_url = f"http://127.0.0.1:{prom_port}"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted(RULES_DIR.glob("*.yml"))],
        "scrape_configs": [
            {
                "job_name": "etalon-monitor",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
            }
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    etalon = Path(sys.executable).with_name("etalon-monitor")
    with scratch_database("etalon_live") as database_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETALON_")}
        env.update(
            ETALON_DATABASE__URL=database_url,
            ETALON_EXPORTER__LISTEN=f"127.0.0.1:{exporter_port}",
            ETALON_EXPORTER__REFRESH_S="1",
            ETALON_DATA_DIR=str(work / "data"),
            ETALON_SCHEDULE__EVERY="4s",
            ETALON_SCHEDULE__SPREAD="1s",
            ETALON_SCHEDULE__JITTER_S="0",
        )
        daemon = subprocess.Popen(
            [str(etalon), "run", "--log-level", "warning"],
            env=env,
            stdout=(work / "daemon.out").open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        prom = subprocess.Popen(
            [
                prometheus,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=(work / "prometheus.out").open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs = [daemon, prom]
        try:
            # Two finished rounds after the first scrape, so increase() over counters is > 0.
            _wait_for(
                "probes counted by Prometheus",
                lambda: bool(
                    _query(prom_url, "sum(increase(etalon_fluidity_index_count[1h])) > 0")["data"][
                        "result"
                    ]
                ),
                procs,
            )
            _wait_for(
                "the store's rolling windows",
                lambda: bool(
                    _query(prom_url, 'etalon_window_fluid_ratio{window="24h"}')["data"]["result"]
                ),
                procs,
            )
            _wait_for(
                "every rule evaluated after the data arrived",
                lambda: all(
                    _query(prom_url, rule)["data"]["result"]
                    for rule in (
                        "target:etalon_deadline_slo:burn_rate3d >= 0",
                        "target_workload:etalon_fluid:ratio6h >= 0",
                    )
                ),
                procs,
            )
            yield Stack(prometheus_url=prom_url, metrics_url=metrics_url)
        finally:
            _stop(prom, signal.SIGTERM)
            _stop(daemon, signal.SIGINT)


def test_every_rule_evaluates_without_error(stack: Stack) -> None:
    groups = _get(f"{stack.prometheus_url}/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} == set(rule_exprs())
    for rule in rules:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"


def test_every_recording_rule_returns_data(stack: Stack) -> None:
    records = [n for n in rule_exprs() if ":" in n]
    assert len(records) >= 10
    for name in records:
        answer = _query(stack.prometheus_url, name)
        assert answer["status"] == "success", name
        assert answer["data"]["result"], f"{name} has no data"


def test_every_alert_expression_runs(stack: Stack) -> None:
    for name, expr in rule_exprs().items():
        if ":" in name:
            continue
        answer = _query(stack.prometheus_url, expr)
        assert answer["status"] == "success", f"{name}: {answer.get('error')}"


def test_every_dashboard_query_returns_data(stack: Stack) -> None:
    queries = promql_queries()
    assert len(queries) >= 30
    for q in queries:
        expr = concrete_promql(q.text, target=DEMO_TARGET, interval="1m")
        answer = _query(stack.prometheus_url, expr)
        assert answer["status"] == "success", f"{q.dashboard}: {q.panel!r}: {answer.get('error')}"
        if q.text not in EMPTY_WHEN_HEALTHY:
            assert answer["data"]["result"], f"{q.dashboard}: {q.panel!r} has no data: {expr}"


def test_every_dashboard_variable_has_values(stack: Stack) -> None:
    for dashboard, query in variable_queries("prometheus"):
        expr = concrete_promql(label_values_selector(query), target=DEMO_TARGET)
        answer = _query(stack.prometheus_url, expr)
        assert answer["data"]["result"], f"{dashboard}: {query}"


def test_ttft_exemplars_carry_probe_ids(stack: Stack) -> None:
    now = time.time()
    params = urllib.parse.urlencode(
        {
            "query": "etalon_time_to_first_token_seconds_bucket",
            "start": str(now - 600),
            "end": str(now + 60),
        }
    )
    series = _get(f"{stack.prometheus_url}/api/v1/query_exemplars?{params}")["data"]
    labels = [e["labels"] for s in series for e in s["exemplars"]]
    assert labels, "no exemplars stored"
    assert all(set(lab) == {"probe_id"} and lab["probe_id"] for lab in labels)
