"""Config: good files load, each bad file fails with a message naming its key, env overrides win."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import (
    ConfigError,
    Settings,
    config_path,
    load,
    mask_url,
    masked,
    missing_keys,
)
from monitor.trace import FluidityScope

DATA = Path(__file__).parent.parent / "data" / "config"

BAD = {
    "bad-base-url.yaml": "targets.local.base_url: 'ftp://10.0.0.5/v1' is not an http(s) URL",
    "bad-cron.yaml": "schedule.cron: 'every hour' is not a 5-field crontab expression",
    "bad-database-url.yaml": "database.url: must be a postgresql:// or postgresql+psycopg:// URL",
    "bad-duration.yaml": "schedule.every: '1 hour' is not a duration like 10s, 5m or 1h",
    "bad-listen.yaml": "exporter.listen: 'localhost' is not host:port",
    "bad-region.yaml": "region: region 'EU West' must match [a-z0-9][a-z0-9_-]*",
    "bad-target-name.yaml": "targets: target name 'Groq Llama' must match [a-z0-9][a-z0-9_-]*",
    "empty-decode-tiers.yaml": "targets.x.deadlines.decode_s: needs at least one decode deadline",
    "every-and-cron.yaml": "schedule: set every or cron, not both",
    "invalid-yaml.yaml": "line 4: not valid YAML",
    "key-instead-of-env-name.yaml": (
        "targets.x.api_key_env: must be the NAME of an environment variable, not a key"
    ),
    "missing-base-url.yaml": "targets.local: base_url is required for provider 'openai-compatible'",
    "missing-model.yaml": "targets.x.model: Field required",
    "negative-rounds.yaml": (
        "schedule.rounds_per_cycle: Input should be greater than or equal to 0"
    ),
    "not-a-mapping.yaml": "(top level): must be a mapping of settings",
    "prefill-fixed-and-model.yaml": "targets.x.deadlines: set prefill_s or prefill_model, not both",
    "prompt-length-range.yaml": (
        "targets.x.workloads.prompt_tokens: prompt length 8 is outside 16..200000 tokens"
    ),
    "slo-out-of-range.yaml": "targets.x.slo.fluid_ratio: Input should be less than or equal to 1",
    "spread-not-inside-interval.yaml": "schedule.spread must be shorter than schedule.every",
    "unknown-api.yaml": "targets.x.api: unknown api 'openai-realtime'",
    "unknown-key.yaml": "targets.groq.tokn: unknown key",
    "unknown-provider.yaml": "targets.x.provider: unknown provider 'openia'",
    "unknown-top-level-key.yaml": "target: unknown key",
    "not-utf8.yaml": "byte 0: not UTF-8 text",
    "zero-concurrency.yaml": "targets.x.concurrency: Input should be greater than or equal to 1",
    "zero-interval.yaml": "schedule.every: '0s' must be longer than zero",
    "negative-timeout.yaml": "targets.x.timeouts.idle_s: Input should be greater than 0",
    "tab-indented.yaml": "line 2: not valid YAML",
    "targets-a-list.yaml": "targets: Input should be a valid dictionary",
    "port-out-of-range.yaml": "exporter.listen: '127.0.0.1:99999' is not host:port",
    "wrong-database-scheme.yaml": (
        "database.url: must be a postgresql:// or postgresql+psycopg:// URL"
    ),
    "model-not-a-string.yaml": "targets.x.model: Input should be a valid string",
    "change-window-too-small.yaml": ("changes: min_before + min_after must not exceed window"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_names_the_key(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(DATA / "bad" / name)
    assert len(info.value.problems) == 1, info.value.problems
    assert BAD[name] in info.value.problems[0]


def test_every_bad_file_is_in_the_table() -> None:
    assert sorted(p.name for p in (DATA / "bad").glob("*.yaml")) == sorted(BAD)


@pytest.mark.parametrize("path", sorted((DATA / "good").glob("*.yaml")), ids=lambda p: p.name)
def test_good_config_loads(path: Path) -> None:
    settings = load(path)
    assert settings.targets


def test_full_config_resolves_presets_and_options() -> None:
    s = load(DATA / "good" / "full.yaml")
    vllm = s.targets["local-vllm"]
    assert vllm.resolved_api == "openai-completions"
    assert vllm.resolved_base_url == "http://10.0.0.5:8000/v1"  # trailing slash stripped
    assert vllm.slo.fluid_ratio == 0.95
    assert vllm.limits.max_bytes == 16 << 20
    assert (vllm.limits.max_events, vllm.limits.max_event_bytes) == (131072, 2 << 20)
    assert s.targets["anthropic-haiku"].limits.max_bytes == 8 << 20  # the default
    assert vllm.fluidity_scope is FluidityScope.VISIBLE
    assert s.target_region("local-vllm") == "eu-central"
    haiku = s.targets["anthropic-haiku"]
    assert haiku.resolved_base_url == "https://api.anthropic.com/v1"
    assert haiku.slo.fluid_ratio == 0.99  # the default objective
    assert haiku.fluidity_scope is FluidityScope.ANSWER  # the default: the answer only
    assert s.target_region("anthropic-haiku") == "eu-west"  # falls back to the daemon's region
    assert s.schedule.every_s == 3600.0
    assert (s.changes.false_alarms_per_1000, s.changes.window) == (0.5, 60)
    assert s.schedule.spread_s == 1200.0  # 20m


def test_no_trigger_means_hourly_and_cron_means_no_interval() -> None:
    assert load(DATA / "good" / "minimal.yaml").schedule.every_s == 3600.0
    cron = load(DATA / "good" / "cron.yaml").schedule
    assert (cron.cron, cron.every_s) == ("7 * * * *", None)


def test_file_not_found_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "absent.yaml")


def test_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory, not a YAML file"):
        load(tmp_path)


def test_bad_database_url_error_never_shows_its_password() -> None:
    with pytest.raises(ConfigError) as info:
        load(DATA / "bad" / "wrong-database-scheme.yaml")
    assert "hunter2" not in str(info.value)


# --------------------------------------------------------------------------- env contract


def test_env_config_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETALON_CONFIG", str(DATA / "good" / "minimal.yaml"))
    assert config_path() == DATA / "good" / "minimal.yaml"
    assert list(load().targets) == ["groq-llama"]


def test_env_overrides_beat_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", "postgresql+psycopg://u:pw@127.0.0.1:5/x")
    monkeypatch.setenv("ETALON_EXPORTER__LISTEN", "127.0.0.1:19464")
    monkeypatch.setenv("ETALON_SCHEDULE__EVERY", "10s")
    monkeypatch.setenv("ETALON_SCHEDULE__SPREAD", "5s")  # the file's 20m would not fit in 10s
    monkeypatch.setenv("ETALON_SCHEDULE__ROUNDS_PER_CYCLE", "3")
    monkeypatch.setenv("ETALON_DATA_DIR", str(tmp_path))
    s = load(DATA / "good" / "full.yaml")
    assert s.database.url is not None
    assert s.database.url.get_secret_value() == "postgresql+psycopg://u:pw@127.0.0.1:5/x"
    assert (s.exporter.host, s.exporter.port) == ("127.0.0.1", 19464)
    assert s.schedule.every_s == 10.0
    assert s.schedule.rounds_per_cycle == 3
    assert s.data_dir == tmp_path
    # untouched keys still come from the file (deep merge, not replacement)
    assert s.schedule.jitter_s == 30.0
    assert s.exporter.refresh_s == 30.0


def test_env_override_of_one_target_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Targets are a dict so one field can be overridden; env-friendly names use `_`."""
    path = tmp_path / "c.yaml"
    path.write_text("targets:\n  groq_llama:\n    provider: groq\n    model: small\n")
    monkeypatch.setenv("ETALON_TARGETS__GROQ_LLAMA__MODEL", "llama-3.3-70b")
    s = load(path)
    assert s.targets["groq_llama"].model == "llama-3.3-70b"
    assert s.targets["groq_llama"].provider == "groq"


