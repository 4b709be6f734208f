"""Configuration: a YAML file plus `ETALON_*` environment overrides (`__` nests).

Everything the daemon does is decided here, so mistakes must surface here: every model forbids
unknown keys, and each error names the dotted path of the offending key. API keys never appear in
the file: a target names the *environment variable* that holds its key (`api_key_env`), resolved to
a `SecretStr` only when a probe needs it.

Contract (scripts and docs rely on these): `ETALON_CONFIG`, `ETALON_DATABASE__URL`,
`ETALON_EXPORTER__LISTEN`, `ETALON_SCHEDULE__EVERY`, `ETALON_SCHEDULE__ROUNDS_PER_CYCLE`,
`ETALON_DATA_DIR`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from monitor.providers import APIS, PROVIDERS

ENV_PREFIX = "ETALON_"
CONFIG_ENV = "ETALON_CONFIG"
DEFAULT_DATA_DIR = Path(".etalon")
DEFAULT_EVERY_S = 3600.0

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TARGET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def parse_duration(text: str) -> float:
    """`"1h"` → 3600.0, `"10s"` → 10.0, `"250ms"` → 0.25; a bare number is seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 10s, 5m or 1h")
    value = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if value <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Workload(_Model):
    """What one probe asks for; each prompt length is probed `repetitions` times per round."""

    prompt_tokens: list[int] = Field(default_factory=lambda: [256, 1024, 4096])
    max_tokens: int = Field(default=256, ge=1, le=32768)
    repetitions: int = Field(default=1, ge=1, le=100)

    @field_validator("prompt_tokens")
    @classmethod
    def _lengths(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("needs at least one prompt length")
        for p in v:
            if not 16 <= p <= 200_000:
                raise ValueError(f"prompt length {p} is outside 16..200000 tokens")
        return v


class DeadlineConfig(_Model):
    """What probes are judged against (design/metrics.md): decode tiers and the prefill deadline."""

    decode_s: list[float] = Field(default_factory=lambda: [0.025, 0.05, 0.1])
    prefill_s: float | None = Field(default=None, gt=0)
    prefill_model: tuple[float, float, float] | None = None
    prefill_slack_s: float = Field(default=0.3, ge=0)

    @field_validator("decode_s")
    @classmethod
    def _tiers(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("needs at least one decode deadline")
        if any(d <= 0 for d in v):
            raise ValueError("decode deadlines must be positive seconds")
        return v

    @model_validator(mode="after")
    def _one_prefill(self) -> DeadlineConfig:
        if self.prefill_s is not None and self.prefill_model is not None:
            raise ValueError("set prefill_s or prefill_model, not both")
        return self


class Pricing(_Model):
    input_per_1m: float = Field(default=0.0, ge=0)
    output_per_1m: float = Field(default=0.0, ge=0)


class Timeouts(_Model):
    connect_s: float = Field(default=10.0, gt=0)
    first_byte_s: float = Field(default=60.0, gt=0)
    idle_s: float = Field(default=30.0, gt=0)
    total_s: float = Field(default=300.0, gt=0)


class TargetSlo(_Model):
    """Objectives a target is held to; exported as `etalon_target_slo_*` for alert rules."""

    fluid_ratio: float = Field(default=0.99, gt=0, le=1)
    """Share of probes that must reach fluidity-index >= 0.9."""


class Target(_Model):
    """One vendor endpoint and model to probe; unset fields come from the provider preset."""

    provider: str = "openai-compatible"
    api: str | None = None
    base_url: str | None = None
    model: str
    api_key_env: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    workloads: Workload = Field(default_factory=Workload)
    deadlines: DeadlineConfig = Field(default_factory=DeadlineConfig)
    price: Pricing = Field(default_factory=Pricing)
    region: str | None = None
    concurrency: int = Field(default=1, ge=1, le=512)
    spacing_s: float = Field(default=0.0, ge=0)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    slo: TargetSlo = Field(default_factory=TargetSlo)
    enabled: bool = True

    @field_validator("provider")
    @classmethod
    def _provider(cls, v: str) -> str:
        if v not in PROVIDERS:
            raise ValueError(f"unknown provider {v!r}; known: {', '.join(sorted(PROVIDERS))}")
        return v

    @field_validator("api")
    @classmethod
    def _api(cls, v: str | None) -> str | None:
        if v is not None and v not in APIS:
            raise ValueError(f"unknown api {v!r}; known: {', '.join(APIS)}")
        return v

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/") if v else v

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
            raise ValueError("must be the NAME of an environment variable, not a key")
        return v

    @model_validator(mode="after")
    def _needs_url(self) -> Target:
        if self.resolved_base_url is None:
            raise ValueError(f"base_url is required for provider {self.provider!r}")
        return self

    @property
    def resolved_api(self) -> str:
        return self.api or PROVIDERS[self.provider].api

    @property
    def resolved_base_url(self) -> str | None:
        return self.base_url or PROVIDERS[self.provider].base_url

    @property
    def resolved_key_env(self) -> str | None:
        return self.api_key_env or PROVIDERS[self.provider].api_key_env

    def api_key(self, environ: Mapping[str, str] | None = None) -> SecretStr | None:
        """The key from the named env var; None when the target needs none or it is unset."""
        name = self.resolved_key_env
        if name is None:
            return None
        value = (os.environ if environ is None else environ).get(name)
        return SecretStr(value) if value else None


class Schedule(_Model):
    """When rounds run: `every` (a duration) or `cron` (crontab, UTC), not both; neither means 1h.

    A round probes every enabled target once per workload prompt length and repetition; a cycle is
    `rounds_per_cycle` rounds (0 = one endless cycle). Targets start at a stable per-target offset
    inside the round (`spread`) plus up to `jitter_s` of random delay, so vendors are not hit at
    once.
    """

    every: str | None = None
    cron: str | None = None
    rounds_per_cycle: int = Field(default=24, ge=0)
    cycles: int = Field(default=0, ge=0)
    """Stop probing after this many completed cycles (the daemon keeps serving); 0: never."""
    jitter_s: float = Field(default=60.0, ge=0)
    spread: str | None = None
    """Window over which target offsets are spread; default half the interval, at most 30 min."""
    misfire_grace_s: float = Field(default=600.0, gt=0)
    stop_grace_s: float = Field(default=20.0, ge=0)
    """On SIGTERM, in-flight probes get this long to finish before they are cancelled."""
    leader_poll_s: float = Field(default=1.0, gt=0)
    """How often a standby retries the region's leader lock."""
    backoff_default_s: float = Field(default=60.0, gt=0)
    """Back-off after a 429 that carries no `Retry-After`."""

    @field_validator("every")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    @field_validator("spread")
    @classmethod
    def _spread(cls, v: str | None) -> str | None:
        if v is not None and v.strip() not in {"0", "0s"}:
            parse_duration(v)
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and len(v.split()) != 5:
            raise ValueError(f"{v!r} is not a 5-field crontab expression")
        return v

    @model_validator(mode="after")
    def _one_trigger(self) -> Schedule:
        if self.every is not None and self.cron is not None:
            raise ValueError("set every or cron, not both")
        return self

    @property
    def every_s(self) -> float | None:
        """The round interval in seconds; None when a cron expression decides instead."""
        if self.cron is not None:
            return None
        return DEFAULT_EVERY_S if self.every is None else parse_duration(self.every)

    @property
    def spread_s(self) -> float | None:
        """None: the default spread; `0s` puts every target at the round's start."""
        if self.spread is None:
            return None
        return 0.0 if self.spread.strip() in {"0", "0s"} else parse_duration(self.spread)


class Database(_Model):
    url: SecretStr | None = None
    """None: start the embedded PostgreSQL in the data directory."""
    retention_days: int = Field(default=400, ge=1)
    store_text: bool = True
    upgrade_on_start: bool = True

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith(("postgresql", "postgres")):
            raise ValueError("must be a postgresql:// or postgresql+psycopg:// URL")
        return v


class Exporter(_Model):
    """Where `/metrics`, `/healthz` and `/readyz` are served; how fresh the window gauges are."""

    listen: str = "127.0.0.1:9464"
    refresh_s: float = Field(default=15.0, gt=0)
    """How often the rolling-window snapshot is rebuilt from the store."""
    loop_lag_sample_s: float = Field(default=1.0, gt=0)
    """How often event-loop lag is sampled for `etalon_event_loop_lag_seconds`."""

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{v!r} is not host:port")
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


def default_workers() -> int:
    """One probe worker per four cores, at least one, at most four.

    A worker's loop is idle between reads (64 streams at 20 ms is ~3 200 reads/s, a few percent of
    one core), so one is enough on small machines and leaves the other core to the core process;
    more only spread the stamping of very many streams.
    """
    return max(1, min(4, (os.cpu_count() or 1) // 4))


class ProbePlane(_Model):
    """The measurement plane (`monitor.plane`): probe worker processes and their supervision."""

    workers: int = Field(default_factory=default_workers, ge=1, le=64)
    """Probe worker processes; jobs go to the one with the fewest in flight."""
    core_nice: int = Field(default=5, ge=0, le=19)
    """How far `run` lowers the core process's priority below its workers (0: leave it)."""
    rss_limit_mb: int = Field(default=512, ge=16)
    """A worker above this RSS is replaced after its probes finish; above twice it, killed."""
    heartbeat_s: float = Field(default=0.5, gt=0, le=10)
    """How often a worker reports its loop lag and load."""
    stuck_after_s: float = Field(default=10.0, gt=0)
    """A worker silent this long is killed and replaced; its probes fail as `worker_lost`."""

    @model_validator(mode="after")
    def _beats_before_stuck(self) -> ProbePlane:
        if self.stuck_after_s <= 2 * self.heartbeat_s:
            raise ValueError("stuck_after_s must be longer than two heartbeats")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = DEFAULT_DATA_DIR
    region: str = "default"
    database: Database = Field(default_factory=Database)
    exporter: Exporter = Field(default_factory=Exporter)
    schedule: Schedule = Field(default_factory=Schedule)
    probe: ProbePlane = Field(default_factory=ProbePlane)
    targets: dict[str, Target] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _names(cls, v: dict[str, Target]) -> dict[str, Target]:
        for name in v:
            if not _TARGET_NAME.match(name):
                raise ValueError(f"target name {name!r} must match [a-z0-9][a-z0-9_-]*")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not _TARGET_NAME.match(v):
            raise ValueError(f"region {v!r} must match [a-z0-9][a-z0-9_-]*")
        return v

    @model_validator(mode="after")
    def _spread_inside_interval(self) -> Settings:
        every, spread = self.schedule.every_s, self.schedule.spread_s
        if every is not None and spread is not None and spread >= every:
            raise ValueError("schedule.spread must be shorter than schedule.every")
        return self

    def target_region(self, name: str) -> str:
        """A target's `region` label: its own, else the daemon's."""
        return self.targets[name].region or self.region

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (passed as init values), so `ETALON_*` overrides YAML.
        return (env_settings, init_settings)


class ConfigError(ValueError):
    """A config problem, phrased as `path.to.key: problem` lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _describe(error: ValidationError) -> list[str]:
    out = []
    for e in error.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        out.append(f"{path}: {msg}")
    return out


def load(path: Path | None = None) -> Settings:
    """Build settings from a YAML file (or `ETALON_CONFIG`) plus the environment.

    Raises `ConfigError` whose lines each name a dotted key path.
    """
    path = config_path(path)
    data: dict[str, Any] = {}
    source = str(path) if path else "environment"
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(source, ["file not found"]) from None
        except IsADirectoryError:
            raise ConfigError(source, ["is a directory, not a YAML file"]) from None
        except UnicodeDecodeError as e:
            raise ConfigError(source, [f"byte {e.start}: not UTF-8 text"]) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else "YAML"
            raise ConfigError(source, [f"{where}: not valid YAML"]) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(source, ["(top level): must be a mapping of settings"])
        data = raw
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(source, _describe(e)) from None


_URL_PASSWORD = re.compile(r"^(?P<head>[a-z0-9+]+://[^:/@]*):[^@]*@")


def mask_url(url: str) -> str:
    """`postgresql://u:secret@h/db` → `postgresql://u:***@h/db`; no password: unchanged."""
    return _URL_PASSWORD.sub(r"\g<head>:***@", url)


def masked(settings: Settings) -> dict[str, Any]:
    """The resolved config as plain data with every secret masked (for `config check`).

    The database URL keeps its host and name (useful to check) but loses its password; API keys are
    never part of the config, only the names of their variables.
    """
    dumped: dict[str, Any] = settings.model_dump(mode="json")
    url = settings.database.url
    dumped["database"]["url"] = None if url is None else mask_url(url.get_secret_value())
    for name, target in settings.targets.items():
        entry = dumped["targets"][name]
        entry["api"] = target.resolved_api
        entry["base_url"] = target.resolved_base_url
        entry["api_key_env"] = target.resolved_key_env
        entry["region"] = settings.target_region(name)
    return dumped


def missing_keys(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Enabled targets whose key variable is named but unset: target name → variable name."""
    out: dict[str, str] = {}
    for name, target in settings.targets.items():
        env_name = target.resolved_key_env
        if target.enabled and env_name is not None and target.api_key(environ) is None:
            out[name] = env_name
    return out


def config_path(path: Path | None = None) -> Path | None:
    """The config file in effect: the one given, else `ETALON_CONFIG`, else none (demo)."""
    if path is not None:
        return path
    value = os.environ.get(CONFIG_ENV)
    return Path(value) if value else None
