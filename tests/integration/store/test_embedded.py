"""The embedded default: no URL configured → a private server in the data dir, stopped on exit."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Settings
from monitor.store import migrate
from monitor.store.connect import embedded_server, open_store
from tests.factories import make_trace


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # not under pytest's tmp_path: that is private to root, and the server may run as `postgres`
    root = Path(tempfile.mkdtemp(prefix="etalon-data-"))
    root.chmod(0o755)
    yield root
    embedded_server(Settings(data_dir=root)).stop("immediate")
    shutil.rmtree(root, ignore_errors=True)


async def test_no_url_starts_the_embedded_server_and_stops_it(
    data_dir: Path, embedded_template: Path
) -> None:
    # a copy of the session's initdb'd cluster saves an initdb; the CLI test below runs a real one
    subprocess.run(["cp", "-a", str(embedded_template), str(data_dir / "postgres")], check=True)
    settings = Settings(data_dir=data_dir)
    server = embedded_server(settings)
    assert not server.running()
    async with open_store(settings) as store:
        assert server.running()
        assert str(data_dir) in str(server.data)
        assert await migrate.current(store.engine) == migrate.head()
        assert await store.ingest(make_trace("emb-1"))
    assert not server.running()
    async with open_store(settings) as store:  # same data on the next start
        assert [t.probe_id for t in await store.traces()] == ["emb-1"]
    assert not server.running()


def test_db_commands_init_and_use_the_embedded_server(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETALON_DATA_DIR", str(data_dir))
    runner = CliRunner()
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "(empty: no schema)"
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.stdout.strip() == f"{migrate.head()} (head)"
    result = runner.invoke(app, ["db", "downgrade", "base"])
    assert result.stdout.strip() == "(empty: no schema)"
    assert not embedded_server(Settings(data_dir=data_dir)).running()