def test_bad_env_override_is_reported_with_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETALON_SCHEDULE__EVERY", "soon")
    with pytest.raises(ConfigError) as info:
        load(DATA / "good" / "minimal.yaml")
    assert info.value.problems == ["schedule.every: 'soon' is not a duration like 10s, 5m or 1h"]


# --------------------------------------------------------------------------- secrets


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql+psycopg://etalon:s3cret@db:5432/x") == (
        "postgresql+psycopg://etalon:***@db:5432/x"
    )
    assert mask_url("postgresql://postgres@127.0.0.1/x") == "postgresql://postgres@127.0.0.1/x"


def test_masked_config_has_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_KEY", "sk-very-secret")
    s = load(DATA / "good" / "full.yaml")
    text = json.dumps(masked(s))
    assert "s3cret-pw" not in text
    assert "sk-very-secret" not in text
    assert "etalon:***@db.internal" in text
    assert masked(s)["targets"]["anthropic-haiku"]["api_key_env"] == "ANTHROPIC_API_KEY"


def test_missing_keys_per_target() -> None:
    s = load(DATA / "good" / "full.yaml")
    assert missing_keys(s, {"VLLM_KEY": "x"}) == {"anthropic-haiku": "ANTHROPIC_API_KEY"}
    assert missing_keys(s, {"VLLM_KEY": "x", "ANTHROPIC_API_KEY": "y"}) == {}


