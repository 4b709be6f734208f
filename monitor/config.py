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

import math
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.limits import (
    DECODE_DEADLINE_MAX_S,
    DECODE_DEADLINE_MIN_S,
    EVERY_MAX_S,
    EVERY_MIN_S,
    MAX_TOKENS_MAX,
    PREFILL_DEADLINE_MAX_S,
    PREFILL_DEADLINE_MIN_S,
    PROMPT_TOKENS_MAX,
    PROMPT_TOKENS_MIN,
    REPETITIONS_MAX,
    RETENTION_DAYS_MAX,
    TIMEOUT_MAX_S,
)
from monitor.metrics.prefill import PrefillModel
from monitor.providers import APIS, PROVIDERS
from monitor.trace import FluidityScope

ENV_PREFIX = "ETALON_"
CONFIG_ENV = "ETALON_CONFIG"


def _default_data_dir() -> Path:
    """One place per user, whatever the working directory: the demo's data and every later
    `report` or `export` must find the same embedded database (XDG state directory).

    As root the embedded PostgreSQL runs as the `postgres` user, which cannot enter `/root`:
    root's data lives in `/var/lib/etalon-monitor`, as a system service's would.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/etalon-monitor")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "etalon-monitor"


DEFAULT_DATA_DIR = _default_data_dir()
DEFAULT_EVERY_S = 3600.0

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
"""Target and region names (matched whole: a trailing newline is not part of a name)."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_duration(text: str) -> float:
    """`"1h"` → 3600.0, `"10s"` → 10.0, `"250ms"` → 0.25; a bare number is seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 10s, 5m or 1h")
    value = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if value <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return value


def _plain_text(v: str, what: str) -> str:
    """Reject control characters (a trailing newline included): they end up in logs, labels and
    request bodies where they split lines or forge entries."""
    if _CONTROL.search(v):
        raise ValueError(f"{what} {v!r} contains a control character (newline, tab, ...)")
    if not v.strip():
        raise ValueError(f"{what} must not be blank")
    return v


class _Model(BaseModel):
    # allow_inf_nan: `.inf` or `.nan` for a timeout or deadline would spin or crash the daemon
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Workload(_Model):
    """What one probe asks for; each prompt length is probed `repetitions` times per round."""

    prompt_tokens: list[int] = Field(default_factory=lambda: [256, 1024, 4096])
    max_tokens: int = Field(default=256, ge=1, le=MAX_TOKENS_MAX)
    repetitions: int = Field(default=1, ge=1, le=REPETITIONS_MAX)

    @field_validator("prompt_tokens")
    @classmethod
    def _lengths(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("needs at least one prompt length")
        for p in v:
            if not PROMPT_TOKENS_MIN <= p <= PROMPT_TOKENS_MAX:
                raise ValueError(
                    f"prompt length {p} is outside {PROMPT_TOKENS_MIN}..{PROMPT_TOKENS_MAX} tokens"
                )
        return v


UNION_TAGS: Final = frozenset({"coefficients", "profile"})
"""Names of the branches of tagged unions below: they are not keys, so errors leave them out."""

PrefillSpec = Annotated[
    Annotated[tuple[float, float, float], Tag("coefficients")]
    | Annotated[Literal["profile"], Tag("profile")],
    # one branch per input, so a bad coefficient is one error naming its index, not two
    Discriminator(lambda v: "profile" if isinstance(v, str) else "coefficients"),
]


class DeadlineConfig(_Model):
    """What probes are judged against (design/metrics.md): decode tiers and the prefill deadline.

    Bounds (`monitor.limits`): decode deadlines 0.001..60 s; a fixed prefill deadline, and the
    prefill model at every prompt length 16..200000, 0.001..3600 s.
    """

    decode_s: list[float] = Field(default_factory=lambda: [0.025, 0.05, 0.1])
    prefill_s: float | None = Field(
        default=None, ge=PREFILL_DEADLINE_MIN_S, le=PREFILL_DEADLINE_MAX_S
    )
    prefill_model: PrefillSpec | None = None
    """C0, C1, C2; or `profile`: the latest stored `etalon-monitor profile` of this target."""
    prefill_slack_s: float = Field(default=0.3, ge=0, le=PREFILL_DEADLINE_MAX_S)

    @property
    def prefill_coefficients(self) -> tuple[float, float, float] | None:
        """The configured coefficients; None when unset or still to come from a stored profile."""
        return self.prefill_model if isinstance(self.prefill_model, tuple) else None

    @field_validator("decode_s")
    @classmethod
    def _tiers(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("needs at least one decode deadline")
        for d in v:
            if not DECODE_DEADLINE_MIN_S <= d <= DECODE_DEADLINE_MAX_S:
                raise ValueError(
                    f"decode deadline {d:g} s is outside "
                    f"{DECODE_DEADLINE_MIN_S:g}..{DECODE_DEADLINE_MAX_S:g} s"
                )
        return v

    @model_validator(mode="after")
    def _one_prefill(self) -> DeadlineConfig:
        if self.prefill_s is not None and self.prefill_model is not None:
            raise ValueError("set prefill_s or prefill_model, not both")
        coefficients = self.prefill_coefficients
        if coefficients is not None:
            model = PrefillModel(coefficients=coefficients, slack_s=self.prefill_slack_s)
            problem = model.problem()
            if problem is not None:
                raise ValueError(f"prefill_model {list(coefficients)} {problem}")
        return self


class Pricing(_Model):
    input_per_1m: float = Field(default=0.0, ge=0)
    output_per_1m: float = Field(default=0.0, ge=0)


class Timeouts(_Model):
    """Each at most a day (`monitor.limits.TIMEOUT_MAX_S`)."""

    connect_s: float = Field(default=10.0, gt=0, le=TIMEOUT_MAX_S)
    first_byte_s: float = Field(default=60.0, gt=0, le=TIMEOUT_MAX_S)
    idle_s: float = Field(default=30.0, gt=0, le=TIMEOUT_MAX_S)
    total_s: float = Field(default=300.0, gt=0, le=TIMEOUT_MAX_S)


class Limits(_Model):
    """What one probe may cost in bytes and events; past a limit the probe ends as `too_large`,
    keeping what it received up to the limit (the prober enforces these: monitor/probe/client.py).

    Sized for 8k-token answers with headroom. One token per event is the worst common case; an
    OpenAI chat chunk with per-chunk usage is ~350 bytes of SSE, an Anthropic delta ~150:
    8192 tokens x 400 B = 3.3 MB, x 2.5 headroom (reasoning, keep-alives, longer ids) ~ 8 MiB.
    Events: 8192 content events + a handful of framing ones, x 8 headroom = 65536. One event: a
    vendor that sends a whole answer at once needs 8192 tokens x ~4 chars x <= 4 UTF-8 bytes =
    128 KiB; x 8 = 1 MiB (an SSE line that long is already hostile).
    """

    max_bytes: int = Field(default=8 << 20, ge=64 << 10, le=1 << 30)
    max_events: int = Field(default=65536, ge=16, le=10_000_000)
    max_event_bytes: int = Field(default=1 << 20, ge=4 << 10, le=256 << 20)


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
    spacing_s: float = Field(default=0.0, ge=0, le=TIMEOUT_MAX_S)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    limits: Limits = Field(default_factory=Limits)
    slo: TargetSlo = Field(default_factory=TargetSlo)
    fluidity_scope: FluidityScope = FluidityScope.ANSWER
    """Score the answer only, or every visible chunk (reasoning too, for products that show it)."""
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

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        return _plain_text(v, "model")

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, Any]) -> dict[str, Any]:
        """Sent as JSON in every request body and stored in `targets.config`: NaN and infinity
        are not JSON (vendors answer 400, PostgreSQL refuses the row)."""
        stack: list[tuple[Any, str]] = [(v, "params")]
        while stack:
            value, where = stack.pop()
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{where} is {value}: parameters must be finite numbers")
            if isinstance(value, dict):
                stack.extend((item, f"{where}.{key}") for key, item in value.items())
            elif isinstance(value, list):
                stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
        return v

    @field_validator("region")
    @classmethod
    def _target_region(cls, v: str | None) -> str | None:
        if v is not None and not _TARGET_NAME.fullmatch(v):
            raise ValueError(f"region {v!r} must match [a-z0-9][a-z0-9_-]*")
        return v

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        shown = mask_url(v)
        if not re.match(r"^https?://[^\s/]+", v) or re.search(r"\s", v) or _CONTROL.search(v):
            raise ValueError(f"{shown!r} is not an http(s) URL")
        parts = urlsplit(v)
        if "@" in parts.netloc:
            # userinfo would be sent as Basic auth beside the API key (vendors answer 400/401) and
            # stored in targets.config: refuse it rather than guess which credential was meant
            raise ValueError(
                f"{shown!r} carries credentials (user:password@); remove them and put the key "
                "in the environment variable named by api_key_env"
            )
        if parts.query or parts.fragment:
            raise ValueError(
                f"{shown!r} has a query string or fragment; the API path is appended to base_url"
            )
        return v.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.fullmatch(v):
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
    rounds_per_cycle: int = Field(default=24, ge=0, le=1_000_000)
    cycles: int = Field(default=0, ge=0, le=1_000_000)
    """Stop probing after this many completed cycles (the daemon keeps serving); 0: never."""
    jitter_s: float = Field(default=60.0, ge=0, le=TIMEOUT_MAX_S)
    spread: str | None = None
    """Window over which target offsets are spread; default half the interval, at most 30 min."""
    misfire_grace_s: float = Field(default=600.0, gt=0, le=TIMEOUT_MAX_S)
    stop_grace_s: float = Field(default=20.0, ge=0, le=TIMEOUT_MAX_S)
    """On SIGTERM, in-flight probes get this long to finish before they are cancelled."""
    leader_poll_s: float = Field(default=1.0, gt=0, le=TIMEOUT_MAX_S)
    """How often a standby retries the region's leader lock."""
    backoff_default_s: float = Field(default=60.0, gt=0, le=TIMEOUT_MAX_S)
    """Back-off after a 429 that carries no `Retry-After`."""

    @field_validator("every")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and not EVERY_MIN_S <= parse_duration(v) <= EVERY_MAX_S:
            raise ValueError(
                f"{v!r} is outside {EVERY_MIN_S:g}s..{EVERY_MAX_S / 86400:g}d "
                "(a shorter round is a busy loop)"
            )
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
        if v is None:
            return v
        if len(v.split()) != 5:
            raise ValueError(f"{v!r} is not a 5-field crontab expression")
        try:
            trigger = CronTrigger.from_crontab(v, timezone=UTC)
        except ValueError as e:
            raise ValueError(f"{v!r} is not a valid crontab expression: {e}") from None
        # `0 0 31 2 *` parses but never fires: the daemon would wait forever for its first round
        now = datetime.now(UTC)
        first = trigger.get_next_fire_time(None, now)
        second = None if first is None else trigger.get_next_fire_time(first, first)
        if first is None or second is None or second - now > timedelta(seconds=EVERY_MAX_S):
            raise ValueError(f"{v!r} does not fire twice within a year")
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
    retention_days: int = Field(default=400, ge=1, le=RETENTION_DAYS_MAX)
    store_text: bool = True
    upgrade_on_start: bool = True

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: SecretStr | None) -> SecretStr | None:
        """Parsed here as the store will parse it, so a bad URL is a config error, not a
        traceback at start-up; messages never repeat the URL (it may hold a password)."""
        if v is None:
            return v
        text = v.get_secret_value()
        scheme = text.partition("://")[0]
        if scheme not in ("postgresql", "postgresql+psycopg") or _CONTROL.search(text):
            raise ValueError("must be a postgresql:// or postgresql+psycopg:// URL")
        try:
            port = make_url(text).port
        except (ArgumentError, ValueError):
            raise ValueError("is not a valid URL (check the port and the escaping)") from None
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(f"port {port} is outside 1..65535")
        return v


