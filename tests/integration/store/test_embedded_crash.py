"""The embedded PostgreSQL after `kill -9` of the process that started it (issue 14).

PostgreSQL runs in its own process, so it outlives a killed daemon. The next daemon or command
adopts the orphan (and stops it when done); `db stop` stops it by hand; a `postmaster.pid` whose
pid another program now holds does not keep the server from starting.

The "daemon" here is a subprocess that opens the database exactly as the daemon does
(`monitor.store.connect.database_url`, under `open_store`), then waits to be killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Settings
from monitor.store.connect import database_url, embedded_server

HOLD = """
import pathlib, sys, time
from monitor.config import Settings
from monitor.store.connect import database_url
manager = database_url(Settings(data_dir=pathlib.Path(sys.argv[1])))
manager.__enter__()
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def data_dir(embedded_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # not under pytest's tmp_path: that is private to root, and the server may run as `postgres`
    for name in ("ETALON_DATABASE__URL", "ETALON_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    root = Path(tempfile.mkdtemp(prefix="etalon-crash-"))
    root.chmod(0o755)
    subprocess.run(["cp", "-a", str(embedded_template), str(root / "postgres")], check=True)
    yield root
    embedded_server(Settings(data_dir=root)).stop("immediate")
    shutil.rmtree(root, ignore_errors=True)


def _hold(data_dir: Path) -> subprocess.Popen[str]:
    """A process that starts the embedded server like the daemon and keeps it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETALON_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def _select_one(url: str) -> int:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT 1").fetchone()
    assert row is not None
    return int(row[0])


def test_the_next_start_adopts_an_orphan_and_stops_it_when_done(data_dir: Path) -> None:
    server = embedded_server(Settings(data_dir=data_dir))
    holder = _hold(data_dir)
    assert server.running() and server.owner_alive()
    _kill9(holder)
    assert server.running(), "PostgreSQL outlives the killed daemon (nothing in flight is lost)"
    assert server.orphaned()

    with database_url(Settings(data_dir=data_dir)) as url:
        assert _select_one(url) == 1
        assert server.owner_alive()  # ours now
    assert not server.running(), "the adopted orphan is stopped like one started here"


def test_a_command_leaves_a_live_daemons_server_running(data_dir: Path) -> None:
    server = embedded_server(Settings(data_dir=data_dir))
    holder = _hold(data_dir)
    try:
        with database_url(Settings(data_dir=data_dir)) as url:
            assert _select_one(url) == 1
        assert server.running()
        refused = CliRunner().invoke(app, ["db", "stop"], env={"ETALON_DATA_DIR": str(data_dir)})
        assert refused.exit_code == 1
        assert f"belongs to a running process (pid {holder.pid}" in refused.output
        assert server.running()
    finally:
        _kill9(holder)


def test_db_stop_stops_an_orphan(data_dir: Path) -> None:
    server = embedded_server(Settings(data_dir=data_dir))
    _kill9(_hold(data_dir))
    pid = server.pid()
    assert server.orphaned() and pid is not None
    runner = CliRunner()
    result = runner.invoke(app, ["db", "stop"], env={"ETALON_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    assert f"stopped the embedded PostgreSQL in {server.data} (pid {pid})" in result.output
    assert not server.running()
    again = runner.invoke(app, ["db", "stop"], env={"ETALON_DATA_DIR": str(data_dir)})
    assert again.exit_code == 0
    assert "is not running" in again.output


def test_a_stale_pid_file_naming_another_program_does_not_block_the_start(
    data_dir: Path,
) -> None:
    """A crash of the whole container leaves `postmaster.pid`; after a restart its pid may be
    another program's, which `pg_ctl status` takes for a running server (and PostgreSQL refuses
    to start over). The file is forged from the server's own: its pid replaced by a live `sleep`.
    """
    server = embedded_server(Settings(data_dir=data_dir))
    server.start()
    pid_file = server.data / "postmaster.pid"
    lines = pid_file.read_text().split("\n")
    server.stop("immediate")
    assert not pid_file.exists()
    other = subprocess.Popen(["sleep", "60"])
    try:
        pid_file.write_text("\n".join([str(other.pid), *lines[1:]]))
        assert not server.running()
        url = server.start()
        assert _select_one(url) == 1
        assert server.pid() not in (None, other.pid)
    finally:
        other.kill()
        other.wait()
