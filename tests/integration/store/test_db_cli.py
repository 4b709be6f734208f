"""`etalon-monitor db maintain|recompute` against the run's database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from monitor.cli import app
from monitor.store import Store
from monitor.store.schema import probes
from tests.factories import trace_stream

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", database_url)


@pytest.mark.usefixtures("cli_env")
def test_db_maintain_creates_today_and_three_days_ahead(store: Store) -> None:
    result = runner.invoke(app, ["db", "maintain"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "created 4 partition(s), dropped 0"
    again = runner.invoke(app, ["db", "maintain"])
    assert again.stdout.strip() == "created 0 partition(s), dropped 0"


async def _stale(store: Store, count: int) -> None:
    await store.ingest_many(trace_stream(count))
    async with store.engine.begin() as conn:
        await conn.execute(update(probes).values(metrics_version=0))


@pytest.mark.usefixtures("cli_env")
def test_db_recompute_rewrites_stale_rows(database_url: str, store: Store) -> None:
    async def prepare() -> None:
        other = await Store.open(database_url, pool_size=1)
        await _stale(other, 9)
        await other.close()

    asyncio.run(prepare())
    result = runner.invoke(app, ["db", "recompute"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "recomputed 9 probe(s)"
    assert runner.invoke(app, ["db", "recompute"]).stdout.strip() == "recomputed 0 probe(s)"
    assert (
        runner.invoke(app, ["db", "recompute", "--all"]).stdout.strip() == "recomputed 9 probe(s)"
    )
