"""Config values that used to crash or spin the daemon (issue 14): each is an error naming its key.

Every case is a whole YAML file, loaded through `load` (the same path `config check` and the
daemon take); the expected line names the dotted key and says what is wrong. Bounds come from
`monitor.limits` (decode deadlines 0.001..60 s, prefill 0.001..3600 s, timeouts <= 1 day,
`every` 1 s..366 d, retention <= 36500 days).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import ConfigError, load, mask_url

TARGET = "targets:\n  x:\n    base_url: http://127.0.0.1:8000/v1\n    model: m\n"


def _target(extra: str) -> str:
    return TARGET + "".join(f"    {line}\n" for line in extra.strip().splitlines())


CASES: dict[str, tuple[str, str]] = {
    "infinite total timeout": (
        _target("timeouts: {total_s: .inf}"),
        "targets.x.timeouts.total_s: Input should be a finite number",
    ),
    "NaN idle timeout": (
        _target("timeouts: {idle_s: .nan}"),
        "targets.x.timeouts.idle_s: Input should be a finite number",
    ),
    "timeout of 1e300 s": (
        _target("timeouts: {connect_s: 1.0e+300}"),
        "targets.x.timeouts.connect_s: Input should be less than or equal to 86400",
    ),
    "infinite decode deadline": (
        _target("deadlines: {decode_s: [.inf]}"),
        "targets.x.deadlines.decode_s.0: Input should be a finite number",
    ),
    "infinite prefill deadline": (
        _target("deadlines: {prefill_s: .inf}"),
        "targets.x.deadlines.prefill_s: Input should be a finite number",
    ),
    "picosecond decode deadline": (
        _target("deadlines: {decode_s: [1.0e-12]}"),
        "targets.x.deadlines.decode_s: decode deadline 1e-12 s is outside 0.001..60 s",
    ),
    "hour-long decode deadline": (
        _target("deadlines: {decode_s: [0.025, 3600]}"),
        "targets.x.deadlines.decode_s: decode deadline 3600 s is outside 0.001..60 s",
    ),
    "picosecond prefill deadline": (
        _target("deadlines: {prefill_s: 1.0e-12}"),
        "targets.x.deadlines.prefill_s: Input should be greater than or equal to 0.001",
    ),
    "negative prefill model": (
        _target("deadlines: {prefill_model: [-1, 0, 0], prefill_slack_s: 0}"),
        # D_p(16) = -1 + 0·16 + 0·16² + 0 = -1 s
        "targets.x.deadlines: prefill_model [-1.0, 0.0, 0.0] gives a prefill deadline of -1 s "
        "at 16 prompt tokens",
    ),
    "prefill model negative only inside the range": (
        # vertex at P = 1e-2 / (2·1e-7) = 50000: 1 - 500 + 250 + 0.3 = -248.7 s
        _target("deadlines: {prefill_model: [1, -1.0e-2, 1.0e-7]}"),
        "gives a prefill deadline of -248.7 s at 50000 prompt tokens",
    ),
    "prefill model too steep": (
        # 0.02 + 0.1·200000 + 0.3 = 20000.32 s at the longest workload
        _target("deadlines: {prefill_model: [0.02, 0.1, 0]}"),
        "gives a prefill deadline of 20000.3 s at 200000 prompt tokens",
    ),
    "prefill model with NaN": (
        _target("deadlines: {prefill_model: [.nan, 0, 0]}"),
        "targets.x.deadlines.prefill_model.0: Input should be a finite number",
    ),
    "cron out of every range": (
        'schedule: {cron: "99 99 99 99 99"}\n' + TARGET,
        "schedule.cron: '99 99 99 99 99' is not a valid crontab expression",
    ),
    "cron that never fires": (
        'schedule: {cron: "0 0 31 2 *"}\n' + TARGET,
        "schedule.cron: '0 0 31 2 *' does not fire twice within a year",
    ),
    "retention of 100 million days": (
        "database: {retention_days: 100000000}\n" + TARGET,
        "database.retention_days: Input should be less than or equal to 36500",
    ),
    "microsecond interval": (
        "schedule: {every: 0.001ms}\n" + TARGET,
        "schedule.every: '0.001ms' is outside 1s..366d (a shorter round is a busy loop)",
    ),
    "interval beyond a year": (
        "schedule: {every: 99999999999d}\n" + TARGET,
        "schedule.every: '99999999999d' is outside 1s..366d",
    ),
    "infinite jitter": (
        "schedule: {jitter_s: .inf}\n" + TARGET,
        "schedule.jitter_s: Input should be a finite number",
    ),
    "target name with a trailing newline": (
        'targets:\n  "x\\n":\n    base_url: http://127.0.0.1:8000/v1\n    model: m\n',
        "targets: target name 'x\\n' must match [a-z0-9][a-z0-9_-]*",
    ),
    "region with a trailing newline": (
        'region: "eu\\n"\n' + TARGET,
        "region: region 'eu\\n' must match [a-z0-9][a-z0-9_-]*",
    ),
    "target region with a carriage return": (
        _target('region: "eu\\r"'),
        "targets.x.region: region 'eu\\r' must match",
    ),
    "model with a newline": (
        'targets:\n  x:\n    base_url: http://127.0.0.1:8000/v1\n    model: "m\\nINFO forged"\n',
        "targets.x.model: model 'm\\nINFO forged' contains a control character",
    ),
    "blank model": (
        'targets:\n  x:\n    base_url: http://127.0.0.1:8000/v1\n    model: "  "\n',
        "targets.x.model: model must not be blank",
    ),
    "key variable name with a trailing newline": (
        _target('api_key_env: "KEY\\n"'),
        "targets.x.api_key_env: must be the NAME of an environment variable",
    ),
    "base_url with a newline": (
        'targets:\n  x:\n    base_url: "http://127.0.0.1:8000/v1\\n"\n    model: m\n',
        "targets.x.base_url: 'http://127.0.0.1:8000/v1\\n' is not an http(s) URL",
    ),
    "base_url with a query string": (
        'targets:\n  x:\n    base_url: "http://h/v1?api-version=1"\n    model: m\n',
        "targets.x.base_url: 'http://h/v1?api-version=1' has a query string or fragment",
    ),
    "base_url with credentials": (
        'targets:\n  x:\n    base_url: "http://alice:hunter2@h/v1"\n    model: m\n',
        "targets.x.base_url: 'http://alice:***@h/v1' carries credentials (user:password@)",
    ),
    "database URL with a letter port": (
        "database: {url: 'postgresql://u:hunter2@h:notaport/x'}\n" + TARGET,
        "database.url: is not a valid URL (check the port and the escaping)",
    ),
    "database URL with port 70000": (
        "database: {url: 'postgresql://u:hunter2@h:70000/x'}\n" + TARGET,
        "database.url: port 70000 is outside 1..65535",
    ),
    "database URL with an unknown driver": (
        "database: {url: 'postgresql+foo://u:hunter2@h/x'}\n" + TARGET,
        "database.url: must be a postgresql:// or postgresql+psycopg:// URL",
    ),
    "database URL with the postgres:// scheme SQLAlchemy refuses": (
        "database: {url: 'postgres://u:hunter2@h/x'}\n" + TARGET,
        "database.url: must be a postgresql:// or postgresql+psycopg:// URL",
    ),
    "listen host with a newline": (
        'exporter: {listen: "127.0.0.1\\n:9464"}\n' + TARGET,
        "exporter.listen: '127.0.0.1\\n:9464' is not host:port",
    ),
    "infinite request parameter": (
        _target("params: {temperature: .inf, extra: {top_p: [0.9, .nan]}}"),
        "targets.x.params: params.extra.top_p[1] is nan: parameters must be finite numbers",
    ),
    "duplicate target": (
        "targets:\n  a:\n    base_url: http://h/v1\n    model: m1\n"
        "  a:\n    base_url: http://h/v1\n    model: m2\n",
        "targets.a: duplicate key (lines 2 and 5)",
    ),
    "duplicate field inside a target": (
        "targets:\n  a:\n    base_url: http://h/v1\n    model: m1\n    model: m2\n",
        "targets.a.model: duplicate key (lines 4 and 5)",
    ),
    "duplicate top-level section": (
        "schedule: {every: 1h}\n" + TARGET + "schedule: {every: 5m}\n",
        "schedule: duplicate key (lines 1 and 6)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_value_is_an_error_naming_its_key(case: str, tmp_path: Path) -> None:
    text, expected = CASES[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert len(info.value.problems) == 1, info.value.problems
    assert expected in info.value.problems[0], info.value.problems
    assert "hunter2" not in str(info.value)


def test_bounds_keep_the_values_they_allow(tmp_path: Path) -> None:
    """The edges of every range load (the bounds are inclusive, not off by one)."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "schedule: {every: 1s}\ndatabase: {retention_days: 36500}\n"
        + _target(
            "deadlines: {decode_s: [0.001, 60], prefill_model: [1, -1.0e-5, 1.0e-10]}\n"
            "timeouts: {total_s: 86400}"
        )
    )
    s = load(path)
    assert s.schedule.every_s == 1.0
    assert s.targets["x"].deadlines.decode_s == [0.001, 60.0]


