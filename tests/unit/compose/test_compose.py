"""docker-compose.yml, checked without a Docker engine: the compose-spec schema, every mounted
path, and that service names, ports and mounts agree with the Prometheus, Alertmanager, Grafana
and daemon configuration they carry."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from monitor.cli import app
from monitor.config import load
from monitor.sim import PRESETS

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE_ENV = ROOT / "example.env"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _example_env() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in EXAMPLE_ENV.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {k.strip(): v.strip() for k, v in pairs}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$` rules."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op and op.endswith("-"):
            return arg
        if op and op.endswith("?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return _VAR.sub(one, value).replace("$$", "$")


def _service_env(service: str, env: dict[str, str]) -> dict[str, str]:
    raw = _compose()["services"][service].get("environment", {})
    return {k: interpolate(str(v), env) for k, v in raw.items()}


def _check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_matches_the_compose_spec_schema() -> None:
    done = _check_schema(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_rejects_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE.read_text(encoding="utf-8").replace("    volumes:\n", "    volume:\n", 1),
        encoding="utf-8",
    )
    assert _check_schema(broken).returncode != 0


def test_the_stack_has_every_service() -> None:
    assert set(_compose()["services"]) == {
        "postgres",
        "monitor",
        "simulator",
        "prometheus",
        "alertmanager",
        "grafana",
    }


def test_every_bind_mounted_path_exists() -> None:
    mounts = 0
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
                mounts += 1
    assert mounts == 7


def _mount_target(service: str, source: str) -> str:
    for volume in _compose()["services"][service]["volumes"]:
        parts = volume.split(":")
        if parts[0] == source:
            return str(parts[1])
    raise AssertionError(f"{service} does not mount {source}")


def test_prometheus_scrapes_the_daemon_and_alerts_alertmanager() -> None:
    prom = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text(encoding="utf-8"))
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "etalon-monitor"]
    (scrape_target,) = job["static_configs"][0]["targets"]
    listen = _service_env("monitor", _example_env())["ETALON_EXPORTER__LISTEN"]
    assert scrape_target == f"monitor:{listen.rpartition(':')[2]}"
    assert "9464" in _compose()["services"]["monitor"]["expose"]
    (am,) = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == "alertmanager:9093"
    # rule_files are relative to the config file; the rules directory sits next to it.
    config_at = _mount_target("prometheus", "./prometheus/prometheus.yml")
    rules_at = _mount_target("prometheus", "./prometheus/rules")
    assert prom["rule_files"] == ["rules/*.yml"]
    assert rules_at == str(Path(config_at).parent / "rules")
    command = _compose()["services"]["prometheus"]["command"]
    assert f"--config.file={config_at}" in command
    assert "--enable-feature=exemplar-storage" in command
    am_command = _compose()["services"]["alertmanager"]["command"]
    assert f"--config.file={_mount_target('alertmanager', './prometheus/alertmanager.yml')}" in (
        am_command
    )


def test_grafana_datasources_point_at_compose_services() -> None:
    path = ROOT / "grafana/provisioning/datasources/etalon.yaml"
    datasources = {
        d["uid"]: d for d in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    }
    assert datasources["etalon-prometheus"]["url"] == "http://prometheus:9090"
    assert datasources["etalon-postgres"]["url"] == "postgres:5432"
    # Every $VAR the provisioning file reads is in Grafana's environment.
    wanted = set(
        re.findall(
            r"(?<!\$)\$([A-Z_][A-Z0-9_]*)",
            json.dumps(yaml.safe_load(path.read_text(encoding="utf-8"))),
        )
    )
    assert wanted == {"ETALON_GRAFANA_DB_USER", "ETALON_GRAFANA_DB_PASSWORD", "POSTGRES_DB"}
    assert wanted <= set(_compose()["services"]["grafana"]["environment"])
    assert _mount_target("grafana", "./grafana/provisioning") == "/etc/grafana/provisioning"
    provider = yaml.safe_load(
        (ROOT / "grafana/provisioning/dashboards/etalon.yaml").read_text(encoding="utf-8")
    )["providers"][0]
    assert _mount_target("grafana", "./grafana/dashboards") == provider["options"]["path"]


def test_postgres_init_creates_the_grafana_role_from_the_mounted_sql() -> None:
    script = (ROOT / "grafana/postgres-init/10-grafana-role.sh").read_text(encoding="utf-8")
    assert _mount_target("postgres", "./grafana/postgres-init") == "/docker-entrypoint-initdb.d"
    sql_dir = _mount_target("postgres", "./grafana/sql")
    assert f"-f {sql_dir}/readonly-role.sql" in script
    env = _compose()["services"]["postgres"]["environment"]
    assert {"ETALON_GRAFANA_DB_USER", "ETALON_GRAFANA_DB_PASSWORD"} <= set(env)


def test_dockerfile_runs_the_daemon() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    assert cmd == ['CMD ["etalon-monitor", "run"]']
    assert "ETALON_EXPORTER__LISTEN=0.0.0.0:9464" in dockerfile
    services = _compose()["services"]
    assert services["monitor"]["build"] == "." and services["simulator"]["build"] == "."
    assert services["monitor"]["command"][:2] == ["etalon-monitor", "run"]
    assert services["simulator"]["command"][:2] == ["etalon-monitor", "simulate"]


def test_the_daemon_config_in_compose_loads_and_probes_the_simulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in _service_env("monitor", _example_env()).items():
        monkeypatch.setenv(key, value)
    settings = load()
    assert settings.exporter.listen == "0.0.0.0:9464"
    assert settings.database.url is not None
    url = settings.database.url.get_secret_value()
    assert url == "postgresql+psycopg://etalon:change-me-owner@postgres:5432/etalon"
    (target,) = settings.targets.values()
    command = _compose()["services"]["simulator"]["command"]
    port = command[command.index("--port") + 1]
    assert target.resolved_base_url == f"http://simulator:{port}/v1"
    assert target.resolved_key_env is None  # the demo needs no key


def test_secrets_come_only_from_the_uncommitted_env_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for key in re.findall(r"^\s+([A-Z_]*(?:PASSWORD|API_KEY)[A-Z_]*):", text, re.MULTILINE):
        line = next(x for x in text.splitlines() if x.strip().startswith(f"{key}:"))
        assert "${" in line, f"{key} must come from .env"
    used = {m.group(1) for m in _VAR.finditer(text)}
    assert used <= set(_example_env()), "example.env must list every variable compose reads"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False, timeout=30
    )
    assert ignored.returncode == 0, ".env must be git-ignored"


def test_a_missing_password_stops_compose() -> None:
    env = _example_env()
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        _service_env("monitor", env)


def test_grafana_image_matches_the_dashboard_models() -> None:
    # The dashboards are generated with grafana-foundation-sdk's Grafana 11.6 models.
    image = _compose()["services"]["grafana"]["image"]
    assert image == "grafana/grafana:11.6.0"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"grafana-foundation-sdk==1769699379!11.6.0"' in pyproject


def _parse_cli(argv: list[str]) -> dict[str, Any]:
    """Parse a container command with the real CLI (without running it)."""
    assert argv[0] == "etalon-monitor"
    group: Any = typer.main.get_command(app)  # typer's vendored click group
    command = group.get_command(group.context_class(group), argv[1])
    assert command is not None, f"no such command: {argv[1]}"
    params: dict[str, Any] = command.make_context(argv[1], list(argv[2:])).params
    return params


def test_container_commands_parse_with_the_real_cli() -> None:
    services = _compose()["services"]
    assert _parse_cli(services["monitor"]["command"])["config"] is None  # config from ETALON_*
    sim = _parse_cli(services["simulator"]["command"])
    assert sim["profile"] in PRESETS
    assert (sim["host"], sim["port"]) == ("0.0.0.0", 8000)
    assert "8000" in services["simulator"]["expose"]