class Exporter(_Model):
    """Where `/metrics`, `/healthz` and `/readyz` are served; how fresh the window gauges are."""

    listen: str = "127.0.0.1:9464"
    refresh_s: float = Field(default=15.0, gt=0, le=TIMEOUT_MAX_S)
    """How often the rolling-window snapshot is rebuilt from the store."""
    loop_lag_sample_s: float = Field(default=1.0, gt=0, le=TIMEOUT_MAX_S)
    """How often event-loop lag is sampled for `etalon_event_loop_lag_seconds`."""

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        bad_host = not host or re.search(r"\s", host) or _CONTROL.search(host)
        if not sep or bad_host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{v!r} is not host:port")
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class ChangeDetection(_Model):
    """Change detection on per-probe series (docs/change-detection.md); defaults need no tuning."""

    enabled: bool = True
    false_alarms_per_1000: float = Field(default=0.5, gt=0, le=50)
    """Expected false alarms per 1,000 steady probes, per watched metric and series."""
    window: int = Field(default=48, ge=16, le=500)
    """Newest probes of a series the test compares (since its last change)."""
    min_before: int = Field(default=8, ge=4)
    min_after: int = Field(default=4, ge=2)
    min_relative_change: float = Field(default=0.10, ge=0)
    """Smallest relative shift of a time's median that is reported (0.1 = 10 %)."""
    min_share_change: float = Field(default=0.05, ge=0, le=1)
    """Smallest shift of a share's mean (fluidity, failure rate) that is reported."""

    @model_validator(mode="after")
    def _fits(self) -> ChangeDetection:
        if self.min_before + self.min_after > self.window:
            raise ValueError("min_before + min_after must not exceed window")
        return self


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
        allow_inf_nan=False,
    )

    data_dir: Path = DEFAULT_DATA_DIR
    region: str = "default"
    database: Database = Field(default_factory=Database)
    exporter: Exporter = Field(default_factory=Exporter)
    schedule: Schedule = Field(default_factory=Schedule)
    changes: ChangeDetection = Field(default_factory=ChangeDetection)
    probe: ProbePlane = Field(default_factory=ProbePlane)
    targets: dict[str, Target] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _names(cls, v: dict[str, Target]) -> dict[str, Target]:
        for name in v:
            if not _TARGET_NAME.fullmatch(name):
                raise ValueError(f"target name {name!r} must match [a-z0-9][a-z0-9_-]*")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not _TARGET_NAME.fullmatch(v):
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
        keys = (str(p) for p in e["loc"] if p not in UNION_TAGS)
        path = ".".join(keys) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        out.append(f"{path}: {msg}")
    return out


