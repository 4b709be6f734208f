"""With API keys set, no key reaches logs, the database, /metrics, traces, reports or the data dir.

The simulator demands a key; one target presents the right one (both wire formats), one a wrong
one, which the simulator echoes back in its 401 body as some vendors do. Hostile vendors
(`tests/fixtures/hostile.py`) echo the key they were sent everywhere a vendor can: error bodies
cut short, kept headers, ids, the model name, content split over chunks, next to a usage count
the database cannot hold (the row once reached the log whole), and one redirects to another
origin. The daemon runs as a process at debug log level; then `probe`, `report`, `export`,
`import` and `config check` run on the same config. A leak is the whole key or any 8 characters
of it.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from typer.testing import CliRunner, Result

from monitor.cli import app
from monitor.sim import start_simulator
from monitor.store import Store
from tests.e2e.conftest import daemon_process, eventually
from tests.fixtures.hostile import HostilePair
from tests.resilience.conftest import stored_traces

GOOD = "sk-etalon-GOOD-7f3a9c1e5b44d0"
WRONG = "sk-etalon-WRONG-2d8e4b6a0f11c9"
KEYS = (GOOD, WRONG)
runner = CliRunner()


async def cli(*args: str, env: dict[str, str]) -> Result:
    """A CLI command, off the test's event loop (commands run their own)."""
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


HOSTILE = {
    # target → (case, arg, api)
    "hostile-stream": ("echo-stream", 0, "openai-chat"),
    "hostile-absurd": ("echo-absurd", 0, "openai-chat"),
    "hostile-headers": ("echo-headers", 0, "openai-chat"),
    "hostile-error": ("echo-error", 88, "anthropic"),
    "hostile-redirect": ("redirect", 302, "anthropic"),
}


def config_file(path: Path, url: str, base_url: str, hostile: HostilePair) -> Path:
    def target(api: str, key_env: str, base: str = base_url) -> dict[str, Any]:
        return {
            "provider": "simulator",
            "api": api,
            "base_url": base,
            "model": "sim-model",
            "api_key_env": key_env,
            "workloads": {"prompt_tokens": [16], "max_tokens": 8},
            "timeouts": {"total_s": 10},
        }

    config = {
        "region": "lab",
        "data_dir": str(path.parent / "data"),
        "database": {"url": url},
        "exporter": {"listen": "127.0.0.1:0", "refresh_s": 0.2},
        "schedule": {
            "every": "1s",
            "rounds_per_cycle": 2,
            "cycles": 1,
            "jitter_s": 0,
            "spread": "0s",
            "leader_poll_s": 0.2,
        },
        "targets": {
            "keyed-chat": target("openai-chat", "SIM_GOOD_KEY"),
            "keyed-anthropic": target("anthropic", "SIM_GOOD_KEY"),
            "wrong-key": target("openai-chat", "SIM_WRONG_KEY"),
            **{
                name: target(api, "SIM_GOOD_KEY", hostile.vendor.url(case, arg))
                for name, (case, arg, api) in HOSTILE.items()
            },
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def dump_tables(url: str) -> str:
    """Every row of every table in the schema, as JSON text."""
    store = await Store.open(url, pool_size=1)
    try:
        async with store.engine.connect() as conn:
            names = (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                        "ORDER BY tablename"
                    )
                )
            ).scalars()
            out: list[str] = []
            for name in list(names):
                rows = await conn.execute(text(f'SELECT row_to_json(t)::text FROM "{name}" t'))
                out.extend(rows.scalars())
            return "\n".join(out)
    finally:
        await store.close()


def hits(where: str, haystack: str) -> list[str]:
    """Every key of which 8 or more characters are in `haystack` (the scrubber's promise)."""
    return [
        f"{where}: {key[:14]}…"
        for key in KEYS
        if any(key[i : i + 8] in haystack for i in range(len(key) - 7))
    ]