# --------------------------------------------------------------------------- the CLI


def test_config_check_prints_masked_config_and_missing_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VLLM_KEY", "sk-very-secret")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(DATA / "good/full.yaml")])
    assert result.exit_code == 1
    assert "etalon:***@db.internal:5432/etalon" in result.stdout
    assert "s3cret-pw" not in result.output
    assert "sk-very-secret" not in result.output
    assert "target anthropic-haiku: API key variable ANTHROPIC_API_KEY is not set" in result.stderr
    assert "local-vllm: API key" not in result.stderr


def test_config_check_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["config", "check", "-c", str(DATA / "good/cron.yaml")])
    assert result.exit_code == 0
    assert result.stdout.rstrip().endswith("ok: 1 target(s)")


def test_config_check_invalid_exits_2() -> None:
    result = CliRunner().invoke(app, ["config", "check", "-c", str(DATA / "bad/unknown-key.yaml")])
    assert result.exit_code == 2
    assert "targets.groq.tokn: unknown key" in result.stderr


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("bad/every-and-cron.yaml", "schedule: set every or cron, not both"),
        ("absent.yaml", "file not found"),
    ],
)
def test_run_refuses_a_bad_config_with_exit_2(config: str, expected: str) -> None:
    result = CliRunner().invoke(app, ["run", "--config", str(DATA / config)])
    assert result.exit_code == 2
    assert expected in result.stderr


def test_run_refuses_a_config_without_enabled_targets(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("schedule:\n  every: 10s\n")
    result = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 2
    assert f"nothing to probe: no enabled target in {path}" in result.stderr


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_bytes", 0), ("max_bytes", 2 << 30), ("max_events", 1), ("max_event_bytes", 10)],
)
def test_probe_limits_out_of_range_name_their_key(key: str, value: int) -> None:
    target = {"provider": "simulator", "base_url": "http://h/v1", "model": "m"}
    with pytest.raises(ValidationError) as caught:
        Settings(targets={"t": {**target, "limits": {key: value}}})
    assert f"targets.t.limits.{key}" in "; ".join(
        ".".join(str(p) for p in e["loc"]) for e in caught.value.errors()
    )