def test_yaml_anchors_and_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "targets:\n  a: &d\n    base_url: http://h/v1\n    model: m\n"
        "  b:\n    <<: *d\n    model: m2\n"
    )
    s = load(path)
    assert (s.targets["a"].model, s.targets["b"].model) == ("m", "m2")


def test_billion_laughs_is_not_walked_exponentially(tmp_path: Path) -> None:
    """Aliases share nodes: the duplicate-key walk visits each node once (10 levels of 10 is
    10^10 paths, finished here in well under a second because only 100 nodes exist)."""
    lines = ['a0: &a0 ["x"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert "a0: unknown key" in info.value.problems[0]


def test_mask_url_hides_query_passwords() -> None:
    url = "postgresql+psycopg://etalon:s3cret@db/x?sslmode=require&password=hunter2&sslpassword=p2"
    shown = mask_url(url)
    assert "s3cret" not in shown and "hunter2" not in shown and "p2" not in shown
    assert shown == (
        "postgresql+psycopg://etalon:***@db/x?sslmode=require&password=***&sslpassword=***"
    )


def test_config_check_masks_a_query_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", "postgresql://u@db/x?password=hunter2")
    path = tmp_path / "config.yaml"
    path.write_text(TARGET)
    result = CliRunner().invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "url: postgresql://u@db/x?password=***" in result.output


def test_config_check_refuses_credentials_in_base_url_without_echoing_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('targets:\n  x:\n    base_url: "https://bob:hunter2@h/v1"\n    model: m\n')
    result = CliRunner().invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 2
    assert "hunter2" not in result.output
    assert "targets.x.base_url: 'https://bob:***@h/v1' carries credentials" in result.output