def probes_counted(exposition: str) -> int:
    """Probes /metrics counted as run (every outcome but `skipped`)."""
    return sum(
        int(s.value)
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == "etalon_probes_total" and s.labels["outcome"] != "skipped"
    )


async def test_no_key_anywhere(
    tmp_path: Path,
    fresh_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    hostile: HostilePair,
) -> None:
    monkeypatch.setenv("SIM_GOOD_KEY", GOOD)
    monkeypatch.setenv("SIM_WRONG_KEY", WRONG)
    sim = await start_simulator(profile="test", api_key=GOOD)
    found: list[str] = []
    try:
        config = config_file(tmp_path / "etalon.yaml", fresh_database_url, sim.base_url, hostile)
        async with daemon_process("--config", str(config), "--log-level", "debug") as daemon:

            async def cycle_closed() -> bool:
                completed = {"region": "lab", "status": "completed"}
                return await daemon.sample("etalon_rounds_total", completed) == 2

            await eventually(cycle_closed)
            exposition = await daemon.scrape()
            found += hits("/metrics", exposition)
            daemon.signal(signal.SIGTERM)
            assert await daemon.wait_exit(20) == 0, daemon.output
        found += hits("daemon log", daemon.output)
        assert "DEBUG" in daemon.output and "round 1 of cycle" in daemon.output  # a real log
    finally:
        await sim.stop()
    # the keys were really used: accepted for the right one, refused (and echoed) for the other
    assert sum(r.authorized for r in sim.requests) == 4
    assert sum(r.status == 401 for r in sim.requests) == 2
    traces = await stored_traces(fresh_database_url)
    # every probe /metrics counted is in the database: the absurd usage did not drop one
    assert probes_counted(exposition) == len(traces) == 2 * (3 + len(HOSTILE))
    assert "Traceback" not in daemon.output
    # the key went to each hostile vendor (so it could echo it), never to the redirect target
    assert sum(KEYS[0] in r.headers.values() for r in hostile.vendor.requests) == 4
    assert sum(f"Bearer {KEYS[0]}" in r.headers.values() for r in hostile.vendor.requests) == 6
    assert hostile.elsewhere.requests == []
    refused = [t for t in traces if t.target == "wrong-key"]
    assert len(refused) == 2
    assert all(t.error is not None and "Incorrect API key: ***" in t.error for t in refused)

    found += hits("database", await dump_tables(fresh_database_url))
    env = {"ETALON_CONFIG": str(config)}
    exported = tmp_path / "traces.jsonl"
    result = await cli("export", "-o", str(exported), env=env)
    assert result.exit_code == 0, result.output
    assert len(exported.read_text().splitlines()) == len(traces)
    found += hits("export", exported.read_text() + result.output)
    # the hostile vendor once more, through `probe` (a traceback once), and its trace file back
    # through `import` (into a second database would be the same check) and `analyze`
    probed = tmp_path / "probe.jsonl"
    result = await cli(
        "probe", "--target", "hostile-absurd", "--config", str(config), "--requests", "2",
        "--trace-out", str(probed), env=env,
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # no probe was ok: exit 1, not a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "implausible usage.prompt_tokens" in result.output
    found += hits("probe", result.output + probed.read_text())
    result = await cli("analyze", str(probed), env=env)
    assert result.exit_code == 0, result.output
    found += hits("analyze", result.output)
    result = await cli("import", str(probed), env=env)
    assert result.exit_code == 0, result.output
    for suffix in ("html", "json"):
        report = tmp_path / f"report.{suffix}"
        result = await cli("report", "--since", "1h", "-o", str(report), env=env)
        assert result.exit_code == 0, result.output
        assert "wrong-key" in report.read_text()
        found += hits(f"report.{suffix}", report.read_text() + result.output)
    result = await cli("config", "check", env=env)
    assert result.exit_code == 0, result.output
    assert "SIM_GOOD_KEY" in result.output  # names the variable, never its value
    found += hits("config check", result.output)
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            found += hits(str(path), path.read_bytes().decode(errors="replace"))
    assert found == []