class DuplicateKeyError(ValueError):
    """A YAML mapping names one key twice (YAML itself lets the last one silently win)."""


def _duplicates(node: yaml.Node, path: str = "") -> Iterator[str]:
    """`dotted.path: duplicate key (lines a and b)` for every key given twice, depth first."""
    stack: list[tuple[yaml.Node, str]] = [(node, path)]
    visited: set[int] = set()  # aliases share nodes: visit each once (no "billion laughs")
    while stack:
        current, where = stack.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    stack.append((value, where))
                    continue
                dotted = f"{where}.{key.value}" if where else key.value
                line = key.start_mark.line + 1
                if key.value in seen:
                    yield f"{dotted}: duplicate key (lines {seen[key.value]} and {line})"
                else:
                    seen[key.value] = line
                stack.append((value, dotted))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, where) for item in current.value)


def _load_yaml(text: str) -> Any:
    """`yaml.safe_load`, but a key given twice in one mapping is an error naming its path."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is not None:
        found = sorted(_duplicates(node))
        if found:
            raise DuplicateKeyError("; ".join(found))
    return yaml.safe_load(text)


def load(path: Path | None = None) -> Settings:
    """Build settings from a YAML file (or `ETALON_CONFIG`) plus the environment.

    Raises `ConfigError` whose lines each name a dotted key path.
    """
    path = config_path(path)
    data: dict[str, Any] = {}
    source = str(path) if path else "environment"
    if path is not None:
        try:
            raw = _load_yaml(path.read_text(encoding="utf-8"))
        except DuplicateKeyError as e:
            raise ConfigError(source, [str(e)]) from None
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


_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z0-9+.-]+://[^:/@?#]*):[^@/?#]*@")
_SECRET_PARAM = re.compile(r"pass|secret|token|key|sig|auth|cred", re.IGNORECASE)
MASK = "***"


def mask_url(url: str) -> str:
    """A URL safe to print: the password of its userinfo and the value of every query parameter
    that names a secret (`password`, `sslpassword`, `token`, `api_key`, ...) become `***`.

    `postgresql://u:secret@h/db?password=x&sslmode=require` →
    `postgresql://u:***@h/db?password=***&sslmode=require`; a URL without secrets is unchanged.
    """
    masked_url = _URL_PASSWORD.sub(rf"\g<head>:{MASK}@", url)
    try:
        parts = urlsplit(masked_url)
    except ValueError:
        return masked_url
    if not parts.query:
        return masked_url
    params = parse_qsl(parts.query, keep_blank_values=True)
    if not any(_SECRET_PARAM.search(k) for k, _ in params):
        return masked_url
    query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in params], safe="*/:")
    return urlunsplit(parts._replace(query=query))


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
