"""Start-up failures end with exit 1 and a short reason, never a traceback or a secret."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app


def test_run_with_an_unreachable_database_exits_1_without_the_password(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    # port 1 on loopback: nothing listens there, the connection is refused at once
    config.write_text(
        "database:\n  url: postgresql+psycopg://etalon:hunter2@127.0.0.1:1/x\n"
        f"data_dir: {tmp_path}\nexporter:\n  listen: 127.0.0.1:0\n"
        "targets:\n  a:\n    provider: simulator\n    base_url: http://127.0.0.1:2/v1\n"
        "    model: m\n"
    )
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1
    assert "cannot start: database unreachable" in result.stderr
    assert "hunter2" not in result.output


def test_run_with_the_metrics_port_taken_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "c.yaml"
        config.write_text(
            f"data_dir: {tmp_path}\nexporter:\n  listen: 127.0.0.1:{port}\n"
            "targets:\n  a:\n    provider: simulator\n    base_url: http://127.0.0.1:2/v1\n"
            "    model: m\n"
        )
        result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1
    assert f"cannot start: cannot listen on 127.0.0.1:{port}" in result.stderr
